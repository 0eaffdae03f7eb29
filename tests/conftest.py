"""Shared fixtures."""

from __future__ import annotations

import pytest

# Import before Home Assistant's loader runs: the test package puts its own testing_config
# custom_components package first on sys.path, which would hide ours (design §6).
import custom_components.ev_cloud  # noqa: F401


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(enable_custom_integrations: None) -> None:
    """Let Home Assistant's loader find custom_components.ev_cloud."""
    return
