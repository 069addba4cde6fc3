"""Headless Chromium (Debian's ``chromium``; `make test` installs it) for UI checks: a screenshot and the DOM."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    raise RuntimeError("Chromium is not installed: `make test` installs it (Debian package chromium).")


def _run(url: str, *flags: str, budget_ms: int = 20000) -> subprocess.CompletedProcess:
    return subprocess.run([chromium(), "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                           "--hide-scrollbars", f"--virtual-time-budget={budget_ms}", "--window-size=1440,1000",
                           *flags, url], capture_output=True, text=True, timeout=180)


def screenshot(url: str, path: Path, budget_ms: int = 20000) -> Path:
    """Open ``url``, let its scripts run for ``budget_ms`` of virtual time, save a PNG."""
    path.parent.mkdir(parents=True, exist_ok=True)
    proc = _run(url, f"--screenshot={path}", budget_ms=budget_ms)
    if not path.exists() or path.stat().st_size == 0:
        raise RuntimeError(f"no screenshot of {url}: {proc.stderr[-2000:]}")
    return path


def rendered_dom(url: str, budget_ms: int = 20000) -> str:
    """The page's DOM after its scripts ran (what a user would see, as HTML)."""
    return _run(url, "--dump-dom", budget_ms=budget_ms).stdout
