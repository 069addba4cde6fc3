"""Local emulators of the GHL Social Planner API and the Pleo Tags API (FastAPI).

Written to the vendors' OpenAPI documents under ``../shared/specs``; see
``sandbox/README.md`` for the admin endpoints (seed, edit tags, faults, counts).
"""
