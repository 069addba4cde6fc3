"""The mapping file: defaults, and one clear error per kind of mistake."""

from __future__ import annotations

import pytest

from ghl_pleo.config import DEFAULT_MAPPING_FILE, MappingConfig, load_mapping, parse_mapping
from ghl_pleo.errors import ConfigurationError


def test_the_shipped_mapping_file_loads_with_the_contract_defaults():
    cfg = load_mapping(DEFAULT_MAPPING_FILE)
    assert cfg == MappingConfig()
    assert cfg.group_name("L1", "Mark Shoes") == "Social: Mark Shoes"
    assert cfg.group_name("L1", None) == "L1" and cfg.group_name("L1", "  ") == "L1"


@pytest.mark.parametrize(
    "data, match",
    [
        ({"colour": "blue"}, "unknown key"),
        ({"group_name_template": "Social: {name}"}, "group_name_template"),
        ({"group_name_template": "Social: {location_name"}, "group_name_template"),
        ({"max_name_length": "255"}, "max_name_length"),
        ({"detail_level": "everything"}, "detail_level"),
        ({"dimensions": ["ghl_colour"]}, "dimensions"),
        (["not", "a", "mapping"], "top level"),
    ],
)
def test_mistakes_name_the_file_and_key(data, match):
    with pytest.raises(ConfigurationError, match=match) as err:
        parse_mapping(data, "include/mapping.yaml")
    assert "include/mapping.yaml" in str(err.value)


def test_missing_file_is_a_configuration_error(tmp_path):
    with pytest.raises(ConfigurationError, match="does not exist"):
        load_mapping(tmp_path / "nope.yaml")


@pytest.mark.parametrize(
    "data, key",
    [
        ({"metrics": ["posts", "clicks"]}, "metrics"),
        ({"metrics": "posts"}, "metrics"),
        ({"defaults": {"reach": -1}}, "defaults.reach"),
        ({"defaults": {"ghl_created_by": 3}}, "defaults.ghl_created_by"),
        ({"defaults": {"colour": 1}}, "defaults.colour"),
        ({"locations": {"L1": {"company_id": "not-a-uuid"}}}, "locations.L1.company_id"),
        ({"locations": {"L1": {"company": "7d2a8f5e-1c3b-4e6f-9a0d-5b4c3e2f1a00"}}}, "locations.L1"),
        ({"max_name_length": 0}, "max_name_length"),
    ],
)
def test_statistics_and_location_keys_are_validated(data, key):
    with pytest.raises(ConfigurationError, match=f"key '{key}'"):
        parse_mapping(data, "m.yaml")


def test_per_location_companies_and_defaults_load():
    cfg = parse_mapping(
        {
            "locations": {"L1": {"company_id": "7D2A8F5E-1C3B-4E6F-9A0D-5B4C3E2F1A00"}},
            "defaults": {"reach": 0, "ghl_created_by": "unknown"},
            "metrics": ["posts"],
        }
    )
    assert cfg.company_for("L1") == "7d2a8f5e-1c3b-4e6f-9a0d-5b4c3e2f1a00" and cfg.company_for("L2") is None
    assert cfg.metrics == ("posts",) and cfg.defaults["reach"] == 0


def test_the_archive_guard_settings_load_and_are_checked():
    cfg = parse_mapping({"quality": {"max_archives_per_run": 50, "volume_baseline_days": 3}}, "m.yaml")
    assert (cfg.max_archives_per_run, cfg.volume_baseline_days) == (50, 3.0)
    assert (MappingConfig().max_archives_per_run, MappingConfig().volume_baseline_days) == (200, 7.0)
    for bad in ({"max_archives_per_run": 2.5}, {"max_archives_per_run": -1}, {"volume_baseline_days": "7"}):
        with pytest.raises(ConfigurationError, match=f"key 'quality.{next(iter(bad))}'"):
            parse_mapping({"quality": bad}, "m.yaml")


def test_the_input_limits_load_and_are_checked():
    cfg = parse_mapping({"max_id_length": 40, "max_value_length": 100}, "m.yaml")
    assert (cfg.max_id_length, cfg.max_value_length) == (40, 100)
    with pytest.raises(ConfigurationError, match="key 'max_value_length'"):
        parse_mapping({"max_value_length": 0}, "m.yaml")


def test_budgets_load_as_exact_decimals():
    from decimal import Decimal

    cfg = parse_mapping({"budgets": {"L1": {"monthly": "5000.00"}, "L2": {"monthly": "0.1"}}}, "m.yaml")
    assert cfg.budgets == {"L1": Decimal("5000.00"), "L2": Decimal("0.1")}
    assert parse_mapping({"budgets": None}).budgets == {} and MappingConfig().budgets == {}


@pytest.mark.parametrize(
    "budgets, key, match",
    [
        ({"L1": {"monthly": 5000.0}}, "budgets.L1.monthly", "quoted string"),
        ({"L1": {"monthly": 5000}}, "budgets.L1.monthly", "quoted string"),
        ({"L1": {"monthly": "5k"}}, "budgets.L1.monthly", "quoted string"),
        ({"L1": {"monthly": "NaN"}}, "budgets.L1.monthly", "quoted string"),
        ({"L1": {"monthly": "-1.00"}}, "budgets.L1.monthly", "zero or more"),
        ({"L1": {"monthly": "1.00001"}}, "budgets.L1.monthly", "at most 4 decimals"),
        ({"L1": {"weekly": "10"}}, "budgets.L1", "one key monthly"),
        ({"L1": "5000.00"}, "budgets.L1", "one key monthly"),
        (["L1"], "budgets", "mapping"),
    ],
)
def test_bad_budgets_are_configuration_errors(budgets, key, match):
    with pytest.raises(ConfigurationError, match=f"key '{key}' must be .*{match}") as err:
        parse_mapping({"budgets": budgets}, "m.yaml")
    assert "m.yaml" in str(err.value)
