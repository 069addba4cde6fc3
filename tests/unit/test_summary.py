"""The run summary on a real SQLite ledger: a row still at ``running`` after its task ended is a failure, not a
quiet gap (issue 14, item 5)."""

from __future__ import annotations

import socket

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


def _run_with_docs(tmp_path, monkeypatch) -> tuple[Warehouse, str]:
    docs_dir = tmp_path / "data_docs"
    page = docs_dir / "index.html"
    docs_dir.mkdir()
    page.write_text("<html></html>")
    monkeypatch.setenv("GHL_PLEO_DATA_DOCS_DIR", str(docs_dir))
    wh = Warehouse(f"sqlite:///{tmp_path / 'wh.db'}")
    wh.ledger.start_location_run("ghl_pleo_tags_sync", "run-1", "L1", 1)
    counts = {"read": 3, "data_docs": page.as_uri()}
    wh.ledger.finish_location_run("ghl_pleo_tags_sync", "run-1", "L1", "success", counts, {})
    return wh, page.as_uri()


def _docs_lines(wh: Warehouse) -> list[str]:
    text, _ = run_summary(wh, "ghl_pleo_tags_sync", "run-1", ["L1"])
    return [line for line in text.splitlines() if line.startswith("Data Docs:")]


def test_the_data_docs_line_gives_the_file_unless_a_server_answers_at_the_base_url(tmp_path, monkeypatch):
    """`make run` starts no api-server: the summary must not send the reader to a dead link; with a server (`make
    ui`, a deployment) it links the dashboard's copy (issue 17, item 7)."""
    wh, page = _run_with_docs(tmp_path, monkeypatch)
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        port = server.getsockname()[1]
        monkeypatch.setenv("AIRFLOW__API__BASE_URL", f"http://127.0.0.1:{port}")
        [line] = _docs_lines(wh)  # bound but not listening: nothing answers
        assert line.startswith(f"Data Docs: {page} ")
        assert f"no Airflow api-server answers at http://127.0.0.1:{port}" in line
        assert "/ghl-pleo/data-docs/" not in line
        server.listen()
        [line] = _docs_lines(wh)
    assert line == f"Data Docs: http://127.0.0.1:{port}/ghl-pleo/data-docs/index.html (on this machine: {page})"
