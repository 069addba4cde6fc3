"""Locations in batches (issue 19): the batches and their map-index labels, and a batch task's locations in threads
with ONE real GX validation for the batch: a location whose records fail is held with its own message while its
batch-mates sync, the result is stored in the warehouse, and summarize's Data Docs build reads it from there."""

from __future__ import annotations

import gc
import os
import signal
import threading
from types import SimpleNamespace

import pandas as pd
import pytest
from airflow.sdk.exceptions import AirflowFailException

from ghl_pleo import tasks, tasks_batch
from ghl_pleo.batch_quality import BatchValidator, build_run_docs, validate
from ghl_pleo.batches import LABEL_MAX, batches
from ghl_pleo.errors import RetryableAPIError
from ghl_pleo.quality import require, tags_expectations
from ghl_pleo.run_context import Hooks, SyncRun
from ghl_pleo.transform import TAG_COLUMNS
from ghl_pleo.warehouse import Warehouse

DAG = "ghl_pleo_tags_sync"


def locs(*ids: str) -> list[dict]:
    return [{"location_id": i, "name": i.lower()} for i in ids]


def test_locations_are_cut_into_batches_labelled_first_to_last_with_their_count():
    out = batches(locs(*(f"L{i:02d}" for i in range(1, 8))), 3)
    assert [b["batch"] for b in out] == [1, 2, 3]
    assert [b["label"] for b in out] == ["batch 1: L01..L03 (3)", "batch 2: L04..L06 (3)", "batch 3: L07 (1)"]
    assert [loc["location_id"] for b in out for loc in b["locations"]] == [f"L{i:02d}" for i in range(1, 8)]
    assert batches([], 25) == []
    with pytest.raises(ValueError, match="at least one location"):
        batches(locs("A"), 0)


def test_a_label_of_very_long_ids_fits_airflow_s_250_characters():
    (b,) = batches(locs("a" * 200, "b" * 200), 2)
    assert len(b["label"]) <= LABEL_MAX and b["label"].startswith("batch 1: aaa") and b["label"].endswith(" (2)")
    assert "…..bbb" in b["label"]


def frame(location_id: str, names: list[str]) -> pd.DataFrame:
    rows = [
        dict.fromkeys(TAG_COLUMNS) | {"location_id": location_id, "tag_id": f"{location_id}-{i}", "code": "c"}
        for i in range(len(names))
    ]
    out = pd.DataFrame(rows, columns=list(TAG_COLUMNS))
    out["name"], out["archived"], out["updated_at"] = names, False, 1767225600.0
    return out


def check_step(run, _hooks, names: list[str]) -> dict:
    """A location's records through the batch's validator, held as flows/tags.py holds them."""
    if names is None:
        raise RetryableAPIError(f"GHL GET tags for {run.location_id}: HTTP 503")
    gate = validate(run, "ghl_tags", frame(run.location_id, names), lambda _keys: tags_expectations(12))
    run.counts["data_docs"] = gate.docs
    require(gate, f"Location {run.location_id}")
    return {"location_id": run.location_id}


@pytest.fixture
def sync(tmp_path, monkeypatch):
    monkeypatch.setenv("GHL_PLEO_DATA_DOCS_DIR", str(tmp_path / "docs"))
    monkeypatch.setenv("GHL_PLEO_THREADS_PER_TASK", "2")
    wh = Warehouse(f"sqlite:///{tmp_path / 'wh.db'}")

    def go(records: dict[str, list[str] | None], try_number=1, retry=False, since_try=1, dry_run=False):
        run = SyncRun(wh, DAG, "manual__1", try_number, dry_run=dry_run)
        run.validator = BatchValidator(run, f"batch1-try{try_number}", "location_id")
        batch = batches(locs(*records), 25)[0]

        def one(location):
            ident = location["location_id"]
            return tasks._run_location(run, ident, Hooks(), check_step, records[ident], skip_when_locked=True)

        return tasks_batch.run_batch(run, batch, one, retry=retry, since_try=since_try)

    return wh, go


