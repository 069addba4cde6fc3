"""The sync DAGs' run params: the trigger form's fields (title, default, description) and ``--conf`` keys.

Every param is optional: its JSON-schema type allows ``null``, so Airflow's trigger form does not mark it
required (the form requires a field whose type has no ``"null"``) and a cleared field is accepted; the form fills
in the default, which the description also names. :func:`ghl_pleo.tasks.run_params` reads ``null`` and ``""``
as the default. Parse-cheap: imports only ``airflow.sdk``'s ``Param``, which the DAG files import anyway.
"""

from __future__ import annotations

from airflow.sdk import Param


def _flag(title: str, description: str) -> Param:
    return Param(False, type=["null", "boolean"], title=title, description=f"{description} Default: off.")


def _ids(title: str, description: str) -> Param:
    return Param(
        [],
        type=["null", "array"],
        items={"type": "string"},
        title=title,
        description=f"{description} One id per line. Default: empty.",
    )


def tags_params() -> dict[str, Param]:
    """The tags DAG's trigger form."""
    return {
        "dry_run": _flag(
            "Dry run",
            "Read GHL and Pleo and run every check, but write nothing to Pleo: the run summary and the change log "
            "(pleo_change_log, dry_run = 1) show what the run would create, rename, archive.",
        ),
        "locations": _ids(
            "Only these locations",
            "GHL location ids to sync in this run (empty: all). Each must be in the location list.",
        ),
        "full_refresh": _flag(
            "Full refresh",
            "Re-read every tag's details from GHL (not only new or changed tags) and re-check every tag and "
            "dimension value in Pleo.",
        ),
        "release_archive_guard": _ids(
            "Release the archive guard",
            'Location ids (or "all") whose archive guard is released for this run only: use when a large drop '
            "in a location's tag count is real.",
        ),
    }


def statistics_params() -> dict[str, Param]:
    """The statistics DAG's trigger form."""
    return {
        "dry_run": _flag(
            "Dry run",
            "Read GHL and Pleo, store the day's statistics in the warehouse, but write nothing to Pleo: the "
            "summary and the change log show which group metadata would change.",
        ),
        "locations": _ids(
            "Only these locations",
            "GHL location ids to run for (empty: all). Each must be in the location list.",
        ),
    }


def spend_params() -> dict[str, Param]:
    """The spend DAG's trigger form."""
    return {
        "dry_run": _flag(
            "Dry run",
            "Read Pleo's accounting entries and store the window's spend in the warehouse, but write nothing to "
            "Pleo and send no budget alert: the summary and the change log show which group metadata would change.",
        ),
        "locations": _ids(
            "Only these locations",
            "GHL location ids to report and write metadata for (empty: all). Each must be in the location list; "
            "the company's whole window is still read and stored.",
        ),
    }
