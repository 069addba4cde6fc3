"""The run context closes its ledger row whatever ends the location's sync: success, skip, an error of ours,
a bug, or a stop from outside (task timeout, SIGTERM); change rows carry the run, the try and the dry-run flag."""

from __future__ import annotations

import pytest

from ghl_pleo.errors import DriftGuardError, RetryableAPIError
from ghl_pleo.run_context import Hooks, SyncRun
from ghl_pleo.warehouse import Warehouse


class Timeout(BaseException):
    """Like Airflow's task timeout and termination: not an Exception."""


@pytest.fixture
def run(tmp_path) -> SyncRun:
    return SyncRun(Warehouse(f"sqlite:///{tmp_path / 'wh.db'}"), "dag", "run-1", try_number=2)


def row(run: SyncRun, location_id: str = "L1") -> dict:
    return {r["location_id"]: r for r in run.warehouse.ledger.location_runs("dag", "run-1")}[location_id]


def test_success_closes_the_row_with_its_counts(run):
    with run.location("L1", Hooks()) as loc:
        assert row(run)["status"] == "running"
        loc.counts["read"] = 7
    closed = row(run)
    assert closed["status"] == "success" and closed["counts"]["read"] == 7 and closed["try_number"] == 2
    assert closed["finished_at"] and closed["error_kind"] is None


@pytest.mark.parametrize(
    "error, kind",
    [
        (RetryableAPIError("GHL 503"), "upstream_outage"),
        (DriftGuardError("held"), "drift_guard"),
        (KeyError("bug"), "internal"),
        (Timeout(), "interrupted"),
        (KeyboardInterrupt(), "interrupted"),
    ],
)
def test_any_error_closes_the_row_as_failed_with_its_kind_and_is_raised(run, error, kind):
    with pytest.raises(type(error)):
        with run.location("L1", Hooks()) as loc:
            loc.counts["read"] = 3
            raise error
    closed = row(run)
    assert closed["status"] == "failed" and closed["error_kind"] == kind
    assert closed["counts"]["read"] == 3 and closed["error"]


def test_skip_closes_the_row_as_skipped_with_a_note(run):
    with run.location("L1", Hooks()) as loc:
        loc.skip("no_accounts", "no connected social accounts")
    assert row(run)["status"] == "skipped"
    assert run.warehouse.ledger.events("dag", "run-1") == [
        {"location_id": "L1", "event": "no_accounts", "detail": "no connected social accounts"}
    ]


def test_a_retry_replaces_the_row_of_the_killed_try(run):
    with run.location("L1", Hooks()):
        pass
    retry = SyncRun(run.warehouse, "dag", "run-1", try_number=3)
    with retry.location("L1", Hooks()):
        pass
    rows = run.warehouse.ledger.location_runs("dag", "run-1")
    assert len(rows) == 1 and rows[0]["try_number"] == 3


def test_changes_carry_the_run_the_try_and_the_dry_run_flag(run):
    dry = SyncRun(run.warehouse, "dag", "run-1", try_number=2, dry_run=True)
    with dry.location("L1", Hooks()) as loc:
        loc.change("tag", "create", code="abc", pleo_id="p1", after={"name": "A"})
    (c,) = run.warehouse.ledger.changes("dag", "run-1")
    assert (c["location_id"], c["entity"], c["action"], c["code"], c["pleo_id"]) == ("L1", "tag", "create", "abc", "p1")
    assert c["try_number"] == 2 and c["dry_run"] == 1 and c["after"] == {"name": "A"}
