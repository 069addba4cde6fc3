"""One alert per failed run, sent by the DAG's failure notifier (no task sends it), received by a local mail server
(STARTTLS with a certificate from the test's own CA, which the run trusts through SSL_CERT_FILE) and a local Slack
webhook receiver, and read as on-call would: when locations fail, when ``summarize`` itself crashes, and when the
warehouse is down. ``airflow dags test`` runs the DAG's callbacks in its own process (a deployment runs them in
the dag-processor)."""

from __future__ import annotations

import html
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.e2e.runner import Runner
from tests.receivers import SmtpReceiver, WebhookReceiver, mail_text
from tests.sandbox_client import GHL_TOKEN, PLEO_TOKEN, free_port, warehouse_env
from tests.tls import make_authority

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
DAG_ID = "ghl_pleo_tags_sync"
ONCALL = "oncall@example.com"
WRONG_LOCATION_TOKEN = "pit-of-another-sub-account-456"  # a location token GHL refuses for that location
ROOT = Path(__file__).resolve().parents[2]
CRASH_SUMMARIZE = Path(__file__).parent / "summarize_crash"  # a sitecustomize that breaks summarize's summary read


@pytest.fixture(scope="module")
def runner(sandbox, airflow_db, tmp_path_factory):
    locations = sandbox.reset(seed=11, locations=3, min_tags=20, max_tags=30)
    sandbox.configure(pleo_rps=0, ghl_burst_limit=100, ghl_burst_window_s=10.0)
    sandbox.clear_faults()
    return Runner(sandbox, tmp_path_factory.mktemp("e2e-alerts"), locations, DAG_ID)


@pytest.fixture(scope="module")
def failed_runs() -> dict[str, str]:
    """Run ids of the runs the tests below failed, by scenario (the dag-processor test replays the first)."""
    return {}


@pytest.fixture(scope="module")
def authority(tmp_path_factory):
    return make_authority(tmp_path_factory.mktemp("alerts-ca"))


@pytest.fixture
def receivers(authority):
    smtp = SmtpReceiver(tls="starttls", cert_file=authority.cert_file, key_file=authority.key_file)
    hook = WebhookReceiver()
    yield smtp, hook
    smtp.stop()
    hook.stop()


def channels(smtp: SmtpReceiver, hook: WebhookReceiver, authority) -> dict[str, str]:
    """The providers' connection types; recipients from the variable (the connection's ``to`` is the fallback)."""
    smtp_extra = {"from_email": "ghl-pleo@example.com", "to": ["fallback@example.com"], "disable_ssl": True}
    return {
        "AIRFLOW_CONN_GHL_PLEO_SMTP": json.dumps(
            {"conn_type": "smtp", "host": "127.0.0.1", "port": smtp.port, "extra": smtp_extra}
        ),
        "AIRFLOW_CONN_GHL_PLEO_SLACK": json.dumps({"conn_type": "slackwebhook", "password": hook.url}),
        "AIRFLOW_VAR_GHL_PLEO_ALERT_RECIPIENTS": json.dumps([ONCALL]),
        "SSL_CERT_FILE": str(authority.ca_file),  # the run trusts the test's CA, and only it
    }


def the_one_alert(smtp: SmtpReceiver, hook: WebhookReceiver, out: str) -> str:
    """Exactly one mail (over TLS, to the variable's recipients) and one Slack post, with the same text, sent by
    the one run of the DAG's failure callback (``out``: the log of the process that ran it)."""
    assert len(smtp.messages) == 1 and len(hook.posts) == 1, (len(smtp.messages), hook.posts, out[-3000:])
    assert smtp.envelopes[0][1] == [ONCALL]
    mail = smtp.messages[0]
    body = mail_text(mail)
    assert " ".join(str(mail["Subject"]).split()) == " ".join(body.splitlines()[0].split())
    assert html.unescape(hook.posts[0]["text"]) == body
    assert out.count("Executing on_failure dag callback") == 1 and "Alert sent through email, slack" in out
    return body


