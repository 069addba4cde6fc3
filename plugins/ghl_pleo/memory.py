"""The task process's memory, for the run ledger and the benchmark (Linux ``/proc``; None elsewhere)."""

from __future__ import annotations


def _status_kb(field: str) -> int | None:
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


def reset_peak() -> bool:
    """Start measuring the peak from now: a forked task process inherits its parent's high-water mark."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def peak_rss_mb() -> float | None:
    """Peak resident memory (VmHWM) of this process since start or :func:`reset_peak`, in MB."""
    kb = _status_kb("VmHWM")
    return round(kb / 1024, 1) if kb is not None else None


def rss_mb() -> float | None:
    kb = _status_kb("VmRSS")
    return round(kb / 1024, 1) if kb is not None else None


def release_gx() -> None:
    """Let go of the GX context a validation left behind. GX keeps the last context as its current project, and
    that context keeps the validated frame in its batch cache: 100,000 tags' timestamps and fingerprints held
    through the whole load. Detached (and its reference cycles collected), the frame goes when its step is done."""
    import gc

    from great_expectations.data_context.data_context.context_factory import project_manager

    project_manager.set_project(None)
    gc.collect()
