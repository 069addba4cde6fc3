"""One alert per failed DAG run, by email (SMTP) and/or Slack (incoming webhook).

Sent by the run's ``summarize`` task, the one place that knows every failed
location: an outage across 500 locations is one alert, not 500. Channels are
Airflow connections: ``ghl_pleo_smtp`` (conn_type smtp: host, port, login,
password; extra ``from``, ``to`` (list or comma-separated), ``starttls``) and
``ghl_pleo_slack`` (the webhook URL as ``host``, or as ``password``). With
neither configured the alert is logged and nothing crashes.
"""

from __future__ import annotations

import logging
import os
import smtplib
from collections import Counter
from email.message import EmailMessage
from typing import Any

import requests

from ghl_pleo.errors import redact

log = logging.getLogger("ghl_pleo.alerts")
SMTP_CONN = "ghl_pleo_smtp"
SLACK_CONN = "ghl_pleo_slack"
RUNBOOK = "README.md#runbook-{kind}"
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


def build_alert(
    dag_id: str, run_id: str, failed: list[dict], total: int, log_url: str | None = None
) -> tuple[str, str]:
    """Subject and body of the alert for one failed run.

    Args:
        failed: ``[{location_id, error_kind, error, counts?, requests?}]`` from the run summary
            (counts so far; requests with the last status and endpoint).
        total: how many locations the run covered.
        log_url: where the run's logs are in the Airflow UI.
    """
    kinds = Counter(f["error_kind"] for f in failed)
    kinds_text = ", ".join(f"{KIND_TITLES.get(k, k)}: {n}" for k, n in kinds.most_common())
    where = failed[0]["location_id"] if len(failed) == 1 else f"{len(failed)} of {total} locations"
    subject = f"[ghl-pleo] {dag_id} failed for {where} ({kinds_text})"
    lines = [subject, "", f"Run: {run_id}"]
    if log_url:
        lines.append(f"Logs: {log_url}")
    for f in failed:
        counts = f.get("counts") or {}
        reqs = f.get("requests") or {}
        last = [
            f"{api.upper()} {r.get('last_status')} {r.get('last_endpoint')}"
            for api, r in sorted(reqs.items())
            if r.get("last_endpoint")
        ]
        shown = {
            k: counts[k]
            for k in (
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
            if counts.get(k)
        }
        lines += [
            "",
            f"- location {f['location_id']}: {KIND_TITLES.get(f['error_kind'], f['error_kind'])}",
            f"  error: {f['error']}",
        ]
        if f.get("streak", 0) >= INCOMPLETE_STREAK:
            lines.append(INCOMPLETE_ADVICE.format(n=f["streak"]))
        if last:
            lines.append(f"  last HTTP: {'; '.join(last)}")
        lines.append(f"  counts so far: {shown or 'none'}")
        if counts.get("data_docs"):
            lines.append(f"  Data Docs: {docs_url_for(counts['data_docs'])}")
        lines.append(f"  runbook: {RUNBOOK.format(kind=f['error_kind'].replace('_', '-'))}")
    return subject, "\n".join(lines)


def _connection(conn_id: str) -> Any | None:
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        return BaseHook.get_connection(conn_id)
    except AirflowNotFoundException:
        return None


def send_alert(subject: str, body: str) -> list[str]:
    """Send through every configured channel; return the channels used. Never raises for a channel's failure."""
    subject, body = redact(subject), redact(body)  # no token this process knows ever leaves in an alert
    used: list[str] = []
    smtp = _connection(SMTP_CONN)
    if smtp is not None:
        try:
            extra = smtp.extra_dejson or {}
            to = extra.get("to") or []
            to = [t.strip() for t in to.split(",")] if isinstance(to, str) else list(to)
            msg = EmailMessage()
            msg["Subject"], msg["From"], msg["To"] = subject, extra.get("from", "ghl-pleo@localhost"), ", ".join(to)
            msg.set_content(body)
            with smtplib.SMTP(smtp.host, int(smtp.port or 25), timeout=30) as client:
                if extra.get("starttls"):
                    client.starttls()
                if smtp.login:
                    client.login(smtp.login, smtp.password or "")
                client.send_message(msg)
            used.append("email")
        except Exception as exc:  # an alert channel failing must not hide the run's own failure
            log.error("Alert email through connection %s failed: %s", SMTP_CONN, type(exc).__name__)
    slack = _connection(SLACK_CONN)
    if slack is not None:
        url = slack.host if (slack.host or "").startswith("http") else slack.password
        try:
            resp = requests.post(url, json={"text": body}, timeout=30)
            resp.raise_for_status()
            used.append("slack")
        except Exception as exc:
            log.error("Alert to Slack through connection %s failed: %s", SLACK_CONN, type(exc).__name__)
    if smtp is None and slack is None:
        log.warning(
            "No alert channel configured (connections %s / %s): the failure is only in the Airflow UI. "
            "Alert that would have been sent:\n%s",
            SMTP_CONN,
            SLACK_CONN,
            body,
        )
    return used


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
