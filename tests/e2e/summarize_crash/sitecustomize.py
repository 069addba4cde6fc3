"""Loaded as ``sitecustomize`` only by the alert e2e's "summarize crashes" run (its PYTHONPATH starts here).

The run summary's ledger read raises an error summarize does not handle, as an unreadable ledger table or a bug
would make it: summarize dies before it finishes, after every location synced. Only summarize's own summary read
is broken; the failure notifier reads the ledger through :func:`ghl_pleo.summary.failures`, which still works.
"""

from __future__ import annotations

import ghl_pleo.summary


def _crash(*args, **kwargs):
    raise RuntimeError("simulated crash inside summarize: the run summary could not be read (test)")


ghl_pleo.summary.run_summary = _crash
