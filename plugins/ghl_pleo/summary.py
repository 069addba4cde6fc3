"""Run summaries: what each location read, changed, rejected and skipped, from the warehouse ledger."""

from __future__ import annotations

import socket
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit

from ghl_pleo.constants import SPEND_DAG_ID, STATISTICS_DAG_ID, TAGS_DAG_ID
from ghl_pleo.warehouse import Warehouse

# (column header, counts key) per DAG
COLUMNS = {
    TAGS_DAG_ID: [
        ("read", "read"),
        ("created", "created"),
        ("renamed", "renamed"),
        ("archived", "archived"),
        ("unarchived", "unarchived"),
        ("unchanged", "unchanged"),
        ("rejected", "rejected"),
        ("held", "held"),
        ("dupl.", "duplicates"),
        ("gone", "gone"),
        ("dim.values", "values_written"),
    ],
    STATISTICS_DAG_ID: [
        ("profiles", "profiles"),
        ("batches", "batches"),
        ("posts", "posts"),
        ("likes", "likes"),
        ("followers", "followers"),
        ("impressions", "impressions"),
        ("reach", "reach"),
        ("metadata", "metadata_written"),
    ],
    SPEND_DAG_ID: [
        ("spend 7d", "spend_7d"),
        ("impr. 7d", "impressions_7d"),
        ("per 1k", "cost_per_1k_impressions_7d"),
        ("budget %", "budget_used_pct"),
        ("suggested", "suggestions"),
        ("metadata", "metadata_written"),
    ],
}


def run_summary(warehouse: Warehouse, dag_id: str, run_id: str, expected: list[str]) -> tuple[str, list[dict]]:
    """A short table per location plus totals, notes and failures; and the failed locations (with their
    ledger counts and requests, for the alert)."""
    columns = COLUMNS.get(dag_id, COLUMNS[TAGS_DAG_ID])
    rows = {r["location_id"]: r for r in warehouse.ledger.location_runs(dag_id, run_id)}
    dry = any(r.get("dry_run") for r in rows.values())
    width = max([8, *(len(r["status"]) for r in rows.values())])  # "skipped_locked" widens the column
    table, totals, failed, docs = _location_table(rows, expected, columns, width)
    lines = [_title(dag_id, run_id, dry), _head(columns, width), *table, _totals_line(totals, columns, width)]
    lines += [_writes_line(dag_id, totals, dry), change_line(warehouse, dag_id, run_id, dry)]
    lines += _notes(warehouse, dag_id, run_id, docs)
    lines += _failure_lines(failed)
    return "\n".join(lines), failed


def _title(dag_id: str, run_id: str, dry: bool) -> str:
    return f"Run summary for {dag_id} {run_id}" + (
        " (DRY RUN: nothing was written to Pleo; the counts are what the run would have written)" if dry else ""
    )


def _head(columns: list[tuple[str, str]], width: int) -> str:
    return (
        f"{'location':<24} {'status':<{width}} "
        + " ".join(f"{h:>10}" for h, _ in columns)
        + f" {'GHL req':>8} {'Pleo req':>8}"
    )


def _location_table(
    rows: dict[str, dict], expected: list[str], columns: list[tuple[str, str]], width: int
) -> tuple[list[str], Counter, list[dict], set[str]]:
    """A line per location (``expected``, or every one that ran), the totals of the columns and requests, the
    failed locations (those that did not run included) and the Data Docs pages the runs wrote."""
    lines: list[str] = []
    totals: Counter = Counter()
    failed = []
    docs = set()
    for location_id in expected or sorted(rows):
        r = rows.get(location_id)
        if r is None:
            lines.append(f"{location_id:<24} {'not run':<{width}}")
            failed.append({"location_id": location_id, "error_kind": "not_run", "error": "task did not run"})
            continue
        if r["counts"].get("data_docs"):
            docs.add(r["counts"]["data_docs"])
        lines.append(_location_line(location_id, r, columns, totals, width))
        if r["status"] in ("failed", "running"):
            failed.append(_failure(location_id, r))
    return lines, totals, failed, docs


