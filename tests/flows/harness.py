"""Run whole flows without Airflow: the real hooks over HTTP to the sandbox, a real SQLite warehouse, real GX.

A :class:`FlowRunner` does what the DAGs' tasks do (list the locations, ensure the groups, one run context per
location holding the location's lease, the run summary) in this process, in seconds, so a scenario is set up in
the sandbox, run, and judged by what Pleo and the ledger hold. Airflow itself (retries, mapping, the scheduler)
is the e2e suites' job.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from airflow.sdk.exceptions import AirflowFailException

from ghl_pleo.batch_quality import BatchValidator
from ghl_pleo.config import load_mapping
from ghl_pleo.constants import STATISTICS_DAG_ID, TAGS_DAG_ID
from ghl_pleo.flows.stats import fetch_location_statistics, write_statistics_metadata
from ghl_pleo.flows.tags import sync_location_tags
from ghl_pleo.groups import ensure_groups
from ghl_pleo.hooks.client import RetryPolicy
from ghl_pleo.hooks.ghl import GhlHook
from ghl_pleo.hooks.pleo import PleoHook
from ghl_pleo.locations import resolve_locations
from ghl_pleo.run_context import Hooks, SyncRun
from ghl_pleo.social_stats import Window
from ghl_pleo.summary import run_summary
from ghl_pleo.tasks import _run_location as run_location
from ghl_pleo.tasks_batch import BatchFailed, run_batch
from ghl_pleo.warehouse import Warehouse
from tests.sandbox_client import Sandbox, warehouse_env

FAST = {"backoff_base_s": 0.01, "backoff_max_s": 0.05, "jitter": 0, "max_attempts": 3}


@dataclass
class FlowResult:
    """One run: what each location's step returned, the errors that failed locations, and the summary."""

    dag_id: str
    run_id: str
    results: dict[str, dict] = field(default_factory=dict)
    errors: dict[str, Exception] = field(default_factory=dict)
    summary: str = ""
    failed: list[dict] = field(default_factory=list)

    def kinds(self) -> dict[str, str]:
        return {loc: getattr(exc, "kind", "internal") for loc, exc in self.errors.items()}


