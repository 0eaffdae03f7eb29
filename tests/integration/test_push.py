"""Volteras pushes over real HTTP: the simulator signs and posts webhooks to Home Assistant.

A verified delivery shows at once and pushes the next poll out; a pushed command result needs
no follow-up read; forged, late, replayed and malformed deliveries change nothing and are
counted; when deliveries stop, polling takes over.
"""

from __future__ import annotations

from datetime import timedelta
import logging
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.components.switch import DOMAIN as SWITCH_DOMAIN
from homeassistant.const import ATTR_ENTITY_ID, CONF_WEBHOOK_ID, SERVICE_TURN_ON
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.ev_cloud.const import CONF_WEBHOOK_SECRET, DOMAIN
from custom_components.ev_cloud.coordinator import PUSH_CONSISTENCY, PollReason, VehicleCoordinator
from simulator import Simulator
from simulator.volteras.webhooks import Mode, new_secret

from .conftest import advance, entry_data, vehicle_key
from .test_commands import entity, vehicle_by_make

WEBHOOK_ID = "ev-cloud-test-webhook"
COMMAND_READS = "/command-executions/"


@pytest.fixture
def secret() -> str:
    """A fresh Svix signing secret."""
    return new_secret()


@pytest.fixture
async def pushing_entry(
    hass: HomeAssistant,
    simulator: Simulator,
    hass_client_no_auth: ClientSessionGenerator,
    secret: str,
) -> MockConfigEntry:
    """A Volteras entry with its webhook, registered at the simulator over real HTTP."""
    assert await async_setup_component(hass, "http", {})
    entry = MockConfigEntry(
        domain=DOMAIN,
        title="Volteras",
        unique_id="sim-org",
        version=2,
        data={**entry_data(simulator.url), CONF_WEBHOOK_ID: WEBHOOK_ID},
        options={CONF_WEBHOOK_SECRET: secret},
    )
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    client = await hass_client_no_auth()
    simulator.webhooks.add_endpoint(str(client.make_url(f"/api/webhook/{WEBHOOK_ID}")), secret)
    return entry


def coordinator_of(
    entry: MockConfigEntry, simulator: Simulator, vehicle_id: str
) -> VehicleCoordinator:
    """The vehicle's coordinator."""
    return entry.runtime_data.vehicles[vehicle_key(simulator, vehicle_id)].coordinator


async def one_delivery(hass: HomeAssistant, simulator: Simulator) -> str:
    """The Tesla's telemetry, pushed and handled; the Tesla's vehicle id."""
    tesla = vehicle_by_make(simulator, "TESLA")
    await simulator.webhooks.send_telemetry(tesla)
    await hass.async_block_till_done()
    return tesla


async def test_pushed_telemetry_shows_at_once_and_pushes_the_poll_out(
    hass: HomeAssistant, simulator: Simulator, pushing_entry: MockConfigEntry
) -> None:
    """The plug-in shows without a read; the car is then only read for consistency."""
    tesla = vehicle_by_make(simulator, "TESLA")
    reads = len(simulator.volteras.request_log)
    simulator.volteras.vehicles[tesla].charge_limit = 66
    deliveries = await simulator.webhooks.pump()
    await hass.async_block_till_done()
    assert deliveries
    assert all(delivery.ok for delivery in deliveries)
    number = hass.states.get(entity(hass, "number", tesla, "charge_limit"))
    assert float(number.state) == 66
    # Shown without reading the car.
    assert not [p for _, p in simulator.volteras.request_log[reads:] if p.endswith("/telemetry")]
    coordinator = coordinator_of(pushing_entry, simulator, tesla)
    assert coordinator.poll_reason is PollReason.PUSH
    assert coordinator.update_interval == PUSH_CONSISTENCY
    assert pushing_entry.runtime_data.push.counts["accepted"] >= 1


