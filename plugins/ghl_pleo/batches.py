"""Locations in batches: one mapped task syncs a batch of locations (``GHL_PLEO_LOCATIONS_PER_TASK``), so a run of
500 locations writes one task instance and one XCom row per batch, not per location. Pure and cheap."""

from __future__ import annotations

LABEL_MAX = 250  # Airflow's rendered map index column (task_instance.rendered_map_index)


def batches(locations: list[dict], size: int) -> list[dict]:
    """``locations`` cut into batches of at most ``size``, in order: ``{"batch": n, "label": ..., "locations": [...]}``
    with ``n`` from 1 and the label the UI shows as the map index (see :func:`batch_label`)."""
    if size < 1:
        raise ValueError(f"A batch holds at least one location, not {size}.")
    out = []
    for start in range(0, len(locations), size):
        chunk = locations[start : start + size]
        n = start // size + 1
        out.append({"batch": n, "label": batch_label(n, chunk), "locations": chunk})
    return out


def batch_label(n: int, locations: list[dict]) -> str:
    """``batch 3: <first>..<last> (20)`` (one location: ``batch 3: <id> (1)``), ids shortened to fit 250 characters."""
    ids = [str(loc["location_id"]) for loc in locations]
    if not ids:
        return f"batch {n}: empty (0)"
    head, tail = f"batch {n}: ", f" ({len(ids)})"
    room = LABEL_MAX - len(head) - len(tail)
    first, last = ids[0], ids[-1]
    if len(ids) == 1:
        return head + _cut(first, room) + tail
    each = (room - 2) // 2
    return head + _cut(first, each) + ".." + _cut(last, each) + tail


def _cut(text: str, room: int) -> str:
    return text if len(text) <= room else text[: max(room - 1, 0)] + "…"
