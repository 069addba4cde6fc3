"""Why a location's archives are held (pure): against the recent baseline, else Pleo's live tags; and the most
archives one run may make."""

from __future__ import annotations

from ghl_pleo.quality import archive_hold_reason

BASE = {"read": 100, "active": 90, "runs": 3, "since": "2026-11-20T00:00:00.000000Z"}
LIMITS = {"threshold": 0.30, "max_archives": 200}


def test_a_drop_below_the_highest_recent_count_holds():
    assert archive_hold_reason(BASE, read=75, active=70, pleo_live=0, archives=5, **LIMITS) is None
    reason = archive_hold_reason(BASE, read=60, active=55, pleo_live=0, archives=5, **LIMITS)
    assert reason.startswith("tag count (rows read) dropped 40% from 100 to 60") and "3 good run(s)" in reason
    live = archive_hold_reason(BASE, read=100, active=50, pleo_live=0, archives=40, **LIMITS)
    assert live.startswith("tag count (live tags) dropped 44% from 90 to 50")


def test_without_history_pleos_live_tags_are_the_baseline():
    assert "the live tags in the Pleo group" in archive_hold_reason(
        None, read=0, active=0, pleo_live=40, archives=40, **LIMITS
    )
    assert archive_hold_reason(None, read=38, active=38, pleo_live=40, archives=2, **LIMITS) is None
    assert archive_hold_reason(None, read=5, active=5, pleo_live=0, archives=0, **LIMITS) is None  # a new group


def test_more_archives_than_the_limit_hold_even_within_the_threshold():
    reason = archive_hold_reason(BASE, read=95, active=85, pleo_live=1000, archives=201, **LIMITS)
    assert reason == "201 tags would be archived, more than quality.max_archives_per_run (200)"
    assert archive_hold_reason(BASE, read=95, active=85, pleo_live=1000, archives=200, **LIMITS) is None
