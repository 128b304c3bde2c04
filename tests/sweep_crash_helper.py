"""A stand-in for `vmlab.sweep.run_one` that kills its worker process on one config (4 CPUs),
so tests/test_sweep_anywhere.py can check what a sweep says when a worker dies."""
from __future__ import annotations

import os

from vmlab.sweep import run_one


def crash_on_4_cpus(payload: dict) -> dict:
    if payload["config"].get("ncpus") == 4:
        os._exit(9)          # as a SIGKILL or the OOM killer would: no traceback, no row
    return run_one(payload)
