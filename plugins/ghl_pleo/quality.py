"""Data-quality gates: location ids, schema drift, volume drift, and Great Expectations suites.

The suites are built in code on an ephemeral GX context and run directly inside
tasks (GX's Airflow provider cannot be installed beside Airflow 3.3). A failed
suite becomes a :class:`~ghl_pleo.errors.DataValidationError` whose first line
names the failed expectations and counts; the detail is in the run's Data Docs.
"""

from __future__ import annotations

import fcntl
import logging
import os
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from ghl_pleo.docs_assets import localize
from ghl_pleo.errors import ConfigurationError, DataValidationError
from ghl_pleo.memory import no_frame_fingerprint
from ghl_pleo.transform import TAG_COLUMNS

log = logging.getLogger("ghl_pleo.quality")
LOCATION_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
FIRST_SECOND, LAST_SECOND = -62135596800, 253402300799  # 0001-01-01T00:00:00Z, 9999-12-31T23:59:59Z as POSIX s
# Fields of a GHL tag that the mapping reads, and the JSON types the contract gives them.
TAG_MAPPED_FIELDS = {"_id": {"string"}, "tag": {"string"}, "deleted": {"boolean"}, "updatedAt": {"string"}}


def check_location_id(location_id: Any) -> str:
    """Refuse a location id that could change the request path (``/``, ``..``, spaces...) before any request."""
    if not isinstance(location_id, str) or not LOCATION_ID.match(location_id):
        raise ConfigurationError(
            f"Location id {str(location_id)[:80]!r} is not a GHL location id (letters, digits, '_' or '-', at most "
            f"64): refused before any request. Fix the variable ghl_location_ids."
        )
    return location_id


def json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def observed_fields(records: Iterable[Any]) -> tuple[dict[str, set[str]], int]:
    """Field -> JSON types seen over the records (objects only), and how many objects there were."""
    fields: dict[str, set[str]] = {}
    n = 0
    for rec in records:
        if not isinstance(rec, dict):
            continue
        n += 1
        for k, v in rec.items():
            fields.setdefault(k, set()).add(json_type(v))
    return fields, n


@dataclass
class SchemaDrift:
    endpoint: str
    new: dict[str, list[str]] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)
    retyped: dict[str, tuple[list[str], list[str]]] = field(default_factory=dict)
    fatal: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.new or self.missing or self.retyped or self.fatal)

    def describe(self) -> str:
        parts = []
        if self.new:
            parts.append("new fields " + ", ".join(f"{k} ({'/'.join(v)})" for k, v in sorted(self.new.items())))
        if self.missing:
            parts.append("missing fields " + ", ".join(sorted(self.missing)))
        if self.retyped:
            parts.append(
                "retyped "
                + ", ".join(f"{k} {'/'.join(a)} -> {'/'.join(b)}" for k, (a, b) in sorted(self.retyped.items()))
            )
        return "; ".join(parts) or "no change"


def schema_drift(
    endpoint: str,
    observed: dict[str, set[str]],
    count: int,
    previous: dict[str, set[str]] | None,
    mapped: dict[str, set[str]],
) -> SchemaDrift:
    """Compare a read's field set with the last one seen for the endpoint.

    New, missing or retyped fields are reported. A mapped field that no record
    carries, or that no record carries with its contract type, is fatal: the
    source changed shape and loading would archive or blank everything.
    """
    drift = SchemaDrift(endpoint)
    if previous is not None:
        for k, types in observed.items():
            if k not in previous:
                drift.new[k] = sorted(types)
            elif not (types - {"null"}) & (previous[k] - {"null"}) and (types - {"null"}) and (previous[k] - {"null"}):
                drift.retyped[k] = (sorted(previous[k]), sorted(types))
        drift.missing = sorted(k for k in previous if k not in observed)
    if count:
        for k, allowed in mapped.items():
            if k not in observed:
                drift.fatal.append(f"mapped field {k!r} is missing from all {count} records")
            elif not observed[k] & allowed:
                drift.fatal.append(
                    f"mapped field {k!r} is {'/'.join(sorted(observed[k]))} in every record, "
                    f"expected {'/'.join(sorted(allowed))}"
                )
    return drift


def volume_drop(previous: int | None, current: int, threshold: float) -> str | None:
    """Why a count fell too far since the last successful run, or None."""
    if previous is None or previous <= 0:
        return None
    if current == 0:
        return f"dropped from {previous} to 0"
    drop = (previous - current) / previous
    if drop > threshold:
        return f"dropped {drop:.0%} from {previous} to {current} (threshold {threshold:.0%})"
    return None


def archive_hold_reason(
    baseline: dict | None,
    *,
    read: int,
    active: int,
    pleo_live: int,
    archives: int,
    threshold: float,
    max_archives: int,
) -> str | None:
    """Why a location's archives must be held this run, or None.

    ``baseline`` is the highest ``read`` and ``active`` of the location's recent good runs (see
    :class:`ghl_pleo.warehouse.guard.GuardStore`); without one (a new or restored warehouse) Pleo's live tags
    in the group are the baseline, so an empty answer against a populated group archives nothing.
    ``archives`` counts the tags the plan would archive (duplicate clean-ups not included).
    """
    if baseline:
        since = f"the highest of {baseline['runs']} good run(s) since {baseline['since']}"
        for key, label in (("read", "rows read"), ("active", "live tags")):
            reason = volume_drop(baseline.get(key), read if key == "read" else active, threshold)
            if reason:
                return f"tag count ({label}) {reason}; baseline: {since}"
    else:
        reason = volume_drop(pleo_live, active, threshold)
        if reason:
            return (
                f"tag count (live tags) {reason}; baseline: the live tags in the Pleo group (no good run in the "
                f"warehouse to compare with)"
            )
    if archives > max_archives:
        return f"{archives} tags would be archived, more than quality.max_archives_per_run ({max_archives})"
    return None