def test_two_failed_locations_make_one_alert_per_channel_that_says_what_where_and_what_to_do(
    runner, receivers, authority, output_dir, failed_runs
):
    smtp, hook = receivers
    box = runner.box
    auth_loc, down_loc, ok_loc = runner.locations
    box.configure(location_tokens={auth_loc: "a-token-only-gh-knows-123"})
    box.fault(api="ghl", endpoint="GET /social-media-posting/{locationId}/tags", status=503, location=down_loc)
    ghl = json.loads(box.env()["AIRFLOW_CONN_GHL_DEFAULT"])
    ghl["extra"]["max_attempts"] = 2
    # The location's own token is the wrong one: authentication (a 401 for a location on the shared token while the
    # token reads the others is an inaccessible location, a configuration error: tests/flows/test_group_after_read.py)
    ghl["extra"]["location_tokens"] = {auth_loc: WRONG_LOCATION_TOKEN}
    try:
        out = runner.run(expect_ok=False, AIRFLOW_CONN_GHL_DEFAULT=json.dumps(ghl), **channels(smtp, hook, authority))
    finally:
        box.clear_faults()
        box.configure(location_tokens={})
    failed_runs["locations"] = runner.warehouse().ledger.latest_run_id(DAG_ID)
    body = the_one_alert(smtp, hook, out)
    (output_dir / "alert-email.txt").write_bytes(smtp.raw[0])
    (output_dir / "alert-slack.json").write_text(json.dumps(hook.posts[0], indent=2))
    first = body.splitlines()[0]
    assert first.startswith(f"[ghl-pleo] {DAG_ID} failed for 2 of 3 locations")
    assert "authentication: 1" in first and "upstream outage: 1" in first
    assert f"- location {auth_loc}: authentication" in body and f"- location {down_loc}: upstream outage" in body
    assert ok_loc not in body and "task summarize" not in body
    assert "last HTTP: GHL 401 GET /social-media-posting/{locationId}/tags" in body
    assert "last HTTP: GHL 503 GET /social-media-posting/{locationId}/tags" in body
    assert "runbook: README.md#runbook-authentication" in body and "runbook: README.md#runbook-upstream-outage" in body
    assert "Logs: http" in body
    for secret in (GHL_TOKEN, PLEO_TOKEN, "a-token-only-gh-knows-123", WRONG_LOCATION_TOKEN):
        assert secret not in body
    rows = {
        r["location_id"]: r
        for r in runner.warehouse().db.query(
            "SELECT location_id, try_number, error_kind FROM sync_location_runs WHERE status = 'failed'"
        )
    }
    assert rows[auth_loc]["try_number"] == 1  # authentication: no retry can fix it, failed at once
    assert rows[down_loc]["try_number"] == 3  # an outage: Airflow retried twice


def test_a_summarize_that_crashes_after_every_location_synced_is_alerted_once(runner, receivers, authority, output_dir):
    """summarize's own summary read raises (see tests/e2e/summarize_crash): it dies before it finishes, so nothing
    in it could alert; the notifier reads the ledger itself and names summarize as what failed."""
    smtp, hook = receivers
    path = os.pathsep.join([str(CRASH_SUMMARIZE), os.environ.get("PYTHONPATH", "")])
    out = runner.run(expect_ok=False, PYTHONPATH=path, **channels(smtp, hook, authority))
    assert "simulated crash inside summarize" in out
    body = the_one_alert(smtp, hook, out)
    (output_dir / "alert.txt").write_text(body)
    assert body.splitlines()[0] == f"[ghl-pleo] {DAG_ID} failed for task summarize (internal error: 1)"
    assert "- task summarize: internal error" in body and "runbook: README.md#runbook-internal" in body
    assert not any(f"location {loc}" in body for loc in runner.locations)  # they all synced


def test_a_warehouse_that_is_down_gives_one_short_alert_naming_the_failed_tasks(
    runner, receivers, authority, output_dir
):
    """ghl_pleo_db points at a PostgreSQL port nothing listens on: every task that opens the warehouse fails, the
    ledger cannot be read, and the alert names the run's failed tasks from Airflow's task states instead."""
    smtp, hook = receivers
    down = warehouse_env(f"postgresql+psycopg2://wh:secret-pw-123@127.0.0.1:{free_port()}/wh")
    out = runner.run(expect_ok=False, **down, **channels(smtp, hook, authority))
    body = the_one_alert(smtp, hook, out)
    (output_dir / "alert.txt").write_text(body)
    assert body.splitlines()[0] == f"[ghl-pleo] {DAG_ID} failed: task list_locations, summarize"
    assert "The run ledger could not be read from the warehouse (connection ghl_pleo_db: OperationalError)" in body
    assert "- failed: list_locations, summarize" in body
    assert "- upstream failed: batch_locations, ensure_groups, sync_locations" in body
    assert "runbook: README.md#runbook-ledger-unreadable" in body and "secret-pw-123" not in body


