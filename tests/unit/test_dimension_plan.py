"""The dimension-value plan of a large location: exactly the values that differ are written, each tag's Pleo
values read once and its details asked for once (pure: fake Pleo, fake warehouse)."""

from __future__ import annotations

import threading
from types import SimpleNamespace

import pandas as pd

from ghl_pleo.config import MappingConfig
from ghl_pleo.flows.tag_load import load_dimensions
from ghl_pleo.hooks.pleo import AGGREGATION_BATCH

DIMS = {"ghl_location": "D-loc", "ghl_created_by": "D-by", "ghl_created_at": "D-cat", "ghl_updated_at": "D-uat"}
N = 5000


class FakePleo:
    """Pleo's dimensions and values; records the aggregation reads and the writes."""

    concurrency = 4

    def __init__(self, values: dict[tuple[str, str], str]) -> None:
        self.values, self.reads, self.writes = values, [], []
        self.lock = threading.Lock()

    def list_dimensions(self, group_id, *, location_id=None):
        return [{"id": i, "code": c} for c, i in DIMS.items()]

    def iter_aggregated_tags(self, tag_ids, *, company_id=None, location_id=None):
        with self.lock:
            self.reads.append(list(tag_ids))
        for start in range(0, len(tag_ids), 100):
            page = tag_ids[start : start + 100]
            yield [{"id": t, "dimensions": [{"id": d, "value": v} for (tt, d), v in self._of(t)]} for t in page]

    def _of(self, tag_id):
        return [((tag_id, d), self.values[(tag_id, d)]) for d in DIMS.values() if (tag_id, d) in self.values]

    def put_dimension_value(self, tag_id, dimension_id, value, *, exists, location_id=None):
        with self.lock:
            self.writes.append((tag_id, dimension_id, value, exists))
        return {"value": value}


def location(n: int = N):
    """``n`` tags: every 7th archived, every 11th created this run, every 13th without details; Pleo holds the
    right values for most, a stale created-at for every 5th, no updated-at for every 3rd."""
    rows, details, values, tag_ids, created = [], {}, {}, {}, set()
    for i in range(n):
        tag_id = f"t{i:06d}"
        rows.append({"location_id": "L1", "tag_id": tag_id, "code": tag_id, "name": f"Tag {i}", "archived": i % 7 == 0})
        pleo_id = f"P{i}"
        tag_ids[tag_id] = pleo_id
        if i % 11 == 0:
            created.add(pleo_id)
        if i % 13:
            details[tag_id] = {
                "_id": tag_id,
                "locationId": "L1",
                "createdBy": f"user{i % 5}",
                "createdAt": "2026-10-01T08:00:00.000Z",
                "updatedAt": f"2026-11-{1 + i % 28:02d}T08:00:00.000Z",
            }
        if pleo_id not in created:
            values[(pleo_id, "D-loc")] = "L1"
            values[(pleo_id, "D-by")] = f"user{i % 5}"
            values[(pleo_id, "D-cat")] = "2026-09-30T08:00:00Z" if i % 5 == 0 else "2026-10-01T08:00:00Z"
            if i % 3:
                values[(pleo_id, "D-uat")] = f"2026-11-{1 + i % 28:02d}T08:00:00Z"
    return pd.DataFrame(rows), details, values, tag_ids, created


def expected_writes(n: int = N) -> set[tuple]:
    out = set()
    for i in range(n):
        if i % 7 == 0 or i % 13 == 0:  # archived, or no details: nothing to write
            continue
        pleo_id, fresh = f"P{i}", i % 11 == 0
        if fresh:
            out |= {
                (pleo_id, "D-loc", "L1", False),
                (pleo_id, "D-by", f"user{i % 5}", False),
                (pleo_id, "D-cat", "2026-10-01T08:00:00Z", False),
                (pleo_id, "D-uat", f"2026-11-{1 + i % 28:02d}T08:00:00Z", False),
            }
            continue
        if i % 5 == 0:
            out.add((pleo_id, "D-cat", "2026-10-01T08:00:00Z", True))
        if i % 3 == 0:
            out.add((pleo_id, "D-uat", f"2026-11-{1 + i % 28:02d}T08:00:00Z", False))
    return out


def test_a_large_location_gets_exactly_the_values_that_differ_each_tag_read_once():
    tags, details, values, tag_ids, created = location()
    pleo, asked, changes = FakePleo(values), [], []
    run = SimpleNamespace(location_id="L1", change=lambda *a, **kw: changes.append((a, kw)))

    def details_for(ids: list[str]) -> pd.DataFrame:
        asked.append(list(ids))
        return pd.DataFrame(
            [{"tag_id": t, "payload": details[t]} for t in ids if t in details], columns=["tag_id", "payload"]
        )

    counts = load_dimensions(run, pleo, "G1", tags, details_for, tag_ids, MappingConfig(), None, created)

    assert set(pleo.writes) == expected_writes() and len(pleo.writes) == len(expected_writes())
    assert counts["values_written"] == len(pleo.writes) == len(changes) and counts["dimensions_created"] == 0
    live = [f"t{i:06d}" for i in range(N) if i % 7]
    existing = [f"P{i}" for i in range(N) if i % 7 and i % 11]
    # each live tag's details asked for once, each existing tag's Pleo values read once, in batches of 100
    assert sorted(t for batch in asked for t in batch) == sorted(live)
    assert [t for batch in pleo.reads for t in batch] == existing
    assert all(len(batch) <= AGGREGATION_BATCH for batch in pleo.reads + asked)


def test_nothing_differs_nothing_is_written():
    tags, details, values, tag_ids, _ = location(700)
    for pleo_id in tag_ids.values():
        i = int(pleo_id[1:])
        values[(pleo_id, "D-loc")], values[(pleo_id, "D-by")] = "L1", f"user{i % 5}"
        values[(pleo_id, "D-cat")] = "2026-10-01T08:00:00Z"
        values[(pleo_id, "D-uat")] = f"2026-11-{1 + i % 28:02d}T08:00:00Z"
    pleo = FakePleo(values)
    run = SimpleNamespace(location_id="L1", change=lambda *a, **kw: None)

    def details_for(ids):
        return pd.DataFrame([{"tag_id": t, "payload": details[t]} for t in ids if t in details])

    counts = load_dimensions(run, pleo, "G1", tags, details_for, tag_ids, MappingConfig(), None, set())
    assert pleo.writes == [] and counts["values_written"] == 0
