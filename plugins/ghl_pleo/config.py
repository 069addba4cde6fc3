"""The mapping file (``include/mapping.yaml``) as a typed, validated config."""

from __future__ import annotations

import os
import re
import string
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ghl_pleo.errors import ConfigurationError
from ghl_pleo.spend_money import MAX_EXPONENT, MoneyError, parse_decimal_text
from ghl_pleo.spend_settings import SpendSettings, parse_spend

DEFAULT_MAPPING_FILE = Path(__file__).resolve().parents[2] / "include" / "mapping.yaml"
TEMPLATE_FIELDS = {"location_name", "location_id"}
DIMENSIONS = {  # code -> (display name, display order)
    "ghl_location": ("GHL location", 1),
    "ghl_created_by": ("Created by", 2),
    "ghl_created_at": ("Created at", 3),
    "ghl_updated_at": ("Updated at", 4),
}
DETAIL_LEVELS = ("basic", "full")
METRIC_NAMES = ("posts", "likes", "followers", "impressions", "comments", "reach", "shares")
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


@dataclass(frozen=True)
class MappingConfig:
    """Non-secret mapping rules.

    Attributes:
        group_name_template: Pleo tag-group name, e.g. ``"Social: {location_name}"``.
        max_name_length: longest accepted tag name in code points; longer ones are rejected.
        max_id_length / max_value_length: longest accepted tag id (the Pleo code) and dimension value (e.g.
            ``createdBy``); longer ones are rejected with their reason rather than sent for Pleo to refuse.
        detail_level: ``full`` writes the dimensions below, ``basic`` writes none.
        dimensions: dimension codes that flow (subset of :data:`DIMENSIONS`).
        metrics: statistics totals that flow into the group's ``metrics`` metadata.
        defaults: value for a source field GHL left out: a metric (number) or a dimension (string).
        location_companies: Pleo ``company_id`` per location, for agencies whose clients keep
            separate Pleo companies; other locations use the connection's company.
        volume_drop_threshold / volume_baseline_days / max_archives_per_run: the archive guard (README,
            "Data quality"): the largest fall of the tag count below the highest count of the good runs of the
            last ``volume_baseline_days`` (or since the last release), and the most archives one run may make.
        budgets: monthly budget per location as a Decimal in the company currency (``budgets: {<locationId>:
            {monthly: "5000.00"}}``); checked against the currency's decimals once it is known
            (:func:`ghl_pleo.spend_budget.budget_minor`).
        spend: the spend sync's settings (:mod:`ghl_pleo.spend_settings`: ``lookback_days``, ``families``, ...).
        source: the file this came from (for messages).
    """

    group_name_template: str = "Social: {location_name}"
    max_name_length: int = 255
    max_id_length: int = 64
    max_value_length: int = 255
    detail_level: str = "full"
    dimensions: tuple[str, ...] = tuple(DIMENSIONS)
    metrics: tuple[str, ...] = METRIC_NAMES
    defaults: dict = field(default_factory=dict, hash=False)
    location_companies: dict = field(default_factory=dict, hash=False)
    max_rejected_share: float = 0.05
    volume_drop_threshold: float = 0.30
    volume_baseline_days: float = 7.0
    max_archives_per_run: int = 200
    future_tolerance_minutes: int = 10
    budgets: dict = field(default_factory=dict, hash=False)
    spend: SpendSettings = field(default_factory=SpendSettings)
    source: str = field(default="<defaults>", compare=False)

    def company_for(self, location_id: str) -> str | None:
        return self.location_companies.get(location_id)

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


def _parse_group_name_template(tpl: Any, source: str) -> dict[str, Any]:
    if not isinstance(tpl, str) or not tpl.strip():
        raise _fail(source, "group_name_template", "a non-empty string", tpl)
    try:
        fields = {f for _, f, _, _ in string.Formatter().parse(tpl) if f is not None}
    except ValueError as exc:
        raise _fail(source, "group_name_template", f"a valid template ({exc})", tpl) from None
    bad = fields - TEMPLATE_FIELDS
    if bad:
        raise _fail(
            source,
            "group_name_template",
            f"a template using only {{location_name}} and {{location_id}} (unknown: {sorted(bad)})",
            tpl,
        )
    return {"group_name_template": tpl}


def _length_parser(key: str):
    def parse(n: Any, source: str) -> dict[str, Any]:
        if not isinstance(n, int) or isinstance(n, bool) or not 1 <= n <= 10000:
            raise _fail(source, key, "an integer from 1 to 10000", n)
        return {key: n}

    return parse


def _parse_detail_level(level: Any, source: str) -> dict[str, Any]:
    if level not in DETAIL_LEVELS:
        raise _fail(source, "detail_level", f"one of {list(DETAIL_LEVELS)}", level)
    return {"detail_level": level}


def _parse_dimensions(dims: Any, source: str) -> dict[str, Any]:
    if not isinstance(dims, list) or any(d not in DIMENSIONS for d in dims) or len(set(dims)) != len(dims):
        raise _fail(source, "dimensions", f"a list of distinct codes from {list(DIMENSIONS)}", dims)
    return {"dimensions": tuple(dims)}


def _parse_metrics(metrics: Any, source: str) -> dict[str, Any]:
    if (
        not isinstance(metrics, list)
        or any(m not in METRIC_NAMES for m in metrics)
        or len(set(metrics)) != len(metrics)
    ):
        raise _fail(source, "metrics", f"a list of distinct names from {list(METRIC_NAMES)}", metrics)
    return {"metrics": tuple(metrics)}


