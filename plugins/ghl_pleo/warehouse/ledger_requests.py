"""Requests a later task made for a location whose ledger row its own task already closed (the statistics
metadata write runs in ``write_metadata``, after every location's fetch): added to that row, so the summary's and
the dashboard's request counts hold them. Part of :class:`ghl_pleo.warehouse.ledger.LedgerStore`."""

from __future__ import annotations

import json

from sqlalchemy import text

from ghl_pleo.warehouse.core import Database


class LaterRequests:
    db: Database  # the LedgerStore's

    def add_location_requests(self, dag_id: str, run_id: str, location_id: str, hook: str, extra: dict) -> None:
        """Add requests a later task made for a location (the statistics metadata write) to its ledger row's
        ``requests`` of ``hook`` and its ``requests_total``/``retries`` columns."""
        key = {"d": dag_id, "r": run_id, "l": location_id}
        with self.db.begin() as conn:
            row = conn.execute(
                text("SELECT requests FROM sync_location_runs WHERE dag_id = :d AND run_id = :r AND location_id = :l"),
                key,
            ).first()
            if row is None:
                return
            requests = json.loads(row[0]) if row[0] else {}
            mine = requests.setdefault(hook, {"requests": {}, "total_requests": 0, "retries": 0})
            for endpoint, n in extra.get("requests", {}).items():
                mine.setdefault("requests", {})[endpoint] = mine.get("requests", {}).get(endpoint, 0) + n
            mine["total_requests"] = int(mine.get("total_requests") or 0) + int(extra.get("total_requests") or 0)
            mine["retries"] = int(mine.get("retries") or 0) + int(extra.get("retries") or 0)
            conn.execute(
                text(
                    "UPDATE sync_location_runs SET requests = :q, requests_total = COALESCE(requests_total, 0) + :n, "
                    "retries = COALESCE(retries, 0) + :rr WHERE dag_id = :d AND run_id = :r AND location_id = :l"
                ),
                {
                    **key,
                    "q": json.dumps(requests, sort_keys=True),
                    "n": int(extra.get("total_requests") or 0),
                    "rr": int(extra.get("retries") or 0),
                },
            )
