"""Data Docs that load nothing from outside (plugins/ghl_pleo/docs_assets.py): the rewrite of GX's own pages, built
here by real GX, and of the cases GX's next version might bring; the libraries copied into the site from
data-docs-assets/node_modules (`make docs-assets`); a missing library degrades the pages with a warning."""

from __future__ import annotations

import logging
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest

from ghl_pleo import docs_assets
from ghl_pleo.docs_assets import ASSETS, localize_site, rewrite
from ghl_pleo.transform import TAG_COLUMNS

# Any src/href/action/poster or CSS url() to a host other than loopback, however it is quoted or cased.
REMOTE = re.compile(
    r"""(?:\b(?:src|href|action|poster)\s*=\s*["']?|url\(\s*["']?|@import\s+["'])"""
    r"""((?:https?:)?//(?!(?:localhost|127\.0\.0\.1)[:/])[^"'\s)>]+)""",
    re.I,
)
LOCAL_REF = re.compile(r"""\b(?:src|href)="([^"#:]+)\"""")


@pytest.fixture(scope="module")
def gx_site(tmp_path_factory) -> Path:
    """A Data Docs site as GX 1.x writes it (one failed validation of the tags suite), before any rewrite."""
    from ghl_pleo import quality

    root = tmp_path_factory.mktemp("gx-site")
    patch = pytest.MonkeyPatch()
    patch.setenv("GHL_PLEO_DATA_DOCS_DIR", str(root))
    patch.setattr(quality, "localize", lambda docs_root, since: None)
    frame = pd.DataFrame([dict.fromkeys(TAG_COLUMNS, "x") | {"archived": False, "tag_id": "t1"}] * 2)
    frame["updated_at"] = 1767225600.0
    try:
        quality.run_suite("ghl_tags", frame, quality.tags_expectations(50), run_name="r1")
    finally:
        patch.undo()
    return root


@pytest.fixture()
def site(gx_site, tmp_path) -> Path:
    shutil.copytree(gx_site, tmp_path / "site")
    return tmp_path / "site"


def pages(root: Path) -> list[Path]:
    return sorted(root.rglob("*.html")) + sorted((root / "static" / "styles").glob("*.css"))


@pytest.mark.slow  # GX builds the site (a few seconds)
def test_every_remote_reference_in_gx_pages_becomes_a_local_copy_or_is_removed(gx_site):
    present = set(ASSETS.values())
    seen: set[str] = set()
    for page in pages(gx_site):
        text = page.read_text()
        before = set(REMOTE.findall(text))
        seen |= before
        new, dropped = rewrite(text, vendor="static/vendor/", images="static/images/", present=present)
        assert REMOTE.findall(new) == [], (page.name, REMOTE.findall(new))
        assert set(dropped) <= before  # what was not localized was removed, and reported
        assert "integrity=" not in new and 'crossorigin="anonymous"' not in new  # the CDNs' hashes went too
    assert "https://code.jquery.com/jquery-3.7.1.min.js" in seen  # the pages were GX's, with their CDN links
    assert {u.split("?")[0] for u in seen if "greatexpectations.io" not in u} <= set(ASSETS) | set(
        docs_assets.IMAGES
    ) | {"https://great-expectations-web-assets.s3.us-east-2.amazonaws.com/full_logo_dark.png"}


@pytest.mark.slow
def test_the_site_gets_the_libraries_and_every_local_reference_resolves(site):
    localize_site(site, since=0.0)
    for page in pages(site):
        text = page.read_text()
        assert REMOTE.findall(text) == [], (page, REMOTE.findall(text))
        for ref in LOCAL_REF.findall(text):
            if "/vendor/" in ref or ref.endswith("logo-long.png"):
                assert (page.parent / ref).resolve().is_file(), (page, ref)
    index = (site / "index.html").read_text()
    assert '<script src="static/vendor/jquery/dist/jquery.min.js"></script>' in index
    assert 'href="static/vendor/@fortawesome/fontawesome-free/css/all.min.css"' in index
    assert (site / "static/vendor/@fortawesome/fontawesome-free/webfonts/fa-solid-900.woff2").is_file()
    assert (site / "static/vendor/jquery/LICENSE.txt").is_file()
    deep = next(site.glob("validations/**/*.html")).read_text()
    assert 'src="../../../../static/vendor/vega/build/vega.min.js"' in deep