# Great Expectations ---------------------------------------------------------------------------


@dataclass
class GateResult:
    suite: str
    success: bool
    evaluated: int
    failed: list[str]
    docs: str | None

    def one_line(self) -> str:
        status = "passed" if self.success else "FAILED"
        failed = f": failed {', '.join(self.failed)}" if self.failed else ""
        docs = f" (Data Docs: {self.docs})" if self.docs else ""
        return f"GX suite {self.suite} {status} {self.evaluated - len(self.failed)}/{self.evaluated}{failed}{docs}"


def data_docs_dir() -> Path:
    base = os.environ.get("GHL_PLEO_DATA_DOCS_DIR") or os.path.join(
        os.environ.get("AIRFLOW_HOME") or os.path.expanduser("~/airflow"), "data_docs"
    )
    return Path(base)


def tags_expectations(max_name_length: int) -> list[Any]:
    import great_expectations as gx

    E = gx.expectations
    return [
        E.ExpectTableColumnsToMatchSet(column_set=list(TAG_COLUMNS), exact_match=True),
        *(E.ExpectColumnValuesToNotBeNull(column=c) for c in ("location_id", "tag_id", "name")),
        E.ExpectCompoundColumnsToBeUnique(column_list=["location_id", "tag_id"]),
        E.ExpectColumnValueLengthsToBeBetween(column="name", min_value=1, max_value=max_name_length),
        E.ExpectColumnValuesToBeInSet(column="archived", value_set=[True, False]),
        E.ExpectColumnValuesToNotBeNull(column="updated_at"),  # whole POSIX seconds (numbers, not ISO text)
        E.ExpectColumnValuesToBeBetween(column="updated_at", min_value=FIRST_SECOND, max_value=LAST_SECOND),
    ]


def statistics_expectations(metrics: Iterable[str]) -> list[Any]:
    import great_expectations as gx

    E = gx.expectations
    out = [
        E.ExpectTableColumnsToMatchSet(column_set=["statId", "locationId", "timestamp", *metrics], exact_match=False),
        E.ExpectColumnValuesToNotBeNull(column="statId"),
        E.ExpectColumnValuesToBeUnique(column="statId"),
        E.ExpectColumnValuesToMatchRegex(column="timestamp", regex=r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$"),
    ]
    for m in metrics:
        out.append(E.ExpectColumnValuesToBeBetween(column=m, min_value=0, strict_min=False))
    return out


def new_suite(name: str, expectations: list[Any]):
    """A GX suite given its expectations at once (``add_expectation`` compares each with all before: ~9 ms a pair)."""
    from great_expectations import ExpectationSuite

    return ExpectationSuite(name=name, expectations=list(expectations))


def run_suite(suite_name: str, frame: pd.DataFrame, expectations: list[Any], *, run_name: str) -> GateResult:
    """Validate ``frame`` with the expectations on an ephemeral GX context and write Data Docs for the run."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    no_frame_fingerprint()
    ctx = gx.get_context(mode="ephemeral")
    ctx.variables.progress_bars = ProgressBarsConfig(globally=False)  # no tqdm "Calculating Metrics" in task logs
    docs_root = data_docs_dir()
    docs_root.mkdir(parents=True, exist_ok=True)
    ctx.add_data_docs_site(
        site_name="ghl_pleo",
        site_config={
            "class_name": "SiteBuilder",
            "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(docs_root)},
            "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
        },
    )
    asset = ctx.data_sources.add_pandas("ghl_pleo").add_dataframe_asset(suite_name)
    batch = asset.add_batch_definition_whole_dataframe("frame")
    suite = ctx.suites.add(new_suite(suite_name, expectations))
    vd = ctx.validation_definitions.add(
        gx.ValidationDefinition(name=f"{suite_name}-{run_name}", data=batch, suite=suite)
    )
    checkpoint = ctx.checkpoints.add(
        gx.Checkpoint(
            name=f"{suite_name}-checkpoint",
            validation_definitions=[vd],
            actions=[gx.checkpoint.UpdateDataDocsAction(name="docs", site_names=["ghl_pleo"])],
        )
    )
    # Data Docs is one site for every task on this machine; GX rebuilds its index and static files on each run,
    # and two tasks doing that at once trip over each other's files (FileNotFoundError). One at a time.
    with open(docs_root / ".build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            started = time.time()
            result = checkpoint.run(batch_parameters={"dataframe": frame}, run_id=gx.RunIdentifier(run_name=run_name))
            localize(docs_root, started)  # the pages load local copies of GX's CDN libraries, nothing from outside
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    failed: list[str] = []
    evaluated = 0
    for vr in result.run_results.values():
        for r in vr.results:
            evaluated += 1
            if not r.success:
                col = r.expectation_config.kwargs.get("column") or ",".join(
                    r.expectation_config.kwargs.get("column_list") or []
                )
                count = (r.result or {}).get("unexpected_count")
                failed.append(f"{r.expectation_config.type}({col})" + (f" x{count}" if count else ""))
    docs = next((site.get("site_url") for site in reversed(ctx.get_docs_sites_urls(site_name="ghl_pleo"))), None)
    gate = GateResult(suite_name, bool(result.success), evaluated, failed, docs)
    log.info(gate.one_line())
    return gate


def require(gate: GateResult, where: str) -> None:
    if not gate.success:
        raise DataValidationError(f"{where}: {gate.one_line()}. The load was held; nothing was written.")
