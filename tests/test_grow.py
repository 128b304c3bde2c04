"""`run` grows its arrays when `_loop` returns LOOP_GROW, and the run goes on exactly as before.

``run(..., _grow_step=k)`` starts the growable arrays (areas, tree, purge lists, purge records)
nearly empty and grows them by k rows at a time, so `_loop` returns every few events and is called
again on its loop state (K) with the larger arrays. Every output must equal a normal run's.
"""
from __future__ import annotations

import numpy as np
import pytest

from vmlab import SimConfig
from vmlab import engine as E

CONFIGS = {
    "6.1-stress": SimConfig.for_kernel("6.1", platform="hikey960", ncpus=8, workload="stress",
                                       duration_s=0.004),
    "5.0+threshold-stress": SimConfig.for_kernel("5.0+threshold", platform="hikey960", ncpus=8,
                                                 workload="stress", duration_s=0.02),
    "4.9-guest": SimConfig.for_kernel("4.9", platform="hikey960", ncpus=8, host_cpus=3,
                                      workload="stress", duration_s=0.01),
}


class _Counting:
    """Wraps `_loop` to count its calls (a Python-level wrapper: the jitted loop is unchanged)."""

    def __init__(self, loop):
        self.loop, self.calls = loop, 0

    def __call__(self, *args):
        self.calls += 1
        return self.loop(*args)


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_growing_every_few_events_changes_nothing(name, monkeypatch):
    P, orders, _ = CONFIGS[name].engine_inputs()
    normal = E.run(P, orders)
    counter = _Counting(E.driver._call_loop)
    monkeypatch.setattr(E.driver, "_call_loop", counter)
    grown = E.run(P, orders, _grow_step=2)
    events = int(normal[0][E.S_EVENTS])
    assert events > 1000
    assert counter.calls > 100, f"{counter.calls} _loop calls for {events} events: growth not forced"
    assert len(normal) == len(grown)
    for i, (a, b) in enumerate(zip(normal, grown)):
        assert a.shape == b.shape, i
        np.testing.assert_array_equal(a, b, err_msg=f"output {i}")