class FlowRunner:
    """The tags and statistics flows against one sandbox and one SQLite warehouse (``tmp_path``)."""

    def __init__(self, box: Sandbox, tmp_path: Path, monkeypatch, locations: list[str] | None) -> None:
        self.box = box
        self.locations = locations
        self.url = f"sqlite:///{tmp_path / 'warehouse.db'}"
        box.apply_env(monkeypatch, locations)
        for key, value in warehouse_env(self.url).items():
            monkeypatch.setenv(key, value)
        monkeypatch.setenv("GHL_PLEO_DATA_DOCS_DIR", str(tmp_path / "data-docs"))
        self.warehouse = Warehouse(self.url)
        self.runs = 0
        self.tries: dict[str, int] = {}

    def hooks(self, dry_run: bool = False) -> Hooks:
        return Hooks(
            ghl=GhlHook(token_store=self.warehouse.tokens, retry=RetryPolicy(**FAST), sleep=lambda s: None),
            pleo=PleoHook(
                rate_slots=self.warehouse.rate_slots, dry_run=dry_run, retry=RetryPolicy(**FAST), sleep=lambda s: None
            ),
        )

    def _run(self, dag_id: str, dry_run: bool, retry_of: FlowResult | None = None) -> SyncRun:
        if retry_of is not None:  # the next try of the same run, as Airflow's task retry would be
            self.tries[retry_of.run_id] = self.tries.get(retry_of.run_id, 1) + 1
            return SyncRun(self.warehouse, dag_id, retry_of.run_id, self.tries[retry_of.run_id], dry_run)
        self.runs += 1
        return SyncRun(self.warehouse, dag_id, f"flow__{self.runs:03d}", 1, dry_run)

    def _locations(self, hooks: Hooks, only: list[str] | None) -> list[dict]:
        variable = json.dumps(self.locations) if self.locations is not None else None
        return resolve_locations(hooks.ghl, variable, only=only)

    def tags(
        self,
        *,
        only: list[str] | None = None,
        dry_run: bool = False,
        release: tuple[str, ...] = (),
        released_by: str | None = None,
        full_refresh: bool = False,
        now: datetime | None = None,
        retry_of: FlowResult | None = None,
        batched: bool = False,
    ) -> FlowResult:
        """One tags run: every location in turn, each with its own hooks (as its own task would have).
        ``retry_of``: the next try of that run (same run id, try number + 1). ``batched``: the locations as one
        batch task syncs them (``run_batch``: threads, one GX validation for the batch, no Data Docs written)."""
        run, config = self._run(TAGS_DAG_ID, dry_run, retry_of), load_mapping()
        setup = self.hooks(dry_run)
        locations = self._locations(setup, only)
        groups = ensure_groups(run, setup.pleo, config, locations, report_orphans=not only, isolate_failures=True)
        result = FlowResult(run.dag_id, run.run_id)

        def one(location: dict) -> dict:
            location_id, hooks = location["location_id"], self.hooks(dry_run)
            try:  # as a batch task runs each location: its ledger row, its lease
                result.results[location_id] = run_location(
                    run,
                    location_id,
                    hooks,
                    sync_location_tags,
                    config,
                    location,
                    skip_when_locked=True,
                    release_archive_guard=location_id in release,
                    released_by=released_by,
                    full_refresh=full_refresh,
                    now=now,
                )
                return result.results[location_id]
            except Exception as exc:  # a failed location is an outcome the test judges
                result.errors[location_id] = exc
                raise

        if batched:
            run.validator = BatchValidator(run, f"batch1-try{run.try_number}", "location_id")
            try:
                run_batch(run, {"batch": 1, "label": "batch 1", "locations": groups}, one)
            except (BatchFailed, AirflowFailException):  # failed locations: each one's error is in result.errors
                if not result.errors:
                    raise
        for location in [] if batched else groups:
            with contextlib.suppress(Exception):
                one(location)
        return self._summarize(run, result, [loc["location_id"] for loc in locations])

    def statistics(self, day: datetime, *, only: list[str] | None = None, dry_run: bool = False) -> FlowResult:
        """One statistics run for the UTC day that starts at ``day``: fetch per location, then the metadata."""
        run, config = self._run(STATISTICS_DAG_ID, dry_run), load_mapping()
        start = day.replace(hour=0, minute=0, second=0, microsecond=0, tzinfo=UTC)
        window = Window.for_interval(start, start + timedelta(days=1))
        setup = self.hooks(dry_run)
        locations = self._locations(setup, only)
        result = FlowResult(run.dag_id, run.run_id)
        for location in locations:
            location_id, hooks = location["location_id"], Hooks(ghl=self.hooks(dry_run).ghl)
            try:
                result.results[location_id] = run_location(
                    run, location_id, hooks, fetch_location_statistics, config, window, skip_when_locked=False
                )
            except Exception as exc:  # noqa: BLE001
                result.errors[location_id] = exc
        result.results["*"] = write_statistics_metadata(run, setup.pleo, config, locations)
        return self._summarize(run, result, [loc["location_id"] for loc in locations])

    def _summarize(self, run: SyncRun, result: FlowResult, expected: list[str]) -> FlowResult:
        result.summary, result.failed = run_summary(self.warehouse, run.dag_id, run.run_id, expected)
        return result

    def ledger(self, result: FlowResult) -> dict[str, dict]:
        """The run's ledger rows by location (status, error kind, counts, requests)."""
        return {r["location_id"]: r for r in self.warehouse.ledger.location_runs(result.dag_id, result.run_id)}

    def changes(self, result: FlowResult) -> list[dict]:
        """The run's change-log rows, oldest first."""
        return self.warehouse.ledger.changes(result.dag_id, result.run_id)
