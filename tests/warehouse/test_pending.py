"""Pending creates (``pleo_pending_writes``) noted from a stream, on both backends."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from ghl_pleo.warehouse.pending import NOTE_CHUNK

pytestmark = pytest.mark.integration
RUN = SimpleNamespace(dag_id="ghl_pleo_tags_sync", run_id="manual__1", try_number=2)


def test_creates_are_noted_from_a_stream_longer_than_a_chunk_each_code_once(wh):
    wh.pending.note("L1", "tag", iter([("c0", "stale name")]), RUN)  # an earlier try's note of c0
    n = NOTE_CHUNK * 2 + 5
    wh.pending.note("L1", "tag", ((f"c{i}", f"Tag {i}") for i in range(n)), RUN)
    rows = wh.pending.open_for("L1", "tag")
    assert len(rows) == n and len({r["code_key"] for r in rows}) == n
    first = next(r for r in rows if r["code_key"] == "c0")
    assert (first["name"], first["run_id"], first["try_number"]) == ("Tag 0", "manual__1", 2)
    assert wh.pending.open_for("L2", "tag") == []


def test_a_run_with_nothing_to_create_notes_nothing_from_an_empty_stream(wh):
    wh.pending.note("L1", "tag", (pair for pair in []), RUN)
    assert wh.pending.open_for("L1", "tag") == []