@pytest.mark.slow  # real GX, and Data Docs built once (a few seconds)
def test_one_validation_per_batch_holds_only_the_location_whose_records_fail(sync):
    wh, go = sync
    with pytest.raises(AirflowFailException, match=r"1 of 3 location\(s\) of batch 1: A..C \(3\) failed: B \(data_q"):
        go({"A": ["one", "two"], "B": ["fine", "far too long a name"], "C": ["three"]})
    rows = {r["location_id"]: r for r in wh.ledger.location_runs(DAG, "manual__1")}
    assert {k: r["status"] for k, r in rows.items()} == {"A": "success", "B": "failed", "C": "success"}
    assert rows["B"]["error"].startswith(
        "Location B: GX suite ghl_tags FAILED 8/9: failed expect_column_value_lengths_to_be_between(name) x1"
    )
    assert rows["B"]["error"].endswith("The load was held; nothing was written.")
    stored = wh.validations.results(DAG, "manual__1")
    assert [(v["validation_id"], v["locations"], v["success"]) for v in stored] == [("batch1-try1", 3, 0)]
    per = {r["location_id"]: r["success"] for r in wh.validations.location_results(DAG, "manual__1")}
    assert per == {"A": 1, "B": 0, "C": 1}
    index = build_run_docs(wh, DAG, "manual__1")  # summarize's one build, from the warehouse alone
    assert index == rows["A"]["counts"]["data_docs"] and index.endswith("/docs/index.html")
    page = index.removeprefix("file://")
    assert "ghl_tags" in open(page, encoding="utf-8").read()


@pytest.mark.slow  # real GX
def test_a_batch_whose_records_exceed_the_row_cap_is_validated_in_parts_each_location_keeping_its_result(
    sync, monkeypatch
):
    """GHL_PLEO_VALIDATION_ROWS bounds what a batch holds for GX: 3 rows here, so the first two locations to hand
    their records over (3 or 4 rows) are validated without waiting for the third, which is validated alone."""
    monkeypatch.setenv("GHL_PLEO_VALIDATION_ROWS", "3")
    wh, go = sync
    with pytest.raises(AirflowFailException, match=r"1 of 3 location\(s\) of batch 1: A..C \(3\) failed: B \(data_q"):
        go({"A": ["one", "two"], "B": ["fine", "far too long a name"], "C": ["three"]})
    stored = wh.validations.results(DAG, "manual__1")
    assert sorted((v["validation_id"], v["locations"]) for v in stored)[0] == ("batch1-try1", 2)
    assert sorted((v["validation_id"], v["locations"]) for v in stored)[1:] == [("batch1-try1-part2", 1)]
    per = {r["location_id"]: r["success"] for r in wh.validations.location_results(DAG, "manual__1")}
    assert per == {"A": 1, "B": 0, "C": 1}
    rows = {r["location_id"]: r["status"] for r in wh.ledger.location_runs(DAG, "manual__1")}
    assert rows == {"A": "success", "B": "failed", "C": "success"}


@pytest.mark.slow  # real GX
def test_a_retry_syncs_only_the_locations_not_synced_in_this_run(sync, caplog):
    wh, go = sync
    with pytest.raises(tasks_batch.BatchFailed, match=r"1 of 2 location\(s\) of batch 1: A..B \(2\) failed: B \(up"):
        go({"A": ["one"], "B": None})
    caplog.set_level("INFO", logger="ghl_pleo.tasks")
    out = go({"A": None, "B": ["two"]}, try_number=2)  # A would fail now: it must not be synced again
    assert out | {"peak_rss_mb": 0} == {
        "batch": 1,
        "locations": 2,
        "ok": 1,
        "failed": 0,
        "skipped": 0,
        "already_synced": 1,
        "validations": 1,
        "peak_rss_mb": 0,
    }
    assert "1 already synced in this run, skipped: A" in caplog.text
    rows = {r["location_id"]: r for r in wh.ledger.location_runs(DAG, "manual__1")}
    assert {k: (r["status"], r["try_number"]) for k, r in rows.items()} == {"A": ("success", 1), "B": ("success", 2)}


@pytest.mark.slow  # real GX
def test_airflow_s_retry_leaves_a_location_no_retry_can_fix_failed_and_then_fails_without_retries(sync, caplog):
    wh, go = sync
    with pytest.raises(tasks_batch.BatchFailed, match=r"2 of 2 .*: A \(data_quality\); B \(upstream_outage\)"):
        go({"A": ["a name far too long"], "B": None})
    caplog.set_level("INFO", logger="ghl_pleo.tasks")
    with pytest.raises(AirflowFailException, match=r"1 of 2 location\(s\) of batch 1: A..B \(2\) failed: A \(data_q"):
        go({"A": ["fine now"], "B": ["two"]}, try_number=2, retry=True)
    assert "kept failed (a retry cannot fix them): A (data_quality)" in caplog.text
    rows = {r["location_id"]: r for r in wh.ledger.location_runs(DAG, "manual__1")}
    assert {k: (r["status"], r["try_number"]) for k, r in rows.items()} == {"A": ("failed", 1), "B": ("success", 2)}
    out = go({"A": ["fine now"], "B": None}, try_number=3)  # a clear (not a retry): A is tried again, B left alone
    assert (out["ok"], out["already_synced"]) == (1, 1)


