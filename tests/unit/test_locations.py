"""The location list: the variable's JSON, and the run's ``locations`` param limiting it."""

from __future__ import annotations

import pytest

from ghl_pleo.errors import ConfigurationError
from ghl_pleo.locations import limit_to, parse_location_ids


def test_the_locations_param_must_name_locations_in_the_list():
    ids = ["LocAAAAAAAAAAAAAAAAA", "LocBBBBBBBBBBBBBBBBB", "LocCCCCCCCCCCCCCCCCC"]
    assert limit_to(ids, None, "the list") == ids
    assert limit_to(ids, [" LocCCCCCCCCCCCCCCCCC", "LocAAAAAAAAAAAAAAAAA"], "the list") == [ids[0], ids[2]]
    with pytest.raises(ConfigurationError, match="LocZZZZZZZZZZZZZZZZZ"):
        limit_to(ids, ["LocAAAAAAAAAAAAAAAAA", "LocZZZZZZZZZZZZZZZZZ"], "the variable ghl_location_ids")


def test_the_variable_is_a_json_list_of_ids_with_duplicates_dropped():
    assert parse_location_ids('["LocAAAAAAAAAAAAAAAAA", " LocAAAAAAAAAAAAAAAAA", "LocBBBBBBBBBBBBBBBBB"]') == [
        "LocAAAAAAAAAAAAAAAAA",
        "LocBBBBBBBBBBBBBBBBB",
    ]
    for bad in ("LocAAAAAAAAAAAAAAAAA", '{"a": 1}', '["", "x"]', "[1]"):
        with pytest.raises(ConfigurationError, match="ghl_location_ids"):
            parse_location_ids(bad)


def test_run_params_with_ids_are_whole_ids_never_substrings():
    from ghl_pleo.locations import param_ids

    assert param_ids("Loc1, Loc2 ,,") == ["Loc1", "Loc2"]
    assert param_ids(["Loc1", " all "]) == ["Loc1", "all"]
    assert param_ids(None) == [] and param_ids("") == []
    assert "Loc" not in param_ids("Loc1234")  # a string is split, not searched: "Loc" is not released by "Loc1234"
    with pytest.raises(ConfigurationError, match="list of ids"):
        param_ids({"Loc1": True})
