"""Alert delivery through the providers' SMTP and Slack-webhook notifiers, against a local mail server (TLS with its
own certificate authority) and a local webhook receiver: verified TLS, recipients from the variable or the
connection, one channel failing while the other still gets the alert, secrets redacted."""

from __future__ import annotations

import json
import logging

import pytest

from ghl_pleo.alert_channels import deliver, recipients
from ghl_pleo.errors import learn_secret
from tests.receivers import SmtpReceiver, WebhookReceiver, mail_text
from tests.tls import make_authority

SUBJECT = "[ghl-pleo] ghl_pleo_tags_sync failed for L1 (authentication: 1)"
BODY = f"{SUBJECT}\n\nRun: run-1\n\n- location L1: authentication\n  error: GHL said <401> & more"


@pytest.fixture(scope="module")
def trusted(tmp_path_factory):
    return make_authority(tmp_path_factory.mktemp("trusted-ca"))


@pytest.fixture(scope="module")
def stranger(tmp_path_factory):
    """Another CA, which the process does not trust."""
    return make_authority(tmp_path_factory.mktemp("unknown-ca"), name="someone else's CA")


@pytest.fixture
def hook(monkeypatch):
    receiver = WebhookReceiver()
    monkeypatch.setenv(
        "AIRFLOW_CONN_GHL_PLEO_SLACK", json.dumps({"conn_type": "slackwebhook", "password": receiver.url})
    )
    yield receiver
    receiver.stop()


def smtp_conn(monkeypatch, port: int, **extra) -> None:
    extra = {"from_email": "ghl-pleo@example.com", "to": ["oncall@example.com"], **extra}
    conn = {"conn_type": "smtp", "host": "127.0.0.1", "port": port, "extra": extra}
    monkeypatch.setenv("AIRFLOW_CONN_GHL_PLEO_SMTP", json.dumps(conn))


def serve(authority, tls: str) -> SmtpReceiver:
    return SmtpReceiver(tls=tls, cert_file=authority.cert_file, key_file=authority.key_file)


@pytest.mark.parametrize("tls", ["starttls", "implicit"])
def test_the_alert_goes_by_verified_tls_email_and_to_slack(monkeypatch, trusted, hook, tls):
    smtp = serve(trusted, tls)
    monkeypatch.setenv("SSL_CERT_FILE", str(trusted.ca_file))
    smtp_conn(monkeypatch, smtp.port, **({"disable_ssl": True} if tls == "starttls" else {"disable_tls": True}))
    try:
        assert deliver(SUBJECT, BODY) == ["email", "slack"]
    finally:
        smtp.stop()
    (mail,) = smtp.messages
    assert mail["Subject"] == SUBJECT and mail["From"] == "ghl-pleo@example.com"
    assert mail.get_content_type() == "text/plain"  # the alert is text: one plain part, readable by any client
    assert mail_text(mail) == BODY and not mail.is_multipart()
    assert smtp.envelopes == [("ghl-pleo@example.com", ["oncall@example.com"])]
    (post,) = hook.posts
    assert post["text"] == BODY.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def test_a_server_whose_certificate_is_not_from_a_trusted_ca_gets_no_mail(monkeypatch, trusted, stranger, hook, caplog):
    smtp = serve(stranger, "starttls")
    monkeypatch.setenv("SSL_CERT_FILE", str(trusted.ca_file))
    smtp_conn(monkeypatch, smtp.port, disable_ssl=True)
    try:
        with caplog.at_level(logging.INFO, logger="ghl_pleo.alerts"):
            assert deliver(SUBJECT, BODY) == ["slack"]  # the other channel still gets it
    finally:
        smtp.stop()
    assert smtp.messages == [] and smtp.tls_failures == 1
    assert "Alert email through connection ghl_pleo_smtp failed: SSLCertVerificationError" in caplog.text
    assert len(hook.posts) == 1


def test_tls_without_checking_the_certificate_is_refused(monkeypatch, stranger, caplog):
    smtp = serve(stranger, "starttls")
    smtp_conn(monkeypatch, smtp.port, disable_ssl=True, ssl_context="none")
    try:
        assert deliver(SUBJECT, BODY) == []
    finally:
        smtp.stop()
    assert smtp.messages == [] and smtp.tls_failures == 0  # refused before connecting
    assert 'ssl_context "none"' in caplog.text and "SSL_CERT_FILE" in caplog.text


