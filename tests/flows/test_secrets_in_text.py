"""Secrets never in text (issue 15, item 4): error answers that echo the caller's token (JSON, HTML, a header, a
300-character body with the token at its end) leave no trace of it, not even a half, in the ledger, the notes, the
summary, the alert or the log; a token with whitespace or control characters is refused before any request."""

from __future__ import annotations

import json
import logging
import secrets

import pytest

from ghl_pleo.alerts import build_alert
from ghl_pleo.errors import ConfigurationError
from ghl_pleo.hooks.ghl import GhlHook
from ghl_pleo.hooks.pleo import PleoHook
from tests.flows.harness import FlowRunner

pytestmark = pytest.mark.integration
TAGS = "GET /social-media-posting/{locationId}/tags"
PLEO_TAGS = "GET /v0/tag-groups/{groupId}/tags"


def set_tokens(box, monkeypatch, ghl: str, pleo: str) -> None:
    box.configure(ghl_token=ghl, pleo_token=pleo)
    for var, token in (("AIRFLOW_CONN_GHL_DEFAULT", ghl), ("AIRFLOW_CONN_PLEO_DEFAULT", pleo)):
        conn = json.loads(__import__("os").environ[var])
        monkeypatch.setenv(var, json.dumps({**conn, "password": token}))


@pytest.fixture
def flows(sandbox, tmp_path, monkeypatch):
    locations = sandbox.reset(locations=2, min_tags=40, max_tags=45)
    sandbox.configure(pleo_rps=0, ghl_burst_limit=1000, ghl_burst_window_s=10.0)
    sandbox.clear_faults()
    runner = FlowRunner(sandbox, tmp_path, monkeypatch, locations)
    tokens = {"ghl": "ghltok" + secrets.token_hex(16), "pleo": "pleotok" + secrets.token_hex(16)}
    set_tokens(sandbox, monkeypatch, tokens["ghl"], tokens["pleo"])
    assert runner.tags().errors == {}
    runner.tokens = tokens
    yield runner
    sandbox.clear_faults()
    sandbox.configure(ghl_token="sandbox-ghl-token", pleo_token="sandbox-pleo-token")


def every_text(flows: FlowRunner, result) -> str:
    """What an on-call engineer could read: ledger rows, notes, change log, rejected records, summary, alert."""
    db = flows.warehouse.db
    parts = [json.dumps(db.query(f"SELECT * FROM {t}"), default=str) for t in ("sync_location_runs", "sync_run_events")]
    parts.append(result.summary)
    parts.append("\n".join(build_alert(result.dag_id, result.run_id, result.failed, 2, "http://airflow/log")))
    parts.extend(str(e) for e in result.errors.values())
    return "\n".join(parts)


@pytest.mark.parametrize(
    "api, endpoint, echo, status",
    [
        ("ghl", TAGS, "json", 400),
        ("ghl", TAGS, "html", 401),
        ("ghl", TAGS, "header", 401),
        ("ghl", TAGS, "long", 400),
        ("pleo", PLEO_TAGS, "json", 400),
        ("pleo", PLEO_TAGS, "long", 422),
    ],
)
def test_an_answer_that_echoes_the_token_leaves_no_trace_of_it(flows, caplog, api, endpoint, echo, status):
    token = flows.tokens[api]
    flows.box.fault(api=api, endpoint=endpoint, body_kind="echo_token", echo=echo, status=status)
    with caplog.at_level(logging.DEBUG):
        result = flows.tags()
    assert result.errors, "the fault must fail the locations"
    seen = every_text(flows, result) + "\n" + caplog.text
    for needle in (token, token[:12], token[-12:]):  # not the token, nor either half of it
        assert needle not in seen, (echo, needle)
    assert "***" in seen or echo == "header"  # the quoted answer is there, with the token redacted


@pytest.mark.parametrize("bad", ["\n", " ", "\t", "\x00"])
def test_a_token_with_whitespace_or_control_characters_is_refused_before_any_request(flows, monkeypatch, bad):
    set_tokens(flows.box, monkeypatch, flows.tokens["ghl"], flows.tokens["pleo"] + bad)
    flows.box.clear_requests()
    hook = PleoHook(rate_slots=flows.warehouse.rate_slots)
    with pytest.raises(ConfigurationError, match="whitespace or control characters") as err:
        hook.list_groups()
    assert err.value.kind == "configuration" and flows.tokens["pleo"] not in str(err.value)
    assert flows.box.requests() == {}


@pytest.mark.parametrize("bad", ["\n", " "])
def test_a_ghl_token_with_whitespace_is_refused_before_any_request(flows, monkeypatch, bad):
    set_tokens(flows.box, monkeypatch, flows.tokens["ghl"] + bad, flows.tokens["pleo"])
    flows.box.clear_requests()
    hook = GhlHook(token_store=flows.warehouse.tokens)
    with pytest.raises(ConfigurationError, match="whitespace or control characters") as err:
        next(iter(hook.iter_tag_pages(flows.locations[0])))
    assert err.value.kind == "configuration" and flows.tokens["ghl"] not in str(err.value)
    assert flows.box.requests() == {}
