"""Magnitudes: the HiKey960 full-list purge (facts 4.A, the seed's figures).

Rezki: on the 8-CPU HiKey960 a __purge_vmap_area_lazy() of a full lazy list (lazy_max_pages = 32768
list entries) takes up to ~12 ms, ~4-5 ms of it in the flush-range loop. The issue asks for that
within 2x.

Set-up: 4.9 (no-resched, so no yield inflates the purge), fix_size with nr_pages=1 (2 pages per area
with the guard), and lazy_max_pages=65536 pages, so the purge list holds ~32768 entries.
"""
from __future__ import annotations

import pytest

from vmlab import SimConfig

FULL_LIST_ENTRIES = 32768
SEED_PURGE_NS = 12e6
SEED_WALK_NS = (4e6, 5e6)


@pytest.fixture(scope="module")
def full_list_purges(sim):
    cfg = SimConfig.for_kernel("4.9", platform="hikey960", ncpus=8, workload="fix_size", nr_pages=1,
                               lazy_max_pages=65536, duration_s=0.1, seed=1)
    res = sim(cfg)
    p = res.purges
    real = p[p.areas > 0]
    assert len(real) >= 2
    # the purge list really is the full list: ~32768 two-page areas
    assert (real.pages == 2 * real.areas).all()
    assert real.areas.between(0.95 * FULL_LIST_ENTRIES, 1.05 * FULL_LIST_ENTRIES).all(), real.areas.tolist()
    assert (real.yields == 0).all()
    return real


def test_full_list_walk_is_4_to_5_ms_within_2x(full_list_purges):
    big = full_list_purges.loc[full_list_purges.areas.idxmax()]
    walk_scaled = big.walk_ns / big.areas * FULL_LIST_ENTRIES
    # 4.5 ms (the middle of 4-5 ms) within 2x: [2.25, 9] ms
    mid = sum(SEED_WALK_NS) / 2
    assert mid / 2 <= walk_scaled <= mid * 2, walk_scaled / 1e6


def test_full_list_purge_is_about_12_ms_within_2x(full_list_purges):
    big = full_list_purges.loc[full_list_purges.areas.idxmax()]
    dur_scaled = big.duration_ns / big.areas * FULL_LIST_ENTRIES
    assert SEED_PURGE_NS / 2 <= dur_scaled <= SEED_PURGE_NS * 2, dur_scaled / 1e6
    assert SEED_PURGE_NS / 2 <= big.duration_ns <= SEED_PURGE_NS * 2, big.duration_ns / 1e6
    # every full-list purge, not just the largest, is in the band
    assert full_list_purges.duration_ns.between(SEED_PURGE_NS / 2, SEED_PURGE_NS * 2).all()


def test_walk_is_a_third_of_the_purge(full_list_purges):
    """4-5 ms of 12 ms: the walk is roughly a third; the free loop under the lock is most of the rest."""
    share = full_list_purges.walk_ns / full_list_purges.duration_ns
    assert share.between(4 / 12 / 2, 5 / 12 * 2).all(), share.tolist()
    assert (full_list_purges.free_ns > full_list_purges.walk_ns).all()


def test_no_resched_holds_the_lock_for_the_whole_free_loop(full_list_purges):
    # one critical section for all ~32768 entries: milliseconds with the lock held (facts 4.B)
    assert (full_list_purges.max_lock_hold_ns == full_list_purges.free_ns).all()
    assert (full_list_purges.max_lock_hold_ns > 3e6).all()


def test_purge_cost_scales_with_the_list(sim):
    """Half the list, about half the walk and free time (both are per entry)."""
    cfg = SimConfig.for_kernel("4.9", platform="hikey960", ncpus=8, workload="fix_size", nr_pages=1,
                               lazy_max_pages=32768, duration_s=0.05, seed=1)
    half = sim(cfg).purges
    half = half[half.areas > 0]
    assert len(half) >= 2
    assert half.areas.between(0.45 * FULL_LIST_ENTRIES, 0.55 * FULL_LIST_ENTRIES).all()
    per_area_walk = (half.walk_ns / half.areas)
    assert per_area_walk.max() == per_area_walk.min()          # a fixed cost per entry
    plat = cfg.resolved().platform
    assert per_area_walk.iloc[0] == plat.flush_walk_area_ns
    assert (half.free_ns / half.areas).between(plat.free_area_ns, 1.1 * plat.free_area_ns).all()
