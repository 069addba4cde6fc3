"""Alert delivery through the providers' hooks: the one way an alert leaves ghl-pleo.

Email goes through the SMTP provider's ``SmtpHook`` (it connects, starts TLS, logs in) with the connection
``ghl_pleo_smtp`` (conn_type ``smtp``), as a plain-text message (the alert is text; the hook's own senders, and
``SmtpNotifier``, send HTML only). Slack goes through ``SlackWebhookNotifier`` (``SlackWebhookHook``) with
``ghl_pleo_slack`` (conn_type ``slackwebhook``: the webhook URL, or its token with the host, in the password).
Email recipients come from the variable ``ghl_pleo_alert_recipients`` (a JSON list), else from the connection's
``extra.to`` (list or comma-separated). TLS is the hook's: STARTTLS with ``disable_ssl``, implicit TLS with
``disable_tls``; the server's certificate is always verified (``ssl_context: "none"`` is refused); plain SMTP only
when the connection turns off both.

A channel that is not configured is skipped with a log line; one that fails is logged (the error's type, never
its text, which may hold a URL or a password) and the other is still used; with neither the alert text is logged.
Nothing here raises: an alert that cannot be sent must not hide the failure it reports. Both the failed-run
notifier and the health DAG's stale alert send through :func:`deliver`.
"""

from __future__ import annotations

import json
import logging
from email.message import EmailMessage
from email.utils import formatdate
from typing import Any

from ghl_pleo.errors import redact

log = logging.getLogger("ghl_pleo.alerts")
SMTP_CONN = "ghl_pleo_smtp"
SLACK_CONN = "ghl_pleo_slack"
RECIPIENTS_VAR = "ghl_pleo_alert_recipients"
DEFAULT_FROM = "ghl-pleo@localhost"


class AlertChannelError(Exception):
    """A channel's connection cannot be used as it is; the message says what to change (and holds no secret)."""


def deliver(subject: str, body: str) -> list[str]:
    """Send through every configured channel; return the channels that took the alert."""
    subject, body = redact(subject), redact(body)  # no token this process knows ever leaves in an alert
    smtp, slack = _connection(SMTP_CONN), _connection(SLACK_CONN)
    used: list[str] = []
    for name, conn_id, conn, send in (
        ("email", SMTP_CONN, smtp, _send_email),
        ("slack", SLACK_CONN, slack, _send_slack),
    ):
        if conn is None:
            log.info("Alert %s skipped: no connection %s", name, conn_id)
            continue
        try:
            send(conn, subject, body)
            used.append(name)
        except AlertChannelError as exc:
            log.error("Alert %s through connection %s not sent: %s", name, conn_id, exc)
        except Exception as exc:  # one channel failing must not stop the other, nor hide the run's own failure
            log.error("Alert %s through connection %s failed: %s", name, conn_id, type(exc).__name__)
    if smtp is None and slack is None:
        log.warning(
            "No alert channel configured (connections %s / %s): the failure is only in the Airflow UI. "
            "Alert that would have been sent:\n%s",
            SMTP_CONN,
            SLACK_CONN,
            body,
        )
    log.info("Alert sent through %s", ", ".join(used) or "no channel")
    return used


def _connection(conn_id: str) -> Any | None:
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        return BaseHook.get_connection(conn_id)
    except AirflowNotFoundException:
        return None
    except Exception as exc:  # a secrets backend or the supervisor failing: the channel is unusable, not the alert
        log.error("Connection %s could not be read: %s", conn_id, type(exc).__name__)
        return None


