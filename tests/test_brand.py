"""The brand images Home Assistant shows for the integration (custom_components/ev_cloud/brand/)."""

from __future__ import annotations

from pathlib import Path

from PIL import Image
import pytest

from scripts import brand

BRAND = Path(__file__).parent.parent / "custom_components" / "ev_cloud" / "brand"
ICONS = {"icon.png": 256, "icon@2x.png": 512}
LOGOS = {"logo.png": 128, "logo@2x.png": 256, "dark_logo.png": 128, "dark_logo@2x.png": 256}
OPTIONAL_ICONS = {"dark_icon.png": 256, "dark_icon@2x.png": 512}  # the icon reads on dark as is
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations() -> None:
    """No Home Assistant needed here: overrides the suite's autouse fixture."""


@pytest.fixture(scope="module")
def rendered() -> dict[str, Image.Image]:
    return brand.render()


def open_png(name: str) -> Image.Image:
    path = BRAND / name
    assert path.is_file(), f"{name} is missing"
    assert path.read_bytes().startswith(PNG_SIGNATURE), f"{name} is not a PNG"
    image = Image.open(path)
    assert image.format == "PNG"
    return image


def assert_alpha(name: str, image: Image.Image) -> None:
    assert image.mode in {"RGBA", "LA"}, f"{name} has no alpha channel ({image.mode})"
    low, high = image.getchannel("A").getextrema()
    assert low == 0, f"{name} has no transparent background"
    assert high == 255, f"{name} has no opaque pixels"


@pytest.mark.parametrize("name", [*ICONS, *(n for n in OPTIONAL_ICONS if (BRAND / n).exists())])
def test_icons(name: str) -> None:
    side = (ICONS | OPTIONAL_ICONS)[name]
    with open_png(name) as image:
        assert image.size == (side, side)
        assert_alpha(name, image)


@pytest.mark.parametrize("name", LOGOS)
def test_logos(name: str) -> None:
    with open_png(name) as image:
        assert image.height == LOGOS[name]
        assert image.height < image.width <= 3 * image.height, "a logo is landscape, up to 3:1"
        assert_alpha(name, image)


@pytest.mark.parametrize(
    "name",
    [n for n in (*ICONS, *LOGOS, *OPTIONAL_ICONS) if "@2x" not in n and (BRAND / n).exists()],
)
def test_2x_is_exactly_double(name: str) -> None:
    with open_png(name) as one, open_png(name.replace(".png", "@2x.png")) as two:
        assert two.size == (2 * one.width, 2 * one.height)


def test_dark_logo_differs() -> None:
    """The dark logo exists because its words must be light on a dark background."""
    with open_png("logo.png") as light, open_png("dark_logo.png") as dark:
        assert light.tobytes() != dark.tobytes()


def test_pngs_are_small() -> None:
    for path in BRAND.glob("*.png"):
        assert path.stat().st_size < 40_000, f"{path.name} is not optimised"


def test_render_reproduces_the_committed_files(rendered: dict[str, Image.Image]) -> None:
    """The script is the source: its output has the committed files' names, sizes and modes."""
    committed = {path.name for path in BRAND.iterdir()}
    assert committed == set(rendered), "run scripts/brand.py to refresh custom_components/.../brand"
    for name, image in rendered.items():
        with open_png(name) as on_disk:
            assert (on_disk.size, on_disk.mode) == (image.size, image.mode), name
