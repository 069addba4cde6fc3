"""The run summary on a real SQLite ledger: a row still at ``running`` after its task ended is a failure, not a
quiet gap (issue 14, item 5)."""

from __future__ import annotations

from ghl_pleo.summary import run_summary
from ghl_pleo.warehouse import Warehouse


def test_a_row_left_at_running_by_a_killed_task_fails_the_run(tmp_path):
    wh = Warehouse(f"sqlite:///{tmp_path / 'wh.db'}")
    wh.ledger.start_location_run("ghl_pleo_tags_sync", "run-1", "L1", 1)
    wh.ledger.finish_location_run("ghl_pleo_tags_sync", "run-1", "L1", "success", {"read": 3}, {})
    wh.ledger.start_location_run("ghl_pleo_tags_sync", "run-1", "L2", 1)  # killed: never finished
    text, failed = run_summary(wh, "ghl_pleo_tags_sync", "run-1", ["L1", "L2"])
    assert [(f["location_id"], f["error_kind"]) for f in failed] == [("L2", "interrupted")]
    assert "killed" in failed[0]["error"] and "L2" in text
