"""Tesla Fleet API end to end: sign-in through Home Assistant's OAuth2 callback, reading without
waking, signed and unsigned commands, a command that wakes a sleeping car, refusals in words.

Everything is real HTTP to the simulator, which plays the Tesla cloud and the cars (the signed
commands are verified by the simulated car with the vehicle command protocol).
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant import config_entries
from homeassistant.components.lock import DOMAIN as LOCK_DOMAIN
from homeassistant.components.number import ATTR_VALUE, DOMAIN as NUMBER_DOMAIN, SERVICE_SET_VALUE
from homeassistant.components.switch import DOMAIN as SWITCH_DOMAIN
from homeassistant.const import (
    ATTR_ENTITY_ID,
    SERVICE_LOCK,
    SERVICE_TURN_OFF,
    SERVICE_TURN_ON,
    STATE_ON,
    STATE_UNKNOWN,
)
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import entity_registry as er, issue_registry as ir
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator
from yarl import URL

from custom_components.ev_cloud.const import (
    CONF_APP_DOMAIN,
    CONF_ENVIRONMENT,
    DOMAIN,
    ENVIRONMENT_CUSTOM,
)
from simulator import Simulator

from .conftest import advance
from .test_oauth_flow import APP, sign_in

RED = "5YJ3E7EB7KF000101"  # Model 3, online, plugged in, signed commands required
BLUE = "7SAYGDEE5PF000202"  # Model Y, asleep, plain REST commands


@pytest.fixture(autouse=True)
async def http_pieces(
    hass: HomeAssistant,
    current_request_with_host: None,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    """The sign-in callback needs http and auth; wake-ups are polled at a test pace.

    The signing key goes to a fresh config folder per test, as on a new installation.
    """
    hass.config.config_dir = str(tmp_path)
    assert await async_setup_component(hass, "http", {})
    assert await async_setup_component(hass, "auth", {})
    monkeypatch.setattr("custom_components.ev_cloud.providers.tesla.const.WAKE_POLL", 0.05)
    monkeypatch.setattr("custom_components.ev_cloud.providers.tesla.const.WAKE_TIMEOUT", 3.0)


def app_domain(sim: Simulator) -> str:
    """The simulator plays the developer app's web site too: its host is the app's domain."""
    return str(URL(sim.url).raw_authority)


async def open_tesla_sign_in(
    hass: HomeAssistant,
    client: ClientSessionGenerator,
    sim: Simulator,
    expect: str = "public_key",
    **app: str,
) -> dict[str, Any]:
    """Tesla → developer app (with its domain) → simulator URL → Tesla sign-in: the first check."""
    for car in sim.tesla.cars.values():
        car.wake_delay = 0.1
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": config_entries.SOURCE_USER}
    )
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"provider": "tesla"}
    )
    assert result["step_id"] == "oauth_app"
    assert result["description_placeholders"]["portal"] == "https://developer.tesla.com"
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        {**APP, CONF_APP_DOMAIN: app_domain(sim), CONF_ENVIRONMENT: ENVIRONMENT_CUSTOM, **app},
    )
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {"url": sim.url})
    assert result["type"] is FlowResultType.EXTERNAL_STEP
    assert "vehicle_cmds" in result["url"]
    result = await sign_in(hass, client, sim, result, scope=None)
    assert result.get("step_id", result["type"]) == expect
    return result


def host_public_key(sim: Simulator, result: dict[str, Any]) -> None:
    """What the owner does with the key the form shows: publish it on the app's domain."""
    sim.tesla.hosted_public_key = result["description_placeholders"]["public_key"]


async def add_tesla(
    hass: HomeAssistant, client: ClientSessionGenerator, sim: Simulator
) -> config_entries.ConfigEntry[Any]:
    """The whole set-up: sign-in, key hosted and checked, domain registered, pair later."""
    result = await open_tesla_sign_in(hass, client, sim)
    host_public_key(sim, result)
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {})
    # Registered by the flow itself; the Model 3 takes only signed commands: pairing is offered.
    assert result["step_id"] == "pair_key"
    assert result["description_placeholders"]["vehicles"] == "Red Model 3"
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {"pair_later": True})
    assert result["step_id"] == "vehicles"
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"vehicles": [RED, BLUE]}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    return result["result"]


def entity(hass: HomeAssistant, domain: str, vin: str, key: str) -> str:
    """Entity id of a Tesla entity."""
    entity_id = er.async_get(hass).async_get_entity_id(domain, DOMAIN, f"tesla_{vin}_{key}")
    assert entity_id is not None, f"{domain} {key} of {vin} missing"
    return entity_id


def pair_key(sim: Simulator) -> None:
    """What the owner does with the pairing link: the car accepts the domain's key."""
    sim.pair_tesla_key(RED, app_domain(sim))


