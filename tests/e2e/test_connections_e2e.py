"""The ghl and pleo connection types in a real api-server, with ``[core] test_connection = Enabled``.

One api-server (no scheduler: nothing here runs a DAG) on loopback, against the sandbox. Through the REST API:
both connections are created as the UI's form stores them (``conn_type`` ghl and pleo, every form field in the
extra by its name, empty ones null) and tested with ``POST /api/v2/connections/test`` (good tokens: status true;
a bad token: status false, a message naming the problem, no token in it). Through the UI, by Chromium (Selenium):
the Add Connection form of each type, its relabelled standard fields and its extra fields, filled in and saved
(the saved extra is what the hooks read) and then tested with the connection list's Test button; screenshots of
each step under ``test-output/``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from selenium.webdriver.common.keys import Keys

from bench.stack import AirflowStack
from tests.sandbox_client import GHL_TOKEN, PLEO_COMPANY, PLEO_TOKEN

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
AGENCY = "SbxAgency0000000001"
BAD_TOKEN = "pit-bad-9f8e7d6c5b4a"
FIELDS = {  # the form's extra fields, in its order (ghl_pleo.provider)
    "ghl": ["company_id", "burst_limit", "burst_window_s"],
    "pleo": ["company_id", "currency", "max_requests_per_second", "rate_headroom", "concurrency"],
}


@pytest.fixture
def browser():
    """Headless Chromium (``tests/browser.py``), tall enough for the Pleo form with all its extra fields."""
    from tests.browser import open_browser

    with open_browser(window=(1440, 1200)) as b:
        yield b


@pytest.fixture(scope="module")
def stack(sandbox, tmp_path_factory):
    sandbox.reset(locations=2, min_tags=3, max_tags=5)
    sandbox.configure(ghl_denied_scopes=[], pleo_rps=0)
    sandbox.clear_faults()
    s = AirflowStack(tmp_path_factory.mktemp("airflow-api"), {"AIRFLOW__CORE__TEST_CONNECTION": "Enabled"})
    s.start(components=("api-server",))
    yield s
    s.stop()


def form_extra(conn_type: str, **values) -> str:
    """The extra as the connection form stores it: every field under its name, the ones left empty as null."""
    return json.dumps({name: values.get(name) for name in FIELDS[conn_type]})


def connections(sandbox) -> dict[str, dict]:
    common = {"port": 443}  # Airflow 3.3.2's Test button needs a saved port (see ghl_pleo.provider)
    return {
        "ghl": {
            "connection_id": "ghl_default",
            "conn_type": "ghl",
            "host": sandbox.ghl_url,
            "password": GHL_TOKEN,
            "extra": form_extra("ghl", company_id=AGENCY),
            **common,
        },
        "pleo": {
            "connection_id": "pleo_default",
            "conn_type": "pleo",
            "host": sandbox.pleo_url,
            "password": PLEO_TOKEN,
            "extra": form_extra("pleo", company_id=PLEO_COMPANY, currency="DKK"),
            **common,
        },
    }


def test_connections_made_through_the_rest_api_pass_the_test_with_good_tokens_and_fail_with_a_bad_one(stack, sandbox):
    conns = connections(sandbox)
    for conn in conns.values():
        stack.api("POST", "/connections", json=conn)
    stored = stack.api("GET", "/connections/ghl_default")
    assert (stored["conn_type"], stored["password"]) == ("ghl", "***")

    sandbox.clear_requests()
    for conn in conns.values():  # as the UI tests a saved connection: the secret masked, the stored one used
        result = stack.api("POST", "/connections/test", json={**conn, "password": "***"})
        assert result["status"] is True, result
        assert "accepted the API token" in result["message"], result
    assert sandbox.requests() == {"GHL GET /locations/search": 1, "Pleo GET /v0/tag-groups": 1}

    for api, conn in (("GHL", conns["ghl"]), ("Pleo", conns["pleo"])):
        result = stack.api("POST", "/connections/test", json={**conn, "password": BAD_TOKEN})
        assert result["status"] is False, result
        assert result["message"].startswith(f"Bad token: {api} at ") and "HTTP 401" in result["message"], result
        assert BAD_TOKEN not in result["message"]


def _section(dialog, name: str) -> None:
    """Open one section of the connection form (an accordion: opening one closes the other)."""
    button = next(b for b in dialog.find_elements("css selector", "button") if b.text.strip() == name)
    button.click()
    time.sleep(0.5)  # the accordion's animation


def _add_connection(browser, conn: dict, fields: dict[str, str], shots: Path) -> None:
    """Fill in the Add Connection form as a user would, with a screenshot of each section, and save it."""
    next(b for b in browser.find_all("button") if b.text.strip() == "Add Connection").click()
    dialog = browser.wait_for("[role=dialog]")
    dialog.find_element("css selector", "input[name=connection_id]").send_keys(conn["connection_id"])
    kind = dialog.find_element("css selector", "input[role=combobox]")
    kind.send_keys("GoHighLevel" if conn["conn_type"] == "ghl" else "Pleo")
    browser.wait_until(lambda d: d.find_elements("css selector", "[role=option]"), "the connection type's option")
    kind.send_keys(Keys.ENTER)
    browser.wait_for("input[name=host]")
    assert not dialog.find_elements("css selector", "input[name=login]")  # hidden for our types
    browser.screenshot(shots / f"conn-form-{conn['conn_type']}-standard-fields.png")
    for name in ("host", "port", "password"):
        dialog.find_element("css selector", f"input[name={name}]").send_keys(str(conn[name]))
    _section(dialog, "Extra Fields")
    for name, value in fields.items():
        dialog.find_element("css selector", f"[name=element_{name}]").send_keys(value)
    browser.screenshot(shots / f"conn-form-{conn['conn_type']}-extra-fields.png")
    next(b for b in dialog.find_elements("css selector", "button") if b.text.strip() == "Save").click()
    browser.wait_until(lambda d: not d.find_elements("css selector", "[role=dialog]"), "the form to close")


def _test_button(browser, connection_id: str, expected: str, shot) -> str:
    """Click the Test button of a connection's row in the list; the toast's text once it says ``expected``."""
    browser.wait_for_text(connection_id)
    row = next(r for r in browser.find_all("tbody tr") if connection_id in r.text)
    row.find_element("css selector", "button[aria-label='Test Connection']").click()
    browser.wait_for_text(expected)
    time.sleep(1)  # the toast's animation
    browser.screenshot(shot)
    return browser.text()


@pytest.mark.parametrize(
    ("conn_type", "fields", "saved"),
    [
        ("ghl", {"company_id": AGENCY, "burst_limit": "50"}, {"company_id": AGENCY, "burst_limit": 50}),
        (
            "pleo",
            {"company_id": PLEO_COMPANY, "currency": "DKK", "concurrency": "2"},
            {"company_id": PLEO_COMPANY, "currency": "DKK", "concurrency": 2},
        ),
    ],
    ids=["ghl", "pleo"],
)
def test_the_connection_form_saves_the_extras_the_hook_reads_and_its_test_button_passes(
    stack, sandbox, browser, output_dir, conn_type, fields, saved
):
    """The form in the UI, screenshotted: our labels and fields; what it saves is what the hook reads (each field
    under its own name, the empty ones null); the saved connection then passes the list's Test button."""
    conn = {**connections(sandbox)[conn_type], "connection_id": f"{conn_type}_from_form"}
    browser.login_airflow(stack.url)
    browser.open(f"{stack.url}/connections", text="Add Connection")
    _add_connection(browser, conn, fields, output_dir)
    dom = browser.dom()
    assert conn["connection_id"] in dom

    stored = stack.api("GET", f"/connections/{conn['connection_id']}")
    assert (stored["conn_type"], stored["host"], stored["port"]) == (conn_type, conn["host"], 443)
    assert json.loads(stored["extra"]) == {name: saved.get(name) for name in FIELDS[conn_type]}

    text = _test_button(
        browser, conn["connection_id"], "Test Connection Successful", output_dir / f"conn-test-{conn_type}.png"
    )
    assert "accepted the API token" in text, text[-1500:]
    for name in ("standard-fields", "extra-fields"):
        assert (output_dir / f"conn-form-{conn_type}-{name}.png").stat().st_size > 20_000