def _parse_defaults(defaults: Any, source: str) -> dict[str, Any]:
    if not isinstance(defaults, dict):
        raise _fail(source, "defaults", "a mapping of field -> default value", defaults)
    for key, value in defaults.items():
        if key in METRIC_NAMES:
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise _fail(source, f"defaults.{key}", "a non-negative number (it is a metric)", value)
        elif key in DIMENSIONS:
            if not isinstance(value, str) or not value.strip():
                raise _fail(source, f"defaults.{key}", "a non-empty string (it is a dimension value)", value)
        else:
            raise _fail(
                source,
                f"defaults.{key}",
                f"one of the metrics {list(METRIC_NAMES)} or dimensions {list(DIMENSIONS)}",
                key,
            )
    return {"defaults": dict(defaults)}


def _parse_locations(locations: Any, source: str) -> dict[str, Any]:
    locations = locations or {}
    if not isinstance(locations, dict):
        raise _fail(source, "locations", "a mapping {locationId: {company_id: <uuid>}}", locations)
    companies = {}
    for loc, settings in locations.items():
        if not isinstance(settings, dict) or set(settings) - {"company_id"}:
            raise _fail(source, f"locations.{loc}", "a mapping with the key company_id", settings)
        company = settings.get("company_id")
        if not isinstance(company, str) or not _UUID.match(company):
            raise _fail(source, f"locations.{loc}.company_id", "a Pleo company uuid", company)
        companies[str(loc)] = company.lower()
    return {"location_companies": companies}


_QUALITY_LIMITS = {
    "max_rejected_share": (0.0, 1.0, float),
    "volume_drop_threshold": (0.0, 1.0, float),
    "volume_baseline_days": (0.0, 365.0, float),
    "max_archives_per_run": (0, 1_000_000, int),
    "future_tolerance_minutes": (0, 10080, int),
}


def _parse_quality(quality: Any, source: str) -> dict[str, Any]:
    quality = quality or {}
    if not isinstance(quality, dict):
        raise _fail(source, "quality", "a mapping of threshold names to numbers", quality)
    thresholds: dict[str, Any] = {}
    for key, value in quality.items():
        if key not in _QUALITY_LIMITS:
            raise _fail(source, f"quality.{key}", f"one of {sorted(_QUALITY_LIMITS)}", key)
        lo, hi, kind = _QUALITY_LIMITS[key]
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and lo <= value <= hi
        if kind is int:
            ok = ok and float(value).is_integer()
        if not ok:
            raise _fail(source, f"quality.{key}", f"a number from {lo} to {hi}", value)
        thresholds[key] = kind(value)
    return thresholds


def _parse_budgets(budgets: Any, source: str) -> dict[str, Any]:
    """``{<locationId>: {monthly: "5000.00"}}``: a non-negative decimal written as text (a float would round)."""
    budgets = budgets or {}
    if not isinstance(budgets, dict):
        raise _fail(source, "budgets", 'a mapping {locationId: {monthly: "5000.00"}}', budgets)
    parsed = {}
    for loc, settings in budgets.items():
        if not isinstance(settings, dict) or set(settings) != {"monthly"}:
            raise _fail(
                source, f"budgets.{loc}", 'a mapping with the one key monthly (e.g. {monthly: "5000.00"})', settings
            )
        monthly = settings["monthly"]
        key = f"budgets.{loc}.monthly"
        try:
            amount = parse_decimal_text(monthly)
        except MoneyError:
            raise _fail(source, key, 'a decimal written as a quoted string, e.g. "5000.00"', monthly) from None
        if amount < 0:
            raise _fail(source, key, "a budget of zero or more", monthly)
        if -amount.as_tuple().exponent > MAX_EXPONENT:
            raise _fail(source, key, f"an amount with at most {MAX_EXPONENT} decimals (no currency has more)", monthly)
        parsed[str(loc)] = amount
    return {"budgets": parsed}


# Top-level key -> parser returning MappingConfig keyword arguments; checked in this order.
_KEY_PARSERS = {
    "group_name_template": _parse_group_name_template,
    "max_name_length": _length_parser("max_name_length"),
    "max_id_length": _length_parser("max_id_length"),
    "max_value_length": _length_parser("max_value_length"),
    "detail_level": _parse_detail_level,
    "dimensions": _parse_dimensions,
    "metrics": _parse_metrics,
    "defaults": _parse_defaults,
    "locations": _parse_locations,
    "quality": _parse_quality,
    "budgets": _parse_budgets,
    "spend": parse_spend,
}


def parse_mapping(data: Any, source: str = "<inline>") -> MappingConfig:
    """Validate a parsed mapping document and return the config. Errors name file, key and expected form."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise _fail(source, "<top level>", "a mapping of keys to values", type(data).__name__)
    known = set(_KEY_PARSERS)
    unknown = sorted(set(data) - known)
    if unknown:
        raise ConfigurationError(f"Mapping file {source}: unknown key(s) {unknown}; known keys are {sorted(known)}.")
    kwargs: dict[str, Any] = {"source": source}
    for key, parse in _KEY_PARSERS.items():
        if key in data:
            kwargs.update(parse(data[key], source))
    return MappingConfig(**kwargs)


def load_mapping(path: str | os.PathLike | None = None) -> MappingConfig:
    """Load the mapping file (``GHL_PLEO_MAPPING_FILE`` or ``include/mapping.yaml``)."""
    import yaml

    path = Path(path or os.environ.get("GHL_PLEO_MAPPING_FILE") or DEFAULT_MAPPING_FILE)
    if not path.exists():
        raise ConfigurationError(
            f"Mapping file {path} does not exist; set GHL_PLEO_MAPPING_FILE or restore include/mapping.yaml."
        )
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigurationError(f"Mapping file {path} is not valid YAML: {exc}") from None
    return parse_mapping(data, str(path))
