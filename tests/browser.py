"""Selenium WebDriver on Debian's headless ``chromium`` through ``chromium-driver`` (`make test` installs both).

    with open_browser() as b:                      # or the ``browser`` fixture (tests/conftest.py)
        b.login_airflow(stack.url)                 # the UI's session cookie (a login form is filled if shown)
        b.open(url, css="svg.chart")               # waits for the element, not for a fixed time
        b.screenshot(output_dir / "page.png")
        assert "..." in b.dom() and "..." in b.text()
        assert b.requested("/api/v2/dags/")        # the page's network log (Chrome performance log)

    with open_browser(offline=True) as b:          # only this machine: every other host is unreachable, and
        assert b.outside() == []                   # each attempt to reach one is still in the network log

The driver is always the system ``chromedriver`` (Selenium Manager never downloads one).
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from selenium import webdriver
from selenium.common.exceptions import TimeoutException, WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

FLAGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--hide-scrollbars")
WINDOW = (1440, 1000)
TIMEOUT_S = 60.0
# Offline: non-loopback requests go to a proxy on a closed local port (Chromium never proxies loopback) and no
# other host name resolves; the attempt is still in the performance log (Browser.outside).
OFFLINE_FLAGS = (
    "--proxy-server=http://127.0.0.1:9",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1",
)
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "[::1]")
INSTALL_HINT = "`make test` installs it (Debian package chromium-driver)"


def chromedriver() -> str:
    found = shutil.which("chromedriver") or next(
        (p for p in ("/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver") if os.access(p, os.X_OK)), None
    )
    if not found:
        raise RuntimeError(f"chromedriver is not installed: {INSTALL_HINT}.")
    return found


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    raise RuntimeError("Chromium is not installed: `make test` installs it (Debian package chromium).")


@dataclass
class Request:
    """One request the page made, from the browser's network log."""

    url: str
    method: str
    resource_type: str = ""
    status: int | None = None  # None: no response (yet)


