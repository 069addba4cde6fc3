"""Great Expectations off the hot path: a batch task validates its locations' records in ONE validation.

Each location thread hands its frame to the batch's :class:`BatchValidator` and waits; when every location of the
batch has handed its frame over or ended without one, the last to arrive validates them all together (the rows
keep their location id, so each failed expectation is counted per location). Memory stays bounded: once the frames
handed over hold ``GHL_PLEO_VALIDATION_ROWS`` rows (50,000) they are validated at once, without waiting for the
rest (a batch of large locations is then a few validations, a location of 100,000 tags one of its own, and no
thread holds its records waiting for batch-mates that are still reading). The result goes to the warehouse
(``quality_validations``), and every waiting location gets its own :class:`~ghl_pleo.quality.GateResult`: a
location whose rows fail is held with the same message as before, its batch-mates go on. ``summarize`` builds the
Data Docs site once per run from the stored results (:func:`build_run_docs`), under the machine-wide lock.
"""

from __future__ import annotations

import fcntl
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable

import pandas as pd

from ghl_pleo.memory import no_frame_fingerprint, release_gx
from ghl_pleo.quality import GateResult, data_docs_dir, new_suite, run_suite

log = logging.getLogger("ghl_pleo.quality")
SITE = "ghl_pleo"
# Lists of unexpected rows are for the per-location counts here, not for the stored result (they can be large).
_DROP = ("unexpected_index_list", "unexpected_list", "unexpected_index_query", "unexpected_rows")


def docs_index() -> str:
    """The Data Docs site's index page (``summarize`` builds it), as the ``file://`` URL GX would give."""
    return (data_docs_dir() / "index.html").resolve().as_uri()


def validate(run, suite: str, frame: pd.DataFrame, expectations: Callable[[list], list], keys: list | None = None):
    """Validate one location's ``frame``: through its batch's validator when it runs in a batch task, else on its
    own (``run_suite``: Data Docs written now). ``expectations(keys)`` builds the suite; a batch builds it once
    from the union of its locations' ``keys`` (the statistics metrics present)."""
    validator = getattr(run.run, "validator", None)
    if validator is None:
        name = f"{run.run.dag_id}-{run.run.run_id}-{run.location_id}"
        try:
            return run_suite(suite, frame, expectations(list(keys or [])), run_name=name)
        finally:
            release_gx(len(frame))  # else GX holds the frame until the next validation
    return validator.validate(run.location_id, suite, frame, expectations, keys or [])


class BatchValidator:
    """Collects the frames of a batch's locations and validates them in one go (see the module doc).

    ``slots``: the semaphore bounding the batch's locations at once; a location gives its slot back while it waits
    here, so the locations not started yet can reach this point too.
    """

    def __init__(self, run, validation_id: str, location_column: str, slots: threading.Semaphore | None = None):
        from ghl_pleo.constants import validation_rows

        self.run, self.validation_id, self.column, self.slots = run, validation_id, location_column, slots
        self.max_rows = validation_rows()
        self._cond = threading.Condition()
        self._waiting: set[str] = set()
        self._frames: dict[str, pd.DataFrame] = {}
        self._keys: list = []
        self._suite: tuple[str, Callable] | None = None
        self._gates: dict[str, GateResult | BaseException] = {}
        self.validations = 0

    def expect(self, location_ids: list[str]) -> None:
        self._waiting = set(location_ids)

    def withdraw(self, location_id: str) -> None:
        """The location ended without handing a frame over (failed, skipped, or already validated)."""
        with self._cond:
            self._waiting.discard(location_id)
            self._maybe_run()

    def validate(self, location_id, suite, frame, expectations, keys) -> GateResult:
        with self._cond:
            if location_id in self._frames or location_id in self._gates:
                raise RuntimeError(f"Location {location_id}: handed to the batch's validation twice")
            self._frames[location_id] = frame
            self._keys += [k for k in keys if k not in self._keys]
            self._suite = (suite, expectations)
            self._waiting.discard(location_id)
            self._maybe_run()
        if self.slots is not None:  # never wait for a slot holding the lock: a finishing location needs it
            self.slots.release()
        try:
            with self._cond:
                while location_id not in self._gates:
                    self._cond.wait()
                gate = self._gates.pop(location_id)
        finally:
            if self.slots is not None:
                self.slots.acquire()
        if isinstance(gate, BaseException):
            raise gate
        return gate

    def _maybe_run(self) -> None:
        """With the lock held: when nobody is still on the way, or the frames handed over hold ``max_rows`` rows,
        validate them and wake their locations."""
        if not self._frames:
            return
        rows = sum(len(f) for f in self._frames.values())
        if self._waiting and rows < self.max_rows:
            return
        suite, expectations = self._suite
        try:
            self._gates.update(self._run(suite, expectations(list(self._keys))))
        except BaseException as exc:  # noqa: BLE001 - every waiting location fails with the validation's error
            self._gates.update({loc: _failed(loc, self.validation_id, exc) for loc in self._frames})
        self._frames, self._keys = {}, []
        release_gx(rows)  # GX would hold the batch's frames (concatenated) until the next validation
        self._cond.notify_all()

    def _run(self, suite: str, expectations: list) -> dict[str, GateResult]:
        frames = self._frames
        # The first validation keeps the batch's id; later ones of the same batch (max_rows reached) add -part<n>.
        ident = self.validation_id + (f"-part{self.validations + 1}" if self.validations else "")
        result = validate_frames(suite, frames, expectations, self.column, run_name=self._run_name(ident))
        self.validations += 1
        gates = per_location(result, list(frames), self.column, suite, docs_index())
        outcomes = {loc: _outcome(g) for loc, g in gates.items()}
        sync = self.run
        sync.warehouse.validations.save(sync.dag_id, sync.run_id, ident, suite, stored(result), outcomes)
        log.info(
            "GX suite %s: one validation of %d location(s), %d row(s): %d passed, %d failed (%s)",
            suite,
            len(frames),
            sum(len(f) for f in frames.values()),
            sum(g.success for g in gates.values()),
            sum(not g.success for g in gates.values()),
            ident,
        )
        return gates

    def _run_name(self, ident: str) -> str:
        return f"{self.run.dag_id}-{self.run.run_id}-{ident}"