def failures(warehouse: Warehouse, dag_id: str, run_id: str, expected: list[str] | None) -> tuple[list[dict], int]:
    """The run's failed locations, for its alert, and how many locations it covered: ``expected`` (the run's
    location list) where known, else every location with a ledger row. A location of ``expected`` without a row
    did not run; an ``incomplete_read`` carries its streak (how many runs in a row it happened)."""
    rows = {r["location_id"]: r for r in warehouse.ledger.location_runs(dag_id, run_id)}
    failed = []
    for location_id in expected or sorted(rows):
        r = rows.get(location_id)
        if r is None:
            failed.append({"location_id": location_id, "error_kind": "not_run", "error": "task did not run"})
        elif r["status"] in ("failed", "running"):
            failed.append(_failure(location_id, r))
    for f in failed:
        if f["error_kind"] == "incomplete_read":
            f["streak"] = warehouse.ledger.error_streak(dag_id, f["location_id"], "incomplete_read")
    return failed, len(expected or rows)


STEP_EFFECTS = {
    "ensure_groups": "no tag group was checked, so no location synced",
    "write_metadata": "Pleo's group metadata was not written",
    "summarize": "the run summary was not made (no location failed: each one's result is in the ledger)",
}


def step_failure(task_id: str, state: str = "failed", kind: str = "not_run") -> dict:
    """A run-level step (the location list, ensure_groups, the metadata write, the summary) that did not finish."""
    what = STEP_EFFECTS.get(task_id, "no location was synced")
    return {
        "location_id": "*",
        "task": task_id,
        "error_kind": kind,
        "error": f"task {task_id} {state.replace('_', ' ')}: {what}; see its log",
    }


def _failure(location_id: str, r: dict) -> dict:
    """A failed location for the alert. A row still at ``running`` once its task ended (the summary runs after
    every location task) belongs to a try that was killed before it could close the row: a failure too."""
    killed = r["status"] == "running"
    return {
        "location_id": location_id,
        "error_kind": "interrupted" if killed else r["error_kind"],
        "error": "the task ended without closing its ledger row (killed?); see its log" if killed else r["error"],
        "counts": r["counts"],
        "requests": r["requests"],
    }


def _location_line(location_id: str, r: dict, columns: list[tuple[str, str]], totals: Counter, width: int) -> str:
    """One location's line of the table; its counts and requests are added to ``totals``."""
    c, q = r["counts"], r["requests"]
    ghl_n = q.get("ghl", {}).get("total_requests", 0)
    pleo_n = q.get("pleo", {}).get("total_requests", 0)
    raw = [c.get(k, 0) for _, k in columns]
    # a figure the run recorded as unknown (a cost without impressions) is "–", never 0; a missing count is 0
    values = ["–" if v is None and k in c else v or 0 for (_, k), v in zip(columns, raw, strict=True)]
    # text figures (spend as a decimal, a ratio) and unknown ones (None) have no total: only numbers are added
    totals.update({k: v for (_, k), v in zip(columns, raw, strict=True) if isinstance(v, (int, float))})
    totals["ghl"] += ghl_n
    totals["pleo"] += pleo_n
    totals["groups_created"] += c.get("groups_created", 0) or 0  # made by the location's task after its read
    return (
        f"{location_id:<24} {r['status']:<{width}} "
        + " ".join(f"{_fmt(v):>10}" for v in values)
        + f" {ghl_n:>8} {pleo_n:>8}"
    )


def _totals_line(totals: Counter, columns: list[tuple[str, str]], width: int) -> str:
    return (
        f"{'TOTAL':<24} {'':<{width}} "
        + " ".join(f"{_fmt(totals[k]) if k in totals else '':>10}" for _, k in columns)
        + f" {totals['ghl']:>8} {totals['pleo']:>8}"
    )


