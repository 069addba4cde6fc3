"""One alert per failed run, through a local SMTP server and a local webhook receiver, read as on-call would."""

from __future__ import annotations

import json

import pytest

from tests.e2e.runner import Runner
from tests.receivers import SmtpReceiver, WebhookReceiver
from tests.sandbox_client import GHL_TOKEN, PLEO_TOKEN

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
DAG_ID = "ghl_pleo_tags_sync"


@pytest.fixture(scope="module")
def runner(sandbox, airflow_db, tmp_path_factory):
    locations = sandbox.reset(seed=11, locations=3, min_tags=20, max_tags=30)
    sandbox.configure(pleo_rps=0, ghl_burst_limit=100, ghl_burst_window_s=10.0)
    sandbox.clear_faults()
    return Runner(sandbox, tmp_path_factory.mktemp("e2e-alerts"), locations, DAG_ID)


@pytest.fixture
def receivers():
    smtp, hook = SmtpReceiver(), WebhookReceiver()
    yield smtp, hook
    smtp.stop()
    hook.stop()


def channels(smtp: SmtpReceiver, hook: WebhookReceiver) -> dict[str, str]:
    return {
        "AIRFLOW_CONN_GHL_PLEO_SMTP": json.dumps(
            {
                "conn_type": "smtp",
                "host": "127.0.0.1",
                "port": smtp.port,
                "extra": {"from": "ghl-pleo@example.com", "to": ["oncall@example.com"]},
            }
        ),
        "AIRFLOW_CONN_GHL_PLEO_SLACK": json.dumps({"conn_type": "http", "host": hook.url}),
    }


def test_two_failed_locations_make_one_alert_per_channel_that_says_what_where_and_what_to_do(runner, receivers):
    smtp, hook = receivers
    box = runner.box
    auth_loc, down_loc, ok_loc = runner.locations
    box.configure(location_tokens={auth_loc: "a-token-only-gh-knows-123"})
    box.fault(api="ghl", endpoint="GET /social-media-posting/{locationId}/tags", status=503, location=down_loc)
    ghl = json.loads(box.env()["AIRFLOW_CONN_GHL_DEFAULT"])
    ghl["extra"]["max_attempts"] = 2
    try:
        out = runner.run(expect_ok=False, AIRFLOW_CONN_GHL_DEFAULT=json.dumps(ghl), **channels(smtp, hook))
    finally:
        box.clear_faults()
        box.configure(location_tokens={})
    assert len(smtp.messages) == 1 and len(hook.posts) == 1
    mail = smtp.messages[0]
    body = mail.get_payload(decode=True).decode().replace("\r\n", "\n").strip()
    first = body.splitlines()[0]
    assert " ".join(str(mail["Subject"]).split()) == " ".join(first.split())
    assert first.startswith(f"[ghl-pleo] {DAG_ID} failed for 2 of 3 locations")
    assert "authentication: 1" in first and "upstream outage: 1" in first
    assert f"- location {auth_loc}: authentication" in body and f"- location {down_loc}: upstream outage" in body
    assert ok_loc not in body
    assert "last HTTP: GHL 401 GET /social-media-posting/{locationId}/tags" in body
    assert "last HTTP: GHL 503 GET /social-media-posting/{locationId}/tags" in body
    assert "runbook: README.md#runbook-authentication" in body and "runbook: README.md#runbook-upstream-outage" in body
    assert "Logs: http" in body
    assert hook.posts[0]["text"].strip() == body
    for secret in (GHL_TOKEN, PLEO_TOKEN, "a-token-only-gh-knows-123"):
        assert secret not in body
    rows = {
        r["location_id"]: r
        for r in runner.warehouse().db.query(
            "SELECT location_id, try_number, error_kind FROM sync_location_runs WHERE status = 'failed'"
        )
    }
    assert rows[auth_loc]["try_number"] == 1  # authentication: no retry can fix it, failed at once
    assert rows[down_loc]["try_number"] == 3  # an outage: Airflow retried twice
    assert "Alert sent through email, slack" in out


def test_without_channels_the_alert_is_logged_and_nothing_crashes(runner):
    box = runner.box
    box.fault(
        api="ghl", endpoint="GET /social-media-posting/{locationId}/tags", status=400, location=runner.locations[0]
    )
    try:
        out = runner.run(expect_ok=False)
    finally:
        box.clear_faults()
    assert "No alert channel configured" in out and "upstream contract" in out
