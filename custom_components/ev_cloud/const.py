"""Constants shared across the integration."""

from __future__ import annotations

import logging
from typing import Final

DOMAIN: Final = "ev_cloud"
LOGGER = logging.getLogger(__package__)

# Version 2 keys devices and entities by provider and VIN (see migration.py).
CONFIG_VERSION: Final = 2

# Config entry data. Client id/secret and the URL use Home Assistant's own CONF_* names.
CONF_PROVIDER: Final = "provider"
CONF_ENVIRONMENT: Final = "environment"
CONF_EXCLUDED_VEHICLES: Final = "excluded_vehicles"
# The developer app's domain, where its public key is hosted (providers with key pairing).
CONF_APP_DOMAIN: Final = "app_domain"
# Options: the signing secret of the provider's webhook endpoint (Volteras, through Svix).
CONF_WEBHOOK_SECRET: Final = "webhook_secret"  # noqa: S105 - an option key, not a secret

# Options.
CONF_ACTIVE_INTERVAL: Final = "active_interval"
CONF_IDLE_INTERVAL: Final = "idle_interval"
DEFAULT_ACTIVE_INTERVAL: Final = 300  # seconds, while charging or right after a command
DEFAULT_IDLE_INTERVAL: Final = 1800  # seconds, parked and unplugged

ENVIRONMENT_PRODUCTION: Final = "production"
ENVIRONMENT_SANDBOX: Final = "sandbox"
ENVIRONMENT_CUSTOM: Final = "custom"
CONF_PLUGGED_INTERVAL: Final = "plugged_interval"
DEFAULT_PLUGGED_INTERVAL: Final = 900  # seconds, plugged in but not charging
