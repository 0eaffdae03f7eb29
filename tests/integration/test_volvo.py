"""Volvo Cars end to end: Volvo ID sign-in with PKCE through Home Assistant's callback, the API key
checked before anything is created, seed 004's connection vocabulary, fields a car never sends,
fields in error, slow blocking commands, quotas and diagnostics.

Real HTTP to the simulator, which plays Volvo ID, the API gateway (key and quotas) and the cars.
"""

from __future__ import annotations

from typing import Any

from homeassistant import config_entries
from homeassistant.components.lock import DOMAIN as LOCK_DOMAIN
from homeassistant.components.switch import DOMAIN as SWITCH_DOMAIN
from homeassistant.const import (
    ATTR_ENTITY_ID,
    CONF_API_KEY,
    SERVICE_LOCK,
    SERVICE_TURN_ON,
    SERVICE_UNLOCK,
    STATE_UNAVAILABLE,
)
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import entity_registry as er, issue_registry as ir
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.ev_cloud.const import CONF_ENVIRONMENT, DOMAIN, ENVIRONMENT_CUSTOM
from simulator import Simulator

from .test_fault_matrix import reauth_started
from .test_oauth_flow import sign_in

EX30 = "YV1XZEFV8R2000001"  # electric, parked, unplugged
XC40 = "YV1XZK9V5R2000002"  # electric, charging on AC
XC60 = "YV1UZL1V1L1000003"  # plug-in hybrid: many energy fields not supported
XC90 = "YV4A22PK7K1000004"  # petrol: no Energy API
APP = {"client_id": "sim-volvo-client", "client_secret": "sim-volvo-secret"}
API_KEY = "sim-vcc-api-key"


@pytest.fixture(autouse=True)
async def http_pieces(hass: HomeAssistant, current_request_with_host: None) -> None:
    """The sign-in callback needs http and auth."""
    assert await async_setup_component(hass, "http", {})
    assert await async_setup_component(hass, "auth", {})


async def open_volvo_sign_in(
    hass: HomeAssistant, client: ClientSessionGenerator, sim: Simulator, api_key: str = API_KEY
) -> dict[str, Any]:
    """Volvo → developer application with its API key → simulator URL → Volvo ID → signed in."""
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": config_entries.SOURCE_USER}
    )
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"provider": "volvo"}
    )
    assert result["step_id"] == "oauth_app"
    assert result["description_placeholders"]["portal"] == "https://developer.volvocars.com"
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {**APP, CONF_API_KEY: api_key, CONF_ENVIRONMENT: ENVIRONMENT_CUSTOM}
    )
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {"url": sim.url})
    assert result["type"] is FlowResultType.EXTERNAL_STEP
    assert result["url"].startswith(f"{sim.url}/as/authorization.oauth2?")
    assert "code_challenge=" in result["url"]
    assert "energy:state:read" in result["url"]
    return dict(await sign_in(hass, client, sim, result, scope=None))


