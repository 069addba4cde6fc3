"""The write plan: create, rename, archive, unarchive, duplicates, case-insensitive codes."""

from __future__ import annotations

import pandas as pd

from ghl_pleo.reconcile import Desired, plan_dimension_values, plan_tags


def desired(*rows):
    return pd.DataFrame(
        [{"code": c, "name": n, "archived": a} for c, n, a in rows], columns=["code", "name", "archived"]
    )


def pleo(id_, code, name, archived=False, created="2026-01-01T00:00:00Z"):
    return {"id": id_, "code": code, "name": name, "archived": archived, "createdAt": created}


def kinds(plan):
    return sorted((a.kind, a.code, a.pleo_id) for a in plan.actions)


def test_new_tags_are_created_and_matching_ones_left_alone():
    plan = plan_tags(desired(("a", "A", False), ("b", "B", False)), [pleo("1", "a", "A")])
    assert kinds(plan) == [("create", "b", None)] and plan.unchanged == 1
    assert list(plan.creates) == [1] and plan.changes == [] and plan.count("create") == 1  # a row, not an object


def test_an_unchanged_state_plans_no_write():
    current = [pleo("1", "a", "A"), pleo("2", "b", "B", archived=True)]
    plan = plan_tags(desired(("a", "A", False), ("b", "B", True)), current)
    assert plan.actions == [] and plan.unchanged == 2


def test_rename_archive_unarchive_and_gone():
    current = [pleo("1", "a", "Old"), pleo("2", "b", "B"), pleo("3", "c", "C", archived=True), pleo("4", "gone", "G")]
    plan = plan_tags(desired(("a", "New", False), ("b", "B", True), ("c", "C", False)), current)
    assert kinds(plan) == [
        ("archive", "b", "2"),
        ("archive", "gone", "4"),
        ("rename", "a", "1"),
        ("unarchive", "c", "3"),
    ]


def test_codes_match_case_insensitively():
    plan = plan_tags(desired(("abc", "A", False)), [pleo("1", "ABC", "A")])
    assert plan.actions == [] and plan.unchanged == 1


def test_duplicates_keep_the_one_whose_name_matches_and_archive_the_rest():
    current = [
        pleo("1", "a", "Other", created="2026-01-01"),
        pleo("2", "A", "Right", created="2026-02-01"),
        pleo("3", "a", "Other", created="2026-03-01"),
    ]
    plan = plan_tags(desired(("a", "Right", False)), current)
    assert kinds(plan) == [("archive_duplicate", "a", "1"), ("archive_duplicate", "a", "3")]


def test_duplicates_without_a_name_match_keep_the_oldest():
    current = [pleo("2", "a", "X", created="2026-02-01"), pleo("1", "a", "Y", created="2026-01-01")]
    plan = plan_tags(desired(("a", "Z", False)), current)
    assert kinds(plan) == [("archive_duplicate", "a", "2"), ("rename", "a", "1")]


def test_already_archived_duplicates_need_no_write():
    current = [pleo("1", "a", "A"), pleo("2", "a", "A", archived=True, created="2026-05-01")]
    assert plan_tags(desired(("a", "A", False)), current).actions == []


def test_deleted_in_ghl_and_never_in_pleo_is_not_created():
    plan = plan_tags(desired(("a", "A", True)), [])
    assert plan.actions == [] and plan.unchanged == 1


def test_rejected_codes_are_held_not_archived():
    plan = plan_tags(desired(), [pleo("1", "bad", "Was fine")], held_codes=["bad"])
    assert plan.actions == [] and plan.held == 1


def test_dimension_values_written_only_where_they_differ():
    values = pd.DataFrame(
        [
            {"code": "a", "dimension": "d1", "value": "x"},
            {"code": "a", "dimension": "d2", "value": "y"},
            {"code": "b", "dimension": "d1", "value": "z"},
            {"code": "zz", "dimension": "d1", "value": "q"},
        ]
    )
    actions = plan_dimension_values(
        values, {"a": "T1", "b": "T2"}, {"d1": "D1", "d2": "D2"}, {("T1", "D1"): "x", ("T1", "D2"): "old"}
    )
    assert [(a.tag_id, a.dimension_id, a.value, a.exists) for a in actions] == [
        ("T1", "D2", "y", True),
        ("T2", "D1", "z", False),
    ]


def test_an_old_archived_copy_is_never_unarchived_while_an_active_copy_exists():
    """Issue 14, item 7: the keeper is the live one, even when an archived copy has the wanted name."""
    current = [
        pleo("1", "a", "Right", archived=True, created="2026-01-01"),
        pleo("2", "a", "Other", created="2026-02-01"),
        pleo("3", "a", "Third", created="2026-03-01"),
    ]
    plan = plan_tags(desired(("a", "Right", False)), current)
    assert kinds(plan) == [("archive_duplicate", "a", "3"), ("rename", "a", "2")]
    assert plan.live.get("a") == "2"


def test_with_every_copy_archived_the_one_whose_name_matches_comes_back():
    current = [pleo("1", "a", "Old", archived=True), pleo("2", "a", "Right", archived=True, created="2026-02-01")]
    assert kinds(plan_tags(desired(("a", "Right", False)), current)) == [("unarchive", "a", "2")]