def test_the_dag_processor_runs_the_notifier_as_a_deployment_does(
    runner, receivers, authority, failed_runs, output_dir
):
    """The first test's failed run, its failure callback queued as the scheduler queues it, run by a real
    ``airflow dag-processor``: the same alert, with the task states and the location list read through the
    dag-processor's supervisor channel (not the metadata database, as under ``airflow dags test``)."""
    if "locations" not in failed_runs:
        pytest.skip("replays the failed run of test_two_failed_locations_..., which did not run")
    smtp, hook = receivers
    env = runner.env(**channels(smtp, hook, authority))
    queue = [sys.executable, "-m", "tests.e2e.queue_callback", DAG_ID, failed_runs["locations"]]
    subprocess.run(queue, env=env, cwd=ROOT, check=True, timeout=120)
    # Run as a deployment does, until the alert is out. (``--num-runs 1`` stops once every file was parsed once,
    # and a file whose parse started before the callback was fetched may count as parsed: a race, not a test.)
    with open(runner.workdir / "dag-processor.log", "w") as fh:
        airflow = str(Path(sys.executable).parent / "airflow")
        processor = subprocess.Popen([airflow, "dag-processor"], env=env, stdout=fh, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 300
            while not (smtp.messages and hook.posts) and processor.poll() is None and time.monotonic() < deadline:
                time.sleep(0.5)
            time.sleep(3)  # a second alert, were one sent, would arrive by now
        finally:
            processor.terminate()
            processor.wait(60)
    processor_logs = "".join(
        f.read_text(errors="replace") for f in Path(os.environ["AIRFLOW_HOME"], "logs", "dag_processor").rglob("*.log")
    )
    body = the_one_alert(smtp, hook, processor_logs)
    (output_dir / "alert.txt").write_text(body)
    assert body.splitlines()[0].startswith(f"[ghl-pleo] {DAG_ID} failed for 2 of 3 locations")
    assert f"Run: {failed_runs['locations']}" in body
    assert "read through the supervisor (dag-processor)" in processor_logs


def dashboard_health(runner: Runner, monkeypatch) -> dict:
    """What the health dashboard's ``/api/health`` serves from this module's warehouse (its FastAPI app, in
    process, as the api-server mounts it)."""
    from fastapi.testclient import TestClient

    from ghl_pleo import dashboard

    monkeypatch.setattr(dashboard, "_warehouse", runner.warehouse())
    monkeypatch.setenv("GHL_PLEO_DASHBOARD_PUBLIC", "1")
    dashboard._cache.clear()
    return TestClient(dashboard.create_app()).get("/api/health").json()


def test_a_location_list_that_fails_is_alerted_with_its_task_and_message_and_counted_on_the_dashboard(
    runner, receivers, authority, output_dir, tmp_path, monkeypatch
):
    """Issue 17, item 3: the mapping file has a misspelled key, so list_locations fails on its first try before
    any location starts. The one alert names list_locations, quotes its message and links a runbook section that
    exists; the run leaves a failed ledger row the dashboard counts, and no location drops out of stale tracking."""
    smtp, hook = receivers
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text('group_name_templte: "Social: {location_name}"\n')
    before = dashboard_health(runner, monkeypatch)["windows"]["24h"]["dags"][DAG_ID]
    out = runner.run(expect_ok=False, GHL_PLEO_MAPPING_FILE=str(mapping), **channels(smtp, hook, authority))
    body = the_one_alert(smtp, hook, out)
    (output_dir / "alert-list-locations.txt").write_text(body)
    assert body.splitlines()[0] == f"[ghl-pleo] {DAG_ID} failed for task list_locations (configuration: 1)"
    assert "- task list_locations: configuration" in body
    assert (
        f"error: task list_locations failed (try 1): Mapping file {mapping}: unknown key(s) ['group_name_templte']"
    ) in body
    assert "runbook: README.md#runbook-configuration" in body and "ensure_groups" not in body
    run_id = runner.warehouse().ledger.latest_run_id(DAG_ID)
    doc = dashboard_health(runner, monkeypatch)
    after = doc["windows"]["24h"]["dags"][DAG_ID]
    assert after["runs"] == before["runs"] + 1 and after["runs_succeeded"] == before["runs_succeeded"]
    assert after["location_runs"] == before["location_runs"]  # no location ran
    assert {r["run_id"]: r["status"] for r in doc["runs"]}[run_id] == "failed"
    assert {f["location_id"] for f in doc["freshness"] if f["dag_id"] == DAG_ID} == set(runner.locations)