@pytest.mark.slow
def test_without_the_libraries_the_pages_still_load_nothing_from_outside_and_the_log_says_why(
    site, tmp_path, monkeypatch, caplog
):
    monkeypatch.setenv(docs_assets.ENV, str(tmp_path / "no-node-modules"))
    with caplog.at_level(logging.WARNING, logger="ghl_pleo.docs_assets"):
        localize_site(site, since=0.0)
    warning = next(r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)
    assert "jquery/dist/jquery.min.js" in warning and "run `make docs-assets`" in warning and docs_assets.ENV in warning
    index = (site / "index.html").read_text()
    assert REMOTE.findall(index) == [] and "Data Docs created by Great Expectations" in index
    assert 'src="static/images/logo-long.png"' in index  # GX's own copy of its logo


def test_the_rewrite_keeps_loopback_and_drops_whatever_has_no_local_copy():
    html = """<html><head>
<link rel="stylesheet" href='HTTPS://cdnjs.cloudflare.com/ajax/libs/font-awesome/6.6.0/css/all.min.css'>
<script src="https://code.jquery.com/jquery-3.7.1.min.js" integrity="sha384-x" crossorigin="anonymous"></script>
<script src="//cdn.example.net/new-library@2.js" defer></script>
<script src="http://127.0.0.1:8080/local.js"></script><link href="http://localhost/a.css" rel=stylesheet>
<style>@import "https://fonts.example.com/f.css"; .a { background: url( 'https://x.example/y.png' ) 0 0; }
.b { background: url(data:image/png;base64,AAAA) } .c { background: url(../images/z.png) }</style>
</head><body><a href="https://greatexpectations.io/newsletter?a=1&amp;b=2" target="_blank">Subscribe</a>
<img src="https://great-expectations-web-assets.s3.us-east-2.amazonaws.com/logo-long.png?d=1" alt="GX"/>
<img src="https://other.example/pixel.gif" alt="tracking"><form action="https://evil.example/"></form>
<a href="http://[broken/">x</a><a href="#top">top</a><a href="../index.html">home</a><p>if (a<b && c > d) "https://text.example/"</p>
</body></html>"""
    present = {"jquery/dist/jquery.min.js"}  # Font Awesome not installed
    new, dropped = rewrite(html, vendor="v/", images="i/", present=present)
    assert REMOTE.findall(new) == []
    assert '<script src="v/jquery/dist/jquery.min.js"></script>' in new  # integrity and crossorigin gone
    assert '<link rel="stylesheet">' in new  # no local copy: the style sheet loads nothing
    assert "<script defer></script>" in new
    assert 'src="http://127.0.0.1:8080/local.js"' in new and 'href="http://localhost/a.css"' in new
    assert "@import" not in new and "background: none 0 0" in new
    assert "url(data:image/png;base64,AAAA)" in new and "url(../images/z.png)" in new
    assert '<a target="_blank">Subscribe</a>' in new
    assert '<img src="i/logo-long.png" alt="GX"/>' in new and '<img alt="tracking">' in new
    assert "<form></form>" in new
    assert '<a href="#top">top</a><a href="../index.html">home</a>' in new
    assert '"https://text.example/"' in new  # text, not a reference
    assert "https://cdn.example.net/new-library@2.js" not in dropped and "//cdn.example.net/new-library@2.js" in dropped
    assert len(dropped) == 8 and "<a>x</a>" in new
    assert rewrite(new, vendor="v/", images="i/", present=present) == (new, [])  # a second run changes nothing
