"""The spend tables (include/sql/010_spend.sql): replace a company's days in one transaction, and the reads.

A spend run re-reads a trailing window of days and hands everything it found for those days to
:meth:`SpendStore.replace_days`: the company's rows of those days in ``pleo_spend_daily``,
``spend_vs_social_daily``, ``pleo_tag_suggestions`` and ``spend_quarantine`` are deleted and the new ones inserted
in one transaction, so a re-run or an overlapping backfill never duplicates and a reader never sees half a day.
A run whose read was incomplete calls nothing here: it replaces no days. Budget alerts sent are remembered in
``spend_budget_alerts`` (one per location and month).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import pandas as pd
from sqlalchemy import bindparam, text

from ghl_pleo.warehouse.core import Database, utcnow

SOCIAL_COLUMNS = [
    "company_id",
    "location_id",
    "day",
    "currency",
    "spend_minor",
    "has_spend",
    "has_statistics",
    "impressions",
    "reach",
    "engagements",
    "cost_per_1k_impressions",
    "cost_per_engagement",
]
TABLES = ("pleo_spend_daily", "spend_vs_social_daily", "pleo_tag_suggestions", "spend_quarantine")
STAT_KEYS = ("impressions", "reach", "likes", "comments", "shares")


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


class SpendStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def replace_days(
        self,
        company_id: str,
        days: Iterable[str],
        *,
        daily: pd.DataFrame,
        social: list[dict],
        suggestions: list[dict],
        quarantine: list[dict],
        run_id: str,
    ) -> dict[str, int]:
        """Replace the company's rows of ``days`` in the four spend tables with these (one transaction).

        Every row must fall on one of ``days`` (a row of another day would survive the next replace: ValueError).
        Returns the rows written per table.
        """
        days = sorted(set(days))
        rows = {
            "pleo_spend_daily": self._daily_rows(company_id, daily, run_id),
            "spend_vs_social_daily": [self._social_row(company_id, r, run_id) for r in social],
            "pleo_tag_suggestions": [self._suggestion_row(company_id, r, run_id) for r in suggestions],
            "spend_quarantine": [self._quarantine_row(company_id, r, run_id) for r in quarantine],
        }
        for table, items in rows.items():
            outside = sorted({r["day"] for r in items} - set(days))
            if outside:
                raise ValueError(f"{table}: rows for {outside}, outside the days replaced ({days[0]}..{days[-1]})")
        with self.db.begin() as conn:
            for table in TABLES:
                conn.execute(
                    text(f"DELETE FROM {table} WHERE company_id = :c AND day IN :days").bindparams(
                        bindparam("days", expanding=True)
                    ),
                    {"c": company_id, "days": days},
                )
                if rows[table]:
                    cols = list(rows[table][0])
                    conn.execute(
                        text(f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join(':' + c for c in cols)})"),
                        rows[table],
                    )
        return {table: len(items) for table, items in rows.items()}

    @staticmethod
    def _daily_rows(company_id: str, daily: pd.DataFrame, run_id: str) -> list[dict]:
        now = utcnow()
        out = []
        for r in daily.to_dict("records"):
            if r["company_id"] != company_id:
                raise ValueError(f"pleo_spend_daily: a row of company {r['company_id']!r}, not {company_id!r}")
            out.append(
                {
                    **{k: str(r[k]) for k in ("company_id", "location_id", "tag_code", "day", "currency")},
                    "amount_minor": int(r["amount_minor"]),
                    "entries": int(r["entries"]),
                    "run_id": run_id,
                    "loaded_at": now,
                }
            )
        return out

    @staticmethod
    def _social_row(company_id: str, r: dict, run_id: str) -> dict:
        return {
            **{c: r.get(c) for c in SOCIAL_COLUMNS[1:]},
            "company_id": company_id,
            "spend_minor": int(r["spend_minor"]),
            "has_spend": int(bool(r["has_spend"])),
            "has_statistics": int(bool(r["has_statistics"])),
            "cost_per_1k_impressions": _text(r.get("cost_per_1k_impressions")),
            "cost_per_engagement": _text(r.get("cost_per_engagement")),
            "run_id": run_id,
        }

    @staticmethod
    def _suggestion_row(company_id: str, r: dict, run_id: str) -> dict:
        return {
            "company_id": company_id,
            "entry_id": str(r["entry_id"]),
            "split_id": str(r.get("split_id") or ""),
            "day": str(r["day"]),
            "currency": str(r["currency"]),
            "amount_minor": int(r["amount_minor"]),
            "note": r.get("note"),
            "candidates": json.dumps(r["candidates"], sort_keys=True, ensure_ascii=False),
            "reason": str(r["reason"]),
            "run_id": run_id,
        }

    @staticmethod
    def _quarantine_row(company_id: str, r: dict, run_id: str) -> dict:
        return {
            "company_id": company_id,
            "entry_id": str(r.get("entry_id")),
            "split_id": str(r.get("split_id") or ""),
            "day": str(r["day"]),
            "family": _text(r.get("family")),
            "reason": str(r["reason"]),
            "record": json.dumps(r.get("record", r), sort_keys=True, default=str, ensure_ascii=False),
            "run_id": run_id,
        }

    # reads -------------------------------------------------------------------------------------
    def spend_daily(self, company_id: str | None = None, start: str = "", end: str = "9999") -> pd.DataFrame:
        """``pleo_spend_daily`` rows with ``start <= day <= end`` (days as ``YYYY-MM-DD``), in key order."""
        where = "day >= :s AND day <= :e" + (" AND company_id = :c" if company_id else "")
        frame = self.db.frame(
            "SELECT company_id, location_id, tag_code, day, currency, amount_minor, entries FROM pleo_spend_daily "
            f"WHERE {where} ORDER BY company_id, location_id, tag_code, day, currency",
            {"s": start, "e": end, "c": company_id},
        )
        return frame.astype({"amount_minor": "int64", "entries": "int64"})

    def statistics_totals(self, location_ids: Iterable[str], start: str, end: str) -> list[dict]:
        """Each location's statistics totals per day (``ghl_statistics_daily``) with ``start <= day <= end``:
        ``{"location_id", "day", "impressions", "reach", "likes", "comments", "shares"}`` (missing ones absent)."""
        ids = sorted(set(location_ids))
        if not ids:
            return []
        with self.db.connect() as conn:
            found = conn.execute(
                text(
                    "SELECT location_id, day, metrics FROM ghl_statistics_daily WHERE location_id IN :ids AND "
                    "day >= :s AND day <= :e ORDER BY location_id, day"
                ).bindparams(bindparam("ids", expanding=True)),
                {"ids": ids, "s": start, "e": end},
            ).all()
        out = []
        for location_id, day, metrics in found:
            totals = (json.loads(metrics) or {}).get("totals") or {}
            out.append({"location_id": location_id, "day": day, **{k: totals[k] for k in STAT_KEYS if k in totals}})
        return out

    def spend_vs_social(self, location_id: str | None = None, start: str = "", end: str = "9999") -> list[dict]:
        """``spend_vs_social_daily`` rows (flags as bools), by location and day."""
        where = "day >= :s AND day <= :e" + (" AND location_id = :l" if location_id else "")
        rows = self.db.query(
            f"SELECT {', '.join(SOCIAL_COLUMNS)} FROM spend_vs_social_daily WHERE {where} ORDER BY location_id, day",
            {"s": start, "e": end, "l": location_id},
        )
        for r in rows:
            r["has_spend"], r["has_statistics"] = bool(r["has_spend"]), bool(r["has_statistics"])
        return rows

    def suggestions(self, company_id: str | None = None) -> list[dict]:
        """Tag suggestions, largest amount first (candidates parsed)."""
        rows = self.db.query(
            "SELECT company_id, entry_id, split_id, day, currency, amount_minor, note, candidates, reason "
            "FROM pleo_tag_suggestions" + (" WHERE company_id = :c" if company_id else "") + " ORDER BY "
            "ABS(amount_minor) DESC, entry_id, split_id",
            {"c": company_id},
        )
        for r in rows:
            r["candidates"] = json.loads(r["candidates"])
        return rows

    def quarantine(self, company_id: str | None = None) -> list[dict]:
        return self.db.query(
            "SELECT company_id, entry_id, split_id, day, family, reason, record FROM spend_quarantine"
            + (" WHERE company_id = :c" if company_id else "")
            + " ORDER BY day, entry_id, split_id",
            {"c": company_id},
        )

    # budget alerts -----------------------------------------------------------------------------
    def alerted(self, location_id: str, month: str) -> bool:
        return bool(
            self.db.query(
                "SELECT 1 AS x FROM spend_budget_alerts WHERE location_id = :l AND month = :m",
                {"l": location_id, "m": month},
            )
        )

    def record_alert(self, row: dict) -> bool:
        """Remember one alert (location, month); False when one was already remembered (nothing changes)."""
        params = {**row, "alerted_at": utcnow()}
        with self.db.begin() as conn:
            return (
                conn.execute(
                    text(
                        "INSERT INTO spend_budget_alerts (location_id, month, company_id, currency, spent_minor, "
                        "projected_minor, budget_minor, run_id, alerted_at) VALUES (:location_id, :month, "
                        ":company_id, :currency, :spent_minor, :projected_minor, :budget_minor, :run_id, "
                        ":alerted_at) ON CONFLICT (location_id, month) DO NOTHING"
                    ),
                    params,
                ).rowcount
                == 1
            )

    def forget_alert(self, location_id: str, month: str) -> None:
        """Forget an alert (its delivery failed, so the next run tries again)."""
        with self.db.begin() as conn:
            conn.execute(
                text("DELETE FROM spend_budget_alerts WHERE location_id = :l AND month = :m"),
                {"l": location_id, "m": month},
            )
