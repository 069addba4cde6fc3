"""The spend flow: per Pleo company, one accounting-entries search per window -> attributed daily spend, spend
against social statistics, tag suggestions and quarantined records, the window's days replaced in the warehouse.

Each run covers its UTC day and re-reads the ``spend.lookback_days`` days ending with it (tags applied and refunds
arriving late are counted; a tag applied after the lookback is not seen). A company's read holds its lease
(``ghl_pleo_spend_sync:company:<id>``), so overlapping windows of parallel backfill runs never interleave. An
incomplete read or a failed GX suite replaces no days. The company read is a run event; each location of the
company gets its ledger row (:mod:`ghl_pleo.flows.spend_locations`). Pleo's group metadata is written by
:mod:`ghl_pleo.flows.spend_metadata`.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from ghl_pleo.config import MappingConfig
from ghl_pleo.errors import ConfigurationError
from ghl_pleo.flows.spend_locations import close_locations
from ghl_pleo.hooks.pleo import PleoHook
from ghl_pleo.hooks.pleo_entries import iter_entry_pages
from ghl_pleo.leases import acquire
from ghl_pleo.quality import require, run_suite
from ghl_pleo.run_context import SyncRun
from ghl_pleo.spend_attribution import Attribution, attribute, daily
from ghl_pleo.spend_quality import parts_frame, spend_expectations
from ghl_pleo.spend_rules import build_tag_lookup, location_of
from ghl_pleo.spend_social import social_daily
from ghl_pleo.spend_suggest import suggestions

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SpendWindow:
    """The run's UTC day and the ``lookback`` days ending with it: ``[start, end)``."""

    day: date
    lookback: int = 7

    @classmethod
    def for_interval(cls, start: datetime, lookback: int) -> SpendWindow:
        return cls(start.astimezone(UTC).date(), lookback)

    @property
    def days(self) -> list[str]:
        return [(self.day - timedelta(days=i)).isoformat() for i in range(self.lookback - 1, -1, -1)]

    @property
    def start(self) -> datetime:
        first = self.day - timedelta(days=self.lookback - 1)
        return datetime(first.year, first.month, first.day, tzinfo=UTC)

    @property
    def end(self) -> datetime:
        return datetime(self.day.year, self.day.month, self.day.day, tzinfo=UTC) + timedelta(days=1)

    def label(self) -> str:
        return f"{self.days[0]}..{self.days[-1]}"


def company_unit(company_id: str) -> str:
    return f"ghl_pleo_spend_sync:company:{company_id}"


def companies(pleo: PleoHook, config: MappingConfig, locations: list[dict]) -> dict[str, list[str]]:
    """The Pleo companies in use: the location's own from the mapping file, else the connection's."""
    out: dict[str, list[str]] = {}
    for loc in locations:
        company = config.company_for(loc["location_id"]) or pleo.company_id
        out.setdefault(company, []).append(loc["location_id"])
    return out


def company_currency(pleo: PleoHook) -> str:
    currency = pleo.currency
    if currency is None:
        raise ConfigurationError(
            f"Connection {pleo.pleo_conn_id!r}: extra 'currency' (the company's ISO 4217 currency, e.g. DKK) is not "
            f"set; spend is counted in it and never converted, so the spend sync cannot run without it."
        )
    return currency


def sync_spend(
    run: SyncRun, pleo: PleoHook, config: MappingConfig, locations: list[dict], window: SpendWindow, today: date
) -> dict:
    """Every company in use, one after another; a company that fails fails its locations (ledger rows), the
    others still sync. Raises the first error once all were tried (nothing of a failed company was replaced)."""
    currency = company_currency(pleo)
    errors: list[BaseException] = []
    done: dict[str, dict] = {}
    for company, location_ids in companies(pleo, config, locations).items():
        try:
            with acquire(
                run.warehouse.leases, company_unit(company), run.holder, dry_run=run.dry_run, label=f"Company {company}"
            ):
                done[company] = sync_company(run, pleo, config, company, currency, location_ids, window, today)
        except Exception as exc:  # noqa: BLE001 - recorded on each location of the company, raised below
            log.error("Company %s: spend not synced: %s", company, exc)
            for location_id in location_ids:
                run.record_failure(location_id, exc)
            errors.append(exc)
    if errors:
        raise errors[0]
    return {"companies": len(done), "window": window.label(), "by_company": done}


