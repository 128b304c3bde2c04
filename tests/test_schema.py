"""The Result schema (vmlab.result docstring, issue "Results"), on one small run with many purges."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import vmlab
from vmlab import SimConfig
from vmlab.result import LATENCY_KINDS, PURGE_COLUMNS, SUMMARY_KEYS, TIMESERIES_COLUMNS, TRIGGERS

SAMPLE_NS = 250_000
DURATION_S = 0.05
CFG = SimConfig.for_kernel("5.0+threshold", platform="hikey960", ncpus=2, workload="fix_size", duration_s=DURATION_S,
                           seed=3, lazy_max_pages=2048, sample_interval_ns=SAMPLE_NS)
LATENCY_COLUMNS = ["count", "mean", "p50", "p99", "p999", "max"]
TESTS_COLUMNS = ["test", "worker", "loops", "avg_usec", "failed", "passed", "repeat", "complete"]
REQUIRED_SUMMARY = ("peak_lazy_pages", "lazy_max_pages", "peak_lazy_ratio", "purges", "purge_p50_ns",
                    "purge_p99_ns", "purge_max_ns", "alloc_p99_ns", "lock_wait_max_ns", "alloc_failures", "oom",
                    "oom_time_ns", "ops", "sim_ns", "wall_s")


@pytest.fixture(scope="module")
def res(sim):
    r = sim(CFG)
    # the checks below need a run that purged several times and did not stop early
    assert r.summary.purges >= 10
    assert r.summary.sim_ns == int(DURATION_S * 1e9)
    return r


# --------------------------------------------------------------------------- timeseries
def test_timeseries_index(res):
    ts = res.timeseries
    assert ts.index.name == "time_ns"
    idx = ts.index.to_numpy()
    assert idx[0] == 0
    assert np.all(np.diff(idx) == SAMPLE_NS)
    # one row per interval, up to the end of the run
    assert len(ts) == int(DURATION_S * 1e9) // SAMPLE_NS + 1
    assert idx[-1] <= res.summary.sim_ns


def test_timeseries_columns(res):
    assert list(res.timeseries.columns) == list(TIMESERIES_COLUMNS)
    assert set(TIMESERIES_COLUMNS) == {"vmap_lazy_nr", "lazy_areas", "busy_areas", "live_pages",
                                       "va_highwater_pages", "mem_bytes", "purge_active", "lock_waiters",
                                       "mem_base_bytes", "mem_data_bytes", "mem_pcpu_bytes",
                                       "mem_va_obj_bytes", "mem_pt_bytes", "steal_ns"}
    for c in TIMESERIES_COLUMNS:
        assert pd.api.types.is_integer_dtype(res.timeseries[c]), c


def test_timeseries_values_are_consistent(res):
    ts = res.timeseries
    base = CFG.resolved().platform.base_mem_bytes
    assert (ts.vmap_lazy_nr >= 0).all() and (ts.lazy_areas >= 0).all() and (ts.busy_areas >= 0).all()
    # every lazy area holds at least 2 pages here (3-page v5.1 fix_size + guard = 4)
    assert (ts.vmap_lazy_nr == 4 * ts.lazy_areas).all()
    assert ts.purge_active.isin([0, 1]).all() and ts.purge_active.any()
    assert (ts.lock_waiters >= 0).all() and (ts.lock_waiters <= CFG.ncpus).all()
    assert (ts.mem_bytes >= base).all()
    assert ts.va_highwater_pages.is_monotonic_increasing
    assert ts.vmap_lazy_nr.max() <= res.summary.peak_lazy_pages


# --------------------------------------------------------------------------- purges
def test_purge_columns(res):
    p = res.purges
    assert list(p.columns) == list(PURGE_COLUMNS)
    assert set(p.trigger.cat.categories) == set(TRIGGERS) == {"free", "alloc_fail", "drain"}
    for c in PURGE_COLUMNS:
        if c != "trigger":
            assert pd.api.types.is_integer_dtype(p[c]), c


def test_purge_durations_and_phases(res):
    p = res.purges
    plat = CFG.resolved().platform
    assert (p.duration_ns == p.end_ns - p.start_ns).all()
    assert (p.duration_ns > 0).all()
    real = p[p.areas > 0]
    assert len(real) >= 10
    # list steal, flush-range walk, TLB flush, then the free loop (from the first lock grant):
    # the phases are disjoint and the steal costs purge_steal_ns, so they sum to at most the purge.
    assert (real.walk_ns + real.flush_ns + real.free_ns + plat.purge_steal_ns <= real.duration_ns).all()
    # flush_range="walk": one flush_walk_area_ns per list entry; entries == areas without merging
    assert (real.walk_ns == real.areas * plat.flush_walk_area_ns).all()
    assert (real.entries == real.areas).all()
    # the TLB flush: an IPI round (per online CPU on x86, once for arm64's broadcast), then a flush of everything when the list spans
    # more than the ceiling, else one per page of the span
    ipi = (CFG.ncpus if plat.tlb_flush_ipi else 1) * plat.tlb_flush_cpu_ns   # arm64: one broadcast wait
    full = real.flush_ns == ipi + plat.tlb_flush_base_ns
    span = (real.flush_ns - ipi) / plat.tlb_flush_page_ns
    ranged = ~full & (span == span.round()) & span.between(1, plat.tlb_ceiling_pages)
    assert (full | ranged).all()
    assert full[real.pages > plat.tlb_ceiling_pages].all()      # more pages than the ceiling: all
    assert (real.free_ns >= real.areas * plat.free_area_ns).all()
    assert (real.max_lock_hold_ns <= real.free_ns).all()
    assert ((real.cpu >= 0) & (real.cpu < CFG.ncpus)).all()
    assert (real.pages == 4 * real.areas).all()


def test_summary_agrees_with_purges(res):
    p = res.purges
    real = p[p.areas > 0]
    s = res.summary
    assert s.purges == len(real)
    assert s.purge_max_ns == real.duration_ns.max()
    assert s.purge_p50_ns == pytest.approx(real.duration_ns.median())
    assert s.purge_pages_p50 == pytest.approx(real.pages.median())
    assert s.peak_lazy_ratio == pytest.approx(s.peak_lazy_pages / s.lazy_max_pages)


def test_purge_counts_say_what_they_count(sim, kernel_data):
    """summary.purges counts the non-empty purges, summary.purge_calls every row of Result.purges,
    in the model and in a kernel trace alike. A 4 MiB VMALLOC range makes allocations fail, and the
    failure path's purge often finds the list empty, so the two counts differ."""
    tiny = vmlab.PLATFORMS["hikey960"].with_costs(name="hikey960-4mib", vmalloc_bytes=4 << 20)
    r = sim(SimConfig.for_kernel("6.1", platform=tiny, ncpus=4, workload="stress", duration_s=0.05, seed=3,
                                 lazy_max_pages=8192))
    p, s = r.purges, r.summary
    assert s.purge_calls == len(p)
    assert s.purges == int((p.areas > 0).sum())
    assert 0 < s.purges < s.purge_calls, (s.purges, s.purge_calls)   # empty purges exist in this run
    kr = vmlab.load_kernel_run(kernel_data / "raw" / "smp2", run="fix_size")
    assert kr.summary.purge_calls == len(kr.purges) == 139
    assert kr.summary.purges == int((kr.purges.purged == 1).sum()) == 129


