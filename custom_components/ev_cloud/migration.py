"""Config entry migration.

0.1.0 (entry version 1) keyed devices and entities by the Volteras vehicle id, so a car connected
again (a new id) lost its entities, history and automations. Version 2 keys them by provider and
VIN. The device registry already holds each car's VIN (its serial number), so the migration needs
no network and cannot fail half-way on a cloud outage.
"""

from __future__ import annotations

from typing import Any

from homeassistant.config_entries import ConfigEntry
from homeassistant.const import Platform
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import device_registry as dr, entity_registry as er

from .const import CONF_PROVIDER, CONFIG_VERSION, DOMAIN, LOGGER

# 0.1.0 had only Volteras.
V1_PROVIDER = "volteras"
# Renamed so that the switch and the measured binary sensor no longer share a name.
RENAMED_KEYS = {(Platform.SWITCH, "charging"): "charge"}


async def async_migrate_entry(hass: HomeAssistant, entry: ConfigEntry[Any]) -> bool:
    """Bring an entry and its registries to the current version."""
    if entry.version > CONFIG_VERSION:
        # Written by a newer EV Cloud: leave it alone rather than guess.
        return False
    if entry.version == 1:
        provider = entry.data.get(CONF_PROVIDER, V1_PROVIDER)
        new_keys = _migrate_devices(hass, entry, provider)

        entities = er.async_get(hass)

        @callback
        def migrate_unique_id(entity: er.RegistryEntry) -> dict[str, Any] | None:
            for old_id, new_key in new_keys.items():
                if entity.unique_id.startswith(f"{old_id}_"):
                    suffix = entity.unique_id.removeprefix(f"{old_id}_")
                    suffix = RENAMED_KEYS.get((Platform(entity.domain), suffix), suffix)
                    new_unique_id = f"{new_key}_{suffix}"
                    if entities.async_get_entity_id(entity.domain, DOMAIN, new_unique_id):
                        # Taken already (a half-finished earlier run): leave this one be.
                        return None
                    return {"new_unique_id": new_unique_id}
            return None

        await er.async_migrate_entries(hass, entry.entry_id, migrate_unique_id)
        hass.config_entries.async_update_entry(
            entry, data={CONF_PROVIDER: provider, **entry.data}, version=CONFIG_VERSION
        )
        LOGGER.info("Migrated EV Cloud entry to version %s", CONFIG_VERSION)
    return True


def _migrate_devices(hass: HomeAssistant, entry: ConfigEntry[Any], provider: str) -> dict[str, str]:
    """Re-key every device of the entry; return old vehicle id → new device key."""
    registry = dr.async_get(hass)
    new_keys: dict[str, str] = {}
    for device in dr.async_entries_for_config_entry(registry, entry.entry_id):
        old_id = next((ident[1] for ident in device.identifiers if ident[0] == DOMAIN), None)
        if old_id is None or old_id.startswith(f"{provider}_"):
            continue
        vin = (device.serial_number or "").strip().upper()
        new_key = f"{provider}_{vin or old_id}"
        if registry.async_get_device(identifiers={(DOMAIN, new_key)}) is not None:
            # The same car listed twice (two maker accounts, a stale record): the first keeps
            # the VIN key; this one keeps its old id and is dropped at set-up if it is stale.
            LOGGER.warning("Two EV Cloud devices share a VIN; keeping one, leaving the other")
            continue
        new_keys[old_id] = new_key
        registry.async_update_device(device.id, new_identifiers={(DOMAIN, new_key)})
    return new_keys