def test_of_several_groups_with_our_code_the_oldest_active_one_is_used():
    from ghl_pleo.reconcile import choose_keeper

    groups = [
        {"id": "g1", "code": "c", "archived": True, "createdAt": "2026-01-01"},
        {"id": "g3", "code": "c", "archived": False, "createdAt": "2026-03-01"},
        {"id": "g2", "code": "c", "archived": False, "createdAt": "2026-02-01"},
    ]
    assert choose_keeper(groups, None)["id"] == "g2"
    assert choose_keeper(groups[:1], None)["id"] == "g1"  # none active: the oldest comes back


def test_the_same_pleo_tag_listed_twice_is_one_tag_never_a_copy_to_archive():
    twice = [pleo("1", "a", "A"), pleo("1", "a", "A"), pleo("2", "gone", "G"), pleo("2", "gone", "G")]
    plan = plan_tags(desired(("a", "A", False)), twice)
    assert kinds(plan) == [("archive", "gone", "2")]  # once, and the kept tag "1" is left alone


def test_the_plan_is_the_same_from_the_frame_or_from_its_rows():
    frame = desired(("a", "A", False), ("b", "B2", False), ("c", "C", True))
    current = [pleo("1", "a", "A"), pleo("2", "B", "B"), pleo("3", "c", "C"), pleo("4", "gone", "G")]
    by_frame, by_rows = plan_tags(frame, current), plan_tags(Desired(frame), current)
    assert by_frame.actions == by_rows.actions and by_rows.unchanged == by_frame.unchanged == 1
    assert kinds(by_rows) == [("archive", "c", "3"), ("archive", "gone", "4"), ("rename", "B", "2")]


def test_live_ids_map_every_code_pleo_holds_to_one_tag_except_held_ones():
    """The dimension step reads the live keepers' ids: one tag per code (duplicates resolved, codes gone from the
    source included until their archive is written), none for a code whose source row was rejected."""
    current = [
        pleo("1", "a", "A"),
        pleo("2", "B", "B old", created="2026-01-01"),
        pleo("3", "b", "B", created="2026-02-01"),
        pleo("4", "gone", "Gone", created="2026-01-01"),
        pleo("5", "gone", "Gone", created="2026-02-01"),
        pleo("6", "held", "Held"),
    ]
    plan = plan_tags(desired(("a", "A", False), ("b", "B", False), ("new", "New", False)), current, ["held"])
    assert dict(plan.live.items()) == {"a": "1", "b": "3", "gone": "4"}
    assert plan.held == 1
    assert kinds(plan) == [
        ("archive", "gone", "4"),
        ("archive_duplicate", "B", "2"),
        ("archive_duplicate", "gone", "5"),
        ("create", "new", None),
    ]


def test_the_oldest_copy_is_kept_by_time_whatever_its_offset():
    """createdAt is compared as time (Pleo's listing keeps it as a number, to stay light): 00:00 at +02:00 is
    older than 23:00 UTC the day before; a copy without createdAt counts as oldest, unreadable text as newest."""
    current = [
        pleo("1", "a", "X", created="2026-01-31T23:00:00Z"),
        pleo("2", "a", "X", created="2026-02-01T00:00:00+02:00"),
        pleo("3", "a", "X", created="not a date"),
    ]
    plan = plan_tags(desired(("a", "X", False)), current)
    assert plan.live.get("a") == "2"
    assert kinds(plan) == [("archive_duplicate", "a", "1"), ("archive_duplicate", "a", "3")]
    plan = plan_tags(desired(("a", "X", False)), [*current, pleo("4", "a", "X", created=None)])
    assert plan.live.get("a") == "4"


def test_writes_go_desired_changes_first_then_creates_then_archives_of_tags_gone():
    """A Pleo write refused again and again stops only what is queued after it: the clean-up of tags gone from the
    source comes last, so it never holds back the new tags."""
    current = [pleo("1", "gone", "G"), pleo("2", "a", "Old"), pleo("3", "b", "B"), pleo("4", "B", "B copy")]
    plan = plan_tags(desired(("new", "N", False), ("a", "A", False), ("b", "B", False)), current)
    assert [(a.kind, a.pleo_id) for a in plan.actions] == [
        ("rename", "2"),
        ("archive_duplicate", "4"),
        ("create", None),
        ("archive", "1"),
    ]


def test_copies_whose_created_at_is_not_a_time_are_still_ordered_by_it():
    """Unreadable createdAt text sorts after every time, and among copies by the text itself, as it always did;
    an integer too large for a float is unreadable too, never an error."""
    current = [pleo("1", "a", "X", created="zzz"), pleo("2", "a", "X", created="aaa")]
    assert plan_tags(desired(("a", "X", False)), current).live.get("a") == "2"
    current = [pleo("1", "a", "X", created=10**400), pleo("2", "a", "X", created="2026-01-01T00:00:00Z")]
    assert plan_tags(desired(("a", "X", False)), current).live.get("a") == "2"
