"""The alert text: one alert per failed run, each failed location with its kind, error and runbook link; a
location whose listing was incomplete three runs in a row is told to look at what GHL's count means."""

from __future__ import annotations

from ghl_pleo.alerts import build_alert


def failed(location_id: str, kind: str, **extra) -> dict:
    return {"location_id": location_id, "error_kind": kind, "error": f"{kind} happened", **extra}


def test_one_alert_names_every_failed_location_with_its_runbook():
    subject, body = build_alert("dag", "run-1", [failed("L1", "upstream_outage"), failed("L2", "rate_limit")], 5)
    assert subject == "[ghl-pleo] dag failed for 2 of 5 locations (upstream outage: 1, rate limit: 1)"
    assert "- location L1: upstream outage" in body and "README.md#runbook-rate-limit" in body


def test_three_incomplete_reads_in_a_row_say_the_count_may_mean_something_else():
    _, once = build_alert("dag", "run-1", [failed("L1", "incomplete_read", streak=1)], 1)
    assert "incomplete read" in once and "may mean something else" not in once
    _, third = build_alert("dag", "run-3", [failed("L1", "incomplete_read", streak=3)], 1)
    assert "3 incomplete reads in a row" in third and "results.count may mean something else" in third
    assert "README.md#runbook-incomplete-read" in third


def _readme_anchors() -> set[str]:
    """GitHub's anchors of the README's headings: lower case, punctuation other than '-' dropped, spaces to '-'."""
    import re
    from pathlib import Path

    readme = Path(__file__).resolve().parents[2] / "README.md"
    headings = [m.group(1) for m in re.finditer(r"^#{1,6} +(.+?) *$", readme.read_text(), re.MULTILINE)]
    return {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-") for h in headings}


def test_every_runbook_link_an_alert_can_make_is_a_readme_heading():
    """Issue 17, item 3: an alert linked README.md#runbook-not-run, which did not exist. Every error kind (each
    error class's, every kind the alerts know, the run-level ones) links a section that exists."""
    import ghl_pleo.errors as errors
    from ghl_pleo.alerts import KIND_TITLES, RUNBOOK_SECTIONS, runbook_link

    def subclasses(cls):
        for sub in cls.__subclasses__():
            yield sub
            yield from subclasses(sub)

    kinds = {c.kind for c in subclasses(errors.GhlPleoError)} | {errors.GhlPleoError.kind} | set(KIND_TITLES)
    kinds |= {"ledger-unreadable", "stale", "not_run", *RUNBOOK_SECTIONS}
    anchors = _readme_anchors()
    for kind in sorted(kinds):
        link = runbook_link(kind)
        assert link.startswith("README.md#") and link.split("#", 1)[1] in anchors, (kind, link)
    assert runbook_link("not_run") == "README.md#runbook-not-run"