async def test_sign_in_reads_awake_car_and_never_wakes_the_sleeping_one(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    simulator: Simulator,
    freezer: FrozenDateTimeFactory,
) -> None:
    """The awake car shows its data and bounds; the sleeping one says so and is never woken."""
    entry = await add_tesla(hass, hass_client_no_auth, simulator)
    assert entry.title.startswith("Tesla account ")
    assert entry.unique_id == "sim-account"

    assert float(hass.states.get(entity(hass, "sensor", RED, "battery_level")).state) == 45
    limit = hass.states.get(entity(hass, NUMBER_DOMAIN, RED, "charge_limit"))
    assert (limit.attributes["min"], limit.attributes["max"]) == (50, 100)
    current = hass.states.get(entity(hass, NUMBER_DOMAIN, RED, "charging_current"))
    assert current.attributes["max"] == 32
    assert hass.states.get(entity(hass, "sensor", RED, "connection_status")).state == "connected_ac"
    assert hass.states.get(entity(hass, "sensor", RED, "cabin_temperature")).state == "14.0"
    # Tesla reads climate back (no assumed state) and sends no stored-energy figure (no entity).
    target = hass.states.get(entity(hass, NUMBER_DOMAIN, RED, "target_temperature"))
    assert target.state == "21.0"
    assert "assumed_state" not in target.attributes
    assert not er.async_get(hass).async_get_entity_id(
        "sensor", DOMAIN, f"tesla_{RED}_energy_remaining"
    )
    assert hass.states.get(entity(hass, "binary_sensor", BLUE, "asleep")).state == STATE_ON
    assert hass.states.get(entity(hass, "sensor", BLUE, "battery_level")).state == STATE_UNKNOWN

    for _ in range(8):
        await advance(hass, freezer, timedelta(hours=1))
    assert simulator.tesla.meter["wake"] == 0
    assert not simulator.tesla.cars[BLUE].online


async def test_command_on_a_sleeping_car_wakes_it_first(
    hass: HomeAssistant, hass_client_no_auth: ClientSessionGenerator, simulator: Simulator
) -> None:
    """Asked by the user: one wake, then the REST command."""
    await add_tesla(hass, hass_client_no_auth, simulator)
    lock = entity(hass, LOCK_DOMAIN, BLUE, "door_lock")
    last_command = entity(hass, "sensor", BLUE, "last_command")
    seen: list[str] = []
    hass.bus.async_listen(
        "state_changed",
        lambda event: (
            seen.append(event.data["new_state"].state)
            if event.data["entity_id"] == last_command
            else None
        ),
    )
    simulator.tesla.cars[BLUE].locked = False
    await hass.services.async_call(LOCK_DOMAIN, SERVICE_LOCK, {ATTR_ENTITY_ID: lock}, blocking=True)
    await hass.async_block_till_done()
    # The user sees that the car is being woken, then the outcome.
    assert seen[0] == "waking"
    assert seen[-1] == "executed"
    assert simulator.tesla.cars[BLUE].locked is True
    assert simulator.tesla.meter["wake"] == 1


async def test_signed_commands_need_the_paired_key(
    hass: HomeAssistant, hass_client_no_auth: ClientSessionGenerator, simulator: Simulator
) -> None:
    """Unpaired: a clear refusal. Paired: signed charge start and limit reach the car."""
    entry = await add_tesla(hass, hass_client_no_auth, simulator)
    switch = entity(hass, SWITCH_DOMAIN, RED, "charge")
    with pytest.raises(HomeAssistantError) as err:
        await hass.services.async_call(
            SWITCH_DOMAIN, SERVICE_TURN_ON, {ATTR_ENTITY_ID: switch}, blocking=True
        )
    assert err.value.translation_key == "command_failed_not_permitted"
    assert simulator.tesla.cars[RED].charging is False

    issues = ir.async_get(hass)
    unpaired = [i for (d, i) in issues.issues if d == DOMAIN and i.startswith("key_not_paired_")]
    assert len(unpaired) == 1  # the Model Y takes unsigned commands: no pairing needed
    issue = issues.async_get_issue(DOMAIN, unpaired[0])
    assert issue.translation_placeholders["vehicle"] == "Red Model 3"
    assert issue.translation_placeholders["public_key"].startswith("-----BEGIN PUBLIC KEY-----")
    domain = app_domain(simulator)
    assert issue.translation_placeholders["pairing_link"] == f"https://tesla.com/_ak/{domain}"
    assert issue.translation_placeholders["url"] == (
        f"http://{domain}/.well-known/appspecific/com.tesla.3p.public-key.pem"
    )

    pair_key(simulator)
    await entry.runtime_data.fleet.async_refresh()
    await hass.async_block_till_done(wait_background_tasks=True)
    assert issues.async_get_issue(DOMAIN, unpaired[0]) is None
    await hass.services.async_call(
        SWITCH_DOMAIN, SERVICE_TURN_ON, {ATTR_ENTITY_ID: switch}, blocking=True
    )
    assert simulator.tesla.cars[RED].charging is True
    await hass.services.async_call(
        NUMBER_DOMAIN,
        SERVICE_SET_VALUE,
        {ATTR_ENTITY_ID: entity(hass, NUMBER_DOMAIN, RED, "charge_limit"), ATTR_VALUE: 90},
        blocking=True,
    )
    assert simulator.tesla.cars[RED].charge_limit_soc == 90
    await hass.services.async_call(
        NUMBER_DOMAIN,
        SERVICE_SET_VALUE,
        {ATTR_ENTITY_ID: entity(hass, NUMBER_DOMAIN, RED, "charging_current"), ATTR_VALUE: 10},
        blocking=True,
    )
    assert simulator.tesla.cars[RED].charge_current_request == 10
    # Starting again while it charges is "already so": success, not an error.
    await hass.services.async_call(
        SWITCH_DOMAIN, SERVICE_TURN_ON, {ATTR_ENTITY_ID: switch}, blocking=True
    )
    assert simulator.tesla.meter["command"] >= 4


