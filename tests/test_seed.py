"""The seed (issue "What it must show"): HiKey960, 8 CPUs, test_vmalloc.sh stress.

Before the threshold patch (for_kernel("5.0"): always-resched, sync) vmap_lazy_nr runs far beyond
lazy_max_pages and keeps growing, and memory grows until OOM; with the patch (for_kernel("5.0+threshold"), the seed's experiment)
the peak stays near 2 x lazy_max_pages; without any resched (4.9) it is bounded.

OOM at the full 4 GB is not tested: in the model the 5.0 run's memory grows by about 1 MiB per
simulated second (vmap_area objects and page tables of fresh VA regions; data pages are freed at
vfree time, facts 1.7), so reaching 4 GB would take hours. The OOM test below uses a RAM limit
just above the 5.0+threshold steady state instead.
"""
from __future__ import annotations

import numpy as np
import pytest

from vmlab import SimConfig

SEED = dict(platform="hikey960", ncpus=8, workload="stress", seed=1)
LAZY_MAX = 32768          # facts 1.1: 8 CPUs


@pytest.fixture(scope="module")
def seed_runs(sim):
    return {v: sim(SimConfig.for_kernel(v, duration_s=5.0, **SEED)) for v in ("4.9", "5.0", "5.0+threshold")}


def test_lazy_max_is_32768(seed_runs):
    for res in seed_runs.values():
        assert res.summary.lazy_max_pages == LAZY_MAX


def test_50_vmap_lazy_nr_exceeds_10x_lazy_max_within_5s(seed_runs):
    res = seed_runs["5.0"]
    assert res.summary.sim_ns == 5_000_000_000 and not res.summary.oom
    lazy = res.timeseries.vmap_lazy_nr
    assert lazy.max() > 10 * LAZY_MAX, lazy.max() / LAZY_MAX
    assert res.summary.peak_lazy_ratio > 10


def test_50_vmap_lazy_nr_keeps_growing(seed_runs):
    lazy = seed_runs["5.0"].timeseries.vmap_lazy_nr.to_numpy()
    q = len(lazy) // 4
    first, last = lazy[:q], lazy[-q:]
    assert last.min() > first.max(), (first.max(), last.min())
    # and it is still growing at the end: the last quarter's mean is above the third quarter's
    assert last.mean() > lazy[-2 * q:-q].mean()


def test_50_purges_yield_after_nearly_every_area(seed_runs):
    """always-resched under contention: cond_resched_lock drops the lock after (nearly) every area;
    the threshold patch stops that above 2 x lazy_max, so 5.0+threshold yields less often per area."""
    def per_area(res):
        real = res.purges[res.purges.areas > 0]
        return real.yields.sum() / (real.areas - 1).sum()
    assert per_area(seed_runs["5.0"]) > 0.9
    assert per_area(seed_runs["5.0+threshold"]) < per_area(seed_runs["5.0"])
    # the runaway 5.0 purges grow with the list they steal: one of the last three is the longest
    real = seed_runs["5.0"].purges[seed_runs["5.0"].purges.areas > 0]
    assert real.duration_ns.iloc[-3:].max() == real.duration_ns.max()
    assert real.duration_ns.max() > seed_runs["5.0+threshold"].summary.purge_max_ns


def test_51_peak_within_3x_lazy_max(seed_runs):
    res = seed_runs["5.0+threshold"]
    assert res.summary.peak_lazy_pages <= 3 * LAZY_MAX, res.summary.peak_lazy_ratio
    assert res.timeseries.vmap_lazy_nr.max() <= 3 * LAZY_MAX
    # the threshold patch is what makes the difference: same workload, same seed
    assert seed_runs["5.0"].summary.peak_lazy_pages > 3 * res.summary.peak_lazy_pages


def test_51_does_not_keep_growing(seed_runs):
    lazy = seed_runs["5.0+threshold"].timeseries.vmap_lazy_nr.to_numpy()
    q = len(lazy) // 4
    assert lazy[-q:].max() <= 3 * LAZY_MAX
    assert lazy[-q:].mean() < 2.5 * LAZY_MAX


def test_49_no_resched_is_bounded_with_the_longest_purge_holds(seed_runs):
    res = seed_runs["4.9"]
    assert res.summary.peak_lazy_ratio < 1.5
    hold = {v: r.purges[r.purges.areas > 0].max_lock_hold_ns.max() for v, r in seed_runs.items()}
    assert hold["4.9"] > hold["5.0"] and hold["4.9"] > hold["5.0+threshold"], hold


@pytest.mark.parametrize("seed", [2, 3, 4])
def test_50_grows_for_other_seeds_too(seed, sim):
    res = sim(SimConfig.for_kernel("5.0", duration_s=5.0, **{**SEED, "seed": seed}))
    lazy = res.timeseries.vmap_lazy_nr.to_numpy()
    q = len(lazy) // 4
    assert lazy[-q:].min() > lazy[:q].max()
    assert res.summary.peak_lazy_ratio > 3       # beyond what the threshold patch allows


