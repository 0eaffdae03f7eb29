"""Prepare a fresh development Home Assistant through its own APIs, as a person would.

Finishes onboarding with the user `dev` / `dev` (only while nobody has onboarded), then adds an
EV Cloud entry for the simulator by walking the real config flow over the REST API (only when no
entry exists). Safe to run on every start.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from typing import Any
import urllib.error
import urllib.parse
import urllib.request

CLIENT_ID = "http://127.0.0.1:8123/"


def call(
    base: str,
    method: str,
    path: str,
    body: Any = None,
    *,
    token: str | None = None,
    form: dict[str, str] | None = None,
) -> Any:
    """One HTTP call to Home Assistant; JSON in and out."""
    # The OAuth redirect URI is built from the address the frontend is reached at.
    headers = {"Content-Type": "application/json", "HA-Frontend-Base": base}
    data = None
    if form is not None:
        data = urllib.parse.urlencode(form).encode()
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    elif body is not None:
        data = json.dumps(body).encode()
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(f"{base}{path}", data=data, method=method, headers=headers)  # noqa: S310
    with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310
        text = response.read().decode()
    return json.loads(text) if text else None


def wait_until_up(base: str, timeout: float) -> None:
    """Home Assistant answers once its frontend is up (the first start installs it: a minute)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            call(base, "GET", "/manifest.json")
        except urllib.error.URLError, ConnectionError, TimeoutError:
            time.sleep(2)
            continue
        return
    sys.exit(f"Home Assistant did not answer on {base} within {timeout:.0f} s")


def tokens_from_code(base: str, code: str) -> dict[str, Any]:
    """Exchange an authorization code for tokens."""
    result: dict[str, Any] = call(
        base,
        "POST",
        "/auth/token",
        form={"grant_type": "authorization_code", "code": code, "client_id": CLIENT_ID},
    )
    return result


def onboard(base: str) -> str | None:
    """Create the owner `dev` and finish every onboarding step; return an access token."""
    try:
        progress = call(base, "GET", "/api/onboarding")
    except urllib.error.HTTPError as err:
        if err.code == 404:  # Home Assistant drops the onboarding API once onboarding is done.
            return None
        raise
    if {step["step"]: step["done"] for step in progress}.get("user"):
        return None
    created = call(
        base,
        "POST",
        "/api/onboarding/users",
        {
            "client_id": CLIENT_ID,
            "name": "Developer",
            "username": "dev",
            "password": "dev",
            "language": "en",
        },
    )
    token: str = tokens_from_code(base, created["auth_code"])["access_token"]
    call(base, "POST", "/api/onboarding/core_config", {}, token=token)
    call(base, "POST", "/api/onboarding/analytics", {}, token=token)
    call(
        base,
        "POST",
        "/api/onboarding/integration",
        {"client_id": CLIENT_ID, "redirect_uri": f"{CLIENT_ID}?auth_callback=1"},
        token=token,
    )
    return token


def login(base: str) -> str:
    """Log in as dev/dev through the login flow."""
    flow = call(
        base,
        "POST",
        "/auth/login_flow",
        {"client_id": CLIENT_ID, "handler": ["homeassistant", None], "redirect_uri": CLIENT_ID},
    )
    result = call(
        base,
        "POST",
        f"/auth/login_flow/{flow['flow_id']}",
        {"client_id": CLIENT_ID, "username": "dev", "password": "dev"},
    )
    token: str = tokens_from_code(base, result["result"])["access_token"]
    return token


def _settled_entries(base: str, token: str, prefix: str) -> list[dict[str, Any]]:
    """EV Cloud's entries once those named `prefix` finished setting up (at most 60 s)."""
    deadline = time.monotonic() + 60
    while True:
        entries: list[dict[str, Any]] = call(
            base, "GET", "/api/config/config_entries/entry?domain=ev_cloud", token=token
        )
        busy = [
            e
            for e in entries
            if e["title"].startswith(prefix)
            and e.get("state") in ("not_loaded", "setup_in_progress")
        ]
        if not busy or time.monotonic() > deadline:
            return entries
        time.sleep(1)


def existing_entry(base: str, token: str, prefix: str, *, stale_if_failed: bool = False) -> bool:
    """Whether a working EV Cloud entry whose title starts with `prefix` exists already.

    With `stale_if_failed`, an entry that failed to set up is removed so it can be added again:
    a restarted simulator has forgotten the tokens a signed-in entry holds.
    """
    entries = _settled_entries(base, token, prefix)
    for entry in entries:
        if not entry["title"].startswith(prefix):
            continue
        if stale_if_failed and entry.get("state") == "setup_error":
            print(
                f"[develop] {entry['title']} lost its sign-in with the old simulator; adding again"
            )
            call(
                base, "DELETE", f"/api/config/config_entries/entry/{entry['entry_id']}", token=token
            )
            continue
        print(f"[develop] EV Cloud entry already present: {entry['title']}")
        return True
    return False


