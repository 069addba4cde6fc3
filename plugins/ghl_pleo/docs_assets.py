"""Data Docs that load nothing from outside: local copies of the libraries GX's pages take from CDNs.

Great Expectations' Data Docs templates load jQuery, Bootstrap, bootstrap-table, Vega, Font Awesome and more
from CDNs, and the GX logo from a vendor bucket: without internet the pages are blank. After each build,
:func:`localize_site` copies the libraries (vendored from the npm registry by ``make docs-assets`` into
``data-docs-assets/node_modules``, or ``GHL_PLEO_DOCS_ASSETS``) into the site's ``static/vendor/`` and
:func:`rewrite` points the pages at them; the health dashboard serves them with the pages
(``/ghl-pleo/data-docs/static/...``), and the pages work from ``file://`` too. A remote reference with no local
copy is dropped (the page degrades, with a warning in the task log), never loaded.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import time
from collections.abc import Collection
from pathlib import Path
from urllib.parse import urlsplit

log = logging.getLogger("ghl_pleo.docs_assets")
VENDOR = "static/vendor"  # in the site, beside GX's own static/images, static/styles, static/fonts
MARKER = ".localized"  # in VENDOR: every page of the site has been rewritten once (older sites included)
ENV = "GHL_PLEO_DOCS_ASSETS"
DEFAULT_SOURCE = Path(__file__).resolve().parents[2] / "data-docs-assets" / "node_modules"

# What GX 1.24's templates load -> the same file in the npm package (data-docs-assets/package.json pins them).
# bootstrap-table's filter-control styles are named at 1.19.0 there; 1.19.1's (the version of its scripts) serve.
_BT, _BT_DIST = "https://unpkg.com/bootstrap-table@", "bootstrap-table/dist/"
_FILTER = "extensions/filter-control/bootstrap-table-filter-control"
ASSETS = {
    f"{_BT}1.19.1/dist/bootstrap-table.min.css": f"{_BT_DIST}bootstrap-table.min.css",
    f"{_BT}1.19.1/dist/bootstrap-table.min.js": f"{_BT_DIST}bootstrap-table.min.js",
    f"{_BT}1.19.1/dist/{_FILTER}.min.js": f"{_BT_DIST}{_FILTER}.min.js",
    f"{_BT}1.19.0/dist/{_FILTER}.min.css": f"{_BT_DIST}{_FILTER}.min.css",
    f"{_BT}1.19.0/dist/{_FILTER}.css": f"{_BT_DIST}{_FILTER}.min.css",
    "https://maxcdn.bootstrapcdn.com/bootstrap/4.3.1/css/bootstrap.min.css": "bootstrap/dist/css/bootstrap.min.css",
    "https://stackpath.bootstrapcdn.com/bootstrap/4.3.1/js/bootstrap.min.js": "bootstrap/dist/js/bootstrap.min.js",
    "https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/css/bootstrap-datepicker.min.css": (
        "bootstrap-datepicker/dist/css/bootstrap-datepicker.min.css"
    ),
    "https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/js/bootstrap-datepicker.min.js": (
        "bootstrap-datepicker/dist/js/bootstrap-datepicker.min.js"
    ),
    "https://cdn.jsdelivr.net/npm/@forevolve/bootstrap-dark@1.1.0/dist/css/bootstrap-prefers-dark.css": (
        "@forevolve/bootstrap-dark/dist/css/bootstrap-prefers-dark.css"
    ),
    "https://cdnjs.cloudflare.com/ajax/libs/font-awesome/6.6.0/css/all.min.css": (
        "@fortawesome/fontawesome-free/css/all.min.css"
    ),
    "https://code.jquery.com/jquery-3.7.1.min.js": "jquery/dist/jquery.min.js",
    "https://cdnjs.cloudflare.com/ajax/libs/popper.js/1.12.9/umd/popper.min.js": "popper.js/dist/umd/popper.min.js",
    "https://cdn.jsdelivr.net/npm/vega@5": "vega/build/vega.min.js",
    "https://cdn.jsdelivr.net/npm/vega-lite@5": "vega-lite/build/vega-lite.min.js",
    "https://cdn.jsdelivr.net/npm/vega-embed@6": "vega-embed/build/vega-embed.min.js",
}
# Folders a library's own files load (Font Awesome's CSS: ../webfonts/*), copied whole.
FOLDERS = ("@fortawesome/fontawesome-free/webfonts",)
LICENSES = ("LICENSE", "LICENSE.txt", "LICENSE.md")
# Remote images with a copy in GX's own static/images (the rest, the dark-mode logo, are dropped).
IMAGES = {"https://great-expectations-web-assets.s3.us-east-2.amazonaws.com/logo-long.png": "logo-long.png"}
LOOPBACK = {"localhost", "127.0.0.1", "::1"}
URL_ATTRS = {"src", "href", "action", "poster"}
UNPINNED = {"integrity", "crossorigin"}  # the CDN's hash and CORS mode; the local file is served as is

START_TAG = re.compile(
    r"<(?P<name>[a-zA-Z][a-zA-Z0-9-]*)(?P<attrs>(?:\s+[^\s=>/\"']+(?:\s*=\s*(?:\"[^\"]*\"|'[^']*'|[^\s>\"']+))?)*)"
    r"(?P<end>\s*/?>)"
)
ATTR = re.compile(r"(\s+)([^\s=>/\"']+)(?:(\s*=\s*)(\"[^\"]*\"|'[^']*'|[^\s>\"']+))?")
CSS_URL = re.compile(r"url\(\s*(['\"]?)(?P<url>[^'\")\s]*)\1\s*\)", re.I)
CSS_IMPORT = re.compile(r"@import\s+(['\"])(?P<url>[^'\"]*)\1[^;]*;", re.I)


def is_remote(url: str) -> bool:
    """An absolute ``http(s)://`` or protocol-relative ``//`` URL to a host other than this machine's loopback."""
    url = url.strip().replace("&amp;", "&")
    if not re.match(r"(?i)(https?:)?//", url):
        return False
    try:
        host = (urlsplit(url if not url.startswith("//") else "http:" + url).hostname or "").lower()
    except ValueError:  # e.g. a broken IPv6 literal: not this machine
        return True
    return host not in LOOPBACK and not host.startswith("127.")