def recipients(extra: dict) -> list[str]:
    """The variable ``ghl_pleo_alert_recipients`` (a JSON list of addresses), else the connection's ``to``.

    A variable that is not a non-empty JSON list of addresses is logged and ignored (the connection's ``to``
    is used), so a typo in it does not silence the alert."""
    raw = _variable(RECIPIENTS_VAR)
    if raw not in (None, ""):
        parsed = _address_list(raw)
        if parsed:
            return parsed
        log.error(
            'Variable %s must be a JSON list of email addresses, such as ["oncall@example.com"]; got %.80r. '
            "Using connection %s's extra.to instead.",
            RECIPIENTS_VAR,
            raw,
            SMTP_CONN,
        )
    to = extra.get("to") or []
    if isinstance(to, str):
        to = to.split(",")
    return [t.strip() for t in to if isinstance(t, str) and t.strip()] if isinstance(to, list) else []


def _variable(key: str) -> str | None:
    from airflow.sdk import Variable

    try:
        return Variable.get(key, default=None)
    except Exception as exc:
        log.error(
            "Variable %s could not be read (%s); using connection %s's extra.to", key, type(exc).__name__, SMTP_CONN
        )
        return None


def _address_list(raw: str) -> list[str] | None:
    try:
        value = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(value, list) or not value:
        return None
    if not all(isinstance(v, str) and "@" in v and v.strip() == v for v in value):
        return None
    return value


def _send_email(conn, subject: str, body: str) -> None:
    from airflow.providers.smtp.hooks.smtp import SmtpHook

    extra = conn.extra_dejson or {}
    if extra.get("ssl_context") == "none":
        raise AlertChannelError(
            'extra ssl_context "none" (TLS without checking the server\'s certificate) is refused: remove it, and '
            "if the server's certificate comes from your own CA, add that CA to the file SSL_CERT_FILE names."
        )
    _tls_warnings(extra)
    to = recipients(extra)
    if not to:
        raise AlertChannelError(f"no recipients: set the variable {RECIPIENTS_VAR} or the connection's extra.to")
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = extra.get("from_email") or extra.get("from") or DEFAULT_FROM
    message["To"] = ", ".join(to)
    message["Date"] = formatdate(localtime=True)
    message.set_content(body)
    # The hook connects, starts TLS as the connection says (verified), logs in and closes. Its own senders (and
    # SmtpNotifier's) only send an HTML part; the alert is plain text, so the hook's open client sends it as such.
    with SmtpHook(smtp_conn_id=SMTP_CONN) as hook:
        hook._smtp_client.send_message(message, to_addrs=to)


def _tls_warnings(extra: dict) -> None:
    """The SMTP hook's TLS switches, said plainly when they are set in a way that fails or sends in clear."""
    ssl_off, starttls_off = bool(extra.get("disable_ssl")), bool(extra.get("disable_tls"))
    if "starttls" in extra and not ssl_off:
        log.warning(
            "Connection %s: extra 'starttls' is no longer read; for STARTTLS set 'disable_ssl': true.", SMTP_CONN
        )
    if not ssl_off and not starttls_off:
        log.warning(
            "Connection %s sets neither disable_ssl nor disable_tls: the provider's SMTP hook then starts TLS twice "
            "(implicit TLS, then STARTTLS), which mail servers refuse. Set 'disable_tls': true for implicit TLS "
            "(port 465) or 'disable_ssl': true for STARTTLS (port 587).",
            SMTP_CONN,
        )
    if ssl_off and starttls_off:
        log.warning("Connection %s turns TLS off (disable_ssl and disable_tls): the alert goes in clear.", SMTP_CONN)


def _send_slack(conn, subject: str, body: str) -> None:
    from airflow.providers.slack.notifications.slack_webhook import SlackWebhookNotifier

    if not (conn.password or "").strip():
        raise AlertChannelError(
            "no webhook in the password field: give the connection conn_type slackwebhook and the webhook URL "
            "(https://hooks.slack.com/services/...) as its password (the URL as host alone is no longer read)"
        )
    # Slack reads &, < and > as markup: escaped as its message-formatting guide asks.
    text = body.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    SlackWebhookNotifier(slack_webhook_conn_id=SLACK_CONN, text=text, timeout=30).notify({})