def choose_every_vehicle(base: str, token: str, flow: str, step: dict[str, Any]) -> None:
    """Tick every car the vehicles step offers and create the entry."""
    if step.get("step_id") != "vehicles":
        sys.exit(f"[develop] unexpected config flow step: {step}")
    vehicles = [
        option[0] if isinstance(option, list) else option["value"]
        for option in step["data_schema"][0]["selector"]["select"]["options"]
    ]
    step = call(base, "POST", flow, {"vehicles": vehicles}, token=token)
    if step.get("type") != "create_entry":
        sys.exit(f"[develop] config flow did not create the entry: {step}")
    print(f"[develop] EV Cloud entry {step['title']!r} created with {len(vehicles)} vehicles")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def sign_in_as_the_browser(base: str, simulator_url: str, step: dict[str, Any], who: str) -> None:
    """Open the simulated sign-in page, allow, and come back through Home Assistant's callback."""
    if step.get("type") != "external":
        sys.exit(f"[develop] expected {who}'s sign-in page, got: {step}")
    with urllib.request.urlopen(step["url"], timeout=30) as page:  # noqa: S310
        approve = re.search(r'href="([^"]+/approve)"', page.read().decode())
    if approve is None:
        sys.exit(f"[develop] the simulated {who} sign-in page has no approve link")
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        opener.open(f"{simulator_url}{approve.group(1)}", timeout=30)
        sys.exit("[develop] the sign-in did not redirect back")
    except urllib.error.HTTPError as redirect:
        location = redirect.headers["Location"]
    query = urllib.parse.urlsplit(location).query
    with urllib.request.urlopen(f"{base}/auth/external/callback?{query}", timeout=30):  # noqa: S310
        pass


def add_volvo_entry(base: str, token: str, simulator_url: str) -> None:
    """Walk the Volvo branch: developer application with its API key, Volvo ID sign-in, cars."""
    if existing_entry(base, token, "Volvo", stale_if_failed=True):
        return
    step = call(
        base, "POST", "/api/config/config_entries/flow", {"handler": "ev_cloud"}, token=token
    )
    flow = f"/api/config/config_entries/flow/{step['flow_id']}"
    call(base, "POST", flow, {"provider": "volvo"}, token=token)
    app = {
        "client_id": "sim-volvo-client",
        "client_secret": "sim-volvo-secret",
        "api_key": "sim-vcc-api-key",
        "environment": "custom",
    }
    call(base, "POST", flow, app, token=token)
    step = call(base, "POST", flow, {"url": simulator_url}, token=token)
    sign_in_as_the_browser(base, simulator_url, step, "Volvo")
    step = call(base, "POST", flow, {}, token=token)
    choose_every_vehicle(base, token, flow, step)


def add_tesla_entry(base: str, token: str, simulator_url: str) -> None:
    """Walk the Tesla branch: developer app, simulator URL, sign-in, key, registration, pairing.

    The simulator plays the app's web site (its host is the app's domain) and the owner's phone.
    """
    domain = urllib.parse.urlsplit(simulator_url).netloc
    if existing_entry(base, token, "Tesla", stale_if_failed=True):
        return
    step = call(
        base, "POST", "/api/config/config_entries/flow", {"handler": "ev_cloud"}, token=token
    )
    flow = f"/api/config/config_entries/flow/{step['flow_id']}"
    call(base, "POST", flow, {"provider": "tesla"}, token=token)
    call(
        base,
        "POST",
        flow,
        {
            "client_id": "sim-oauth-client",
            "client_secret": "sim-oauth-secret",
            "app_domain": domain,
            "environment": "custom",
        },
        token=token,
    )
    step = call(base, "POST", flow, {"url": simulator_url}, token=token)
    sign_in_as_the_browser(base, simulator_url, step, "Tesla")
    step = call(base, "POST", flow, {}, token=token)
    if step.get("step_id") != "public_key":
        sys.exit(f"[develop] expected the public-key step, got: {step}")
    # Publish the key the form shows on the "app's domain", then let the flow check and register.
    public_key = step["description_placeholders"]["public_key"].encode()
    request = urllib.request.Request(  # noqa: S310
        f"{simulator_url}/_sim/tesla/hosted-key", data=public_key, method="PUT"
    )
    with urllib.request.urlopen(request, timeout=30):  # noqa: S310
        pass
    step = call(base, "POST", flow, {}, token=token)
    if step.get("step_id") == "pair_key":
        # The owner opens the pairing link on the phone: the simulated Model 3 takes the key.
        for vin in ("5YJ3E7EB7KF000101",):
            request = urllib.request.Request(  # noqa: S310
                f"{simulator_url}/_sim/tesla/pair",
                data=json.dumps({"vin": vin, "domain": domain}).encode(),
                headers={"Content-Type": "application/json"},
            )
            with urllib.request.urlopen(request, timeout=30):  # noqa: S310
                pass
        step = call(base, "POST", flow, {"pair_later": False}, token=token)
    choose_every_vehicle(base, token, flow, step)


def add_entry(base: str, token: str, simulator_url: str) -> None:
    """Walk EV Cloud's config flow for the simulator, choosing every vehicle."""
    if existing_entry(base, token, "Volteras"):
        return
    step = call(
        base, "POST", "/api/config/config_entries/flow", {"handler": "ev_cloud"}, token=token
    )
    flow = f"/api/config/config_entries/flow/{step['flow_id']}"
    step = call(base, "POST", flow, {"provider": "volteras"}, token=token)
    step = call(
        base,
        "POST",
        flow,
        {"client_id": "sim-client", "client_secret": "sim-secret", "environment": "custom"},
        token=token,
    )
    if step.get("step_id") == "custom_url":
        step = call(base, "POST", flow, {"url": simulator_url}, token=token)
    if step.get("type") == "menu":
        step = call(base, "POST", flow, {"next_step_id": "vehicles"}, token=token)
    choose_every_vehicle(base, token, flow, step)


def main() -> None:
    """Onboard if needed, then add the entry if needed."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--ha", default="http://127.0.0.1:8123")
    parser.add_argument("--simulator", default="http://127.0.0.1:8780")
    parser.add_argument("--timeout", type=float, default=600)
    args = parser.parse_args()
    wait_until_up(args.ha, args.timeout)
    token = onboard(args.ha) or login(args.ha)
    add_entry(args.ha, token, args.simulator)
    add_tesla_entry(args.ha, token, args.simulator)
    add_volvo_entry(args.ha, token, args.simulator)


if __name__ == "__main__":
    main()
