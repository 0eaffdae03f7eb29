"""Draws the EV Cloud brand images into custom_components/ev_cloud/brand/.

Home Assistant (2026.3+) takes a custom integration's icon and logo from its own ``brand`` folder.
The mark is our own: a cloud outline with a lightning bolt striking down through its base, in two
flat colours. Everything is drawn with Pillow primitives at SUPERSAMPLE times the final size and
box-filtered down for anti-aliasing. The words use the font bundled with Pillow, so the result does
not depend on the fonts a machine has.

Usage: ``python scripts/brand.py`` writes the PNGs; ``--check`` only compares the sizes of the
committed files with fresh renders.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass
import math
from pathlib import Path
import sys

from PIL import Image, ImageChops, ImageDraw, ImageFont

ROOT = Path(__file__).resolve().parent.parent
BRAND_DIR = ROOT / "custom_components" / "ev_cloud" / "brand"

SUPERSAMPLE = 4
ICON_SIZE = 256
LOGO_HEIGHT = 128
WORDMARK = "EV Cloud"

type RGBA = tuple[int, int, int, int]
type Point = tuple[float, float]
type Size = tuple[int, int]
type Disc = tuple[float, float, float]  # centre x, centre y, radius
type Box = tuple[float, float, float, float]  # left, top, right, bottom

BLUE: RGBA = (30, 136, 229, 255)
AMBER: RGBA = (255, 171, 0, 255)
INK: RGBA = (33, 37, 41, 255)
INK_ON_DARK: RGBA = (241, 243, 245, 255)


@dataclass(frozen=True, slots=True)
class Palette:
    """The colours of one variant."""

    cloud: RGBA
    bolt: RGBA
    text: RGBA


LIGHT = Palette(cloud=BLUE, bolt=AMBER, text=INK)
# On dark backgrounds only the words change: blue and amber read on both.
DARK = Palette(cloud=BLUE, bolt=AMBER, text=INK_ON_DARK)

# The mark's geometry, in design units (y down); MARK_BOX below is what it covers.
# The cloud: a pill for its base and three bumps on top, outlined STROKE thick inside its edge.
CLOUD_BASE: Box = (0.05, 0.40, 0.95, 0.73)
CLOUD_BUMPS: tuple[Disc, ...] = ((0.31, 0.45, 0.17), (0.55, 0.33, 0.23), (0.77, 0.49, 0.14))
STROKE = 0.085
# The bolt, clockwise from its top left corner; it leaves the cloud through the base.
BOLT: tuple[Point, ...] = (
    (0.47, 0.32),
    (0.63, 0.32),
    (0.56, 0.50),
    (0.68, 0.50),
    (0.45, 0.93),
    (0.50, 0.64),
    (0.37, 0.64),
)
BOLT_GAP = 0.045  # the transparent margin between the bolt and the cloud's outline
MARK_BOX: Box = (
    CLOUD_BASE[0],
    min(cy - r for _, cy, r in CLOUD_BUMPS),
    CLOUD_BASE[2],
    max(y for _, y in BOLT),
)

# The logo, in units of its height: the mark fills the height, flush with the left edge; the
# words follow LOGO_GAP after it, centred on the cloud's body, FONT_SIZE high (the em).
LOGO_GAP = 0.10
FONT_SIZE = 0.43
TEXT_STROKE = 0.015  # a thin stroke in the words' own colour makes the bundled font semibold


@dataclass(frozen=True, slots=True)
class Frame:
    """Where design units land on a canvas: ``(x, y)`` is ``(x0 + x * scale, y0 + y * scale)`` px."""

    size: Size
    x0: float
    y0: float
    scale: float

    def point(self, x: float, y: float) -> Point:
        """A point in px."""
        return self.x0 + x * self.scale, self.y0 + y * self.scale

    def disc(self, cx: float, cy: float, r: float) -> list[float]:
        """The bounding box of a disc, in px, as ImageDraw.ellipse takes it."""
        x, y = self.point(cx, cy)
        return [x - r * self.scale, y - r * self.scale, x + r * self.scale, y + r * self.scale]


# A layer: one flat colour and its coverage mask, drawn at SUPERSAMPLE times the final size.
type Layer = tuple[RGBA, Image.Image]


def _cloud_pieces() -> tuple[list[Disc], Box]:
    """The cloud as discs and one rectangle (the pill's straight middle)."""
    left, top, right, bottom = CLOUD_BASE
    radius, middle = (bottom - top) / 2, (top + bottom) / 2
    discs = [(left + radius, middle, radius), (right - radius, middle, radius), *CLOUD_BUMPS]
    return discs, (left + radius, top, right - radius, bottom)


def _cloud_edge(step: float = 0.004) -> list[Point]:
    """Points along the cloud's outer edge, about ``step`` units apart."""
    discs, (left, top, right, bottom) = _cloud_pieces()
    eps = 1e-9

    def inside(x: float, y: float) -> bool:
        if left + eps < x < right - eps and top + eps < y < bottom - eps:
            return True
        return any(math.hypot(x - cx, y - cy) < r - eps for cx, cy, r in discs)

    candidates: list[Point] = []
    for cx, cy, r in discs:
        count = math.ceil(2 * math.pi * r / step)
        for i in range(count):
            angle = 2 * math.pi * i / count
            candidates.append((cx + r * math.cos(angle), cy + r * math.sin(angle)))
    count = math.ceil((right - left) / step)
    for i in range(count + 1):
        x = left + (right - left) * i / count
        candidates += [(x, top), (x, bottom)]
    return [point for point in candidates if not inside(*point)]


def _cloud_outline(frame: Frame) -> Image.Image:
    """The cloud's outline mask: a band STROKE wide inside its edge.

    That is the cloud intersected with discs of radius STROKE all along its edge: a true inward
    offset, which rounds the inside of the notches between the bumps (shrinking every piece on its
    own would leave stubs where the pieces overlap).
    """
    discs, rect = _cloud_pieces()
    shape = Image.new("L", frame.size, 0)
    draw = ImageDraw.Draw(shape)
    draw.rectangle([*frame.point(rect[0], rect[1]), *frame.point(rect[2], rect[3])], fill=255)
    for disc in discs:
        draw.ellipse(frame.disc(*disc), fill=255)
    band = Image.new("L", frame.size, 0)
    draw = ImageDraw.Draw(band)
    for x, y in _cloud_edge():
        draw.ellipse(frame.disc(x, y, STROKE), fill=255)
    return ImageChops.darker(shape, band)


def _bolt(frame: Frame, grow: float = 0.0) -> Image.Image:
    """The bolt's mask, grown by ``grow`` units on every side."""
    mask = Image.new("L", frame.size, 0)
    draw = ImageDraw.Draw(mask)
    points = [frame.point(x, y) for x, y in BOLT]
    draw.polygon(points, fill=255)
    if grow > 0:
        width = round(2 * grow * frame.scale)
        draw.line([*points, points[0], points[1]], fill=255, width=width, joint="curve")
        for x, y in BOLT:
            draw.ellipse(frame.disc(x, y, grow), fill=255)
    return mask


def _mark(frame: Frame, palette: Palette) -> list[Layer]:
    """The mark's layers."""
    outline = ImageChops.subtract(_cloud_outline(frame), _bolt(frame, BOLT_GAP))
    return [(palette.cloud, outline), (palette.bolt, _bolt(frame))]


def _flatten(layers: Sequence[Layer], size: Size) -> Image.Image:
    """Box-filters the layers down to ``size`` and stacks them into one RGBA image.

    The layers never touch, so every visible pixel keeps its layer's exact colour and only the
    alpha is anti-aliased: clean edges on any background, and small PNGs.
    """
    rgb = Image.new("RGB", size, (0, 0, 0))
    alpha = Image.new("L", size, 0)
    for colour, mask in layers:
        coverage = mask.resize(size, Image.Resampling.BOX)
        rgb.paste(colour[:3], (0, 0), coverage.point(lambda v: 255 if v else 0))
        alpha = ImageChops.lighter(alpha, coverage)
    image = rgb.convert("RGBA")
    image.putalpha(alpha)
    return image


def render_icon(size: int, palette: Palette = LIGHT) -> Image.Image:
    """The square icon, ``size`` px: the mark, as large as fits, centred."""
    big = size * SUPERSAMPLE
    left, top, right, bottom = MARK_BOX
    scale = big / max(right - left, bottom - top)
    x0 = (big - (right - left) * scale) / 2 - left * scale
    y0 = (big - (bottom - top) * scale) / 2 - top * scale
    return _flatten(_mark(Frame((big, big), x0, y0, scale), palette), (size, size))


def _words(height: int) -> Image.Image:
    """The words' mask for a logo ``height`` px high, cropped to their ink."""
    font = ImageFont.load_default(FONT_SIZE * height)
    if not isinstance(font, ImageFont.FreeTypeFont):  # a Pillow built without FreeType
        raise TypeError("Pillow needs FreeType to draw the words")
    stroke = round(TEXT_STROKE * height)
    left, top, right, bottom = font.getbbox(WORDMARK, stroke_width=stroke)
    margin = height  # room for anything getbbox leaves out; cropped away below
    size = (math.ceil(right - left) + 2 * margin, math.ceil(bottom - top) + 2 * margin)
    mask = Image.new("L", size, 0)
    ImageDraw.Draw(mask).text(
        (margin - left, margin - top),
        WORDMARK,
        font=font,
        fill=255,
        stroke_width=stroke,
        stroke_fill=255,
    )
    return mask.crop(mask.getbbox())


def _mark_width() -> float:
    """The mark's width in units of the logo's height."""
    return (MARK_BOX[2] - MARK_BOX[0]) / (MARK_BOX[3] - MARK_BOX[1])


def logo_width(height: int) -> int:
    """The logo's width in px for ``height`` px: the mark, the gap and the words, rounded up."""
    reference = 1024  # measured once and large, so that every height shares one layout
    return math.ceil((_mark_width() + LOGO_GAP + _words(reference).width / reference) * height)


def render_logo(height: int, palette: Palette = LIGHT) -> Image.Image:
    """The landscape logo, ``height`` px high: the mark, then the words "EV Cloud"."""
    # Proportional to the height, so that twice the height is exactly twice the width.
    width = logo_width(LOGO_HEIGHT) * height // LOGO_HEIGHT
    big = height * SUPERSAMPLE
    size = (width * SUPERSAMPLE, big)
    left, top, _, bottom = MARK_BOX
    scale = big / (bottom - top)
    frame = Frame(size, -left * scale, -top * scale, scale)
    layers = _mark(frame, palette)

    words = _words(big)
    body_top = min(cy - r for _, cy, r in CLOUD_BUMPS)
    _, centre_y = frame.point(0, (body_top + CLOUD_BASE[3]) / 2)
    canvas = Image.new("L", size, 0)
    canvas.paste(
        words, (round((_mark_width() + LOGO_GAP) * big), round(centre_y - words.height / 2))
    )
    layers.append((palette.text, canvas))
    return _flatten(layers, (width, height))


def render() -> dict[str, Image.Image]:
    """Every brand image, by file name."""
    images = {
        "icon.png": render_icon(ICON_SIZE),
        "icon@2x.png": render_icon(2 * ICON_SIZE),
        "logo.png": render_logo(LOGO_HEIGHT),
        "logo@2x.png": render_logo(2 * LOGO_HEIGHT),
    }
    # Dark variants only where they differ; Home Assistant falls back to the plain ones.
    if (DARK.cloud, DARK.bolt) != (LIGHT.cloud, LIGHT.bolt):
        images["dark_icon.png"] = render_icon(ICON_SIZE, DARK)
        images["dark_icon@2x.png"] = render_icon(2 * ICON_SIZE, DARK)
    if DARK != LIGHT:
        images["dark_logo.png"] = render_logo(LOGO_HEIGHT, DARK)
        images["dark_logo@2x.png"] = render_logo(2 * LOGO_HEIGHT, DARK)
    return images


def main(argv: Sequence[str] | None = None) -> int:
    """Writes the brand images, or with --check compares the committed sizes with fresh renders."""
    parser = argparse.ArgumentParser(description="Draws the EV Cloud brand images.")
    parser.add_argument("--check", action="store_true", help="only compare the committed sizes")
    parser.add_argument("--out", type=Path, default=BRAND_DIR, help="the folder for the PNGs")
    args = parser.parse_args(argv)
    out: Path = args.out
    images = render()
    if args.check:
        problems = []
        for name, image in images.items():
            if not (out / name).is_file():
                problems.append(f"{name}: missing")
                continue
            with Image.open(out / name) as committed:
                if committed.size != image.size:
                    problems.append(f"{name}: {committed.size}, expected {image.size}")
        for problem in problems:
            print(problem, file=sys.stderr)
        return 1 if problems else 0
    out.mkdir(parents=True, exist_ok=True)
    for name, image in images.items():
        image.save(out / name, optimize=True)
        print(f"{out / name}: {image.width}x{image.height}, {(out / name).stat().st_size} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