def _failed(location_id: str, validation_id: str, exc: BaseException) -> BaseException:
    """The location's own error for a validation that could not run (each thread raises its own)."""
    if not isinstance(exc, Exception):
        return exc  # a stop (SIGTERM, KeyboardInterrupt) stays what it is
    err = RuntimeError(f"Location {location_id}: the batch's GX validation ({validation_id}) failed: {exc!r}")
    err.__cause__ = exc
    return err


def _outcome(gate: GateResult) -> dict:
    return {"success": gate.success, "evaluated": gate.evaluated, "failed": gate.failed}


def validate_frames(suite_name: str, frames: dict[str, pd.DataFrame], expectations: list, column: str, *, run_name):
    """One GX validation of the frames together (no Data Docs written): the GX result, with every unexpected row's
    ``column`` (the location id) listed."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    no_frame_fingerprint()
    ctx = gx.get_context(mode="ephemeral")
    ctx.variables.progress_bars = ProgressBarsConfig(globally=False)
    batch = ctx.data_sources.add_pandas("ghl_pleo").add_dataframe_asset(suite_name)
    definition = batch.add_batch_definition_whole_dataframe("frame")
    suite = ctx.suites.add(new_suite(suite_name, expectations))
    vd = ctx.validation_definitions.add(gx.ValidationDefinition(name=run_name, data=definition, suite=suite))
    parts = list(frames.values()) or [pd.DataFrame()]
    # one location's frame goes as it is: a concat would copy it (a location of 100,000 tags validates alone)
    frame = parts[0] if len(parts) == 1 else pd.concat(parts, ignore_index=True)
    fmt = {"result_format": "COMPLETE", "unexpected_index_column_names": [column]}
    return vd.run(batch_parameters={"dataframe": frame}, result_format=fmt, run_id=gx.RunIdentifier(run_name=run_name))


def per_location(result, locations: list[str], column: str, suite: str, docs: str | None) -> dict[str, GateResult]:
    """Each location's own gate: a failed expectation counts against the locations its unexpected rows belong to
    (one without rows, a table-level one such as the column set, against every location)."""
    evaluated = len(result.results)
    failed: dict[str, list[str]] = {loc: [] for loc in locations}
    for r in result.results:
        if r.success:
            continue
        cfg = r.expectation_config
        col = cfg.kwargs.get("column") or ",".join(cfg.kwargs.get("column_list") or [])
        rows = (r.result or {}).get("unexpected_index_list")
        by_loc = Counter(str(row.get(column)) for row in rows if isinstance(row, dict)) if rows else None
        known = by_loc is not None and set(by_loc) <= set(failed)
        for loc in locations:
            if known and not by_loc.get(loc):
                continue
            count = by_loc[loc] if known else (r.result or {}).get("unexpected_count")
            failed[loc].append(f"{cfg.type}({col})" + (f" x{count}" if count else ""))
    return {loc: GateResult(suite, not f, evaluated, f, docs) for loc, f in failed.items()}


def stored(result) -> dict:
    """The GX result as JSON, without the lists of unexpected rows (Data Docs shows the partial lists)."""
    out = result.to_json_dict()
    for r in out.get("results", []):
        for key in _DROP:
            (r.get("result") or {}).pop(key, None)
    return out


def build_run_docs(warehouse, dag_id: str, run_id: str) -> str | None:
    """Build the Data Docs site once from the run's stored validations (summarize); its index URL, or None when
    the run validated nothing in batches. One build at a time on this machine (GX rewrites shared files)."""
    rows = warehouse.validations.results(dag_id, run_id)
    if not rows:
        return None
    import great_expectations as gx
    from great_expectations.core.expectation_validation_result import ExpectationSuiteValidationResult
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier,
        ValidationResultIdentifier,
    )

    from ghl_pleo.docs_assets import localize

    root = data_docs_dir()
    root.mkdir(parents=True, exist_ok=True)
    ctx = gx.get_context(mode="ephemeral")
    ctx.add_data_docs_site(
        site_name=SITE,
        site_config={
            "class_name": "SiteBuilder",
            "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(root)},
            "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
        },
    )
    for row in rows:
        result = ExpectationSuiteValidationResult(**row["result"])
        run = gx.RunIdentifier(run_name=f"{dag_id}-{run_id}-{row['validation_id']}")
        key = ValidationResultIdentifier(ExpectationSuiteIdentifier(name=row["suite"]), run, row["validation_id"])
        ctx.validation_results_store.set(key, result)
    with open(root / ".build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            started = time.time()
            ctx.build_data_docs(site_names=[SITE])
            localize(root, started)  # the pages load local copies of GX's CDN libraries, nothing from outside
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    log.info("Data Docs: %d validation(s) of run %s built into %s", len(rows), run_id, root)
    return docs_index()
