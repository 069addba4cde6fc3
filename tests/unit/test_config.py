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


@pytest.mark.parametrize("data, match", [
    ({"colour": "blue"}, "unknown key"),
    ({"group_name_template": "Social: {name}"}, "group_name_template"),
    ({"group_name_template": "Social: {location_name"}, "group_name_template"),
    ({"max_name_length": "255"}, "max_name_length"),
    ({"detail_level": "everything"}, "detail_level"),
    ({"dimensions": ["ghl_colour"]}, "dimensions"),
    (["not", "a", "mapping"], "top level"),
])
def test_mistakes_name_the_file_and_key(data, match):
    with pytest.raises(ConfigurationError, match=match) as err:
        parse_mapping(data, "include/mapping.yaml")
    assert "include/mapping.yaml" in str(err.value)


def test_missing_file_is_a_configuration_error(tmp_path):
    with pytest.raises(ConfigurationError, match="does not exist"):
        load_mapping(tmp_path / "nope.yaml")
