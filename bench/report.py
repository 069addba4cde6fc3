"""The benchmark's printed tables: traffic against the floor and the minimum, and what each run cost Airflow."""

from __future__ import annotations


def _traffic_rows(r: dict) -> None:
    print(
        f"{'phase':<12} {'who':<8} {'wall s':>8} {'span s':>7} {'floor s':>8} {'wall/fl':>8} {'requests':>9} "
        f"{'minimum':>8} {'Pleo wr':>8} {'tag wr':>7} {'value wr':>8} {'details':>7} {'peak MB':>8}"
    )
    named = ([("setup", r["setup"])] if r.get("setup") else []) + list(r["phases"].items())
    for phase, p in named:
        rows = [("airflow", p)] + ([("naive", r["baseline"][phase])] if phase in r.get("baseline", {}) else [])
        for who, x in rows:
            print(
                f"{phase:<12} {who:<8} {x['wall_s']:>8} {x['api_span_s']:>7} {x['floor_s']:>8} "
                f"{str(x['wall_over_floor']):>8} {x['ghl_requests'] + x['pleo_requests']:>9} "
                f"{p['minimum_requests']['total'] if who == 'airflow' else '':>8} {x['pleo_writes']:>8} "
                f"{x['tag_writes']:>7} {x['value_writes']:>8} {x['detail_calls']:>7} {str(x['peak_rss_mb']):>8}"
            )


def cost_table(r: dict) -> list[str]:
    """Per phase: wall, CPU-seconds of Airflow and its tasks (total, per location, split), task instances,
    XCom rows, peak RSS per task (ledger and sampled), requests against the minimum, Pleo writes."""
    lines = [
        f"{'phase':<12} {'wall s':>7} {'CPU s':>7} {'ms/loc':>7} {'sched':>6} {'tasks':>7} {'dagproc':>7} "
        f"{'api':>6} {'TIs':>5} {'XCom':>5} {'RSS MB':>7} {'TI RSS':>7} {'requests':>9} {'minimum':>8} {'Pleo wr':>8}"
    ]
    named = ([("setup*", r["setup"])] if r.get("setup") else []) + list(r["phases"].items())
    for phase, p in named:
        c = p.get("cpu") or {}
        ti_rss = max((p.get("task_peak_rss_mb") or {}).values(), default=None)
        lines.append(
            f"{phase:<12} {p['wall_s']:>7} {c.get('total_s', ''):>7} {c.get('ms_per_location', ''):>7} "
            f"{c.get('scheduler_s', ''):>6} {c.get('executor_and_tasks_s', ''):>7} {c.get('dag_processor_s', ''):>7} "
            f"{c.get('api_server_s', ''):>6} {p.get('task_instances', ''):>5} {p.get('xcom_rows', ''):>5} "
            f"{str(p['peak_rss_mb']):>7} {str(ti_rss):>7} {p['ghl_requests'] + p['pleo_requests']:>9} "
            f"{p['minimum_requests']['total']:>8} {p['pleo_writes']:>8}"
        )
    if r.get("setup"):
        lines.append("* setup: the first full sync with the Pleo rate lifted (--fast-setup), not a measured phase")
    lines.append(
        "CPU s: Airflow's processes and the task processes (scheduler's own loop, executor workers + tasks, "
        "dag-processor, api-server), not the sandbox's; RSS MB: the ledger's peak per location; TI RSS: the "
        "largest sampled peak of a task process"
    )
    return lines


def print_table(r: dict) -> None:
    print()
    _traffic_rows(r)
    print()
    print("\n".join(cost_table(r)))
    if r.get("idle_cpu_per_s"):
        i = r["idle_cpu_per_s"]
        print(
            f"idle stack: {i['total_s']} CPU-s per s (scheduler {i['scheduler_s']}, dag-processor "
            f"{i['dag_processor_s']}, api-server {i['api_server_s']}), part of every phase's CPU"
        )
    if r.get("memory"):
        print()
        for n, m in r["memory"].items():
            print(
                f"memory {int(n):>7} tags: full peak {m['full']['peak_rss_mb']} MB "
                f"(task start {m['full']['start_rss_mb']} MB), no-change peak {m['no_change']['peak_rss_mb']} MB"
            )
    if r.get("parse"):
        print()
        print(
            f"parse: import airflow.sdk {r['parse']['airflow_sdk_import_s']} s; "
            + "; ".join(f"{k} adds {v['added_s']} s" for k, v in r["parse"].items() if isinstance(v, dict))
        )