def local_for(url: str, *, vendor: str, images: str, present: Collection[str]) -> str | None:
    """The relative URL of the local copy of a remote ``url``, or None when there is none."""
    key = url.strip().replace("&amp;", "&").split("?", 1)[0].split("#", 1)[0]
    if key in ASSETS and ASSETS[key] in present:
        return vendor + ASSETS[key]
    if key in IMAGES:
        return images + IMAGES[key]
    return None


def _rewrite_tag(match: re.Match, vendor: str, images: str, present: Collection[str], dropped: list[str]) -> str:
    attrs = ATTR.findall(match["attrs"])
    kept, localized = [], False
    for space, name, eq, quoted in attrs:
        value = quoted[1:-1] if quoted[:1] in ("'", '"') else quoted
        if name.lower() in URL_ATTRS and eq and is_remote(value):
            local = local_for(value, vendor=vendor, images=images, present=present)
            if local is None:
                dropped.append(value)
                continue
            quoted, localized = f'"{local}"', True
        kept.append((space, name, eq, quoted))
    if len(kept) == len(attrs) and not localized:
        return match[0]
    if localized:
        kept = [a for a in kept if a[1].lower() not in UNPINNED]
    return f"<{match['name']}{''.join(s + n + e + q for s, n, e, q in kept)}{match['end']}"


