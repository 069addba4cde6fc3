"""The benchmark's command line (``python -m bench.run --help``)."""

from __future__ import annotations

import argparse

from bench.stack import ROOT


def parse_args(doc: str) -> argparse.Namespace:
    """The flags; ``doc`` (bench/run.py's docstring) is the help's description."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--locations", type=int, default=10)
    parser.add_argument("--tags", type=int, default=100, help="tags per location")
    parser.add_argument("--parallel", type=int, default=8, help="locations synced at once (LocalExecutor slots)")
    parser.add_argument("--pleo-rps", type=float, default=100.0, help="the Pleo rate (sandbox and client)")
    parser.add_argument(
        "--pleo-headroom",
        type=float,
        default=0.05,
        help="share of the Pleo rate the client keeps free (the connection's rate_headroom; 0.05 by default)",
    )
    parser.add_argument("--burst-limit", type=int, default=100, help="GHL requests per window per location")
    parser.add_argument("--burst-window", type=float, default=10.0, help="GHL burst window, seconds")
    parser.add_argument("--change", type=float, default=0.01, help="share of tags changed in the third phase")
    parser.add_argument(
        "--memory-tags",
        default="10000",
        help="comma list of one-location sizes, e.g. 10000,100000 (the 100,000 run takes ~7 min); '' skips",
    )
    parser.add_argument("--no-baseline", action="store_true", help="skip the naive baseline")
    parser.add_argument(
        "--fast-setup",
        action="store_true",
        help="first full sync with the Pleo rate lifted, not measured (reported as setup); implies --no-baseline",
    )
    parser.add_argument(
        "--parse-repeat", type=int, default=7, help="fresh interpreters per DAG file for parse time (0 skips)"
    )
    parser.add_argument(
        "--idle-seconds", type=float, default=20.0, help="how long the idle stack's CPU is measured (0 skips)"
    )
    parser.add_argument(
        "--before-root",
        default="",
        help="a checkout of older code (e.g. a git worktree of main): after this code's phases Airflow restarts on "
        "its dags/ and plugins/ over the same sandbox and warehouse, and the no-change and 1%% phases run again, "
        "reported as before:no_change and before:one_percent",
    )
    parser.add_argument(
        "--detail",
        choices=("full", "basic"),
        default="full",
        help="the mapping's detail_level: full (4 dimension values per tag) or basic (tags only: a quicker setup)",
    )
    parser.add_argument(
        "--sweep-batch",
        default="",
        help="comma list of GHL_PLEO_LOCATIONS_PER_TASK values: after the phases, a no-change run with each "
        "(Airflow restarted), reported as no_change@<n>",
    )
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "latest.json"))
    args = parser.parse_args()
    if args.locations < 1 or args.tags < 1:
        parser.error("--locations and --tags must be at least 1")
    args.no_baseline = args.no_baseline or args.fast_setup
    return args
