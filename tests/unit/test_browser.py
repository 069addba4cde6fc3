"""The Selenium helper of the UI tests (tests/browser.py) against a small local site: a login form like
SimpleAuthManager's, a page that fetches its data with a script, and the errors a test would see."""

from __future__ import annotations

import struct
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import pytest

from tests.browser import WINDOW, open_browser

pytestmark = pytest.mark.slow  # starts Chromium

LOGIN_FORM = b"""<!doctype html><title>Sign in</title><form method="post" action="/auth/submit">
<input name="username"><input name="password" type="password"><button type="submit">Sign in</button></form>"""
PAGE = b"""<!doctype html><title>runs</title><h1>Runs</h1><ul id="runs"></ul><script>
setTimeout(() => fetch("/api/v2/runs").then(r => r.json()).then(runs => {
  for (const id of runs) { const li = document.createElement("li"); li.textContent = id;
    document.getElementById("runs").appendChild(li); }
}), 300);</script>"""

# Two hosts that are not this machine (a name, and an IP address a proxy-less browser would dial directly).
REMOTE_PAGE = b"""<!doctype html><title>remote</title><h1>Remote</h1><img src="https://example.com/pixel.png">
<img src="http://203.0.113.7/ip-literal.png"><img src="/local.png">"""


class Site(BaseHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass

    def _send(self, status: int, body: bytes = b"", ctype: str = "text/html", **headers: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for key, value in headers.items():
            self.send_header(key.replace("_", "-"), value)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        path = urlparse(self.path).path
        logged_in = "_token=ok" in (self.headers.get("Cookie") or "")
        if path == "/api/v2/auth/login":  # as Airflow's: to the auth manager's login page
            self._send(307, Location="/auth/login?" + urlparse(self.path).query)
        elif path == "/auth/login":
            self._send(200, LOGIN_FORM)
        elif path == "/remote":
            self._send(200, REMOTE_PAGE)
        elif not logged_in:
            self._send(401, b"log in first")
        elif path == "/api/v2/runs":
            self._send(200, b'["manual__1", "scheduled__2"]', "application/json")
        else:
            self._send(200, PAGE)

    def do_POST(self) -> None:
        form = parse_qs(self.rfile.read(int(self.headers["Content-Length"])).decode())
        if form.get("username") == ["admin"] and form.get("password") == ["s3cret"]:
            self._send(303, Set_Cookie="_token=ok; Path=/; HttpOnly", Location="/")
        else:
            self._send(401, b"wrong password")


@pytest.fixture(scope="module")
def site():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Site)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture(scope="module")
def browser():
    with open_browser(timeout=15) as b:
        yield b


def test_logs_in_through_the_form_then_waits_for_what_the_page_fetched(site, browser, tmp_path):
    with pytest.raises(AssertionError, match="pass username= and password="):
        browser.login_airflow(site)
    browser.login_airflow(site, "admin", "s3cret")
    assert browser.driver.get_cookie("_token")["value"] == "ok"
    browser.clear_requests()

    browser.open(f"{site}/runs", css="#runs li", text="scheduled__2")
    assert browser.text().splitlines()[-2:] == ["manual__1", "scheduled__2"]
    assert "<li>manual__1</li>" in browser.dom()
    shot = browser.screenshot(tmp_path / "shots" / "runs.png")
    png = shot.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">II", png[16:24]) == WINDOW  # the viewport is the window size asked for
    made = [(r.method, r.url.removeprefix(site), r.status) for r in browser.requests() if "favicon" not in r.url]
    assert made == [("GET", "/runs", 200), ("GET", "/api/v2/runs", 200)]
    assert [r.resource_type for r in browser.requested("/api/v2/")] == ["Fetch"]


def test_a_missing_element_fails_with_what_was_awaited_and_the_page_text(site, browser):
    with pytest.raises(AssertionError, match=r"element '#nothing-here': not there within 1 s on .*/runs.*Runs"):
        browser.open(f"{site}/runs", css="#nothing-here", timeout=1)


def test_an_offline_browser_reaches_only_loopback_and_counts_every_attempt_to_leave(site):
    with open_browser(timeout=15, offline=True) as offline:
        offline.open(f"{site}/remote", text="Remote")
        offline.wait_until(lambda d: len(offline.requests()) >= 4, "the page and its three images")
        outside = {r.url: r.status for r in offline.outside()}
        local = {r.url.removeprefix(site): r.status for r in offline.requests() if r.url.startswith(site)}
    assert outside == {"https://example.com/pixel.png": None, "http://203.0.113.7/ip-literal.png": None}  # blocked
    assert local["/remote"] == 200 and local["/local.png"] == 401  # loopback answered (this site wants a login)


def test_without_chromedriver_the_error_says_how_to_install_it(monkeypatch):
    import tests.browser as helper

    monkeypatch.setattr(helper.shutil, "which", lambda name: None)
    monkeypatch.setattr(helper.os, "access", lambda path, mode: False)
    with pytest.raises(RuntimeError, match=r"`make test` installs it \(Debian package chromium-driver\)"):
        helper.chromedriver()