async def test_a_pushed_command_result_needs_no_follow_up_read(
    hass: HomeAssistant,
    simulator: Simulator,
    pushing_entry: MockConfigEntry,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Real time: the command settles after 0.3 s and its result arrives as a push."""
    monkeypatch.setattr("custom_components.ev_cloud.command.PUSH_POLL_DELAYS", (5.0,))
    tesla = vehicle_by_make(simulator, "TESLA")
    # The channel is alive once a delivery was accepted.
    await simulator.webhooks.send_telemetry(tesla)
    await hass.async_block_till_done()
    simulator.command_delay = 0.3
    simulator.webhooks.start_auto(0.05)
    try:
        before = len(simulator.volteras.request_log)
        await hass.services.async_call(
            SWITCH_DOMAIN,
            SERVICE_TURN_ON,
            {ATTR_ENTITY_ID: entity(hass, SWITCH_DOMAIN, tesla, "charge")},
            blocking=True,
        )
    finally:
        await simulator.webhooks.stop_auto()
    assert simulator.volteras.vehicles[tesla].charging is True
    after = [p for _, p in simulator.volteras.request_log[before:]]
    assert not [p for p in after if COMMAND_READS in p]


@pytest.mark.parametrize("mode", [Mode.FORGED, Mode.LATE, Mode.MALFORMED])
async def test_bad_deliveries_change_nothing_and_are_counted(
    hass: HomeAssistant,
    simulator: Simulator,
    pushing_entry: MockConfigEntry,
    caplog: pytest.LogCaptureFixture,
    mode: Mode,
) -> None:
    """Refused, counted by reason, a debug line only: never an error in the log."""
    tesla = vehicle_by_make(simulator, "TESLA")
    simulator.volteras.vehicles[tesla].charge_limit = 55
    caplog.set_level(logging.DEBUG, logger="custom_components.ev_cloud")
    deliveries = await simulator.webhooks.send_telemetry(tesla, mode=mode)
    await hass.async_block_till_done()
    assert deliveries[0].status == 401
    number = hass.states.get(entity(hass, "number", tesla, "charge_limit"))
    assert float(number.state) != 55
    counts = pushing_entry.runtime_data.push.counts
    assert sum(v for k, v in counts.items() if k != "accepted") == 1
    assert "Refused a webhook delivery" in caplog.text
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


async def test_a_replayed_delivery_is_acknowledged_but_not_applied_twice(
    hass: HomeAssistant, simulator: Simulator, pushing_entry: MockConfigEntry
) -> None:
    """Svix must stop retrying a replay: 200, counted as replayed."""
    tesla = vehicle_by_make(simulator, "TESLA")
    await simulator.webhooks.send_telemetry(tesla)
    deliveries = await simulator.webhooks.replay()
    await hass.async_block_till_done()
    assert deliveries[0].status == 200
    assert pushing_entry.runtime_data.push.counts["replayed"] == 1


async def test_when_pushes_stop_polling_takes_over(
    hass: HomeAssistant,
    simulator: Simulator,
    pushing_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """A quiet day is still push (read every 4 h); a day without any delivery is polling."""
    tesla = await one_delivery(hass, simulator)
    coordinator = coordinator_of(pushing_entry, simulator, tesla)
    assert coordinator.poll_reason is PollReason.PUSH
    await advance(hass, freezer, PUSH_CONSISTENCY + timedelta(minutes=1))
    assert coordinator.poll_reason is PollReason.PUSH
    for _ in range(6):
        await advance(hass, freezer, PUSH_CONSISTENCY)
    assert coordinator.poll_reason is not PollReason.PUSH
    assert coordinator.update_interval < PUSH_CONSISTENCY


async def test_a_connected_car_is_listed_at_once(
    hass: HomeAssistant, simulator: Simulator, pushing_entry: MockConfigEntry
) -> None:
    """device.connected reads the vehicle list now, not within six hours."""
    car = simulator.volteras.add_vehicle(make="KIA", model="EV9", soc=50.0)
    await simulator.webhooks.pump()
    await hass.async_block_till_done(wait_background_tasks=True)
    assert vehicle_key(simulator, car.id) in pushing_entry.runtime_data.vehicles


async def test_options_show_the_webhook_url_and_check_the_secret(
    hass: HomeAssistant, simulator: Simulator, loaded_entry: MockConfigEntry, secret: str
) -> None:
    """The URL to paste is shown; a secret that is not one is refused; a good one is kept."""
    assert await async_setup_component(hass, "http", {})
    hass.config.internal_url = "http://homeassistant.local:8123"
    result = await hass.config_entries.options.async_init(loaded_entry.entry_id)
    assert result["step_id"] == "push"
    webhook_id = loaded_entry.data[CONF_WEBHOOK_ID]
    assert result["description_placeholders"]["webhook_url"] == (
        f"http://homeassistant.local:8123/api/webhook/{webhook_id}"
    )
    paces = {"active_interval": 300, "plugged_interval": 900, "idle_interval": 1800}
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {**paces, CONF_WEBHOOK_SECRET: "not a secret"}
    )
    assert result["errors"] == {CONF_WEBHOOK_SECRET: "invalid_webhook_secret"}
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {**paces, CONF_WEBHOOK_SECRET: secret}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    assert loaded_entry.options[CONF_WEBHOOK_SECRET] == secret
    assert loaded_entry.runtime_data.push is not None
    # Saving again with the field left empty keeps the secret.
    result = await hass.config_entries.options.async_init(loaded_entry.entry_id)
    result = await hass.config_entries.options.async_configure(result["flow_id"], paces)
    assert loaded_entry.options[CONF_WEBHOOK_SECRET] == secret


@pytest.fixture
async def diagnostics_component(hass: HomeAssistant) -> None:
    """Diagnostics, set up before any HTTP client freezes the router."""
    assert await async_setup_component(hass, "diagnostics", {})


async def test_diagnostics_show_deliveries_but_not_the_secret_or_the_address(
    hass: HomeAssistant,
    simulator: Simulator,
    diagnostics_component: None,
    pushing_entry: MockConfigEntry,
    hass_client: ClientSessionGenerator,
    secret: str,
) -> None:
    """Counts by reason help a bug report; the secret and the webhook id would let anyone in."""
    from pytest_homeassistant_custom_component.components.diagnostics import (
        get_diagnostics_for_config_entry,
    )

    await simulator.webhooks.send_telemetry(vehicle_by_make(simulator, "TESLA"), mode=Mode.FORGED)
    await hass.async_block_till_done()
    diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, pushing_entry)
    assert diagnostics["push"]["deliveries"]["bad_signature"] == 1
    text = str(diagnostics)
    assert secret not in text
    assert WEBHOOK_ID not in text


async def test_options_of_a_provider_that_does_not_push_have_no_webhook(
    hass: HomeAssistant, simulator: Simulator
) -> None:
    """Tesla pushes nothing EV Cloud can take: the plain polling form, no secret field."""
    from .test_tesla_fault_matrix import REGISTERED_KEY, tesla_entry

    simulator.tesla.register_partner("sim-oauth-client", "ev.example.com", REGISTERED_KEY)
    entry = tesla_entry(simulator)
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    result = await hass.config_entries.options.async_init(entry.entry_id)
    assert result["step_id"] == "init"
    assert CONF_WEBHOOK_SECRET not in {str(key) for key in result["data_schema"].schema}
    result = await hass.config_entries.options.async_configure(
        result["flow_id"],
        {"active_interval": 600, "plugged_interval": 900, "idle_interval": 1800},
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert entry.options == {"active_interval": 600, "plugged_interval": 900, "idle_interval": 1800}


async def test_a_restart_keeps_a_working_channel(
    hass: HomeAssistant,
    simulator: Simulator,
    pushing_entry: MockConfigEntry,
    hass_storage: dict[str, Any],
) -> None:
    """A parked car may push nothing for hours: a channel that worked stays trusted."""
    tesla = await one_delivery(hass, simulator)
    heard = pushing_entry.runtime_data.push.last_accepted
    assert heard is not None
    assert await hass.config_entries.async_reload(pushing_entry.entry_id)
    await hass.async_block_till_done()
    push = pushing_entry.runtime_data.push
    assert push.last_accepted == heard
    assert push.alive()
    coordinator = coordinator_of(pushing_entry, simulator, tesla)
    await coordinator.async_refresh()
    assert coordinator.poll_reason is PollReason.PUSH
    # Gone with the entry.
    key = f"{DOMAIN}.push.{pushing_entry.entry_id}"
    assert key in hass_storage
    assert await hass.config_entries.async_remove(pushing_entry.entry_id)
    await hass.async_block_till_done()
    assert key not in hass_storage


async def test_a_channel_silent_for_a_day_is_not_trusted_after_a_restart(
    hass: HomeAssistant,
    simulator: Simulator,
    pushing_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """The last delivery came more than a day before the restart: polling as usual."""
    tesla = await one_delivery(hass, simulator)
    freezer.tick(timedelta(hours=25))
    assert await hass.config_entries.async_reload(pushing_entry.entry_id)
    await hass.async_block_till_done()
    push = pushing_entry.runtime_data.push
    assert push.last_accepted is not None
    assert not push.alive()
    assert coordinator_of(pushing_entry, simulator, tesla).poll_reason is not PollReason.PUSH


async def test_a_new_secret_is_not_trusted_on_the_old_ones_record(
    hass: HomeAssistant, simulator: Simulator, pushing_entry: MockConfigEntry
) -> None:
    """Deliveries came with the old secret; a new one (maybe mistyped) must prove itself."""
    await one_delivery(hass, simulator)
    assert pushing_entry.runtime_data.push.alive()
    hass.config_entries.async_update_entry(
        pushing_entry, options={**pushing_entry.options, CONF_WEBHOOK_SECRET: new_secret()}
    )
    assert await hass.config_entries.async_reload(pushing_entry.entry_id)
    await hass.async_block_till_done()
    assert pushing_entry.runtime_data.push.last_accepted is None
    assert not pushing_entry.runtime_data.push.alive()


async def test_a_delivery_racing_the_unload_is_not_recorded(
    hass: HomeAssistant, pushing_entry: MockConfigEntry, hass_storage: dict[str, Any]
) -> None:
    """Once the channel closed, a late delivery writes nothing (the entry may be deleted)."""
    push = pushing_entry.runtime_data.push
    await push.async_close()
    push.accepted()
    assert push.last_accepted is None
    await hass.async_block_till_done()
    assert f"{DOMAIN}.push.{pushing_entry.entry_id}" not in hass_storage
