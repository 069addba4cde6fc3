"""What a run costs Airflow: CPU-seconds of its processes and of the task processes, each task's peak RSS,
and the task instances and XCom rows the run wrote to the metadata DB.

CPU: for every process of a component's tree (the scheduler with its LocalExecutor
workers, their task supervisors and task processes; the dag-processor; the
api-server), its own user+system time plus its reaped children's
(``/proc/<pid>/stat`` cutime/cstime), read before and after a phase. A task
process that exited during the phase is in its parent's cutime once reaped, so
short-lived tasks are counted without sampling. The sandbox is not in these trees.

Peak RSS per task: a sampler reads ``VmHWM`` (the process's own peak so far) of
every task process (titled ``airflow worker -- <ti id>``) every ``interval`` s;
a task's last moments after its last sample are missed.
"""

from __future__ import annotations

import re
import threading
import time

import psutil
from sqlalchemy import create_engine, text

# A task process's title: "airflow worker -- <ti id>"; an executor worker's: "airflow worker -- LocalExecutor: ..."
TASK_TITLE = re.compile(r"^airflow worker -- ([0-9a-fA-F-]{32,36})\s*$")
EXECUTOR_TITLE = "airflow worker -- LocalExecutor"


def _tree(pid: int) -> list[psutil.Process]:
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def tree_cpu(pid: int) -> dict[str, float]:
    """CPU-seconds so far of the tree under ``pid``: the root's own, and everything below it (live or reaped)."""
    own = below = 0.0
    for proc in _tree(pid):
        try:
            t = proc.cpu_times()
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        if proc.pid == pid:
            own = t.user + t.system
            below += t.children_user + t.children_system
        else:
            below += t.user + t.system + t.children_user + t.children_system
    return {"own": own, "below": below}


def _hwm_mb(pid: int) -> float | None:
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


class StackMeter:
    """CPU of named process trees (``roots``: component -> pid) per phase, and each task process's peak RSS."""

    def __init__(self, roots: dict[str, int], interval: float = 0.2) -> None:
        self.roots = roots
        self.interval = interval
        self.task_peaks: dict[str, float] = {}  # TI id -> MB
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._stop.wait(self.interval):
            pid = self.roots.get("scheduler")
            for proc in _tree(pid) if pid else []:
                try:
                    title = " ".join(proc.cmdline())
                except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
                    continue
                match = TASK_TITLE.match(title)
                if match:
                    ti = match.group(1)
                    mb = _hwm_mb(proc.pid)
                    if mb is not None and mb > self.task_peaks.get(ti, 0.0):
                        self.task_peaks[ti] = mb

    def cpu(self) -> dict[str, dict[str, float]]:
        return {name: tree_cpu(pid) for name, pid in self.roots.items()}

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)


def cpu_delta(before: dict, after: dict, locations: int) -> dict:
    """Per component (scheduler's own loop; executor workers + task processes; dag-processor; api-server) and total."""
    d = {name: {k: after[name][k] - before[name][k] for k in ("own", "below")} for name in after}
    out = {
        "scheduler_s": d.get("scheduler", {}).get("own", 0.0),
        "executor_and_tasks_s": d.get("scheduler", {}).get("below", 0.0),
        "dag_processor_s": sum(d.get("dag-processor", {}).values()),
        "api_server_s": sum(d.get("api-server", {}).values()),
    }
    out["total_s"] = sum(out.values())
    out = {k: round(v, 2) for k, v in out.items()}
    out["ms_per_location"] = round(1000 * out["total_s"] / locations) if locations else None
    return out


def idle_cpu(meter: StackMeter, seconds: float = 20.0) -> dict:
    """CPU-seconds per second the stack uses doing nothing (scheduler loop, DAG re-parsing, api-server): the
    background share of every phase's CPU."""
    settle(meter)
    before = meter.cpu()
    time.sleep(seconds)
    d = cpu_delta(before, meter.cpu(), 0)
    return {k: round(v / seconds, 3) for k, v in d.items() if k.endswith("_s")} | {"seconds": seconds}


def _busy(title: str) -> bool:
    """A task process, or an executor worker supervising one (an idle worker's title ends ``<idle>``)."""
    return bool(TASK_TITLE.match(title)) or (title.startswith(EXECUTOR_TITLE) and not title.endswith("<idle>"))


def settle(meter: StackMeter, quiet_s: float = 2.0, timeout: float = 30.0) -> None:
    """Wait until no task process is left under the scheduler (a finished run's last task may still be
    reporting, or not yet reaped), then ``quiet_s`` more: its CPU belongs to this phase, not the next."""
    deadline = time.time() + timeout
    pid = meter.roots.get("scheduler")
    while time.time() < deadline:
        busy = False
        for proc in _tree(pid) if pid else []:
            try:
                if _busy(" ".join(proc.cmdline()).strip()) or proc.status() == psutil.STATUS_ZOMBIE:
                    busy = True
                    break
            except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
                continue
        if not busy:
            time.sleep(quiet_s)
            return
        time.sleep(0.5)


def _uuid_key(value) -> str:
    """A TI id as the process title has it (dashed) and as the DB may store it (32 hex digits): one key."""
    return str(value).replace("-", "").lower()


def metadata_counts(db_url: str, dag_id: str, run_id: str, task_peaks: dict[str, float]) -> dict:
    """Task instances and XCom rows the run left in Airflow's metadata DB (by task id), and the peak RSS
    sampled per task instance (mapped TIs by map index)."""
    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            tis = conn.execute(
                text("SELECT id, task_id FROM task_instance WHERE dag_id = :d AND run_id = :r"),
                {"d": dag_id, "r": run_id},
            ).all()
            xcoms = conn.execute(
                text("SELECT task_id, COUNT(*) FROM xcom WHERE dag_id = :d AND run_id = :r GROUP BY task_id"),
                {"d": dag_id, "r": run_id},
            ).all()
            history = conn.execute(
                text("SELECT COUNT(*) FROM task_instance_history WHERE dag_id = :d AND run_id = :r"),
                {"d": dag_id, "r": run_id},
            ).scalar()
    finally:
        engine.dispose()
    by_task: dict[str, int] = {}
    peaks: dict[str, float] = {}
    task_peaks = {_uuid_key(k): v for k, v in task_peaks.items()}
    for ti_id, task_id in tis:
        by_task[task_id] = by_task.get(task_id, 0) + 1
        mb = task_peaks.get(_uuid_key(ti_id))
        if mb is not None:
            peaks[task_id] = max(peaks.get(task_id, 0.0), mb)
    return {
        "task_instances": len(tis),
        "task_instances_by_task": dict(sorted(by_task.items())),
        "task_instance_history_rows": history or 0,
        "xcom_rows": sum(n for _, n in xcoms),
        "xcom_rows_by_task": dict(sorted(xcoms)),
        "task_peak_rss_mb": {k: round(v, 1) for k, v in sorted(peaks.items())},
        "tis_sampled_for_rss": sum(1 for ti_id, _ in tis if _uuid_key(ti_id) in task_peaks),
    }