def tag_listing(pleo: PleoHook, company: str) -> list[tuple[dict, list[dict]]]:
    """Our groups of the company (``ghl-social-*``) with every tag, archived ones included."""
    return [
        (group, [tag for page in pleo.iter_tags(group["id"]) for tag in page])
        for group in pleo.list_groups(company)
        if location_of(group.get("code")) is not None and group.get("id")
    ]


def read_entries(pleo: PleoHook, company: str, window: SpendWindow) -> tuple[list[dict], int, int]:
    """Every entry of the window (deleted ones included), the pages read and the rows dropped outside it; an
    incomplete read raises before anything is used."""
    entries, pages, outside = [], 0, 0
    for page in iter_entry_pages(pleo, window.start, window.end, company_id=company):
        entries.extend(page.entries)
        pages, outside = page.number, outside + page.outside
    return entries, pages, outside


def sync_company(
    run: SyncRun,
    pleo: PleoHook,
    config: MappingConfig,
    company: str,
    currency: str,
    location_ids: list[str],
    window: SpendWindow,
    today: date,
) -> dict:
    """One company's window: read, attribute, validate, replace the days, then close its locations' rows."""
    lookup = build_tag_lookup(tag_listing(pleo, company))
    entries, pages, outside = read_entries(pleo, company, window)
    found = attribute(
        entries,
        company=company,
        currency=currency,
        lookup=lookup,
        families=config.spend.families,
        window=(window.start, window.end),
    )
    gate = run_suite(
        "pleo_spend",
        parts_frame(found.attributed + found.untagged),
        spend_expectations(window.days),
        run_name=f"{run.dag_id}-{run.run_id}-{company}",
    )
    require(gate, f"Company {company} spend {window.label()}")
    frame = daily(found.attributed)
    in_use = sorted(set(location_ids) | set(frame["location_id"]))
    stats = run.warehouse.spend.statistics_totals(in_use, window.days[0], window.days[-1])
    social = [r for r in social_daily(frame, stats, currency) if r["location_id"] in in_use]
    found_suggestions = suggestions(found.untagged, lookup.names)
    written = run.warehouse.spend.replace_days(
        company,
        window.days,
        daily=frame,
        social=social,
        suggestions=found_suggestions,
        quarantine=quarantine_rows(found, entries, window),
        run_id=run.run_id,
    )
    note_read(run, company, currency, window, found, pages, outside)
    close_locations(run, config, company, currency, location_ids, window, today, found, found_suggestions, gate.docs)
    return {"entries": found.counts["entries"], "pages": pages, **written}


def quarantine_rows(found: Attribution, entries: list[dict], window: SpendWindow) -> list[dict]:
    """Each quarantined part with the record Pleo sent (the split item, or the entry) and its reason."""
    by_id = {e["id"]: e for e in entries}
    rows = []
    for q in found.quarantined:
        entry = by_id.get(q["entry_id"], {})
        splits = {s.get("id"): s for s in entry.get("splitItems") or [] if isinstance(s, dict)}
        record = splits.get(q["split_id"], entry) if q["split_id"] else entry
        rows.append({**q, "day": q.get("day") or window.days[-1], "record": record})
    return rows


def note_read(
    run: SyncRun,
    company: str,
    currency: str,
    window: SpendWindow,
    found: Attribution,
    pages: int,
    outside: int,
) -> None:
    """The company read as a run event (and the unknown families and the quarantine reasons as notes)."""
    c = found.counts
    skipped = sum(n for k, n in c.items() if ":" in k or k == "deleted")
    run.event(
        "*",
        "spend_read",
        f"Pleo company {company} ({currency}), {window.label()}: {c['entries']} entries in {pages} page(s) "
        f"({outside} outside the window dropped); {c['attributed']} parts attributed, {c['untagged']} untagged, "
        f"{c['quarantined']} quarantined, {skipped} counted as nothing (deleted, void status, other family)",
    )
    if found.unknown_families:
        families = ", ".join(f"{f} ({n})" for f, n in sorted(found.unknown_families.items()))
        run.event("*", "unknown_family", f"families the document does not name, skipped: {families}")
    reasons = Counter(q["reason"] for q in found.quarantined)
    for reason, n in sorted(reasons.items()):
        run.event("*", "spend_quarantined", f"{n} part(s) quarantined (spend_quarantine): {reason}")
    log.info("Company %s spend %s: %s", company, window.label(), dict(c))