@pytest.mark.parametrize(
    ("try_number", "max_tries", "retry"),
    [(1, 2, False), (2, 2, True), (3, 2, True), (4, 5, False), (5, 5, True)],  # (4, 5): the first try after a clear
)
def test_an_automatic_retry_is_told_from_a_first_try_and_a_clear(try_number, max_tries, retry):
    ti = SimpleNamespace(try_number=try_number, max_tries=max_tries, task=SimpleNamespace(retries=2))
    assert tasks_batch._automatic_retry({"ti": ti}) is retry


class Terminated(BaseException):
    """What Airflow's SIGTERM handler raises in the task's main thread."""


def test_a_batch_task_told_to_stop_lets_the_location_syncing_now_finish_and_starts_no_other(tmp_path, monkeypatch):
    monkeypatch.setenv("GHL_PLEO_THREADS_PER_TASK", "1")
    run = SyncRun(Warehouse(f"sqlite:///{tmp_path / 'wh.db'}"), DAG, "manual__1", 1)
    run.validator = BatchValidator(run, "batch1-try1", "location_id")
    started, finished, release = [], [], threading.Event()

    def on_term(_signum, _frame):
        release.set()
        raise Terminated("SIGTERM")

    def one(location):
        started.append(location["location_id"])
        if len(started) == 1:  # the stop arrives while the first location syncs
            os.kill(os.getpid(), signal.SIGTERM)
            stopping = getattr(run, "stopping", None)  # the batch's stop, set by its main thread on the signal
            assert (stopping or release).wait(60)
        finished.append(location["location_id"])
        return {}

    previous = signal.signal(signal.SIGTERM, on_term)
    try:
        with pytest.raises(Terminated):
            tasks_batch.run_batch(run, batches(locs("A", "B", "C"), 25)[0], one)
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert started == finished == ["A"]  # A's sync was whole; B and C were left for the retry


@pytest.mark.slow  # real GX
def test_a_cleared_or_reprocessed_run_syncs_again_the_locations_an_earlier_try_synced(sync):
    """Airflow's retry, and a clear after a failure, skip what this run already synced; a clear of a batch that
    was all synced (a backfill reprocessing the run: same run id) syncs it again, and a dry run's rows never count
    for a real run of the same run id."""
    wh, go = sync
    go({"A": ["one"], "B": ["two"]}, dry_run=True)
    with pytest.raises(tasks_batch.BatchFailed, match=r"2 of 2 location\(s\) of batch 1: A..B \(2\) failed"):
        go({"A": None, "B": None}, try_number=2)  # not a dry run: the dry run's rows synced nothing
    go({"A": ["one"], "B": ["two"]}, try_number=3, retry=True)
    with pytest.raises(tasks_batch.BatchFailed, match=r"1 of 2 location\(s\) of batch 1: A..B \(2\) failed: A"):
        go({"A": None, "B": ["two"]}, try_number=4, since_try=4)  # a green batch cleared: both synced again
    rows = {r["location_id"]: (r["status"], r["try_number"]) for r in wh.ledger.location_runs(DAG, "manual__1")}
    assert rows == {"A": ("failed", 4), "B": ("success", 4)}
    go({"A": ["one"], "B": None}, try_number=5, since_try=5)  # cleared after that failure: only A again
    rows = {r["location_id"]: (r["status"], r["try_number"]) for r in wh.ledger.location_runs(DAG, "manual__1")}
    assert rows == {"A": ("success", 5), "B": ("success", 4)}


def test_a_location_listed_twice_is_batched_and_synced_once(caplog):
    out = tasks_batch.batch_locations(locs("A", "B", "A", "C", "B"))
    assert [loc["location_id"] for b in out for loc in b["locations"]] == ["A", "B", "C"]
    assert "The location list names A, B more than once: each is synced once" in caplog.text


@pytest.mark.slow  # real GX (Data Docs are not built)
def test_a_validation_that_cannot_run_fails_each_location_with_its_own_message(sync, monkeypatch):
    from ghl_pleo import batch_quality

    def broken(*_args, **_kwargs):
        raise ValueError("GX could not read the frame")

    monkeypatch.setattr(batch_quality, "validate_frames", broken)
    wh, go = sync
    with pytest.raises(tasks_batch.BatchFailed, match=r"2 of 2 location\(s\) of batch 1: A..B \(2\) failed"):
        go({"A": ["one"], "B": ["two"]})
    rows = {r["location_id"]: r for r in wh.ledger.location_runs(DAG, "manual__1")}
    for loc in ("A", "B"):
        assert rows[loc]["error"].startswith(f"Location {loc}: the batch's GX validation (batch1-try1) failed: "), rows
        assert "GX could not read the frame" in rows[loc]["error"]


