"""Diagnostics: everything useful for a bug report, nothing that identifies a person or a car."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from homeassistant.components.diagnostics import async_redact_data
from homeassistant.const import CONF_CLIENT_ID, CONF_CLIENT_SECRET, CONF_URL
from homeassistant.core import HomeAssistant

from .const import CONF_EXCLUDED_VEHICLES
from .runtime import EvCloudConfigEntry

REDACTED = "**REDACTED**"
TO_REDACT = {
    CONF_CLIENT_ID,
    CONF_CLIENT_SECRET,
    CONF_URL,
    CONF_EXCLUDED_VEHICLES,
    # OAuth 2.0 tokens (Home Assistant keeps them under "token" in entry data) and API keys.
    "token",
    "access_token",
    "refresh_token",
    "id_token",
    "api_key",
    # The webhook's signing secret, and its id (which is its whole address).
    "webhook_secret",
    "webhook_id",
    "vin",
    "id",
    "account_id",
    "latitude",
    "longitude",
    "name",
    "title",
}


def _redact_values(data: Any, secrets: set[str]) -> Any:
    """Redact by value too: a VIN or id can hide in any string (a title, an error text)."""
    if isinstance(data, dict):
        return {key: _redact_values(value, secrets) for key, value in data.items()}
    if isinstance(data, list | tuple | set | frozenset):
        return [_redact_values(value, secrets) for value in data]
    if isinstance(data, str):
        for secret in secrets:
            data = data.replace(secret, REDACTED)
    return data


async def async_get_config_entry_diagnostics(
    hass: HomeAssistant, entry: EvCloudConfigEntry
) -> dict[str, Any]:
    """Entry settings, each vehicle's capabilities, state, polling pace and last command."""
    runtime = entry.runtime_data
    secrets = {
        str(value)
        for value in (entry.data.get(CONF_CLIENT_ID), entry.data.get(CONF_CLIENT_SECRET))
        if value
    }
    to_redact = TO_REDACT | runtime.spec.redact_keys
    if entry.unique_id:
        secrets.add(entry.unique_id)
    vehicles = []
    for vehicle in runtime.vehicles.values():
        info = vehicle.info
        # The owner may have named the car after themselves; the name ends up in messages too.
        secrets.update(
            value
            for value in (info.id, info.vin, info.account_id, info.name, info.display_name)
            if value
        )
        coordinator = vehicle.coordinator
        outcome = vehicle.commands.last_outcome
        vehicles.append(
            {
                "info": asdict(vehicle.info),
                "state": asdict(coordinator.data) if coordinator.data else None,
                "last_update_success": coordinator.last_update_success,
                "polling_interval_s": (
                    coordinator.update_interval.total_seconds()
                    if coordinator.update_interval
                    else None
                ),
                "poll_reason": coordinator.poll_reason,
                "next_read": coordinator.next_read_at.isoformat(),
                "last_command": asdict(outcome) if outcome else None,
            }
        )
    diagnostics = {
        "provider": runtime.spec.name,
        "entry": {
            "title": entry.title,
            "data": dict(entry.data),
            "options": dict(entry.options),
        },
        "vehicles": vehicles,
        "api_requests_today": dict(runtime.usage.today),
        "push": (
            {
                "deliveries": dict(runtime.push.counts),
                "last_accepted": runtime.push.last_accepted,
                "alive": runtime.push.alive(),
            }
            if runtime.push is not None
            else None
        ),
    }
    return _redact_values(async_redact_data(diagnostics, to_redact), secrets)  # type: ignore[no-any-return]
