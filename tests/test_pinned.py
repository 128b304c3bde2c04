"""Exact counts for a few fixed configurations (as SimPy's tests pin event counts).

A speed change to the engine must not change what it simulates: these numbers were the same before
and after the engine's rewrites (NRT-free loop, packed state, pruned aligned search, early-stopping
tree augments). If a change to the *model* moves them on purpose, update the numbers here in the
same commit and say why; MODEL_VERSION changes with it, so sweep caches are not reused.
"""
from __future__ import annotations

import pytest

from vmlab import SimConfig

CASES = [
    ("5.0", dict(platform="hikey960", ncpus=8, workload="stress", duration_s=0.3, seed=3),
     dict(events=66897, ops=25565, purges=2, peak_lazy_pages=95789)),
    ("5.1", dict(platform="hikey960", ncpus=8, workload="stress", duration_s=0.3, seed=3),
     dict(events=71832, ops=27361, purges=2, peak_lazy_pages=65910)),
    ("6.1", dict(platform="hikey960", ncpus=8, workload="stress", duration_s=0.3, seed=3),
     dict(events=1927997, ops=616343, purges=15, peak_lazy_pages=79371)),
    # the list era's aligned search (subtrees without room for an aligned start are skipped)
    ("5.1", dict(platform="hikey960", ncpus=4, workload="fix_align_alloc_test", duration_s=0.2, seed=1),
     dict(events=74859, ops=26497, purges=2, peak_lazy_pages=29694)),
    # moved on purpose when the TLB flush became range or full by span and qemu-tcg was recalibrated
    ("6.1", dict(platform="qemu-tcg", ncpus=2, workload="fix_size", duration_s=0.3, seed=1),
     dict(events=155741, ops=82082, purges=8, peak_lazy_pages=16420)),
]


@pytest.mark.parametrize("kernel,fields,expected", CASES,
                         ids=[f"{k}-{f['platform']}-{f['workload']}" for k, f, _ in CASES])
def test_pinned_counts(kernel, fields, expected, sim):
    s = sim(SimConfig.for_kernel(kernel, **fields)).summary
    got = {k: int(s[k]) for k in expected}
    assert got == expected, "the simulated behaviour changed (see this module's docstring)"
    assert s.sim_ns == int(fields["duration_s"] * 1e9) and s.alloc_failures == 0
