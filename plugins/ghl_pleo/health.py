"""Health from the run ledger: the dashboard's numbers, the stale-sync check and the retention cleanup.

Reads only the warehouse (``sync_location_runs``, ``sync_run_events``, ``stale_alerts``). The numbers are
computed by pure functions over ledger rows, so they can be checked on a seeded ledger without Airflow.
Dry runs are left out of every number: they write nothing, so they neither count as syncs nor as failures.
"""

from __future__ import annotations

import logging
import os
from datetime import UTC, datetime, timedelta

import pandas as pd

from ghl_pleo.constants import STATISTICS_DAG_ID, SYNC_DAG_IDS, TAGS_DAG_ID
from ghl_pleo.warehouse import TS_FORMAT, Warehouse, parse_ts

log = logging.getLogger("ghl_pleo.health")
DAG_IDS = SYNC_DAG_IDS
WINDOWS = {"24h": timedelta(hours=24), "7d": timedelta(days=7), "30d": timedelta(days=30)}
DEFAULT_STALE_HOURS = {TAGS_DAG_ID: 3.0, STATISTICS_DAG_ID: 36.0}
STALE_ENV = {TAGS_DAG_ID: "GHL_PLEO_STALE_HOURS_TAGS", STATISTICS_DAG_ID: "GHL_PLEO_STALE_HOURS_STATISTICS"}
RETENTION_ENV = "GHL_PLEO_LEDGER_RETENTION_DAYS"
DEFAULT_RETENTION_DAYS = 90.0
OK_STATUSES = ("success", "skipped")  # skipped: a location with nothing to sync (no social accounts) is not stale


def _env_number(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw in (None, ""):
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"Environment variable {name} must be a number, got {raw!r}.") from None
    if value <= 0:
        raise ValueError(f"Environment variable {name} must be above 0, got {raw!r}.")
    return value


def stale_hours() -> dict[str, float]:
    """Hours without a successful sync before a location is stale, per DAG (env overrides the 3 h / 36 h)."""
    return {dag: _env_number(STALE_ENV[dag], hours) for dag, hours in DEFAULT_STALE_HOURS.items()}


def retention_days() -> float:
    return _env_number(RETENTION_ENV, DEFAULT_RETENTION_DAYS)


def _iso(ts: datetime | None) -> str | None:
    return ts.strftime("%Y-%m-%dT%H:%M:%SZ") if ts else None


# reading the ledger ----------------------------------------------------------------------------
NUMERIC = [
    "duration_s",
    "records_read",
    "records_synced",
    "records_rejected",
    "requests_total",
    "retries",
    "min_ratelimit_remaining",
]


def load_ledger(warehouse: Warehouse, since: datetime) -> pd.DataFrame:
    """Real (not dry) ledger rows started since ``since``, typed: ``start``/``end`` timestamps, numbers."""
    return prepare(warehouse.health.runs_since(since))


def prepare(ledger: pd.DataFrame) -> pd.DataFrame:
    """Parse the ledger's columns once, vectorised (500 locations x 30 days of hourly runs is 360,000 rows)."""
    frame = ledger.copy()
    frame["start"] = pd.to_datetime(frame["started_at"], format=TS_FORMAT, utc=True, errors="coerce")
    frame["end"] = pd.to_datetime(frame["finished_at"], format=TS_FORMAT, utc=True, errors="coerce")
    for column in NUMERIC:
        frame[column] = pd.to_numeric(frame[column], errors="coerce")
    frame["done"] = frame["status"] != "running"
    frame["ok"] = frame["status"].isin(OK_STATUSES)
    frame["failed"] = frame["status"] == "failed"
    frame["running"] = ~frame["done"]
    return frame


def load_last_success(warehouse: Warehouse) -> pd.DataFrame:
    """Per DAG and location: the last successful real sync, the first time it was seen, the last status."""
    return warehouse.health.last_successes()