class Browser:
    """A thin layer over a Chrome ``WebDriver`` (``.driver`` for anything else)."""

    def __init__(self, driver: webdriver.Chrome, timeout: float = TIMEOUT_S) -> None:
        self.driver = driver
        self.timeout = timeout
        self._requests: list[Request] = []
        self._latest: dict[str, Request] = {}  # DevTools request id -> its latest URL's entry (redirects)

    # pages ------------------------------------------------------------------------------------
    def open(
        self, url: str, *, css: str | None = None, text: str | None = None, timeout: float | None = None
    ) -> Browser:
        """Load ``url``; then wait for an element (``css``) and/or a text in the page, if given."""
        self.driver.get(url)
        if css:
            self.wait_for(css, timeout=timeout)
        if text:
            self.wait_for_text(text, timeout=timeout)
        return self

    def wait_until(self, condition: Callable[[webdriver.Chrome], object], what: str, timeout: float | None = None):
        """Wait for ``condition(driver)`` to be truthy; on timeout, say what was awaited and where."""
        try:
            return WebDriverWait(self.driver, timeout or self.timeout, poll_frequency=0.25).until(condition)
        except TimeoutException:
            raise AssertionError(
                f"{what}: not there within {timeout or self.timeout:.0f} s on "
                f"{self.driver.current_url}; the page's text ends with: "
                f"{self.text()[-1500:]!r}"
            ) from None

    def wait_for(self, css: str, timeout: float | None = None) -> WebElement:
        return self.wait_until(EC.presence_of_element_located((By.CSS_SELECTOR, css)), f"element {css!r}", timeout)

    def wait_for_text(self, text: str, timeout: float | None = None) -> None:
        self.wait_until(lambda d: text in d.page_source, f"text {text!r}", timeout)

    def find_all(self, css: str) -> list[WebElement]:
        return self.driver.find_elements(By.CSS_SELECTOR, css)

    def dom(self) -> str:
        """The page's DOM as it is now (after its scripts ran), as HTML."""
        return self.driver.page_source

    def text(self) -> str:
        """What the page shows, as text (the body's ``innerText``)."""
        try:
            return self.driver.execute_script("return document.body ? document.body.innerText : ''") or ""
        except WebDriverException:
            return ""

    def screenshot(self, path: Path) -> Path:
        """The viewport as a PNG at ``path`` (its folder is created)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        if not self.driver.save_screenshot(str(path)) or not path.exists() or path.stat().st_size == 0:
            raise RuntimeError(f"no screenshot of {self.driver.current_url}")
        return path

    # Airflow -----------------------------------------------------------------------------------
    def login_airflow(
        self, base_url: str, username: str | None = None, password: str | None = None, timeout: float | None = None
    ) -> Browser:
        """Log into the Airflow UI at ``base_url``: ``/api/v2/auth/login`` redirects to the auth manager's login;
        SimpleAuthManager with ``simple_auth_manager_all_admins`` sets the session cookie by itself, otherwise its
        form is filled with ``username``/``password``. Returns once the UI's ``_token`` cookie is set."""
        base = base_url.rstrip("/")
        self.driver.get(f"{base}/api/v2/auth/login?next={quote(base + '/', safe='')}")

        def logged_in_or_form(d):
            if d.get_cookie("_token"):
                return "cookie"
            return "form" if d.find_elements(By.CSS_SELECTOR, "input[name=username]") else None

        if self.wait_until(logged_in_or_form, "Airflow session cookie or login form", timeout) == "form":
            if username is None or password is None:
                raise AssertionError(f"{base} shows a login form: pass username= and password=")
            self.driver.find_element(By.CSS_SELECTOR, "input[name=username]").send_keys(username)
            self.driver.find_element(By.CSS_SELECTOR, "input[name=password]").send_keys(password)
            self.driver.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
            self.wait_until(
                lambda d: d.get_cookie("_token"), f"Airflow session cookie after logging in as {username!r}", timeout
            )
        return self

    # network -----------------------------------------------------------------------------------
    def requests(self) -> list[Request]:
        """Every request the browser made since it started (or since :meth:`clear_requests`), in order;
        a redirect is one request per URL (the redirect's status on the first)."""
        for entry in self.driver.get_log("performance"):  # reading drains the browser's buffer: keep them here
            msg = json.loads(entry["message"])["message"]
            method, params = msg.get("method"), msg.get("params", {})
            if method == "Network.requestWillBeSent":
                rid = params["requestId"]
                if "redirectResponse" in params and rid in self._latest:
                    self._latest[rid].status = params["redirectResponse"]["status"]
                req = Request(params["request"]["url"], params["request"]["method"], params.get("type", ""))
                self._requests.append(req)
                self._latest[rid] = req
            elif method == "Network.responseReceived" and params["requestId"] in self._latest:
                self._latest[params["requestId"]].status = params["response"]["status"]
        return list(self._requests)

    def requested(self, fragment: str) -> list[Request]:
        """The requests whose URL contains ``fragment``."""
        return [r for r in self.requests() if fragment in r.url]

    def outside(self) -> list[Request]:
        """The requests (attempted, blocked or not) to any host but this machine's loopback (``data:`` and other
        in-page URLs are not requests to a host)."""
        out = []
        for r in self.requests():
            scheme, _, rest = r.url.partition("://")
            host = rest.split("/", 1)[0].rsplit("@", 1)[-1]
            host = host if host.startswith("[") else host.split(":", 1)[0]
            if scheme in ("http", "https", "ws", "wss") and host not in LOOPBACK_HOSTS and not host.startswith("127."):
                out.append(r)
        return out

    def clear_requests(self) -> None:
        """Leave the current page (for ``about:blank``: nothing it still loads is logged afterwards) and forget
        the requests so far, so that what :meth:`requests` returns next is the next page's own."""
        self.driver.get("about:blank")
        self.requests()
        self._requests.clear()
        self._latest.clear()


def _options(window: tuple[int, int], offline: bool = False) -> webdriver.ChromeOptions:
    options = webdriver.ChromeOptions()
    options.binary_location = chromium()
    for flag in (*FLAGS, *(OFFLINE_FLAGS if offline else ()), f"--window-size={window[0]},{window[1]}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    return options


@contextmanager
def open_browser(
    window: tuple[int, int] = WINDOW, timeout: float = TIMEOUT_S, offline: bool = False
) -> Iterator[Browser]:
    """Headless Chromium driven by the system chromedriver; quit on exit. ``offline``: it reaches only this
    machine's loopback (:data:`OFFLINE_FLAGS`); :meth:`Browser.outside` lists what it tried to reach besides."""
    os.environ.setdefault("SE_OFFLINE", "true")  # Selenium Manager: never download (the driver path is given anyway)
    service = Service(executable_path=chromedriver())
    driver = webdriver.Chrome(service=service, options=_options(window, offline))
    try:
        driver.set_page_load_timeout(timeout)
        # --window-size is the window's; make the viewport (what a screenshot shows) that size instead.
        inner_w, inner_h = driver.execute_script("return [window.innerWidth, window.innerHeight]")
        outer = driver.get_window_size()
        driver.set_window_size(outer["width"] + window[0] - inner_w, outer["height"] + window[1] - inner_h)
        yield Browser(driver, timeout)
    finally:
        driver.quit()