# --------------------------------------------------------------------------- OOM
OOM_RUN = dict(SEED, duration_s=30.0, sample_interval_ns=10_000_000)
#: 72 MiB above the base: the 5.0+threshold run levels off near 63 MiB (the data the stress tests
#: hold, page tables and vmap_area objects), the 5.0 run crosses it after ~10 s as unpurged areas pile
#: up and push new allocations into fresh page-table regions. (Re-tuned from 136 MiB when the 5.0-era
#: test set lost align_shift_alloc_test, docs/eras.md. The limit is chosen, not the board's 4 GB:
#: the calibration issue replaces this with the platform's real RAM and an OOM ETA.)
HEADROOM = 72 << 20


@pytest.fixture(scope="module")
def ram_bytes():
    return SimConfig(**SEED).resolved().platform.base_mem_bytes + HEADROOM


def test_50_ends_in_oom(sim, ram_bytes):
    cfg = SimConfig.for_kernel("5.0", ram_bytes=ram_bytes, **OOM_RUN)
    res = sim(cfg)
    s = res.summary
    assert bool(s.oom) is True
    assert np.isfinite(s.oom_time_ns)
    assert 0 < s.oom_time_ns < 30e9
    # the run stops at the OOM: the simulated time is the OOM time, nothing happens after it
    assert s.sim_ns == s.oom_time_ns, (s.sim_ns, s.oom_time_ns)
    ts = res.timeseries
    assert ts.index.max() <= s.oom_time_ns < ts.index.max() + cfg.sample_interval_ns
    assert res.purges.end_ns.max() <= s.oom_time_ns
    # the limit was crossed, and only at the very end
    assert s.peak_mem_bytes > ram_bytes
    assert ts.mem_bytes.max() <= ram_bytes
    # what piled up: lazy areas, far beyond lazy_max_pages
    assert ts.vmap_lazy_nr.iloc[-1] > 10 * LAZY_MAX


def test_51_does_not_oom_at_the_same_ram(sim, ram_bytes):
    res = sim(SimConfig.for_kernel("5.0+threshold", ram_bytes=ram_bytes, **OOM_RUN))
    s = res.summary
    assert bool(s.oom) is False
    assert np.isnan(s.oom_time_ns)
    assert s.sim_ns == 30_000_000_000
    assert s.peak_mem_bytes <= ram_bytes


def test_memory_growth_is_carried_by_lazy_areas(sim):
    """Same 30 s without a RAM limit: 5.0 ends with more memory than 5.0+threshold, and the difference is the
    vmap_area objects of its extra lazy areas (data pages are freed at vfree time, facts 1.7)."""
    r50 = sim(SimConfig.for_kernel("5.0", **OOM_RUN))
    r51 = sim(SimConfig.for_kernel("5.0+threshold", **OOM_RUN))
    assert not r50.summary.oom and not r51.summary.oom
    plat = SimConfig(**SEED).resolved().platform
    end_tables = []
    for res in (r50, r51):
        ts = res.timeseries
        # memory model: base + data pages + vmap_area objects + page tables
        tables = ts.mem_bytes - plat.base_mem_bytes - ts.live_pages * plat.page_size \
            - (ts.busy_areas + ts.lazy_areas) * plat.va_obj_bytes
        pte_pages = -(-ts.va_highwater_pages // 512)
        # page tables: one page per 2 MiB / 1 GiB region ever mapped, never freed, so they only
        # grow, and never exceed what the whole range up to the high-water mark would need
        assert (tables.iloc[1:] > 0).all() and (tables.diff().dropna() >= 0).all()
        assert (tables % plat.page_size == 0).all()
        assert (tables <= (pte_pages + ts.va_highwater_pages // 262144 + 2) * plat.page_size).all()
        end_tables.append(tables.iloc[-1])
    end50, end51 = r50.timeseries.iloc[-1], r51.timeseries.iloc[-1]
    assert end50.mem_bytes > end51.mem_bytes
    assert end50.lazy_areas > 10 * end51.lazy_areas
    # 5.0's extra memory: its extra vmap_area objects, plus the page tables of the fresh VA it
    # had to use because unpurged areas kept the old VA busy
    objects = ((end50.lazy_areas + end50.busy_areas) - (end51.lazy_areas + end51.busy_areas)) * plat.va_obj_bytes
    data = (end50.live_pages - end51.live_pages) * plat.page_size
    assert end50.mem_bytes - end51.mem_bytes == objects + data + (end_tables[0] - end_tables[1])
    assert objects > 0 and end_tables[0] > end_tables[1]
