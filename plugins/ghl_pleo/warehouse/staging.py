"""Staging: the raw tag pages of each run's read of a location (``ghl_tag_pages``, keyed by run: a run clears
and reads only its own pages) and the tag details (``ghl_tag_details``, with the fingerprint of the record they
belong to). Each method is one transaction."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pandas as pd
from sqlalchemy import bindparam, text

from ghl_pleo.tag_rules import fingerprint_text
from ghl_pleo.warehouse.core import Database, utcnow


def _staged_id(tag: Any) -> str | None:
    """A staged tag's ``_id`` as the transform keys it (stripped), or None when it has none it could use."""
    tag_id = tag.get("_id") if isinstance(tag, dict) else None
    return tag_id.strip() or None if isinstance(tag_id, str) else None


class StagingStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    # tag pages (by run) -----------------------------------------------------------------
    def clear_staged(self, location_id: str, run_id: str) -> None:
        """Delete this run's pages of the location (never another run's: those go by age, in the cleanup)."""
        with self.db.begin() as conn:
            conn.execute(
                text("DELETE FROM ghl_tag_pages WHERE run_id = :r AND location_id = :l"),
                {"r": run_id, "l": location_id},
            )

    def stage_page(self, location_id: str, run_id: str, page_no: int, tags: list[Any]) -> None:
        now = utcnow()
        rows = [
            {
                "l": location_id,
                "r": run_id,
                "p": page_no,
                "i": i,
                "t": _staged_id(t),
                "payload": json.dumps(t, ensure_ascii=False),
                "f": now,
            }
            for i, t in enumerate(tags)
        ]
        if not rows:
            return
        with self.db.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO ghl_tag_pages (run_id, location_id, page_no, position, tag_id, payload, "
                    "fetched_at) VALUES (:r, :l, :p, :i, :t, :payload, :f)"
                ),
                rows,
            )

    def repeated_ids(self, location_id: str, run_id: str) -> set[str]:
        """The tag ids this run's pages of the location hold more than once (usually none): only these need the
        dedup's index while the pages are prepared, not all 100,000."""
        with self.db.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT tag_id FROM ghl_tag_pages WHERE run_id = :r AND location_id = :l AND tag_id IS NOT NULL "
                    "GROUP BY tag_id HAVING COUNT(*) > 1"
                ),
                {"r": run_id, "l": location_id},
            ).all()
        return {r[0] for r in rows}

    def iter_staged(self, location_id: str, run_id: str, chunk: int = 1000) -> Iterator[tuple[str, int, int, Any]]:
        """This run's ``(location_id, page_no, position, payload)`` in read order, streamed (payloads parsed one by
        one)."""
        with self.db.connect() as conn:
            result = conn.execution_options(stream_results=True, yield_per=chunk).execute(
                text(
                    "SELECT location_id, page_no, position, payload FROM ghl_tag_pages WHERE run_id = :r AND "
                    "location_id = :l ORDER BY page_no, position"
                ),
                {"r": run_id, "l": location_id},
            )
            for r in result:
                yield r[0], r[1], r[2], json.loads(r[3])

    # details -----------------------------------------------------------------------------
    def detail_fingerprints(self, location_id: str) -> dict[str, str]:
        with self.db.connect() as conn:
            rows = conn.execute(
                text("SELECT tag_id, fingerprint FROM ghl_tag_details WHERE location_id = :l"), {"l": location_id}
            ).all()
        return {r[0]: r[1] for r in rows}

    def details_to_fetch(self, location_id: str, index: Any, fingerprints: Any, chunk: int = 1000) -> bytearray:
        """Which tags' details to fetch: a flag per row of ``index`` (a :class:`~ghl_pleo.tag_index.CodeIndex` of
        the tag ids), cleared where the stored details have the row's fingerprint (``fingerprints[row]``; compared
        as :func:`~ghl_pleo.tag_rules.fingerprint_text`: a SHA-1 stored whole by an earlier version matches its
        64-bit prefix). The stored fingerprints are streamed and looked up a chunk at a time: no dict of them."""
        wanted = bytearray(b"\x01") * len(index)
        with self.db.connect() as conn:
            result = conn.execution_options(stream_results=True, yield_per=chunk).execute(
                text("SELECT tag_id, fingerprint FROM ghl_tag_details WHERE location_id = :l"), {"l": location_id}
            )
            for rows in result.partitions(chunk):
                for (_, stored), row in zip(rows, index.find_many([r[0] for r in rows]), strict=True):
                    if (
                        row >= 0
                        and stored is not None
                        and fingerprint_text(fingerprints[row]) == fingerprint_text(stored)
                    ):
                        wanted[row] = 0
        return wanted

    def save_details(self, location_id: str, details: list[dict], fingerprints: dict[str, int | str]) -> int:
        """Store one details answer (the last copy of a tag sent twice wins); returns the repeats dropped."""
        now = utcnow()
        by_id = {
            d["_id"]: {
                "l": location_id,
                "t": d["_id"],
                "fp": "" if fingerprints.get(d["_id"]) is None else fingerprint_text(fingerprints[d["_id"]]),
                "payload": json.dumps(d, ensure_ascii=False),
                "f": now,
            }
            for d in details
            if isinstance(d.get("_id"), str)
        }
        rows = list(by_id.values())
        repeats = sum(1 for d in details if isinstance(d.get("_id"), str)) - len(rows)
        if not rows:
            return repeats
        with self.db.begin() as conn:
            conn.execute(text("DELETE FROM ghl_tag_details WHERE location_id = :l AND tag_id = :t"), rows)
            conn.execute(
                text(
                    "INSERT INTO ghl_tag_details (location_id, tag_id, fingerprint, payload, fetched_at) "
                    "VALUES (:l, :t, :fp, :payload, :f)"
                ),
                rows,
            )
        return repeats

    def details_for(self, location_id: str, tag_ids: list[str]) -> pd.DataFrame:
        """Stored details of some tags (one batch at a time keeps memory flat at 100,000 tags)."""
        if not tag_ids:
            return pd.DataFrame(columns=["tag_id", "payload"])
        stmt = text("SELECT tag_id, payload FROM ghl_tag_details WHERE location_id = :l AND tag_id IN :ids").bindparams(
            bindparam("ids", expanding=True)
        )
        with self.db.connect() as conn:
            rows = conn.execute(stmt, {"l": location_id, "ids": list(tag_ids)}).all()
        return pd.DataFrame(
            [{"tag_id": r[0], "payload": json.loads(r[1])} for r in rows], columns=["tag_id", "payload"]
        )
