"""The GX suite on one company's spend records (the entry parts a spend run counted): ids, an ISO 4217 currency,
integer amounts in minor units, each day inside the run's window, each part once."""

from __future__ import annotations

from typing import Any

import pandas as pd

from ghl_pleo.spend_money import ISO_4217_EXPONENT

PART_COLUMNS = ["entry_id", "split_id", "location_id", "tag_code", "day", "currency", "amount_minor"]


def parts_frame(parts: list[dict]) -> pd.DataFrame:
    """The counted parts (attributed and untagged) as the suite reads them; ``split_id`` '' for a whole entry."""
    frame = pd.DataFrame([{c: p.get(c) for c in PART_COLUMNS} for p in parts], columns=PART_COLUMNS)
    frame["split_id"] = frame["split_id"].fillna("")
    for c in ("location_id", "tag_code"):
        frame[c] = frame[c].fillna("(untagged)")
    return frame.astype({"amount_minor": "int64"})


def spend_expectations(days: list[str]) -> list[Any]:
    import great_expectations as gx

    E = gx.expectations
    return [
        E.ExpectTableColumnsToMatchSet(column_set=PART_COLUMNS, exact_match=True),
        E.ExpectColumnValuesToNotBeNull(column="entry_id"),
        E.ExpectColumnValuesToMatchRegex(column="entry_id", regex=r"^\S+$"),
        E.ExpectCompoundColumnsToBeUnique(column_list=["entry_id", "split_id"]),
        E.ExpectColumnValuesToBeInSet(column="currency", value_set=sorted(ISO_4217_EXPONENT)),
        E.ExpectColumnValuesToBeInTypeList(column="amount_minor", type_list=["int64", "int32", "int"]),
        E.ExpectColumnValuesToBeInSet(column="day", value_set=list(days)),
    ]
