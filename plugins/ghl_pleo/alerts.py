"""The text of the one alert per failed DAG run (sent by :class:`ghl_pleo.notify.RunFailureNotifier`).

From the run ledger when it can be read (:func:`build_alert`: every failed location with its error kind, error,
last HTTP exchange, counts and runbook; an outage across 500 locations is one alert, not 500), else from the
run's task states (:func:`tasks_alert`: which tasks failed). Delivery is :mod:`ghl_pleo.alert_channels`.
Pure text: no Airflow, no warehouse import (the notifier's fallback must work when those fail).
"""

from __future__ import annotations

import os
from collections import Counter

RUNBOOK = "README.md#runbook-{kind}"
# The README's "### Runbook: <section>" headings: every link an alert makes is to one of them (a test checks each
# resolves). An error kind without its own section links the internal-error one.
RUNBOOK_SECTIONS = (
    "authentication",
    "configuration",
    "rate-limit",
    "upstream-outage",
    "incomplete-read",
    "upstream-contract",
    "schema-drift",
    "data-quality",
    "drift-guard",
    "stale",
    "internal",
    "ledger-unreadable",
    "interrupted",
    "locked",
    "not-run",
)
# After this many incomplete reads in a row the alert stops calling it a glitch.
INCOMPLETE_STREAK = 3
INCOMPLETE_ADVICE = (
    "  {n} incomplete reads in a row: GHL's results.count may mean something else than the rows its listing "
    "serves (deleted or hidden tags counted, say). Compare the count in the sync_location runs' notes with what "
    "GET /social-media-posting/{{locationId}}/tags serves page by page; see the runbook."
)
KIND_TITLES = {
    "authentication": "authentication",
    "rate_limit": "rate limit",
    "upstream_outage": "upstream outage",
    "incomplete_read": "incomplete read",
    "upstream_contract": "upstream contract",
    "data_quality": "data quality",
    "drift_guard": "drift guard",
    "schema_drift": "schema drift",
    "configuration": "configuration",
    "internal": "internal error",
    "interrupted": "interrupted",
    "locked": "locked by another run",
    "not_run": "not run",
}
SHOWN_COUNTS = (
    "read",
    "created",
    "renamed",
    "archived",
    "unarchived",
    "unchanged",
    "rejected",
    "held",
    "profiles",
    "batches",
)
# Why Airflow failed the run (the callback context's ``reason``), as the alert says it.
REASONS = {
    "task_failure": "a task failed",
    "timed_out": "the run took longer than its dagrun_timeout: Airflow stopped its unfinished tasks",
}


def build_alert(
    dag_id: str,
    run_id: str,
    failed: list[dict],
    total: int,
    log_url: str | None = None,
    reason: str | None = None,
) -> tuple[str, str]:
    """Subject and body of the alert for one failed run, from its ledger.

    Args:
        failed: ``[{location_id, error_kind, error, counts?, requests?, streak?}]`` from the run summary
            (counts so far; requests with the last status and endpoint); a run-level step that did not finish
            has ``task`` (its task id) instead of a location.
        total: how many locations the run covered.
        log_url: where the run's logs are in the Airflow UI.
        reason: why Airflow failed the run (the callback's ``reason``); a timeout is said so.
    """
    kinds = Counter(f["error_kind"] for f in failed)
    kinds_text = ", ".join(f"{KIND_TITLES.get(k, k)}: {n}" for k, n in kinds.most_common())
    subject = f"[ghl-pleo] {dag_id} {_verb(reason)} for {_where(failed, total)}" + (
        f" ({kinds_text})" if kinds_text else ""
    )
    lines = [subject, "", f"Run: {run_id}"]
    if log_url:
        lines.append(f"Logs: {log_url}")
    if reason == "timed_out":
        lines.append(f"Why: {REASONS[reason]}")
    for f in failed:
        lines += ["", *_failure_lines(f)]
    return subject, "\n".join(lines)


def _verb(reason: str | None) -> str:
    return "timed out" if reason == "timed_out" else "failed"


def _where(failed: list[dict], total: int) -> str:
    locations = [f["location_id"] for f in failed if not f.get("task") and f["location_id"] != "*"]
    tasks = [f["task"] for f in failed if f.get("task")]
    parts = ["the run"] if any(f["location_id"] == "*" and not f.get("task") for f in failed) else []
    if len(locations) == 1:
        parts.append(locations[0])
    elif locations:
        parts.append(f"{len(locations)} of {total} locations")
    if tasks:
        parts.append("task " + ", ".join(tasks))
    return " and ".join(parts) or "no failed location"