async def test_refusals_are_translated(
    hass: HomeAssistant, hass_client_no_auth: ClientSessionGenerator, simulator: Simulator
) -> None:
    """A car without a cable refuses to charge: the user reads why, the car's word beside it."""
    await add_tesla(hass, hass_client_no_auth, simulator)
    switch = entity(hass, SWITCH_DOMAIN, BLUE, "charge")
    with pytest.raises(HomeAssistantError) as err:
        await hass.services.async_call(
            SWITCH_DOMAIN, SERVICE_TURN_ON, {ATTR_ENTITY_ID: switch}, blocking=True
        )
    assert err.value.translation_key == "command_failed_not_plugged_in"
    assert "(disconnected)" in str(err.value)
    # Stopping a car that is not charging is what the user wanted: success.
    await hass.services.async_call(
        SWITCH_DOMAIN, SERVICE_TURN_OFF, {ATTR_ENTITY_ID: switch}, blocking=True
    )


async def test_wake_up_button(
    hass: HomeAssistant, hass_client_no_auth: ClientSessionGenerator, simulator: Simulator
) -> None:
    """The one place a person asks for a wake-up: billed once, the car online, then read."""
    entry = await add_tesla(hass, hass_client_no_auth, simulator)
    await hass.services.async_call(
        "button", "press", {ATTR_ENTITY_ID: entity(hass, "button", BLUE, "wake_up")}, blocking=True
    )
    assert simulator.tesla.meter["wake"] == 1
    assert simulator.tesla.cars[BLUE].online
    vehicle = next(v for v in entry.runtime_data.vehicles.values() if v.info.vin == BLUE)
    await vehicle.coordinator.async_refresh()
    await hass.async_block_till_done()
    assert hass.states.get(entity(hass, "binary_sensor", BLUE, "asleep")).state == "off"
    assert float(hass.states.get(entity(hass, "sensor", BLUE, "battery_level")).state) == 72


async def test_rate_limit_backs_off_and_never_asks_to_sign_in(
    hass: HomeAssistant, hass_client_no_auth: ClientSessionGenerator, simulator: Simulator
) -> None:
    """Tesla's 429: the last data stays, the car is read again after Retry-After, no reauth."""
    entry = await add_tesla(hass, hass_client_no_auth, simulator)
    vehicle = next(v for v in entry.runtime_data.vehicles.values() if v.info.vin == RED)
    battery = entity(hass, "sensor", RED, "battery_level")
    simulator.faults.set("rate_limited", path="/vehicle_data", retry_after=1200)
    await vehicle.coordinator.async_refresh()
    await hass.async_block_till_done()
    assert float(hass.states.get(battery).state) == 45
    assert vehicle.coordinator.update_interval == timedelta(seconds=1200)
    assert not hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    simulator.faults.clear()
    await vehicle.coordinator.async_refresh()
    assert vehicle.coordinator.update_interval != timedelta(seconds=1200)


async def test_diagnostics_hide_tokens_and_the_account(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    hass_client_no_auth: ClientSessionGenerator,
    simulator: Simulator,
) -> None:
    """OAuth tokens, the client id in the implementation name and the VINs never show."""
    from pytest_homeassistant_custom_component.components.diagnostics import (
        get_diagnostics_for_config_entry,
    )

    # Before any HTTP client starts: the router freezes then.
    assert await async_setup_component(hass, "diagnostics", {})
    entry = await add_tesla(hass, hass_client_no_auth, simulator)
    text = str(await get_diagnostics_for_config_entry(hass, hass_client, entry))
    for secret in (
        entry.data["token"]["access_token"],
        entry.data["token"]["refresh_token"],
        "sim-oauth-client",
        "sim-oauth-secret",
        RED,
        BLUE,
        "sim-account",
        app_domain(simulator),
    ):
        assert secret not in text