# pure computations -----------------------------------------------------------------------------
def run_level(frame: pd.DataFrame) -> pd.DataFrame:
    r"""One row per DAG run (from a :func:`prepare`\ d ledger): start, latency (first location start to last
    location end), status (running / failed if any location is, else success), records, headroom."""
    columns = [
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
    if frame.empty:
        return pd.DataFrame(columns=columns)
    runs = (
        frame.groupby(["dag_id", "run_id"], sort=False)
        .agg(
            started_at=("start", "min"),
            end=("end", "max"),
            locations=("status", "size"),
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
    return runs[columns].sort_values("started_at").reset_index(drop=True)


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


def window_stats(frame: pd.DataFrame, runs: pd.DataFrame) -> dict:
    """Per DAG and per location numbers over one window (``frame``/``runs`` already cut to it)."""
    dags = {}
    for dag_id in sorted(set(frame["dag_id"]) | set(DAG_IDS)):
        lrows = frame[frame["dag_id"] == dag_id]
        done = runs[(runs["dag_id"] == dag_id) & (runs["status"] != "running")]
        ldone = lrows[lrows["done"]]
        read, rejected = int(lrows["records_read"].sum()), int(lrows["records_rejected"].sum())
        succeeded = int((done["status"] == "success").sum())
        dags[dag_id] = {
            "runs": int(len(done)),
            "runs_succeeded": succeeded,
            "success_rate": _rate(succeeded, len(done)),
            "location_runs": int(len(ldone)),
            "location_success_rate": _rate(int(ldone["ok"].sum()), len(ldone)),
            "latency_p50_s": _pct(done["latency_s"].astype(float), 0.5),
            "latency_p95_s": _pct(done["latency_s"].astype(float), 0.95),
            "records_synced": int(lrows["records_synced"].sum()),
            "records_synced_per_run": round(float(done["records_synced"].astype(float).mean()), 2)
            if len(done)
            else None,
            "records_read": read,
            "records_rejected": rejected,
            "rejected_share": _share(rejected, read),
            "drift_events": _flags(lrows["drift_flags"].dropna()),
            "retries": int(lrows["retries"].sum()),
            "min_ratelimit_remaining": _int(lrows["min_ratelimit_remaining"].min()),
        }
    locations = []
    if len(frame):
        keys = ["dag_id", "location_id"]
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
        flagged = frame[frame["drift_flags"].notna()]
        drift = {k: _flags(g) for k, g in flagged.groupby(keys)["drift_flags"]} if len(flagged) else {}
        for (dag_id, location_id), r in per.iterrows():
            read, rejected = int(r["records_read"]), int(r["records_rejected"])
            locations.append(
                {
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
                    "drift_events": drift.get((dag_id, location_id), {}),
                    "min_ratelimit_remaining": _int(r["min_rem"]),
                }
            )
    return {"dags": dags, "locations": locations}


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


def health(warehouse: Warehouse, now: datetime | None = None, hours: dict[str, float] | None = None) -> dict:
    """Everything the dashboard shows, as JSON-ready data (the ``/api/health`` document)."""
    now = now or datetime.now(UTC)
    hours = hours or stale_hours()
    frame = load_ledger(warehouse, now - max(WINDOWS.values()))
    frame = frame[frame["start"] <= pd.Timestamp(now)]
    runs = run_level(frame)
    windows = {}
    for name, span in WINDOWS.items():
        cut = pd.Timestamp(now - span)
        windows[name] = window_stats(
            frame[frame["start"] >= cut], runs[runs["started_at"] >= cut] if len(runs) else runs
        )
    fresh = freshness(load_last_success(warehouse), now, hours)
    series = [
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
    flagged = frame[frame["drift_flags"].notna()]
    events = [
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
    return {
        "generated_at": _iso(now),
        "stale_after_hours": hours,
        "windows": windows,
        "freshness": fresh,
        "stale": [f for f in fresh if f["stale"]],
        "runs": series,
        "drift_events": events,
        "percentiles": "linear interpolation between closest ranks; latency = first task start to last "
        "location finish of a DAG run",
    }


# stale-sync alerts -----------------------------------------------------------------------------
def stale_to_alert(
    fresh: list[dict], alerted: dict[tuple[str, str], str], configured: list[str] | None = None
) -> tuple[list[dict], list[tuple[str, str]]]:
    """Which stale locations to alert now, and which alert records to drop (their stale period is over).

    ``alerted`` maps (dag, location) to the last success an alert was already sent for: one stale period is
    one alert. ``configured`` (the ``ghl_location_ids`` list, when set) leaves out locations no longer synced.
    """
    keep = set(configured) if configured else None
    new, over = [], []
    for f in fresh:
        key = (f["dag_id"], f["location_id"])
        if keep is not None and f["location_id"] not in keep:
            continue
        marker = f["last_success_at"] or ""
        if f["stale"]:
            if alerted.get(key) != marker:
                new.append(f)
        elif key in alerted:
            over.append(key)
    return new, over


def stale_alert_text(new: list[dict]) -> tuple[str, str]:
    by_dag: dict[str, list[dict]] = {}
    for f in new:
        by_dag.setdefault(f["dag_id"], []).append(f)
    parts = [f"{dag_id}: {len(items)}" for dag_id, items in sorted(by_dag.items())]
    subject = f"[ghl-pleo] {len(new)} location(s) not synced within the stale limit ({', '.join(parts)})"
    lines = [
        subject,
        "",
        "No successful sync for longer than the limit (one alert per stale period; the next "
        "one only after the location has synced again and gone stale again).",
    ]
    for dag_id, items in sorted(by_dag.items()):
        lines += ["", f"{dag_id} (stale after {items[0]['stale_after_hours']:g} h):"]
        for f in items:
            last = (
                f"last success {f['last_success_at']} ({f['hours_since_success']:.1f} h ago)"
                if f["last_success_at"]
                else "never synced successfully"
            )
            lines.append(f"- location {f['location_id']}: {last}; last run started {f['last_run_at']}")
    lines += [
        "",
        "What to do: open the DAG's latest runs in the Airflow UI (is it paused, failing, or not "
        "scheduled?), then the health dashboard (Browse > GHL-Pleo health). Runbook: README.md#runbook-stale",
    ]
    return subject, "\n".join(lines)


def check_stale(
    warehouse: Warehouse,
    now: datetime | None = None,
    hours: dict[str, float] | None = None,
    configured: list[str] | None = None,
    send=None,
) -> dict:
    """Alert (through ``send(subject, body)``) the locations that went stale since the last check; once each."""
    now = now or datetime.now(UTC)
    fresh = freshness(load_last_success(warehouse), now, hours or stale_hours())
    alerted = warehouse.health.stale_alerts()
    new, over = stale_to_alert(fresh, alerted, configured)
    channels: list[str] = []
    if new:
        subject, body = stale_alert_text(new)
        log.warning("%s", body)
        channels = send(subject, body) if send else []
    # a new period replaces its row; an ended one loses it
    warehouse.health.record_stale_alerts(
        [(f["dag_id"], f["location_id"], f["last_success_at"] or "") for f in new], over
    )
    still = sum(1 for f in fresh if f["stale"]) - len(new)
    log.info(
        "Stale check: %d location(s) checked, %d newly stale (alerted through %s), %d still stale (alerted "
        "before), %d recovered",
        len(fresh),
        len(new),
        ", ".join(channels) or "no channel",
        max(still, 0),
        len(over),
    )
    return {
        "checked": len(fresh),
        "alerted": [f"{f['dag_id']}:{f['location_id']}" for f in new],
        "still_stale": max(still, 0),
        "recovered": len(over),
    }