def rewrite(text: str, *, vendor: str, images: str, present: Collection[str]) -> tuple[str, list[str]]:
    """A Data Docs page (or style sheet) that loads nothing from outside, and the remote URLs it dropped.

    Each remote ``src``/``href``/``action``/``poster`` becomes the local copy (``vendor`` + its path in
    ``node_modules`` when that path is in ``present``; GX's own ``images`` copy of its logo), dropping the CDN's
    ``integrity``/``crossorigin``; without a copy the attribute is removed (a script or style sheet without it
    loads nothing; a link to GX's website becomes text). Remote CSS ``url()`` becomes ``none``; a remote
    ``@import`` is removed. Loopback URLs and everything else are left as they are.
    """
    dropped: list[str] = []
    text = START_TAG.sub(lambda m: _rewrite_tag(m, vendor, images, present, dropped), text)

    def css_url(m: re.Match) -> str:
        if not is_remote(m["url"]):
            return m[0]
        dropped.append(m["url"])
        return "none"

    def css_import(m: re.Match) -> str:
        if not is_remote(m["url"]):
            return m[0]
        dropped.append(m["url"])
        return ""

    text = CSS_IMPORT.sub(css_import, CSS_URL.sub(css_url, text))
    return text, dropped


def assets_source() -> Path:
    return Path(os.environ.get(ENV) or DEFAULT_SOURCE)


def _copy(src: Path, dest: Path) -> None:
    if dest.is_file() and dest.stat().st_size == src.stat().st_size and dest.stat().st_mtime >= src.stat().st_mtime:
        return
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(src, dest)


def vendor_assets(docs_root: Path, source: Path) -> set[str]:
    """Copy the libraries from ``source`` (a ``node_modules``) into the site; the paths now there."""
    present: set[str] = set()
    target = docs_root / VENDOR
    for rel in sorted(set(ASSETS.values())):
        src = source / rel
        if src.is_file():
            _copy(src, target / rel)
        if (target / rel).is_file():
            present.add(rel)
    packages = {rel.split("/dist/")[0].split("/build/")[0].split("/css/")[0] for rel in ASSETS.values()}
    for package in sorted(packages):
        for name in LICENSES:
            if (source / package / name).is_file():
                _copy(source / package / name, target / package / name)
    for folder in FOLDERS:
        for src in sorted((source / folder).glob("*")) if (source / folder).is_dir() else ():
            _copy(src, target / folder / src.name)
    return present


def localize_site(docs_root: Path, since: float) -> None:
    """Vendor the libraries into the site at ``docs_root`` and rewrite its pages written since ``since`` (every
    page, the first time), and GX's style sheets, so that they load nothing from outside. Never raises for a
    missing library: the page loads without it and the task log says what is missing and how to get it."""
    source = assets_source()
    present = vendor_assets(docs_root, source)
    missing = sorted(set(ASSETS.values()) - present)
    if missing:
        log.warning(
            "Data Docs: no local copy of %s under %s (run `make docs-assets`, or set %s): the pages load without "
            "them (plain tables, no charts), and nothing from outside.",
            ", ".join(missing),
            source,
            ENV,
        )
    marker = docs_root / VENDOR / MARKER
    if not marker.exists():
        since = 0.0
    pages = [p for p in docs_root.rglob("*.html") if p.stat().st_mtime >= since - 2]
    pages += sorted((docs_root / "static" / "styles").glob("*.css"))
    dropped: set[str] = set()
    for page in pages:
        base = os.path.relpath(docs_root / "static", page.parent).replace(os.sep, "/")
        text = page.read_text(encoding="utf-8")
        new, gone = rewrite(text, vendor=f"{base}/vendor/", images=f"{base}/images/", present=present)
        dropped.update(gone)
        if new != text:
            tmp = page.with_name(f".{page.name}.tmp")
            tmp.write_text(new, encoding="utf-8")
            os.replace(tmp, page)
    if dropped - set(ASSETS) - set(IMAGES):
        log.debug("Data Docs: dropped remote references with no local copy: %s", ", ".join(sorted(dropped)))
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text(f"{time.time()}\n")


def localize(docs_root: Path, since: float) -> None:
    """:func:`localize_site`, for the build: a file that cannot be copied or rewritten is a warning, not a failed
    validation (the pages then load what they can, and nothing from outside if they were rewritten)."""
    try:
        localize_site(docs_root, since)
    except OSError as exc:
        log.warning("Data Docs: could not make the pages work offline (%s: %s)", type(exc).__name__, exc)
