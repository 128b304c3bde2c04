"""Kernel eras: every setting `SimConfig.for_kernel` expresses, pinned to the kernel line in
``docs/eras.md`` it comes from, and the behaviour each era's setting must produce.

Configuration cells (what the preset sets) are checked against ERA_TABLE. Behaviour cells (what
the engine then does with them: who yields when, when vmap_lazy_nr drops, who loses the flush
time) are checked by running small fixed-seed configurations, one era against another with
everything else equal.
"""
from __future__ import annotations

import warnings

import numpy as np
import pytest

from vmlab import KERNELS, SimConfig, get_platform
from vmlab.workloads import TEST_CASES, TEST_IDS

# --------------------------------------------------------------------------- configuration cells
# era: (policy, allocator, flush_range, purge_mode, lock_split, purge_lock, lazy_drop, lock_break,
#       test_set). Sources (docs/eras.md has the line of each cell):
#  policy     4.9 no cond_resched_lock in the free loop (docs/facts.md §1.4: added by 763b218ddfaf, 4.10);
#             5.0/5.1 cond_resched_lock on every area (v5.0.1/mm/vmalloc.c:684, v5.1.15:688);
#             5.2+ only while vmap_lazy_nr < lazy_max_pages() << 1 (v5.2.1:1228-1238).
#  allocator  list + free_vmap_cache until 5.1 (v5.1.15 alloc_vmap_area), augmented free tree
#             from 5.2 (v5.2.1/mm/vmalloc.c: free_vmap_area_root, find_vmap_lowest_match).
#  flush      range loop over the purge list until 5.10; kept at insert in the purge tree in
#             5.11 (v5.11.14 merge_or_add_vmap_area into purge_vmap_area_root).
#  mode       sync in the freeing task until 5.17; drain_vmap_work in 6.1 (v6.1.192 schedule_work).
#  lock_split free_vmap_area_lock beside vmap_area_lock in 5.11 and 6.1.
#  purge_lock 4.9 spinlock purge_lock (docs/facts.md §1.4: the mutex came with the 4.10 series).
#  lazy_drop  4.9 subtracts the batch before the flush; 4.10+ per area in the free loop.
#  lock_break 6.1: PREEMPT_DYNAMIC selects PREEMPTION (v6.1.192/kernel/Kconfig.preempt), so
#             spin_needbreak reports contention (v6.1.192/include/linux/sched.h:2217-2224).
#  test_set   v5.0 = the v5.1 module minus align_shift (BUG_ON, v5.0.1/mm/vmalloc.c:501-513);
#             v5.1/v5.2 8 cases, 3-page fix_size; v5.11 12 cases, 3 pages; v6.1 10 cases, nr_pages.
ERA_TABLE = {
    "4.9": ("no-resched", "list", "walk", "sync", False, "spinlock", "batch", None, "v5.0"),
    "5.0": ("always-resched", "list", "walk", "sync", False, "mutex", "per-entry", None, "v5.0"),
    "5.0+threshold": ("threshold", "list", "walk", "sync", False, "mutex", "per-entry", None, "v5.0"),
    "5.1": ("always-resched", "list", "walk", "sync", False, "mutex", "per-entry", None, "v5.1"),
    "5.2": ("threshold", "augmented-tree", "walk", "sync", False, "mutex", "per-entry", None, "v5.1"),
    "5.11": ("threshold", "augmented-tree", "at-insert", "sync", True, "mutex", "per-entry", None, "v5.11"),
    "6.1": ("threshold", "augmented-tree", "at-insert", "deferred", True, "mutex", "per-entry", True, "v6.1"),
}
FIELDS = ("policy", "allocator", "flush_range", "purge_mode", "lock_split", "purge_lock", "lazy_drop",
          "lock_break", "test_set")