def _failure_lines(f: dict) -> list[str]:
    """One failed location (or step): kind, error, the last HTTP exchanges, counts so far, Data Docs, runbook."""
    counts = f.get("counts") or {}
    reqs = f.get("requests") or {}
    last = [
        f"{api.upper()} {r.get('last_status')} {r.get('last_endpoint')}"
        for api, r in sorted(reqs.items())
        if r.get("last_endpoint")
    ]
    shown = {k: counts[k] for k in SHOWN_COUNTS if counts.get(k)}
    what = f"task {f['task']}" if f.get("task") else f"location {f['location_id']}"
    if f["location_id"] == "*" and not f.get("task"):
        what = "the run"
    lines = [f"- {what}: {KIND_TITLES.get(f['error_kind'], f['error_kind'])}", f"  error: {f['error']}"]
    if f.get("streak", 0) >= INCOMPLETE_STREAK:
        lines.append(INCOMPLETE_ADVICE.format(n=f["streak"]))
    if last:
        lines.append(f"  last HTTP: {'; '.join(last)}")
    if f["location_id"] != "*":
        lines.append(f"  counts so far: {shown or 'none'}")
    if counts.get("data_docs"):
        lines.append(f"  Data Docs: {docs_url_for(counts['data_docs'])}")
    lines.append(f"  runbook: {runbook_link(f['error_kind'])}")
    return lines


def tasks_alert(
    dag_id: str,
    run_id: str,
    tasks: dict[str, list[str]] | None,
    note: str,
    log_url: str | None = None,
    reason: str | None = None,
    runbook: str | None = None,
    last_task: str | None = None,
) -> tuple[str, str]:
    """A short alert naming the run's failed tasks, for when its ledger cannot be read (or it has none).

    Args:
        tasks: the tasks that did not succeed, by state (``{"failed": ["summarize"], "upstream_failed": [...]}``);
            None when the task states could not be read either.
        note: what this alert could not say, and why.
        last_task: the task Airflow handed to the callback (its last one), named when ``tasks`` is None.
    """
    failed = (tasks or {}).get("failed") or []
    what = ("task " + _some(failed)) if failed else (f"last task {last_task}" if last_task else "see the run")
    subject = f"[ghl-pleo] {dag_id} {_verb(reason)}: {what}"
    lines = [subject, "", f"Run: {run_id}"]
    if log_url:
        lines.append(f"Logs: {log_url}")
    lines += [f"Why: {REASONS.get(reason or '', reason or 'not given')}", "", note]
    if tasks is None:
        lines.append(
            "- the run's task states could not be read either"
            + (f"; the last task Airflow reported: {last_task}" if last_task else "")
        )
    for state, names in sorted((tasks or {}).items(), key=lambda kv: (kv[0] != "failed", kv[0])):
        lines.append(f"- {state.replace('_', ' ')}: {_some(names)}")
    if runbook:
        lines.append(f"runbook: {runbook_link(runbook)}")
    return subject, "\n".join(lines)


def runbook_link(kind: str) -> str:
    """The README runbook section for an error kind (``upstream_outage`` -> ``#runbook-upstream-outage``)."""
    section = kind.replace("_", "-")
    return RUNBOOK.format(kind=section if section in RUNBOOK_SECTIONS else "internal")


def _some(names: list[str], limit: int = 10) -> str:
    """Up to ``limit`` names, then how many more (a run of 500 locations does not list 500 tasks)."""
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def log_url_for(dag_id: str, run_id: str) -> str:
    base = os.environ.get("AIRFLOW__API__BASE_URL", "http://localhost:8080").rstrip("/")
    return f"{base}/dags/{dag_id}/runs/{run_id}"


def docs_url_for(site_url: str) -> str:
    """A Data Docs page (``file://`` on the worker) as served by the health dashboard at ``/ghl-pleo/data-docs``,
    so the link opens from any machine; unchanged when it is not under the Data Docs folder."""
    from urllib.parse import unquote, urlparse

    from ghl_pleo.quality import data_docs_dir

    path = unquote(urlparse(site_url).path) if site_url.startswith("file://") else site_url
    try:
        rel = os.path.relpath(path, data_docs_dir())
    except ValueError:
        return site_url
    if rel.startswith(".."):
        return site_url
    base = os.environ.get("AIRFLOW__API__BASE_URL", "http://localhost:8080").rstrip("/")
    return f"{base}/ghl-pleo/data-docs/{rel.replace(os.sep, '/')}"
