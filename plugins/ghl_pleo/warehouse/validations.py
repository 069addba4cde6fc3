"""Batch validations (include/sql/011_validations.sql): one GX result per validation, one outcome per location."""

from __future__ import annotations

import json

from sqlalchemy import text

from ghl_pleo.warehouse.core import Database, utcnow


class ValidationStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def save(self, dag_id: str, run_id: str, validation_id: str, suite: str, result: dict, outcomes: dict) -> None:
        """One validation's GX result (a dict) and each location's outcome (``{location_id: {"success": ...}}``);
        a re-run of the same validation id replaces them."""
        at = utcnow()
        key = {"d": dag_id, "r": run_id, "v": validation_id}
        with self.db.begin() as conn:
            for table in ("quality_validations", "quality_location_results"):
                conn.execute(text(f"DELETE FROM {table} WHERE dag_id = :d AND run_id = :r AND validation_id = :v"), key)
            conn.execute(
                text(
                    "INSERT INTO quality_validations (dag_id, run_id, validation_id, suite, success, locations, "
                    "result_json, created_at) VALUES (:d, :r, :v, :s, :ok, :n, :j, :at)"
                ),
                {**key, "s": suite, "ok": int(bool(result.get("success"))), "n": len(outcomes), "at": at}
                | {"j": json.dumps(result, default=str)},
            )
            if outcomes:
                conn.execute(
                    text(
                        "INSERT INTO quality_location_results (dag_id, run_id, validation_id, location_id, success, "
                        "result_json, created_at) VALUES (:d, :r, :v, :l, :ok, :j, :at)"
                    ),
                    [
                        {**key, "l": loc, "ok": int(bool(o.get("success"))), "j": json.dumps(o, default=str), "at": at}
                        for loc, o in outcomes.items()
                    ],
                )

    def results(self, dag_id: str, run_id: str) -> list[dict]:
        """The run's validations, oldest first, with their GX result parsed."""
        rows = self.db.query(
            "SELECT validation_id, suite, success, locations, result_json, created_at FROM quality_validations "
            "WHERE dag_id = :d AND run_id = :r ORDER BY created_at, validation_id",
            {"d": dag_id, "r": run_id},
        )
        return [{**r, "result": json.loads(r.pop("result_json"))} for r in rows]

    def location_results(self, dag_id: str, run_id: str) -> list[dict]:
        rows = self.db.query(
            "SELECT validation_id, location_id, success, result_json FROM quality_location_results "
            "WHERE dag_id = :d AND run_id = :r ORDER BY location_id, validation_id",
            {"d": dag_id, "r": run_id},
        )
        return [{**r, "result": json.loads(r.pop("result_json"))} for r in rows]
