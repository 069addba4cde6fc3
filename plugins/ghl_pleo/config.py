"""The mapping file (``include/mapping.yaml``) as a typed, validated config."""
from __future__ import annotations

import os
import string
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ghl_pleo.errors import ConfigurationError

DEFAULT_MAPPING_FILE = Path(__file__).resolve().parents[2] / "include" / "mapping.yaml"
TEMPLATE_FIELDS = {"location_name", "location_id"}
DIMENSIONS = {  # code -> (display name, display order)
    "ghl_location": ("GHL location", 1),
    "ghl_created_by": ("Created by", 2),
    "ghl_created_at": ("Created at", 3),
    "ghl_updated_at": ("Updated at", 4),
}
DETAIL_LEVELS = ("basic", "full")


@dataclass(frozen=True)
class MappingConfig:
    """Non-secret mapping rules.

    Attributes:
        group_name_template: Pleo tag-group name, e.g. ``"Social: {location_name}"``.
        max_name_length: longest accepted tag name in code points; longer ones are rejected.
        detail_level: ``full`` writes the dimensions below, ``basic`` writes none.
        dimensions: dimension codes that flow (subset of :data:`DIMENSIONS`).
        source: the file this came from (for messages).
    """

    group_name_template: str = "Social: {location_name}"
    max_name_length: int = 255
    detail_level: str = "full"
    dimensions: tuple[str, ...] = tuple(DIMENSIONS)
    source: str = field(default="<defaults>", compare=False)

    @property
    def active_dimensions(self) -> tuple[str, ...]:
        return self.dimensions if self.detail_level == "full" else ()

    def group_name(self, location_id: str, location_name: str | None) -> str:
        name = (location_name or "").strip()
        if not name:
            return location_id
        return self.group_name_template.format(location_name=name, location_id=location_id)


def _fail(path: str, key: str, expected: str, got: Any) -> ConfigurationError:
    return ConfigurationError(f"Mapping file {path}: key {key!r} must be {expected}; got {got!r}.")


def parse_mapping(data: Any, source: str = "<inline>") -> MappingConfig:
    """Validate a parsed mapping document and return the config. Errors name file, key and expected form."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise _fail(source, "<top level>", "a mapping of keys to values", type(data).__name__)
    known = {"group_name_template", "max_name_length", "detail_level", "dimensions"}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ConfigurationError(f"Mapping file {source}: unknown key(s) {unknown}; known keys are {sorted(known)}.")
    kwargs: dict[str, Any] = {"source": source}
    if "group_name_template" in data:
        tpl = data["group_name_template"]
        if not isinstance(tpl, str) or not tpl.strip():
            raise _fail(source, "group_name_template", "a non-empty string", tpl)
        try:
            fields = {f for _, f, _, _ in string.Formatter().parse(tpl) if f is not None}
        except ValueError as exc:
            raise _fail(source, "group_name_template", f"a valid template ({exc})", tpl) from None
        bad = fields - TEMPLATE_FIELDS
        if bad:
            raise _fail(source, "group_name_template",
                        f"a template using only {{location_name}} and {{location_id}} (unknown: {sorted(bad)})", tpl)
        kwargs["group_name_template"] = tpl
    if "max_name_length" in data:
        n = data["max_name_length"]
        if not isinstance(n, int) or isinstance(n, bool) or not 1 <= n <= 10000:
            raise _fail(source, "max_name_length", "an integer from 1 to 10000", n)
        kwargs["max_name_length"] = n
    if "detail_level" in data:
        level = data["detail_level"]
        if level not in DETAIL_LEVELS:
            raise _fail(source, "detail_level", f"one of {list(DETAIL_LEVELS)}", level)
        kwargs["detail_level"] = level
    if "dimensions" in data:
        dims = data["dimensions"]
        if not isinstance(dims, list) or any(d not in DIMENSIONS for d in dims) or len(set(dims)) != len(dims):
            raise _fail(source, "dimensions", f"a list of distinct codes from {list(DIMENSIONS)}", dims)
        kwargs["dimensions"] = tuple(dims)
    return MappingConfig(**kwargs)


def load_mapping(path: str | os.PathLike | None = None) -> MappingConfig:
    """Load the mapping file (``GHL_PLEO_MAPPING_FILE`` or ``include/mapping.yaml``)."""
    import yaml

    path = Path(path or os.environ.get("GHL_PLEO_MAPPING_FILE") or DEFAULT_MAPPING_FILE)
    if not path.exists():
        raise ConfigurationError(f"Mapping file {path} does not exist; set GHL_PLEO_MAPPING_FILE or restore "
                                 f"include/mapping.yaml.")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigurationError(f"Mapping file {path} is not valid YAML: {exc}") from None
    return parse_mapping(data, str(path))