def _writes_line(dag_id: str, totals: Counter, dry: bool) -> str:
    """The writes the counts add up to: tags and dimension values (tags DAG), or group metadata (statistics)."""
    if dag_id == TAGS_DAG_ID:
        tag_writes = sum(totals[k] for k in ("created", "renamed", "archived", "unarchived", "gone"))
        groups = f"{totals['groups_created']} tag group writes, " if totals["groups_created"] else ""
        return (
            f"{'Planned changes' if dry else 'Changes'}: {groups}{tag_writes} tag writes, "
            f"{totals['values_written']} dimension-value writes"
            + (" (no changes)" if tag_writes + totals["groups_created"] + totals["values_written"] == 0 else "")
        )
    return f"{'Planned changes' if dry else 'Changes'}: {totals['metadata_written']} group metadata writes" + (
        " (no changes)" if totals["metadata_written"] == 0 else ""
    )


def _notes(warehouse: Warehouse, dag_id: str, run_id: str, docs: set[str]) -> list[str]:
    """Where the Data Docs are, then the run's notes (events) per location."""
    lines = [docs_line(d) for d in sorted(docs)]
    for e in warehouse.ledger.events(dag_id, run_id):
        lines.append(f"note: location {e['location_id']}: {e['event']}: {e['detail']}")
    return lines


def docs_line(site_url: str) -> str:
    """Where to open a Data Docs page: the dashboard's link when an Airflow api-server answers at its base URL
    (``make ui``, a deployment), else the file itself (``make run`` starts no server)."""
    from ghl_pleo.alerts import docs_url_for

    served = docs_url_for(site_url)
    local = site_url if "://" in site_url else Path(site_url).resolve().as_uri()
    if served == site_url:  # not under the Data Docs folder: only the file is known
        return f"Data Docs: {local}"
    if server_answers(served):
        return f"Data Docs: {served} (on this machine: {local})"
    base = served.split("/ghl-pleo/", 1)[0]
    return f"Data Docs: {local} (no Airflow api-server answers at {base}; `make ui` serves them there)"


def server_answers(url: str, timeout_s: float = 0.5) -> bool:
    """Whether something accepts a TCP connection at the URL's host and port (a short, cheap check)."""
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection((parts.hostname or "localhost", port), timeout=timeout_s):
            return True
    except OSError:
        return False


def _failure_lines(failed: list[dict]) -> list[str]:
    return [f"FAILED: location {f['location_id']} ({f['error_kind']}): {f['error']}" for f in failed]


ENTITY_TITLES = (
    ("tag_group", "tag groups"),
    ("tag", "tags"),
    ("dimension", "dimensions"),
    ("dimension_value", "dimension values"),
    ("group_metadata", "group metadata"),
)


def change_line(warehouse: Warehouse, dag_id: str, run_id: str, dry: bool) -> str:
    """The run's change log in one line: "Plan (dry run): would create 12, rename 3, archive 1 tags; ..."."""
    rows = warehouse.ledger.change_counts(dag_id, run_id)
    by_entity: dict[str, dict[str, int]] = {}
    for r in rows:
        by_entity.setdefault(r["entity"], {})[r["action"]] = int(r["n"])
    order = ("create", "rename", "update", "archive", "unarchive", "archive_duplicate")
    parts = []
    for entity, title in ENTITY_TITLES:
        actions = by_entity.get(entity)
        if actions:
            ranked = sorted(actions.items(), key=lambda kv: (order.index(kv[0]) if kv[0] in order else 99, kv[0]))
            parts.append(", ".join(f"{a.replace('_', ' ')} {n}" for a, n in ranked) + f" {title}")
    if dry:
        return "Plan (dry run): " + ("would " + "; ".join(parts) if parts else "nothing to write")
    return "Change log: " + ("; ".join(parts) if parts else "no Pleo writes") + " (pleo_change_log)"


def _fmt(v) -> str:
    if isinstance(v, float):
        return str(int(v)) if v.is_integer() else f"{v:.1f}"
    return str(v)