def frames_holding(tag_id: str) -> list[pd.DataFrame]:
    """Every frame still in memory that holds this tag's row (after a garbage collection)."""
    gc.collect()
    return [
        o
        for o in gc.get_objects()
        if isinstance(o, pd.DataFrame) and "tag_id" in o.columns and (o["tag_id"] == tag_id).any()
    ]


@pytest.mark.slow  # real GX
def test_a_location_s_validated_records_are_not_kept_by_gx(tmp_path, monkeypatch):
    """GX keeps its last context, and that context the frame it validated: 100,000 tags' records (their timestamps
    and fingerprints) would stay in memory through the whole load. Validated, they belong to the flow alone."""
    monkeypatch.setenv("GHL_PLEO_DATA_DOCS_DIR", str(tmp_path / "docs"))
    run = SimpleNamespace(location_id="Solo", run=SimpleNamespace(validator=None, dag_id=DAG, run_id="manual__1"))
    records = frame("Solo", ["one", "two"])
    gate = validate(run, "ghl_tags", records, lambda _keys: tags_expectations(12))
    assert gate.success and gate.docs
    del records
    assert frames_holding("Solo-0") == []


@pytest.mark.slow  # real GX
def test_a_batch_s_validated_records_are_not_kept_by_gx(tmp_path, monkeypatch):
    """The same for a batch's one validation (GX is given the batch's frames concatenated)."""
    monkeypatch.setenv("GHL_PLEO_DATA_DOCS_DIR", str(tmp_path / "docs"))
    run = SyncRun(Warehouse(f"sqlite:///{tmp_path / 'wh.db'}"), DAG, "manual__1", 1)
    validator = BatchValidator(run, "batch1-try1", "location_id")
    validator.expect(["Batched"])
    gate = validator.validate("Batched", "ghl_tags", frame("Batched", ["one"]), lambda _k: tags_expectations(12), [])
    assert gate.success and validator.validations == 1
    assert frames_holding("Batched-0") == []


@pytest.mark.slow  # real GX
def test_gx_never_hashes_a_whole_frame_it_validates(tmp_path, monkeypatch):
    """GX hashes each validated frame whole for a batch marker nothing reads: ~13 MB and a tenth of a second for
    100,000 tags. Neither the batch's validation nor a location's own one pays it."""
    monkeypatch.setenv("GHL_PLEO_DATA_DOCS_DIR", str(tmp_path / "docs"))
    hashed = []
    real = pd.util.hash_pandas_object
    monkeypatch.setattr(
        pd.util, "hash_pandas_object", lambda obj, *a, **k: hashed.append(len(obj)) or real(obj, *a, **k)
    )
    from great_expectations.execution_engine import pandas_execution_engine as engine

    monkeypatch.setattr(engine, "HASH_THRESHOLD", 1e9)  # GX's own default: each path below must turn it off
    run = SimpleNamespace(location_id="Solo", run=SimpleNamespace(validator=None, dag_id=DAG, run_id="manual__1"))
    assert validate(run, "ghl_tags", frame("Solo", ["one", "two"]), lambda _keys: tags_expectations(12)).success
    monkeypatch.setattr(engine, "HASH_THRESHOLD", 1e9)
    batch = SyncRun(Warehouse(f"sqlite:///{tmp_path / 'wh.db'}"), DAG, "manual__1", 1)
    validator = BatchValidator(batch, "batch1-try1", "location_id")
    validator.expect(["Batched"])
    assert validator.validate("Batched", "ghl_tags", frame("Batched", ["one"]), lambda _k: tags_expectations(12), [])
    assert validator.validations == 1 and hashed == []


@pytest.mark.parametrize(
    ("total", "env", "size"),
    [
        (500, {}, 250),  # two batch tasks at once (8 locations at once / 4 threads): two batches
        (100, {}, 50),
        (3, {}, 2),
        (1, {}, 1),
        (0, {}, 1),
        (2000, {}, 250),  # at most 250 a batch
        (500, {"GHL_PLEO_MAX_PARALLEL_LOCATIONS": "16"}, 125),  # four at once
        (500, {"GHL_PLEO_LOCATIONS_PER_TASK": "25"}, 25),  # set: as set
    ],
)
def test_by_default_a_run_s_locations_spread_evenly_over_the_batch_tasks_that_run_at_once(
    monkeypatch, total, env, size
):
    from ghl_pleo.constants import locations_per_task

    for name in ("GHL_PLEO_LOCATIONS_PER_TASK", "GHL_PLEO_MAX_PARALLEL_LOCATIONS", "GHL_PLEO_THREADS_PER_TASK"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert locations_per_task(total) == size
