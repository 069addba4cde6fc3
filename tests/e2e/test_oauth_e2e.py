"""A full sync with agency OAuth, tokens forced to expire mid-run, and a search for every token string afterwards."""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

import pytest
from cryptography.fernet import Fernet, InvalidToken

from tests.e2e.runner import Runner
from tests.pleo_checks import assert_pleo_matches_ghl

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
DAG_ID = "ghl_pleo_tags_sync"
COMPANY = "SbxAgency0000000001"
SECRET = "sbx-client-secret-7f3a"
FIRST_REFRESH = "sbx-refresh-initial-0001"


@pytest.fixture(scope="module")
def runner(sandbox, airflow_db, tmp_path_factory):
    sandbox.reset(seed=3, locations=3, min_tags=20, max_tags=30)
    sandbox.configure(pleo_rps=0, ghl_burst_limit=100, ghl_burst_window_s=10.0)
    sandbox.clear_faults()
    return Runner(sandbox, tmp_path_factory.mktemp("e2e-oauth"), None, DAG_ID)


def oauth_env(runner: Runner) -> dict[str, str]:
    ghl = {
        "conn_type": "http",
        "host": runner.box.ghl_url,
        "extra": {
            "oauth": {
                "client_id": "sbx-client",
                "client_secret": SECRET,
                "company_id": COMPANY,
                "refresh_token": FIRST_REFRESH,
            }
        },
    }
    return {"AIRFLOW_CONN_GHL_DEFAULT": json.dumps(ghl), "AIRFLOW__CORE__FERNET_KEY": runner.fernet_key}


def test_agency_oauth_sync_survives_expiry_mid_run_and_leaks_no_token(runner, airflow_home):
    box = runner.box
    runner.fernet_key = Fernet.generate_key().decode()
    env = oauth_env(runner)
    box.clear_requests()
    # One location after another (one thread in the batch), so GHL is still being read when the tokens die.
    proc = runner.start(**env, GHL_PLEO_THREADS_PER_TASK="1")
    deadline = time.time() + 120
    while box.requests().get("Pleo POST /v0/tag-groups/{groupId}/tags", 0) < 5 and time.time() < deadline:
        time.sleep(0.05)
    box._admin("POST", "/oauth/expire")  # every access token dies mid-run
    assert proc.wait(300) == 0, (runner.workdir / f"run-{runner.runs}.log").read_text()[-3000:]
    oauth = box._admin("GET", "/oauth")
    assert oauth["refreshes"] >= 2  # the first token, then once after the forced expiry
    assert_pleo_matches_ghl(box)  # discovery found every location; all synced

    # A new process: the connection's refresh token is dead (rotated); the stored one must be used.
    runner.run(**env)
    assert box._admin("GET", "/oauth")["refreshes"] >= oauth["refreshes"]

    secrets = set(box._admin("GET", "/oauth")["issued"]) | {SECRET, FIRST_REFRESH}
    assert len(secrets) > 5
    places: list[Path] = [p for p in runner.workdir.rglob("*") if p.is_file()]
    places += [p for p in (airflow_home / "logs").rglob("*") if p.is_file()] if (airflow_home / "logs").exists() else []
    places += list(airflow_home.glob("*.db*"))
    hits = []
    for path in places:
        blob = path.read_bytes()
        hits += [f"{path}: {s[:12]}..." for s in secrets if s.encode() in blob]
    # XCom values and every warehouse table, as text
    xcoms = sqlite3.connect(airflow_home / "airflow.db").execute("SELECT value FROM xcom").fetchall()
    hits += [f"xcom: {s[:12]}" for s in secrets for (v,) in xcoms if v and s in str(v)]
    wh = runner.warehouse()
    for (table,) in sqlite3.connect(runner.db).execute("SELECT name FROM sqlite_master WHERE type = 'table'"):
        for row in wh.db.query(f"SELECT * FROM {table}"):
            hits += [f"{table}: {s[:12]}" for s in secrets if s in json.dumps(row, default=str)]
    assert hits == [], hits
    stored = wh.db.query("SELECT refresh_token_enc FROM ghl_oauth_state")
    assert (
        len(stored) == 1
        and Fernet(runner.fernet_key.encode()).decrypt(stored[0]["refresh_token_enc"].encode()).decode()
        in box._admin("GET", "/oauth")["valid_refresh"]
    )


def test_rotating_the_fernet_key_to_new_old_keeps_syncing_and_re_encrypts_the_stored_tokens(
    sandbox, airflow_db, tmp_path_factory
):
    """Airflow's rotation, as the README describes it: ``new,old`` on every component, then ``new`` alone."""
    box = sandbox
    box.reset(seed=4, locations=2, min_tags=5, max_tags=8)  # the connection's refresh token is valid again
    box.configure(pleo_rps=0, ghl_burst_limit=100, ghl_burst_window_s=10.0, oauth_ttl_s=86399, oauth_expires_in=None)
    box.clear_faults()
    runner = Runner(box, tmp_path_factory.mktemp("e2e-oauth-rotation"), None, DAG_ID)
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    runner.fernet_key = old
    runner.run(**oauth_env(runner))

    def stored_under(key: str) -> bool:
        row = runner.warehouse().db.query("SELECT refresh_token_enc, access_token_enc FROM ghl_oauth_state")[0]
        try:
            [Fernet(key.encode()).decrypt(row[c].encode()) for c in ("refresh_token_enc", "access_token_enc")]
        except InvalidToken:
            return False
        return True

    assert stored_under(old)
    box.add_tag(box.locations()[0]["id"], tag="Rotated key campaign")
    runner.fernet_key = f"{new},{old}"
    runner.run(**oauth_env(runner))
    assert stored_under(new) and not stored_under(old)
    runner.fernet_key = new
    runner.run(**oauth_env(runner))
    assert_pleo_matches_ghl(box)  # the tag added between the runs reached Pleo
    assert box._admin("GET", "/oauth")["refreshes"] == 1  # the same tokens throughout: a rotation costs no refresh