def test_plain_smtp_only_when_the_connection_turns_both_tls_modes_off(monkeypatch, caplog):
    smtp = SmtpReceiver()
    smtp_conn(monkeypatch, smtp.port, disable_ssl=True, disable_tls=True)
    try:
        assert deliver(SUBJECT, BODY) == ["email"]
    finally:
        smtp.stop()
    assert len(smtp.messages) == 1 and "the alert goes in clear" in caplog.text


def test_the_recipients_variable_wins_over_the_connections_to(monkeypatch):
    monkeypatch.setenv("AIRFLOW_VAR_GHL_PLEO_ALERT_RECIPIENTS", '["oncall@example.com", "data@example.com"]')
    assert recipients({"to": ["old@example.com"]}) == ["oncall@example.com", "data@example.com"]


@pytest.mark.parametrize("value", ["oncall@example.com", "[]", '{"to": "a@example.com"}', '["not an address"]'])
def test_a_bad_recipients_variable_is_logged_and_the_connections_to_is_used(monkeypatch, caplog, value):
    monkeypatch.setenv("AIRFLOW_VAR_GHL_PLEO_ALERT_RECIPIENTS", value)
    assert recipients({"to": "a@example.com, b@example.com"}) == ["a@example.com", "b@example.com"]
    assert "Variable ghl_pleo_alert_recipients must be a JSON list of email addresses" in caplog.text


def test_without_recipients_no_mail_is_attempted_and_that_is_logged(monkeypatch, caplog):
    smtp = SmtpReceiver()
    smtp_conn(monkeypatch, smtp.port, disable_ssl=True, disable_tls=True, to=[])
    try:
        assert deliver(SUBJECT, BODY) == []
    finally:
        smtp.stop()
    assert smtp.messages == [] and "no recipients: set the variable ghl_pleo_alert_recipients" in caplog.text


def test_an_http_connection_with_the_url_as_host_is_refused_with_what_to_change(monkeypatch, caplog):
    receiver = WebhookReceiver()
    monkeypatch.setenv("AIRFLOW_CONN_GHL_PLEO_SLACK", json.dumps({"conn_type": "http", "host": receiver.url}))
    try:
        assert deliver(SUBJECT, BODY) == []
    finally:
        receiver.stop()
    assert receiver.posts == [] and "conn_type slackwebhook and the webhook URL" in caplog.text


def test_without_any_channel_the_alert_text_is_logged(caplog):
    with caplog.at_level(logging.INFO, logger="ghl_pleo.alerts"):
        assert deliver(SUBJECT, BODY) == []
    assert "Alert email skipped: no connection ghl_pleo_smtp" in caplog.text
    assert "No alert channel configured" in caplog.text and "- location L1: authentication" in caplog.text


def test_a_token_this_process_knows_never_leaves_in_an_alert(monkeypatch, hook):
    learn_secret("tok-only-the-hooks-know-1234")
    assert deliver(SUBJECT, BODY + "\n  echoed: tok-only-the-hooks-know-1234") == ["slack"]
    assert "tok-only-the-hooks-know" not in hook.posts[0]["text"] and "echoed: ***" in hook.posts[0]["text"]


def test_a_connection_that_would_start_tls_twice_is_told_what_to_set(monkeypatch, trusted, caplog):
    """Neither switch set: the provider's hook opens implicit TLS and then asks for STARTTLS, which a server on
    port 465 does not offer: no mail, and the log says which switch to set."""
    smtp = serve(trusted, "implicit")
    monkeypatch.setenv("SSL_CERT_FILE", str(trusted.ca_file))
    smtp_conn(monkeypatch, smtp.port, starttls=True)
    try:
        assert deliver(SUBJECT, BODY) == []
    finally:
        smtp.stop()
    assert "extra 'starttls' is no longer read" in caplog.text
    assert "Set 'disable_tls': true for implicit TLS (port 465) or 'disable_ssl': true for STARTTLS" in caplog.text
