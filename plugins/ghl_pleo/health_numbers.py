"""The health numbers: pure functions over the run ledger's rows (no warehouse, no clock), so they can be checked
on a seeded ledger without Airflow. :mod:`ghl_pleo.health` loads the rows (real runs only: dry runs write nothing,
so they count neither as syncs nor as failures) and calls :func:`health_document`.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pandas as pd

from ghl_pleo.constants import SYNC_DAG_IDS
from ghl_pleo.warehouse import TS_FORMAT, parse_ts
from ghl_pleo.warehouse.health import NUMERIC_COLUMNS
from ghl_pleo.warehouse.run_rows import RUN_ROW

DAG_IDS = SYNC_DAG_IDS
WINDOWS = {"24h": timedelta(hours=24), "7d": timedelta(days=7), "30d": timedelta(days=30)}
OK_STATUSES = ("success", "skipped", "skipped_locked")  # no accounts to sync / another run was syncing it
RUN_COLUMNS = [
    "dag_id",
    "run_id",
    "started_at",
    "latency_s",
    "status",
    "locations",
    "records_synced",
    "records_read",
    "records_rejected",
    "retries",
    "min_ratelimit_remaining",
]


def _iso(ts: datetime | None) -> str | None:
    return ts.strftime("%Y-%m-%dT%H:%M:%SZ") if ts else None


def _int(value) -> int | None:
    """A JSON-ready int from a pandas/numpy number (NaN -> None)."""
    return None if pd.isna(value) else int(value)


def _pct(values: pd.Series, q: float) -> float | None:
    """Percentile with linear interpolation between the closest ranks (pandas' default), in seconds."""
    clean = values.dropna()
    return round(float(clean.quantile(q)), 3) if len(clean) else None


def _str(value) -> str | None:
    return None if pd.isna(value) else str(value)


def _rate(ok: int, done: int) -> float | None:
    return round(ok / done, 4) if done else None


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _flags(values) -> dict[str, int]:
    counts: dict[str, int] = {}
    for value in values:
        if isinstance(value, str):
            for flag in value.split(","):
                if flag:
                    counts[flag] = counts.get(flag, 0) + 1
    return dict(sorted(counts.items()))


# the ledger's rows -----------------------------------------------------------------------------
def prepare(ledger: pd.DataFrame) -> pd.DataFrame:
    """Parse the ledger's columns once, vectorised (500 locations x 30 days of hourly runs is 360,000 rows)."""
    frame = ledger.copy()
    frame["start"] = pd.to_datetime(frame["started_at"], format=TS_FORMAT, utc=True, errors="coerce")
    frame["end"] = pd.to_datetime(frame["finished_at"], format=TS_FORMAT, utc=True, errors="coerce")
    for column in NUMERIC_COLUMNS:
        frame[column] = pd.to_numeric(frame[column], errors="coerce")
    frame["done"] = frame["status"] != "running"
    frame["ok"] = frame["status"].isin(OK_STATUSES)
    frame["failed"] = frame["status"] == "failed"
    frame["running"] = ~frame["done"]
    # A run-level failure row (the location list or ensure_groups failed): it makes its run count, as failed, but
    # it is no location, so no per-location number includes it.
    frame["is_location"] = frame["location_id"] != RUN_ROW
    return frame


def run_level(frame: pd.DataFrame) -> pd.DataFrame:
    r"""One row per DAG run (from a :func:`prepare`\ d ledger): start, latency (first location start to last
    location end), status (running / failed if any location is, or a run-level step failed, else success),
    records, headroom."""
    if frame.empty:
        return pd.DataFrame(columns=RUN_COLUMNS)
    runs = (
        frame.groupby(["dag_id", "run_id"], sort=False)
        .agg(
            started_at=("start", "min"),
            end=("end", "max"),
            locations=("is_location", "sum"),
            running=("running", "max"),
            failed=("failed", "max"),
            records_synced=("records_synced", "sum"),
            records_read=("records_read", "sum"),
            records_rejected=("records_rejected", "sum"),
            retries=("retries", "sum"),
            min_ratelimit_remaining=("min_ratelimit_remaining", "min"),
        )
        .reset_index()
    )
    runs["status"] = "success"
    runs.loc[runs["failed"], "status"] = "failed"
    runs.loc[runs["running"], "status"] = "running"
    runs["latency_s"] = (runs["end"] - runs["started_at"]).dt.total_seconds()
    runs.loc[runs["running"], "latency_s"] = float("nan")
    return runs[RUN_COLUMNS].sort_values("started_at").reset_index(drop=True)


# one window ------------------------------------------------------------------------------------
def window_stats(frame: pd.DataFrame, runs: pd.DataFrame) -> dict:
    """Per DAG and per location numbers over one window (``frame``/``runs`` already cut to it)."""
    return {"dags": dag_stats(frame, runs), "locations": location_stats(frame)}


def dag_stats(frame: pd.DataFrame, runs: pd.DataFrame) -> dict[str, dict]:
    """Per DAG (every sync DAG, whether it ran or not): :func:`_dag_numbers` of its location runs and finished runs."""
    located = frame[frame["is_location"]]
    return {
        dag_id: _dag_numbers(
            located[located["dag_id"] == dag_id], runs[(runs["dag_id"] == dag_id) & (runs["status"] != "running")]
        )
        for dag_id in sorted(set(frame["dag_id"]) | set(DAG_IDS))
    }


def _dag_numbers(lrows: pd.DataFrame, done: pd.DataFrame) -> dict:
    """One DAG's numbers from its location runs (``lrows``) and its finished DAG runs (``done``)."""
    ldone = lrows[lrows["done"]]
    read, rejected = int(lrows["records_read"].sum()), int(lrows["records_rejected"].sum())
    succeeded = int((done["status"] == "success").sum())
    return {
        "runs": int(len(done)),
        "runs_succeeded": succeeded,
        "success_rate": _rate(succeeded, len(done)),
        "location_runs": int(len(ldone)),
        "location_success_rate": _rate(int(ldone["ok"].sum()), len(ldone)),
        "latency_p50_s": _pct(done["latency_s"].astype(float), 0.5),
        "latency_p95_s": _pct(done["latency_s"].astype(float), 0.95),
        "records_synced": int(lrows["records_synced"].sum()),
        "records_synced_per_run": round(float(done["records_synced"].astype(float).mean()), 2) if len(done) else None,
        "records_read": read,
        "records_rejected": rejected,
        "rejected_share": _share(rejected, read),
        "drift_events": _flags(lrows["drift_flags"].dropna()),
        "retries": int(lrows["retries"].sum()),
        "min_ratelimit_remaining": _int(lrows["min_ratelimit_remaining"].min()),
    }


def location_stats(frame: pd.DataFrame) -> list[dict]:
    """Per DAG and location: runs, success rate, failures, duration percentiles, records, drift, headroom."""
    frame = frame[frame["is_location"]]
    if not len(frame):
        return []
    keys = ["dag_id", "location_id"]
    per = _per_location(frame, keys)
    flagged = frame[frame["drift_flags"].notna()]
    drift = {k: _flags(g) for k, g in flagged.groupby(keys)["drift_flags"]} if len(flagged) else {}
    return [
        _location_numbers(dag_id, location_id, r, drift.get((dag_id, location_id), {}))
        for (dag_id, location_id), r in per.iterrows()
    ]


def _per_location(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """The sums and minimum per ``keys``, and the p50/p95 of the finished location runs' durations."""
    per = (
        frame.assign(ok_done=frame["ok"] & frame["done"])
        .groupby(keys)
        .agg(
            runs=("done", "sum"),
            ok=("ok_done", "sum"),
            failures=("failed", "sum"),
            records_synced=("records_synced", "sum"),
            records_read=("records_read", "sum"),
            records_rejected=("records_rejected", "sum"),
            min_rem=("min_ratelimit_remaining", "min"),
        )
    )
    durations = frame[frame["done"]].groupby(keys)["duration_s"]
    per["p50"], per["p95"] = durations.quantile(0.5), durations.quantile(0.95)
    return per


def _location_numbers(dag_id: str, location_id: str, r: pd.Series, drift: dict[str, int]) -> dict:
    read, rejected = int(r["records_read"]), int(r["records_rejected"])
    return {
        "dag_id": dag_id,
        "location_id": location_id,
        "runs": int(r["runs"]),
        "success_rate": _rate(int(r["ok"]), int(r["runs"])),
        "failures": int(r["failures"]),
        "duration_p50_s": None if pd.isna(r["p50"]) else round(float(r["p50"]), 3),
        "duration_p95_s": None if pd.isna(r["p95"]) else round(float(r["p95"]), 3),
        "records_synced": int(r["records_synced"]),
        "records_read": read,
        "rejected_share": _share(rejected, read),
        "drift_events": drift,
        "min_ratelimit_remaining": _int(r["min_rem"]),
    }


# freshness, series, events and the document ----------------------------------------------------
def freshness(last: pd.DataFrame, now: datetime, hours: dict[str, float]) -> list[dict]:
    """Last successful sync per DAG and location; stale when older than the DAG's limit (or never, once the
    location has been known for longer than it)."""
    out = []
    for r in last.itertuples(index=False):
        limit = hours.get(r.dag_id)
        ok = parse_ts(r.last_success_at)
        since = ok or parse_ts(r.first_seen_at)
        age_h = (now - since).total_seconds() / 3600 if since else None
        out.append(
            {
                "dag_id": r.dag_id,
                "location_id": r.location_id,
                "last_success_at": _iso(ok),
                "last_run_at": _iso(parse_ts(r.last_run_at)),
                "hours_since_success": round(age_h, 2) if ok and age_h is not None else None,
                "stale_after_hours": limit,
                "stale": bool(limit is not None and age_h is not None and age_h > limit),
            }
        )
    return sorted(out, key=lambda x: (not x["stale"], x["dag_id"], x["location_id"]))


def windows_stats(frame: pd.DataFrame, runs: pd.DataFrame, now: datetime) -> dict[str, dict]:
    """:func:`window_stats` of each of the :data:`WINDOWS` ending at ``now``."""
    windows = {}
    for name, span in WINDOWS.items():
        cut = pd.Timestamp(now - span)
        windows[name] = window_stats(
            frame[frame["start"] >= cut], runs[runs["started_at"] >= cut] if len(runs) else runs
        )
    return windows


def run_series(runs: pd.DataFrame) -> list[dict]:
    """The DAG runs as JSON-ready points (for the charts), oldest first."""
    return [
        {
            "dag_id": r.dag_id,
            "run_id": r.run_id,
            "started_at": _iso(r.started_at.to_pydatetime()),
            "status": r.status,
            "latency_s": None if pd.isna(r.latency_s) else round(float(r.latency_s), 3),
            "records_synced": int(r.records_synced),
            "records_rejected": int(r.records_rejected),
            "min_ratelimit_remaining": _int(r.min_ratelimit_remaining),
        }
        for r in runs.itertuples(index=False)
    ]


def drift_events(frame: pd.DataFrame) -> list[dict]:
    """The latest 50 location runs with drift or guard flags, newest first."""
    flagged = frame[frame["drift_flags"].notna()]
    return [
        {
            "at": _str(r.finished_at) or r.started_at,
            "dag_id": r.dag_id,
            "run_id": r.run_id,
            "location_id": r.location_id,
            "flags": r.drift_flags,
            "status": r.status,
            "error_kind": _str(r.error_kind),
        }
        for r in flagged.sort_values("started_at", ascending=False).head(50).itertuples(index=False)
    ]


def health_document(frame: pd.DataFrame, last: pd.DataFrame, now: datetime, hours: dict[str, float]) -> dict:
    r"""The ``/api/health`` document from a :func:`prepare`\ d ledger since the longest window and the last
    successes per DAG and location."""
    frame = frame[frame["start"] <= pd.Timestamp(now)]
    runs = run_level(frame)
    fresh = freshness(last, now, hours)
    return {
        "generated_at": _iso(now),
        "stale_after_hours": hours,
        "windows": windows_stats(frame, runs, now),
        "freshness": fresh,
        "stale": [f for f in fresh if f["stale"]],
        "runs": run_series(runs),
        "drift_events": drift_events(frame),
        "percentiles": "linear interpolation between closest ranks; latency = first task start to last "
        "location finish of a DAG run",
    }
