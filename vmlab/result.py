"""`Result`: the one pandas schema for a run, built in one place from the engine's arrays.

Kernel traces (`vmlab.trace`, later) produce the same attributes, so plots work on both.

Schema
------
``timeseries`` (index ``time_ns``, one row per ``sample_interval_ns``):
    ``vmap_lazy_nr`` (pages), ``lazy_areas``, ``busy_areas`` (allocated, not lazily freed),
    ``live_pages`` (data pages held by the tests), ``va_highwater_pages`` (above VMALLOC_START),
    ``mem_bytes`` (the memory model), ``purge_active`` (0/1), ``lock_waiters`` (CPUs spinning),
    and ``mem_bytes`` by component (bytes, they add up to it): ``mem_base_bytes`` (the platform's
    memory before the test), ``mem_data_bytes`` (data pages of the areas the test program holds),
    ``mem_pcpu_bytes`` (percpu backing of pcpu_alloc_test's objects), ``mem_va_obj_bytes`` (struct
    vmap_area objects: busy, lazy, and purged ones waiting for kfree_rcu), ``mem_pt_bytes``
    (kernel page tables of the VA ever mapped; never freed), ``steal_ns`` (overcommitted guest,
    ``SimConfig.host_cpus``: the time the host kept the vCPUs descheduled up to the sample, summed
    over vCPUs, ns; 0 without host_cpus; NaN in a kernel trace).
``purges`` (one row per ``__purge_vmap_area_lazy`` call, empty ones included):
    ``start_ns``, ``end_ns``, ``duration_ns``, ``walk_ns``, ``flush_ns``, ``free_ns``, ``areas``
    (vmap areas freed), ``entries`` (purge-list entries after at-insert merging), ``pages``,
    ``yields`` (times cond_resched_lock dropped the lock), ``max_lock_hold_ns``, ``cpu``,
    ``trigger`` (free / alloc_fail / drain), ``lazy_nr_start`` (pages), ``work_ns`` (the purge's
    own CPU time: list steal, flush-range walk, TLB flush and free loop, without lock waits and
    time off the CPU; ``duration_ns - work_ns`` is what waiting, yielding and preemption added).
``latency`` (index ``kind``: alloc, free, lock_wait, lock_hold, purge):
    ``count``, ``mean``, ``p50``, ``p99``, ``p999``, ``max`` in ns. Built from log-bucketed histograms
    (8 buckets per power of two, so within ~9 %); ``max`` is exact.
``tests`` (one row per test per worker that started it):
    ``test``, ``worker``, ``loops``, ``avg_usec`` (test time over repetitions started, as the module's
    ``Summary:`` line), ``failed``, ``passed``, ``repeat``, ``complete``.
``summary`` (pandas Series): see `SUMMARY_KEYS`. How the run ended: ``sim_ns`` is the simulated
    time it covered (ns); ``tests_done`` is True when every test_vmalloc worker finished its test
    program (the run then stops once the purge work is done, before ``duration_s``), ``oom`` when
    memory ran out (the run stops there); neither means the run was cut at the ``duration_s`` limit.
    The purge counts say what they count:
    ``purges`` is the number of non-empty purges (``areas > 0``: the rows of ``purges`` that freed
    something), ``purge_calls`` the number of calls (``len(purges)``, empty ones included, as the
    kernel trace's ``purge_calls``); ``purge_p50_ns``, ``purge_p99_ns``, ``purge_max_ns``,
    ``purge_pages_p50`` and ``purge_walk_share`` are over the non-empty purges.
    A simulated run adds two model-only keys: ``alloc_walk_areas`` (busy and lazy areas the list
    era's allocation walks stepped over, in total) and ``alloc_cache_resets`` (list-era searches
    that found no usable ``free_vmap_cache`` and walked from VMALLOC_START); both are 0 in the tree
    era. ``lock_holder_preempt_max_ns`` is the longest time one spinlock hold (vmap_area_lock or
    free_vmap_area_lock) was stretched because the host descheduled the holder's vCPU
    (lock-holder preemption; 0 without ``host_cpus``, NaN in a kernel trace).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from . import engine as E
from .workloads import TEST_CASES

SUMMARY_KEYS = (
    "peak_lazy_pages", "lazy_max_pages", "peak_lazy_ratio", "purges", "purge_p50_ns",
    "purge_p99_ns", "purge_max_ns", "alloc_p99_ns", "lock_wait_max_ns", "alloc_failures", "oom",
    "oom_time_ns", "ops", "sim_ns", "wall_s",
    # beyond the required keys
    "resched_threshold_pages", "peak_mem_bytes", "lock_hold_max_ns", "purge_pages_p50",
    "purge_walk_share", "events", "ipi_stall_ns", "tests_done", "oom_eta_s", "purge_calls",
    "lock_acquisitions", "lock_holder_preempt_max_ns",
)
TIMESERIES_COLUMNS = ("vmap_lazy_nr", "lazy_areas", "busy_areas", "live_pages",
                      "va_highwater_pages", "mem_bytes", "purge_active", "lock_waiters",
                      "mem_base_bytes", "mem_data_bytes", "mem_pcpu_bytes", "mem_va_obj_bytes",
                      "mem_pt_bytes", "steal_ns")
#: The memory components of ``timeseries``; they add up to ``mem_bytes``.
MEM_COMPONENTS = ("mem_base_bytes", "mem_data_bytes", "mem_pcpu_bytes", "mem_va_obj_bytes", "mem_pt_bytes")
PURGE_COLUMNS = ("start_ns", "end_ns", "duration_ns", "walk_ns", "flush_ns", "free_ns", "areas",
                 "entries", "pages", "yields", "max_lock_hold_ns", "cpu", "trigger", "lazy_nr_start",
                 "work_ns")
LATENCY_KINDS = ("alloc", "free", "lock_wait", "lock_hold", "purge")
TRIGGERS = ("free", "alloc_fail", "drain")


def oom_eta_s(ts: pd.DataFrame, ram_bytes: float, oom: bool = False) -> float:
    """Simulated seconds until ``mem_bytes`` would reach ``ram_bytes`` at the run's final growth
    rate: a least-squares slope over the last third of the samples (bytes per second), projected
    from the last sample. 0 after an OOM; inf when memory is flat or shrinking at the end (or there
    are fewer than 3 samples); NaN without a memory series (a recording without meminfo)."""
    if oom:
        return 0.0
    if "mem_bytes" not in ts or ts["mem_bytes"].isna().all():
        return float("nan")
    m = ts["mem_bytes"].dropna()
    if len(m) < 3:
        return float("inf")
    tail = m.iloc[-max(3, len(m) // 3):]
    t = tail.index.to_numpy(dtype=np.float64) / 1e9
    slope = float(np.polyfit(t, tail.to_numpy(dtype=np.float64), 1)[0])
    if not slope * (t[-1] - t[0]) >= 1.0:      # less than a byte over the tail: flat
        return float("inf")
    return max(0.0, (float(ram_bytes) - float(m.iloc[-1])) / slope)


@dataclass
class Result:
    """One simulated (or, via `vmlab.trace`, recorded) run."""

    config: Any
    model_version: str
    summary: pd.Series
    timeseries: pd.DataFrame
    purges: pd.DataFrame
    latency: pd.DataFrame
    tests: pd.DataFrame
    extra: dict = field(default_factory=dict)

    def __repr__(self) -> str:
        s = self.summary
        return (f"<Result peak_lazy={int(s.peak_lazy_pages)} pages ({s.peak_lazy_ratio:.2f}x lazy_max) "
                f"purges={int(s.purges)} purge_max={s.purge_max_ns / 1e6:.2f} ms oom={bool(s.oom)} "
                f"sim={s.sim_ns / 1e9:.3f} s>")


def _bucket_values(nb: int) -> np.ndarray:
    """Representative ns of each histogram bucket: the middle of [2^e (1 + m/8), 2^e (1 + (m+1)/8))."""
    b = np.arange(nb) - 1
    e, m = b // E.HIST_PER_OCTAVE, b % E.HIST_PER_OCTAVE
    lo = np.ldexp(1.0 + m / E.HIST_PER_OCTAVE, e)
    v = lo * (1.0 + 0.5 / (E.HIST_PER_OCTAVE + m))
    v[0] = 0.0
    return v


def latency_table(hist: np.ndarray, hmax: np.ndarray) -> pd.DataFrame:
    vals = _bucket_values(hist.shape[1])
    rows = []
    for k, name in enumerate(LATENCY_KINDS):
        h = hist[k]
        n = int(h.sum())
        if n == 0:
            rows.append(dict(kind=name, count=0, mean=np.nan, p50=np.nan, p99=np.nan, p999=np.nan, max=np.nan))
            continue
        mx = float(hmax[k])
        v = np.minimum(vals, mx)
        cum = np.cumsum(h)

        def q(p):
            return float(v[np.searchsorted(cum, p * n, side="left")])

        rows.append(dict(kind=name, count=n, mean=float((h * v).sum() / n), p50=q(0.5), p99=q(0.99),
                         p999=q(0.999), max=mx))
    return pd.DataFrame(rows).set_index("kind")


def build_result(cfg, resolved, orders, out, wall_s: float, model_version: str) -> Result:
    """Turn the engine's arrays into the documented DataFrames (the only place that does)."""
    S, TS, PR, hist, hmax, TT = out
    err = int(S[E.S_ERROR])
    if err:
        names = {E.ERR_OVERLAP: "areas overlap", E.ERR_PARTITION: "free + areas do not partition the range",
                 E.ERR_LAZY: "vmap_lazy_nr != pages of lazy areas", E.ERR_AUGMENT: "tree augment stale",
                 E.ERR_COUNTS: "busy/lazy counts drifted", E.ERR_MERGE: "adjacent free segments not merged",
                 E.ERR_STALL: "every task waits and nothing is scheduled (stall)"}
        raise AssertionError(f"model invariant broken: {names.get(err, err)} (config {cfg})")
    interval = cfg.sample_interval_ns
    ts = pd.DataFrame(TS, columns=list(TIMESERIES_COLUMNS))
    ts.index = pd.Index(np.arange(len(ts), dtype=np.int64) * interval, name="time_ns")
    for c in ("vmap_lazy_nr", "lazy_areas", "busy_areas", "live_pages", "va_highwater_pages",
              "mem_bytes", "purge_active", "lock_waiters", "steal_ns") + MEM_COMPONENTS:
        ts[c] = ts[c].astype(np.int64)

    n = PR.shape[1]
    purges = pd.DataFrame({
        "start_ns": PR[E.PR_START], "end_ns": PR[E.PR_END],
        "duration_ns": PR[E.PR_END] - PR[E.PR_START], "walk_ns": PR[E.PR_WALK],
        "flush_ns": PR[E.PR_FLUSH], "free_ns": PR[E.PR_FREE], "areas": PR[E.PR_AREAS],
        "entries": PR[E.PR_ENTRIES], "pages": PR[E.PR_PAGES], "yields": PR[E.PR_YIELDS],
        "max_lock_hold_ns": PR[E.PR_MAX_HOLD], "cpu": PR[E.PR_CPU],
        "trigger": pd.Categorical.from_codes(PR[E.PR_TRIGGER], categories=list(TRIGGERS)),
        "lazy_nr_start": PR[E.PR_LAZY_START],
        "work_ns": PR[E.PR_WORK],
    }, index=pd.RangeIndex(n, name="purge"))

    latency = latency_table(hist, hmax)

    rows = []
    nw, ntests, _ = TT.shape
    for w in range(nw):
        for pos in range(ntests):
            reps = int(TT[w, pos, E.TT_REPS])
            if reps == 0:
                continue
            rows.append(dict(
                test=TEST_CASES[int(orders[w, pos])],
                worker=w, loops=int(TT[w, pos, E.TT_LOOPS]),
                avg_usec=float(TT[w, pos, E.TT_TIME]) / 1e3 / reps,
                failed=int(TT[w, pos, E.TT_FAILED]), passed=int(TT[w, pos, E.TT_PASSED]),
                repeat=reps,
                complete=bool(TT[w, pos, E.TT_FAILED] + TT[w, pos, E.TT_PASSED] >= resolved.workload.test_repeat_count),
            ))
    tests = pd.DataFrame(rows, columns=["test", "worker", "loops", "avg_usec", "failed", "passed",
                                        "repeat", "complete"])

    real = purges[purges.areas > 0]
    d = real.duration_ns.to_numpy(dtype=np.float64)
    lmp = resolved.lazy_max_pages
    peak = int(S[E.S_PEAK_LAZY])
    summary = pd.Series({
        "peak_lazy_pages": peak,
        "lazy_max_pages": lmp,
        "peak_lazy_ratio": peak / lmp,
        "purges": len(real),
        "purge_p50_ns": float(np.percentile(d, 50)) if len(d) else np.nan,
        "purge_p99_ns": float(np.percentile(d, 99)) if len(d) else np.nan,
        "purge_max_ns": float(d.max()) if len(d) else np.nan,
        "alloc_p99_ns": float(latency.loc["alloc", "p99"]),
        "lock_wait_max_ns": float(latency.loc["lock_wait", "max"]),
        "alloc_failures": int(S[E.S_ALLOC_FAIL]),
        "oom": bool(S[E.S_OOM]),
        "oom_time_ns": float(S[E.S_OOM_T]) if S[E.S_OOM] else np.nan,
        "ops": int(S[E.S_OPS]),
        "sim_ns": int(S[E.S_SIM_NS]),
        "wall_s": float(wall_s),
        "resched_threshold_pages": resolved.resched_threshold_pages,
        "peak_mem_bytes": int(S[E.S_PEAK_MEM]),
        "lock_hold_max_ns": float(latency.loc["lock_hold", "max"]),
        "purge_pages_p50": float(real.pages.median()) if len(real) else np.nan,
        "purge_walk_share": float(real.walk_ns.sum() / real.duration_ns.sum()) if len(real) and real.duration_ns.sum() else np.nan,
        "events": int(S[E.S_EVENTS]),
        "ipi_stall_ns": int(S[E.S_IPI_STALL]),
        "tests_done": bool(int(S[E.S_WORKERS_DONE]) == nw),
        "oom_eta_s": oom_eta_s(ts, resolved.ram_bytes, bool(S[E.S_OOM])),
        "purge_calls": len(purges),
        # model only (a trace cannot see them): the list era's allocation walks
        "alloc_walk_areas": int(S[E.S_LIST_WALK]),
        "alloc_cache_resets": int(S[E.S_LIST_DESCENT]),
        "lock_acquisitions": int(S[E.S_LOCK_ACQ]),     # vmap_area_lock / free_vmap_area_lock grants
        "lock_holder_preempt_max_ns": int(S[E.S_LHP_MAX]),
    }, dtype=object)
    return Result(config=cfg, model_version=model_version, summary=summary, timeseries=ts,
                  purges=purges, latency=latency, tests=tests)
