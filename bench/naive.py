"""The naive baseline: one location after another, every tag and every value re-pushed on every run.

Same hooks, limits and mapping as the real sync, none of its care: no diff, no
detail cache, no parallelism. Run as ``python -m bench.naive`` with the Airflow
connections in the environment; prints one JSON line with its counts and peak RSS.
"""

from __future__ import annotations

import json
import sys
import time

import pandas as pd


def main() -> None:
    from ghl_pleo import memory
    from ghl_pleo.config import DIMENSIONS, load_mapping
    from ghl_pleo.groups import group_code
    from ghl_pleo.hooks.ghl import GhlHook
    from ghl_pleo.hooks.pleo import PleoHook
    from ghl_pleo.transform import dimension_values, prepare_tags
    from ghl_pleo.warehouse import Warehouse

    locations = json.loads(sys.argv[1])
    config = load_mapping()
    warehouse = Warehouse()
    ghl, pleo = GhlHook(token_store=warehouse.tokens), PleoHook(rate_slots=warehouse.rate_slots)
    started = time.time()
    groups = {g["code"]: g for g in pleo.list_groups()}
    writes = 0
    for location_id in locations:
        name = ghl.get_location(location_id).get("name")
        raw = [
            {"location_id": location_id, "page_no": page_no, "position": i, "payload": t}
            for page_no, tags, _ in ghl.iter_tag_pages(location_id)
            for i, t in enumerate(tags)
        ]
        prepared = prepare_tags(pd.DataFrame(raw, columns=["location_id", "page_no", "position", "payload"]), config)
        ids = list(prepared.tags["tag_id"])
        details = pd.DataFrame(
            [{"tag_id": d["_id"], "payload": d} for d in ghl.tag_details(location_id, ids)],
            columns=["tag_id", "payload"],
        )
        code = group_code(location_id)
        group = groups.get(code) or pleo.create_group(code, config.group_name(location_id, name))
        current = {t["code"]: t for page in pleo.iter_tags(group["id"]) for t in page}
        dims = {d["code"]: d for d in pleo.list_dimensions(group["id"])}
        for dim in config.active_dimensions:
            if dim not in dims:
                dims[dim] = pleo.create_dimension(
                    group["id"], code=dim, name=DIMENSIONS[dim][0], display_order=DIMENSIONS[dim][1]
                )
        tag_ids = {}
        for row in prepared.tags.itertuples(index=False):
            if row.code in current:
                tag = pleo.update_tag(current[row.code]["id"], code=row.code, name=row.name, archived=row.archived)
            else:
                tag = pleo.create_tag(group["id"], row.code, row.name)
            tag_ids[row.code] = tag["id"]
            writes += 1
        for v in dimension_values(prepared.tags, details, config).itertuples(index=False):
            pleo.put_dimension_value(tag_ids[v.code], dims[v.dimension]["id"], v.value, exists=False)
            writes += 1
        print(f"naive: location {location_id}: {len(prepared.tags)} tags re-pushed", file=sys.stderr, flush=True)
    print(
        json.dumps({"wall_s": round(time.time() - started, 2), "writes": writes, "peak_rss_mb": memory.peak_rss_mb()})
    )


if __name__ == "__main__":
    main()