async def add_volvo(
    hass: HomeAssistant, client: ClientSessionGenerator, sim: Simulator
) -> config_entries.ConfigEntry[Any]:
    """The whole set-up with every car ticked."""
    result = await open_volvo_sign_in(hass, client, sim)
    assert result["step_id"] == "vehicles"
    result = dict(
        await hass.config_entries.flow.async_configure(
            result["flow_id"], {"vehicles": [EX30, XC40, XC60, XC90]}
        )
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    entry: config_entries.ConfigEntry[Any] = result["result"]
    return entry


def entity_id(hass: HomeAssistant, domain: str, vin: str, key: str) -> str | None:
    """The entity of a Volvo reading, or None when the car has none."""
    return er.async_get(hass).async_get_entity_id(domain, DOMAIN, f"volvo_{vin}_{key}")


def state(hass: HomeAssistant, domain: str, vin: str, key: str) -> str:
    """The state of a Volvo entity that must exist."""
    found = entity_id(hass, domain, vin, key)
    assert found is not None, f"{domain} {key} of {vin} missing"
    return hass.states.get(found).state


async def read_every_car(hass: HomeAssistant, entry: config_entries.ConfigEntry[Any]) -> None:
    """One scheduled read of every car."""
    for vehicle in entry.runtime_data.vehicles.values():
        await vehicle.coordinator.async_refresh()
    await hass.async_block_till_done()


async def test_wrong_api_key_is_asked_again_before_anything_is_created(
    hass: HomeAssistant, hass_client_no_auth: ClientSessionGenerator, simulator: Simulator
) -> None:
    """The gateway refuses the key: the flow says so, keeps the sign-in, and takes a new key."""
    result = await open_volvo_sign_in(hass, hass_client_no_auth, simulator, api_key="typo")
    assert (result["step_id"], result["errors"]) == ("api_key", {"base": "invalid_api_key"})
    assert not hass.config_entries.async_entries(DOMAIN)
    result = dict(
        await hass.config_entries.flow.async_configure(
            result["flow_id"], {CONF_API_KEY: "still wrong"}
        )
    )
    assert result["errors"] == {"base": "invalid_api_key"}
    result = dict(
        await hass.config_entries.flow.async_configure(result["flow_id"], {CONF_API_KEY: API_KEY})
    )
    assert result["step_id"] == "vehicles"
    result = dict(
        await hass.config_entries.flow.async_configure(result["flow_id"], {"vehicles": [EX30]})
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"][CONF_API_KEY] == API_KEY
    assert result["result"].unique_id == "sim-volvo-account"


async def test_readings_in_seed_004_vocabulary_and_only_what_each_car_sends(
    hass: HomeAssistant, hass_client_no_auth: ClientSessionGenerator, simulator: Simulator
) -> None:
    """Connection status per seed 004; no entity for what a car never sends; no charging control."""
    await add_volvo(hass, hass_client_no_auth, simulator)
    assert state(hass, "sensor", EX30, "connection_status") == "disconnected"
    assert state(hass, "sensor", XC40, "connection_status") == "connected_ac"
    assert float(state(hass, "sensor", XC40, "charging_power")) == pytest.approx(11.0)
    assert float(state(hass, "sensor", XC40, "charge_limit")) == 80
    assert state(hass, "sensor", XC40, "charging_state") == "charging"
    # Volvo cannot start or stop charging nor set the limit: no such controls exist.
    for vin in (EX30, XC40, XC60, XC90):
        assert entity_id(hass, SWITCH_DOMAIN, vin, "charge") is None
        assert entity_id(hass, "number", vin, "charge_limit") is None
    # The hybrid reports no battery level at all, the petrol car no energy readings: no entities.
    assert entity_id(hass, "sensor", XC60, "battery_level") is None
    assert state(hass, "sensor", XC60, "connection_status") == "disconnected"
    for key in ("battery_level", "connection_status", "charging_power", "charge_limit"):
        assert entity_id(hass, "sensor", XC90, key) is None
    assert state(hass, LOCK_DOMAIN, XC90, "door_lock") == "locked"
    assert float(state(hass, "sensor", XC90, "odometer")) > 0
    # Nothing sits at "unknown" for want of data, except what is unknown by nature: no command
    # sent yet, a climate session no one started (Volvo cannot read it back), and the end of a
    # charge while not charging.
    ours = er.async_entries_for_config_entry(
        er.async_get(hass), hass.config_entries.async_entries(DOMAIN)[0].entry_id
    )
    unknown = [
        e.entity_id
        for e in ours
        if e.domain != "button"
        and not e.unique_id.endswith(("_last_command", "_climate", "_time_to_full"))
        and (shown := hass.states.get(e.entity_id)) is not None
        and shown.state == "unknown"
    ]
    assert unknown == [], "\n".join(unknown)

    car = simulator.volvo.cars[XC40]
    car.plugged = "DC"
    entry = hass.config_entries.async_entries(DOMAIN)[0]
    await read_every_car(hass, entry)
    assert state(hass, "sensor", XC40, "connection_status") == "connected_dc"
    car.fault = True
    await read_every_car(hass, entry)
    assert state(hass, "sensor", XC40, "connection_status") == "fault"


async def test_a_reading_in_error_makes_only_that_entity_unavailable(
    hass: HomeAssistant, hass_client_no_auth: ClientSessionGenerator, simulator: Simulator
) -> None:
    """The parked EX30 answers charging power with PROPERTY_NOT_FOUND: that sensor only."""
    entry = await add_volvo(hass, hass_client_no_auth, simulator)
    assert state(hass, "sensor", EX30, "charging_power") == STATE_UNAVAILABLE
    assert float(state(hass, "sensor", EX30, "battery_level")) == pytest.approx(38.0)
    simulator.volvo.cars[EX30].plugged = "AC"
    await read_every_car(hass, entry)
    assert float(state(hass, "sensor", EX30, "charging_power")) > 0


async def test_slow_lock_outlives_the_http_time_out_and_is_confirmed_by_the_doors(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    simulator: Simulator,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Volvo's call blocks past the client's patience; the car locks anyway: never "failed"."""
    monkeypatch.setattr("custom_components.ev_cloud.providers.volvo.const.ANSWER_WAIT", 0.1)
    monkeypatch.setattr(
        "custom_components.ev_cloud.providers.volvo.const.COMMAND_HTTP_TIMEOUT", 0.3
    )
    monkeypatch.setattr("custom_components.ev_cloud.command.POLL_DELAYS", (0.2,))
    await add_volvo(hass, hass_client_no_auth, simulator)
    car = simulator.volvo.cars[EX30]
    car.locked, car.command_delay = False, 0.8
    lock = entity_id(hass, LOCK_DOMAIN, EX30, "door_lock")
    last_command = entity_id(hass, "sensor", EX30, "last_command")
    seen: list[str] = []
    hass.bus.async_listen(
        "state_changed",
        lambda event: (
            seen.append(event.data["new_state"].state)
            if event.data["entity_id"] == last_command
            else None
        ),
    )
    await hass.services.async_call(LOCK_DOMAIN, SERVICE_LOCK, {ATTR_ENTITY_ID: lock}, blocking=True)
    await hass.async_block_till_done()
    assert car.locked is True
    assert seen[0] == "pending"
    assert seen[-1] == "executed"
    assert "failed" not in seen


async def test_refused_commands_say_why(
    hass: HomeAssistant, hass_client_no_auth: ClientSessionGenerator, simulator: Simulator
) -> None:
    """A sleeping car's refusal is translated; the car's own word stays beside it."""
    from homeassistant.exceptions import HomeAssistantError

    await add_volvo(hass, hass_client_no_auth, simulator)
    simulator.volvo.cars[EX30].next_invoke_status = "VEHICLE_IN_SLEEP"
    with pytest.raises(HomeAssistantError) as err:
        await hass.services.async_call(
            LOCK_DOMAIN,
            SERVICE_UNLOCK,
            {ATTR_ENTITY_ID: entity_id(hass, LOCK_DOMAIN, EX30, "door_lock")},
            blocking=True,
        )
    assert err.value.translation_key == "command_failed_asleep"
    assert "VEHICLE_IN_SLEEP" in str(err.value)
    assert simulator.volvo.cars[EX30].locked is True
    climate = entity_id(hass, SWITCH_DOMAIN, EX30, "climate")
    await hass.services.async_call(
        SWITCH_DOMAIN, SERVICE_TURN_ON, {ATTR_ENTITY_ID: climate}, blocking=True
    )
    assert simulator.volvo.cars[EX30].climate_on is True


async def test_quota_backs_off_and_a_refused_key_raises_a_repair_not_a_sign_in(
    hass: HomeAssistant, hass_client_no_auth: ClientSessionGenerator, simulator: Simulator
) -> None:
    """429 keeps the last data and waits as told; a key refused later is a repair issue."""
    from datetime import timedelta

    entry = await add_volvo(hass, hass_client_no_auth, simulator)
    # The parked EX30 is read every 30 minutes: a longer Retry-After shows as its pace.
    vehicle = next(v for v in entry.runtime_data.vehicles.values() if v.info.vin == EX30)
    battery = state(hass, "sensor", EX30, "battery_level")
    simulator.faults.set("rate_limited", path="/energy/", retry_after=2400)
    await vehicle.coordinator.async_refresh()
    await hass.async_block_till_done()
    assert state(hass, "sensor", EX30, "battery_level") == battery
    assert vehicle.coordinator.update_interval == timedelta(seconds=2400)
    assert not reauth_started(hass)
    simulator.faults.clear()

    simulator.volvo.api_keys.clear()
    await read_every_car(hass, entry)
    assert state(hass, "sensor", XC40, "battery_level") == STATE_UNAVAILABLE
    issue = ir.async_get(hass).async_get_issue(DOMAIN, f"api_key_rejected_{entry.entry_id}")
    assert issue is not None
    assert not reauth_started(hass)
    simulator.volvo.api_keys.add(API_KEY)
    await read_every_car(hass, entry)
    assert ir.async_get(hass).async_get_issue(DOMAIN, f"api_key_rejected_{entry.entry_id}") is None
    assert state(hass, "sensor", XC40, "battery_level") != STATE_UNAVAILABLE


async def test_diagnostics_hide_the_key_tokens_and_vins(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    hass_client_no_auth: ClientSessionGenerator,
    simulator: Simulator,
) -> None:
    """API key, OAuth tokens, client credentials, account and VINs never show."""
    from pytest_homeassistant_custom_component.components.diagnostics import (
        get_diagnostics_for_config_entry,
    )

    assert await async_setup_component(hass, "diagnostics", {})
    entry = await add_volvo(hass, hass_client_no_auth, simulator)
    text = str(await get_diagnostics_for_config_entry(hass, hass_client, entry))
    for secret in (
        API_KEY,
        entry.data["token"]["access_token"],
        entry.data["token"]["refresh_token"],
        APP["client_id"],
        APP["client_secret"],
        "sim-volvo-account",
        EX30,
        XC90,
    ):
        assert secret not in text


async def test_key_refused_at_start_up_retries_and_leaves_no_issue_once_deleted(
    hass: HomeAssistant, hass_client_no_auth: ClientSessionGenerator, simulator: Simulator
) -> None:
    """The vehicle list itself is refused: set-up retries with the repair issue up, no sign-in."""
    entry = await add_volvo(hass, hass_client_no_auth, simulator)
    simulator.volvo.api_keys.clear()
    await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is config_entries.ConfigEntryState.SETUP_RETRY
    issue_id = f"api_key_rejected_{entry.entry_id}"
    assert ir.async_get(hass).async_get_issue(DOMAIN, issue_id) is not None
    assert not reauth_started(hass)
    await hass.config_entries.async_remove(entry.entry_id)
    assert ir.async_get(hass).async_get_issue(DOMAIN, issue_id) is None


async def test_a_refused_token_is_refreshed_once_and_a_second_refusal_asks_to_sign_in(
    hass: HomeAssistant, hass_client_no_auth: ClientSessionGenerator, simulator: Simulator
) -> None:
    """Volvo ID rotates refresh tokens: one refresh for the refusal, then the read goes on."""
    entry = await add_volvo(hass, hass_client_no_auth, simulator)
    before = entry.data["token"]["refresh_token"]
    simulator.faults.set("unauthorized", path="/energy/", count=1)
    await read_every_car(hass, entry)
    assert entry.data["token"]["refresh_token"] != before
    assert float(state(hass, "sensor", XC40, "battery_level")) > 0
    assert not reauth_started(hass)
    simulator.faults.set("unauthorized", path="/energy/")
    await read_every_car(hass, entry)
    assert reauth_started(hass)
