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


COLLECT_ROWS = 10_000  # below this a validated frame is small: Python's own collector frees it in time


def release_gx(rows: int) -> None:
    """Let go of the GX context a validation of ``rows`` rows left behind. GX keeps the last context as its current
    project, and that context keeps the validated frame in its batch cache: 100,000 tags' timestamps and
    fingerprints held through the whole load. Detached (and, for a large frame, its reference cycles collected
    now), the frame goes when its step is done. A full collection costs ~0.3 CPU-s in a task process, so it is
    not paid for small frames (a statistics batch validates a few rows every few locations)."""
    import gc

    from great_expectations.data_context.data_context.context_factory import project_manager

    project_manager.set_project(None)
    if rows >= COLLECT_ROWS:
        gc.collect()
        trim()


def trim() -> None:
    """Give the heap's free pages back to the system (glibc's ``malloc_trim``; nothing where there is none): the
    big arrays a step let go of stop counting in the task's resident memory."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def no_frame_fingerprint() -> None:
    """Stop GX hashing every validated frame whole (``pandas_data_fingerprint``, a batch marker nothing here reads):
    pandas' hash of 100,000 tags' text columns takes ~13 MB and a tenth of a second. GX skips the hash for a frame
    at or over ``HASH_THRESHOLD`` bytes; a threshold of 0 means every frame."""
    from great_expectations.execution_engine import pandas_execution_engine

    pandas_execution_engine.HASH_THRESHOLD = 0
