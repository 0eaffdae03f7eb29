"""The integration as Home Assistant, HACS and hassfest see it, and the code as ruff and mypy do."""

from __future__ import annotations

import json
from pathlib import Path
import subprocess
import sys

from awesomeversion import AwesomeVersion
from homeassistant.const import __version__ as ha_version
from homeassistant.core import HomeAssistant
from homeassistant.loader import async_get_integration
import pytest

ROOT = Path(__file__).parent.parent
INTEGRATION = ROOT / "custom_components" / "ev_cloud"


def load(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


async def test_loader_finds_the_integration(hass: HomeAssistant) -> None:
    """Home Assistant's own loader parses the manifest of our package."""
    integration = await async_get_integration(hass, "ev_cloud")
    assert integration.pkg_path == "custom_components.ev_cloud"
    assert integration.name == "EV Cloud"
    assert integration.config_flow is True
    assert integration.iot_class == "cloud_polling"
    assert integration.integration_type == "hub"
    assert integration.version is not None
    assert AwesomeVersion(str(integration.version)).valid
    platforms = {p.stem for p in INTEGRATION.glob("*.py")} & {
        "binary_sensor",
        "device_tracker",
        "lock",
        "number",
        "sensor",
        "switch",
    }
    assert platforms == {"binary_sensor", "device_tracker", "lock", "number", "sensor", "switch"}


def test_manifest_key_order() -> None:
    """hassfest: domain, name, then the rest alphabetically."""
    keys = list(load(INTEGRATION / "manifest.json"))
    assert keys[:2] == ["domain", "name"]
    assert keys[2:] == sorted(keys[2:])
    manifest = load(INTEGRATION / "manifest.json")
    for key in ("codeowners", "documentation", "issue_tracker", "requirements", "version"):
        assert key in manifest


def test_hacs_json() -> None:
    """HACS's file names the integration and a minimum HA version we satisfy."""
    hacs = load(ROOT / "hacs.json")
    assert set(hacs) <= {
        "name",
        "homeassistant",
        "render_readme",
        "content_in_root",
        "zip_release",
        "filename",
        "hide_default_branch",
        "country",
        "hacs",
        "persistent_directory",
    }
    assert hacs["name"] == "EV Cloud"
    assert AwesomeVersion(hacs["homeassistant"]) <= AwesomeVersion(ha_version)


def test_translations_match_strings() -> None:
    """translations/en.json is strings.json, and every entity and exception key is translated."""
    strings = load(INTEGRATION / "strings.json")
    assert load(INTEGRATION / "translations" / "en.json") == strings
    from custom_components.ev_cloud.binary_sensor import BINARY_SENSORS
    from custom_components.ev_cloud.model import FailureReason
    from custom_components.ev_cloud.number import NUMBERS
    from custom_components.ev_cloud.sensor import SENSORS
    from custom_components.ev_cloud.switch import SWITCHES

    for platform, descriptions in (
        ("binary_sensor", BINARY_SENSORS),
        ("number", NUMBERS),
        ("sensor", SENSORS),
        ("switch", SWITCHES),
    ):
        for description in descriptions:
            assert description.key in strings["entity"][platform], description.key
    for reason in FailureReason:
        assert f"command_failed_{reason.value}" in strings["exceptions"]
    # Every provider failure code lands on a translated neutral reason.
    from custom_components.ev_cloud.providers.volteras.failures import FAILURE_REASONS

    assert FailureReason.UNKNOWN not in FAILURE_REASONS.values()


def test_icons_json() -> None:
    """Every icon names an entity that exists in the translations."""
    icons = load(INTEGRATION / "icons.json")
    strings = load(INTEGRATION / "strings.json")
    for platform, entities in icons["entity"].items():
        for key, icon in entities.items():
            assert key in strings["entity"][platform]
            assert icon["default"].startswith("mdi:")


@pytest.mark.parametrize(
    "command",
    [
        ["ruff", "check", "."],
        ["ruff", "format", "--check", "."],
        ["mypy"],
    ],
    ids=["ruff-check", "ruff-format", "mypy-strict"],
)
def test_lint_clean(command: list[str]) -> None:
    """The code is ruff-clean and passes mypy --strict."""
    result = subprocess.run(  # noqa: S603 - fixed commands
        [sys.executable, "-m", *command], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