# --------------------------------------------------------------------------- latency
def test_latency_table(res):
    lat = res.latency
    assert lat.index.name == "kind"
    assert list(lat.index) == list(LATENCY_KINDS)
    assert {"alloc", "free", "lock_wait", "purge"} <= set(lat.index)
    assert list(lat.columns) == LATENCY_COLUMNS
    for kind, row in lat.iterrows():
        assert row["count"] > 0, kind
        assert 0 <= row.p50 <= row.p99 <= row.p999 <= row["max"], kind
        assert row["mean"] <= row["max"], kind


def test_latency_counts_match_the_run(res):
    lat = res.latency
    s = res.summary
    # every successful vmalloc and vfree is one operation and one latency sample
    assert lat.loc["alloc", "count"] + lat.loc["free", "count"] == s.ops
    # one purge sample per non-empty purge; the maximum is exact
    assert lat.loc["purge", "count"] == s.purges
    assert lat.loc["purge", "max"] == s.purge_max_ns
    assert lat.loc["lock_wait", "max"] == s.lock_wait_max_ns
    assert lat.loc["alloc", "p99"] == s.alloc_p99_ns
    # log buckets, 8 per octave: a quantile is within ~9 % of the exact value
    assert lat.loc["purge", "p50"] == pytest.approx(s.purge_p50_ns, rel=0.09)
    # lock hold and wait are recorded per acquisition, in pairs
    assert abs(lat.loc["lock_hold", "count"] - lat.loc["lock_wait", "count"]) <= CFG.ncpus + 1


# --------------------------------------------------------------------------- tests
def test_tests_table(res):
    t = res.tests
    assert list(t.columns) == TESTS_COLUMNS
    wl = CFG.resolved().workload
    assert len(t) == wl.nr_threads                 # one test (fix_size) per worker
    assert set(t.test) == {"fix_size_alloc_test"}
    assert sorted(t.worker) == list(range(wl.nr_threads))
    assert (t.loops > 0).all() and (t.avg_usec > 0).all()
    assert (t.failed == 0).all()
    # one alloc + one free per loop; a loop is counted when its vfree is issued, so each worker may
    # have one alloc done (loop not counted yet) or one vfree in flight (counted, not done)
    assert abs(res.summary.ops - 2 * t.loops.sum()) <= wl.nr_threads


# --------------------------------------------------------------------------- summary, version
def test_summary_keys(res):
    s = res.summary
    assert isinstance(s, pd.Series)
    for k in SUMMARY_KEYS:
        assert k in s.index, k
    for k in REQUIRED_SUMMARY:
        assert k in SUMMARY_KEYS, k
    assert s.oom in (False, np.False_) and np.isnan(s.oom_time_ns)
    assert s.alloc_failures == 0
    assert s.ops > 0 and s.wall_s > 0


def test_model_version_and_config(res):
    assert res.model_version == vmlab.MODEL_VERSION
    assert isinstance(res.model_version, str) and res.model_version
    assert res.config == CFG
