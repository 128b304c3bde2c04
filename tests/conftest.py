"""Shared fixtures for the vmlab test suite.

* ``sim``: `vmlab.simulate` memoised per (frozen, hashable) `SimConfig`, so several tests can make
  different assertions on one run without paying for it twice. Tests must not mutate the returned
  DataFrames.
* ``kernel_data``: the directory of the shipped kernel recordings (``data/kernel``), located relative
  to this file; the suite never reads anything outside the repository.

The first `simulate` call compiles the numba engine (~30 s cold on an idle core, as
`benchmarks/bench_engine.py` measures; cached in ``__pycache__`` after).
The ``sim`` fixture warms it up once per session, so that cost is not charged to whichever test
happens to run first.
"""
from __future__ import annotations

import functools
import pathlib

import pytest

from vmlab import SimConfig, simulate

TESTS_DIR = pathlib.Path(__file__).resolve().parent
REPO_DIR = TESTS_DIR.parent
KERNEL_DATA_DIR = REPO_DIR / "data" / "kernel"


@functools.lru_cache(maxsize=None)
def _cached_simulate(cfg: SimConfig):
    return simulate(cfg)


@pytest.fixture(scope="session")
def engine_warm():
    """Compile (or load from cache) the jitted engine once, with a trivial run."""
    simulate(SimConfig(platform="qemu-tcg", ncpus=1, workload="fix_size", duration_s=1e-4, seed=0))
    return True


@pytest.fixture(scope="session")
def sim(engine_warm):
    """simulate(cfg), memoised per config for the whole session."""
    return _cached_simulate


@pytest.fixture(scope="session")
def kernel_data() -> pathlib.Path:
    assert KERNEL_DATA_DIR.is_dir(), f"missing {KERNEL_DATA_DIR}"
    return KERNEL_DATA_DIR


@pytest.fixture(scope="session")
def repo_dir() -> pathlib.Path:
    return REPO_DIR
