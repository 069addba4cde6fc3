"""The lease store (``sync_leases``) on both backends: take, refuse, lapse, re-entrant takeover, renew, release."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

pytestmark = pytest.mark.integration
T0 = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
UNIT = "ghl_pleo_tags_sync:L1"
A, B = "ghl_pleo_tags_sync/scheduled__2026-11-27T11:00:00+00:00", "ghl_pleo_tags_sync/backfill__2026-11-27T10:00"


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def test_a_free_unit_is_taken_and_another_run_is_refused_with_who_holds_it(wh):
    assert wh.leases.take(UNIT, A, "a1", 60, now=T0) is None
    held = wh.leases.take(UNIT, B, "b1", 60, now=at(10))
    assert held["holder"] == A and held["token"] == "a1" and held["expires_at"] == "2026-11-27T12:01:00.000000Z"
    assert held["dry_run"] == 0
    assert wh.leases.get(UNIT)["holder"] == A  # the refusal changed nothing
    assert wh.leases.take("ghl_pleo_tags_sync:L2", B, "b1", 60, now=at(10)) is None  # units are independent


def test_a_lapsed_lease_is_taken_by_another_run(wh):
    wh.leases.take(UNIT, A, "a1", 60, dry_run=True, now=T0)  # then A's process was killed: no renewal, no release
    assert wh.leases.take(UNIT, B, "b1", 60, now=at(59))["dry_run"] == 1
    assert wh.leases.take(UNIT, B, "b1", 60, now=at(61)) is None
    row = wh.leases.get(UNIT)
    assert (row["holder"], row["token"], row["acquired_at"]) == (B, "b1", "2026-11-27T12:01:01.000000Z")
    assert not wh.leases.renew(UNIT, A, "a1", 60, now=at(62))  # A's old heartbeat finds nothing of its own


def test_the_same_run_takes_its_lease_over_at_once_and_the_old_try_can_neither_renew_nor_release_it(wh):
    """A retry of a killed try (same DAG run, new token) does not wait for the lapse; the killed try's token is dead."""
    wh.leases.take(UNIT, A, "try1", 300, now=T0)
    assert wh.leases.take(UNIT, A, "try2", 300, now=at(5)) is None
    assert wh.leases.get(UNIT)["token"] == "try2"
    assert not wh.leases.renew(UNIT, A, "try1", 300, now=at(6))
    assert not wh.leases.release(UNIT, A, "try1")
    assert wh.leases.get(UNIT)["token"] == "try2"


def test_only_the_holder_releases_and_a_released_unit_is_free(wh):
    wh.leases.take(UNIT, A, "a1", 60, now=T0)
    assert not wh.leases.release(UNIT, B, "a1") and not wh.leases.release(UNIT, A, "other")
    assert wh.leases.get(UNIT)["holder"] == A
    assert wh.leases.release(UNIT, A, "a1") and wh.leases.get(UNIT) is None
    assert wh.leases.take(UNIT, B, "b1", 60, now=at(1)) is None


def test_a_heartbeat_pushes_the_expiry_so_the_lease_outlives_its_first_ttl(wh):
    wh.leases.take(UNIT, A, "a1", 60, now=T0)
    assert wh.leases.renew(UNIT, A, "a1", 60, now=at(50))
    row = wh.leases.get(UNIT)
    assert (row["heartbeat_at"], row["expires_at"]) == ("2026-11-27T12:00:50.000000Z", "2026-11-27T12:01:50.000000Z")
    assert wh.leases.take(UNIT, B, "b1", 60, now=at(70))["holder"] == A  # past the first TTL: still A's
    assert wh.leases.take(UNIT, B, "b1", 60, now=at(111)) is None


def test_runs_racing_for_a_free_unit_have_exactly_one_winner(wh):
    """Eight threads (think: eight tasks of a backfill's runs) take the same unit at the same moment."""
    start, winners, lock = threading.Barrier(8), [], threading.Lock()

    def take(i: int) -> None:
        start.wait()
        if wh.leases.take(UNIT, f"dag/run-{i}", f"t{i}", 60) is None:
            with lock:
                winners.append(f"dag/run-{i}")

    threads = [threading.Thread(target=take, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(winners) == 1 and wh.leases.get(UNIT)["holder"] == winners[0]