def _cfg(version, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        return SimConfig.for_kernel(version, **kw)


def test_the_table_covers_exactly_the_presets():
    assert set(KERNELS) == set(ERA_TABLE)


@pytest.mark.parametrize("version", list(ERA_TABLE))
def test_for_kernel_follows_the_era_table(version):
    cfg = _cfg(version)
    got = tuple(getattr(cfg, f) for f in FIELDS)
    assert dict(zip(FIELDS, got)) == dict(zip(FIELDS, ERA_TABLE[version]))
    if cfg.policy == "threshold":
        # resched_threshold = lazy_max_pages() << 1 (v5.2.1/mm/vmalloc.c:1228)
        r = cfg.resolved()
        assert r.resched_threshold_pages == 2 * r.lazy_max_pages


def test_the_seed_experiment_is_5_0_with_the_threshold():
    assert _cfg("5.0", policy="threshold") == _cfg("5.0+threshold")
    # 5.1 is what 5.1.15 is: it still yields on every area
    assert _cfg("5.1").policy == "always-resched"


def test_old_5_1_label_warns_once_and_names_the_new_label():
    from vmlab import config as C
    C._warned.discard("5.1")
    with pytest.warns(FutureWarning, match=r"5\.0\+threshold"):
        SimConfig.for_kernel("5.1")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        SimConfig.for_kernel("5.1")          # once per process


@pytest.mark.parametrize("version,cases,nr_pages", [
    ("4.9", 7, 3), ("5.0", 7, 3), ("5.0+threshold", 7, 3),     # v5.1 module minus align_shift
    ("5.1", 8, 3), ("5.2", 8, 3),                                # v5.1.15/lib/test_vmalloc.c:280,337-344
    ("5.11", 12, 3),                                             # v5.11.14/lib/test_vmalloc.c:274,408-419
    ("6.1", 10, 0),                                              # v6.1.192/lib/test_vmalloc.c:38,361-370
])
def test_test_set_of_the_era(version, cases, nr_pages):
    wl = _cfg(version, workload="stress").resolved().workload
    assert len(wl.tests) == cases and wl.nr_pages == nr_pages
    assert "vm_map_ram_test" not in wl.tests
    assert ("align_shift_alloc_test" in wl.tests) == (version not in ("4.9", "5.0", "5.0+threshold"))
    assert ("kvfree_rcu_1_arg_slab_test" in wl.tests) == (version == "5.11")


def test_5_0_refuses_align_shift_and_says_why():
    with pytest.raises(ValueError, match=r"BUG_ON.*v5\.0\.1/mm/vmalloc\.c"):
        _cfg("5.0", workload="align_shift_alloc_test")
    with pytest.raises(ValueError, match="align_shift"):
        _cfg("5.0", run_test_mask=TEST_IDS["align_shift_alloc_test"] | 1)
    _cfg("5.0", workload="align_shift_alloc_test", test_set="v5.1")   # allowed when asked for


def test_lock_break_resolution():
    # CONFIG_PREEMPTION: full preemption, or 6.1's PREEMPT_DYNAMIC whatever the boot mode
    assert _cfg("5.2", platform="x86-server").resolved().lock_break is False
    assert _cfg("5.2", platform="hikey960").resolved().lock_break is True
    assert _cfg("6.1", platform="qemu-tcg").resolved().preempt == "voluntary"
    assert _cfg("6.1", platform="qemu-tcg").resolved().lock_break is True
    with pytest.raises(ValueError, match="lock_break"):
        SimConfig(lock_break="yes")


@pytest.mark.parametrize("field,bad", [("purge_lock", "rwlock"), ("lazy_drop", "never")])
def test_new_era_fields_are_validated(field, bad):
    with pytest.raises(ValueError, match=field):
        SimConfig(**{field: bad})


def test_tlb_flush_mechanism_of_the_platforms():
    # x86 flush_tlb_kernel_range: on_each_cpu(..., 1); arm64: broadcast TLBI, no IPI
    assert get_platform("x86-server").tlb_flush_ipi and get_platform("qemu-tcg").tlb_flush_ipi
    assert not get_platform("hikey960").tlb_flush_ipi


# --------------------------------------------------------------------------- behaviour cells
def test_4_9_drops_vmap_lazy_nr_by_the_batch_before_the_flush(sim):
    """One worker, so nothing frees during its own purge: while a 4.9 purge runs, vmap_lazy_nr is
    either what it was at the start (the range walk) or 0 (the batch is subtracted before the
    flush); with per-entry drops (4.10+) it also takes every value in between."""
    cfg = _cfg("4.9", platform="hikey960", ncpus=1, workload="fix_size", duration_s=0.1,
               sample_interval_ns=10_000)
    res = sim(cfg)
    during = res.timeseries.loc[res.timeseries.purge_active == 1, "vmap_lazy_nr"]
    starts = set(res.purges.lazy_nr_start.tolist())
    assert len(res.purges) >= 3 and (during == 0).sum() > 10
    assert set(during.tolist()) <= starts | {0}
    per_entry = sim(cfg.replace(lazy_drop="per-entry")).timeseries
    mid = per_entry.loc[per_entry.purge_active == 1, "vmap_lazy_nr"]
    assert ((mid > 0) & (~mid.isin(list(starts)))).sum() > 10


def test_4_9_purge_is_not_preemptible_5_0_is(sim):
    """Two workers on one CPU (preempt=full): a 4.9 purge runs from start to end on the CPU
    (duration == its own work), a 5.0 purge is preempted at the flush or yields in the free loop
    when the slice is used up (duration > work for some)."""
    out = {}
    for v in ("4.9", "5.0"):
        p = sim(_cfg(v, platform="hikey960", ncpus=1, nr_threads=2, workload="fix_size",
                     duration_s=0.3)).purges
        p = p[p.areas > 0]
        assert len(p) > 20
        assert (p.duration_ns >= p.work_ns).all()
        out[v] = int((p.duration_ns > p.work_ns).sum())
    assert out["4.9"] == 0
    assert out["5.0"] > 0


def test_4_9_alloc_failure_path_spins_on_the_purge_lock(sim):
    """A VMALLOC range so small that allocations fail: 4.9's waiters spin (no switch), a 5.0
    waiter sleeps; both runs stay consistent (the invariant checker runs after every operation)."""
    tiny = get_platform("hikey960").with_costs(name="hikey960-tiny", vmalloc_bytes=64 << 20)
    for v in ("4.9", "5.0"):
        s = sim(_cfg(v, platform=tiny, ncpus=2, workload="fix_size", duration_s=0.02,
                     check_invariants=True)).summary
        assert s.ops > 1000


def test_5_0_purge_yields_after_every_area_under_contention(sim):
    """4 CPUs of fix_size keep vmap_area_lock contended: each 5.0 purge drops it after every
    area but the last (the kernel's cond_resched_lock after the last one is followed by the unlock)."""
    p = sim(_cfg("5.0", platform="hikey960", ncpus=4, workload="fix_size", duration_s=0.3)).purges
    p = p[p.areas > 0]
    assert len(p) > 10
    assert (p.yields == p.areas - 1).all()


def test_threshold_stops_yielding_above_it(sim):
    """5.2's free loop yields only while vmap_lazy_nr < factor x lazy_max_pages: factor 0 never
    yields, a factor no run can reach is 5.0's always-resched, the same run event for event."""
    base = dict(platform="hikey960", ncpus=4, workload="fix_size", duration_s=0.2)
    never = sim(_cfg("5.2", threshold_factor=0.0, **base))
    assert len(never.purges) > 5 and never.purges.yields.sum() == 0
    always = sim(_cfg("5.2", threshold_factor=1e6, **base))
    same = sim(_cfg("5.2", policy="always-resched", **base))
    assert always.purges.yields.sum() > 0
    assert always.summary.events == same.summary.events
    assert always.purges.yields.tolist() == same.purges.yields.tolist()
    # and the kernel's 2x: a purge whose whole batch could not bring vmap_lazy_nr below the
    # threshold never yields
    res = sim(_cfg("5.2", platform="hikey960", ncpus=8, workload="stress", duration_s=1.0, seed=2))
    thr = res.summary.resched_threshold_pages
    above = res.purges[res.purges.lazy_nr_start - res.purges.pages >= thr]
    assert (above.yields == 0).all()


def test_x86_flush_stalls_every_other_cpu_arm64_does_not(sim):
    """6.1 on x86: every other running CPU loses its IPI handling and local flush while a purge
    flushes; the purging CPU pays an IPI per CPU. arm64 broadcasts: no stall, and the flush does
    not grow with the CPU count."""
    x86 = get_platform("x86-server")
    for n in (2, 4):
        res = sim(_cfg("6.1", platform="x86-server", ncpus=n, workload="fix_size", duration_s=0.1))
        p = res.purges[res.purges.areas > 0]
        assert len(p) > 5
        # all n workers run all the time (fix_size, one per CPU): each flush stalls n - 1 CPUs
        local = p.flush_ns - n * x86.tlb_flush_cpu_ns + x86.tlb_flush_cpu_ns
        assert res.summary.ipi_stall_ns == int((n - 1) * local.sum())
    no_ipi = x86.with_costs(name="x86-no-ipi", tlb_flush_ipi=False)
    a = sim(_cfg("6.1", platform="x86-server", ncpus=4, workload="fix_size", duration_s=0.1))
    b = sim(_cfg("6.1", platform=no_ipi, ncpus=4, workload="fix_size", duration_s=0.1))
    assert b.summary.ipi_stall_ns == 0 and b.summary.ops > a.summary.ops
    arm = {n: sim(_cfg("6.1", platform="hikey960", ncpus=n, workload="fix_size", duration_s=0.1))
           for n in (2, 8)}
    for r in arm.values():
        assert r.summary.ipi_stall_ns == 0
    full = {n: r.purges.loc[r.purges.areas > 0, "flush_ns"].max() for n, r in arm.items()}
    assert full[2] == full[8]


def test_5_11_slab_cases_take_cpu_time_and_no_vmap_area(sim):
    res = sim(_cfg("5.11", platform="hikey960", ncpus=1, workload="kvfree_rcu_1_arg_slab_test",
                   test_loop_count=5000, test_repeat_count=1, duration_s=0.5))
    t = res.tests
    assert list(t.test) == ["kvfree_rcu_1_arg_slab_test"] and t.loops.iloc[0] == 5000
    assert bool(t.complete.iloc[0])
    assert res.summary.ops == 0 and res.summary.peak_lazy_pages == 0
    kmalloc = get_platform("hikey960").kmalloc_va_ns
    assert t.avg_usec.iloc[0] == pytest.approx(5000 * 2 * kmalloc / 1e3, rel=0.01)


def test_test_names_cover_the_slab_cases():
    assert TEST_CASES[-2:] == ("kvfree_rcu_1_arg_slab_test", "kvfree_rcu_2_arg_slab_test")


def test_seed_story_holds_with_true_labels(sim):
    """hikey960 stress at 8 CPUs: 5.0 runs away, 5.0+threshold stays near 2x lazy_max_pages."""
    base = dict(platform="hikey960", ncpus=8, workload="stress", duration_s=3.0, seed=1)
    r50 = sim(_cfg("5.0", **base)).summary
    rthr = sim(_cfg("5.0+threshold", **base)).summary
    r52 = sim(_cfg("5.2", **base)).summary
    assert rthr.peak_lazy_ratio < 3.0 and r52.peak_lazy_ratio < 3.0
    assert r50.peak_lazy_ratio > 2 * rthr.peak_lazy_ratio
    assert np.isfinite(rthr.purge_p99_ns)
