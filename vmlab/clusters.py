"""Big and small drains: the one place that splits purges into clusters.

In 6.1 a purge is either a **big drain** (a vfree took ``vmap_lazy_nr`` above ``lazy_max_pages``,
the drain work empties the purge list: about ``lazy_max_pages`` pages) or a **small drain** (the
drain work ran again right after a big one, because a vfree on another CPU queued it while the big
one was running: a handful of pages). The sizes of all non-empty purges are two clusters, so a
median or a mean over all of them sits between the clusters and says nothing about either; every
comparison of purge sizes or durations is made cluster by cluster, with this split:

    **big**: pages purged > ``BIG_FRACTION`` x ``lazy_max_pages`` (half of it); **small**: the rest.

Pages purged: the model's ``pages``; for a kernel trace, ``lazy_nr_start`` (``vmap_lazy_nr`` read
at the purge's entry: 6.1's purge takes the whole purge list, so it purges what was lazy at entry
plus the few vfrees before it detaches the list). The entry - exit drop (``lazy_nr_delta``)
undercounts by the pages other CPUs freed during the purge (by 10-15 k pages at 8 vCPUs, where a
purge is preempted for tens of ms), so it is not used to classify; it falls back to it only where
the entry value is missing.

`drain_purges` gives the purges with their cluster, `cluster_stats` the per-cluster numbers of one
run (kernel or model, the same definitions): count, median pages, median duration, the median
``vmap_lazy_nr`` at the end of a big drain, and the **re-queue share**: the share of big drains
that are followed at once by a small one (the drain work ran again).
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

__all__ = ["BIG_FRACTION", "MIN_CLUSTER", "CLUSTERS", "STATS", "is_kernel_run", "drain_purges", "cluster_stats",
           "all_workers_end_ns", "requeue_phases", "requeue_in_same_work", "by_flush"]

#: a purge is big when it purges more than BIG_FRACTION x lazy_max_pages pages (dimensionless)
BIG_FRACTION = 0.5
#: fewest purges of a cluster for its medians to be used as a calibration target
MIN_CLUSTER = 3
CLUSTERS = ("big", "small")

#: the numbers `cluster_stats` returns: name -> (unit, what it is)
STATS: dict[str, tuple[str, str]] = {
    "big_count": ("count", "non-empty purges of more than lazy_max_pages / 2 pages"),
    "big_pages_p50": ("pages", "median pages purged by a big drain (kernel: vmap_lazy_nr at entry)"),
    "big_duration_p50_ns": ("ns", "median duration of a big drain (kernel: wall time entry to return)"),
    "big_lazy_nr_end_p50": ("pages", "median vmap_lazy_nr when a big drain returns"),
    "small_count": ("count", "non-empty purges of at most lazy_max_pages / 2 pages"),
    "small_pages_p50": ("pages", "median pages purged by a small drain"),
    "small_duration_p50_ns": ("ns", "median duration of a small drain"),
    "requeue_share": ("share", "big drains followed at once by a small one (the drain work ran again)"),
    "requeue_share_all_running": ("share", "the same, over the big drains that start while every test "
                                           "worker still runs (so another CPU can vfree meanwhile)"),
}


def is_kernel_run(run) -> bool:
    """True for a `vmlab.trace.KernelRun` (a recording), False for a model `Result`."""
    return hasattr(run, "drains") and "lazy_nr_end" in run.purges.columns


def all_workers_end_ns(run) -> float:
    """Time (ns since the run's start) at which the first test worker finished: up to then every
    worker runs. From the ``tests`` table (avg_usec x repeat summed per worker); NaN without it."""
    t = run.tests
    if t is None or not len(t):
        return math.nan
    per_worker = (t["avg_usec"] * t["repeat"]).groupby(t["worker"]).sum()
    return float(per_worker.min()) * 1e3


def requeue_phases(run) -> dict[str, float]:
    """The re-queues of one run split at the first test worker's end: big drains and re-queued ones
    while every worker runs (``all_running_big``, ``all_running_requeued``) and after
    (``after_big``, ``after_requeued``), and ``workers_apart``: the share of the last worker's
    run time that the first one had already finished (0 when they finish together)."""
    d = drain_purges(run)
    big = d[d["cluster"] == "big"]
    t = run.tests
    per_worker = (t["avg_usec"] * t["repeat"]).groupby(t["worker"]).sum() if t is not None and len(t) else None
    apart = float(1 - per_worker.min() / per_worker.max()) if per_worker is not None and per_worker.max() > 0 \
        else math.nan
    on, off = big[big["all_running"]], big[~big["all_running"]]
    return {"all_running_big": float(len(on)), "all_running_requeued": float(on["requeued"].sum()),
            "after_big": float(len(off)), "after_requeued": float(off["requeued"].sum()), "workers_apart": apart}


def _model_lazy_nr_end(res, p: pd.DataFrame) -> np.ndarray:
    """vmap_lazy_nr when each purge of ``p`` (model) returned: the next purge's entry value when the
    drain work went straight on (it starts at the same ns), else the first time-series sample at or
    after the end (so within ``sample_interval_ns``; NaN after the last sample)."""
    start, end = p["start_ns"].to_numpy(np.int64), p["end_ns"].to_numpy(np.int64)
    lazy0 = p["lazy_nr_start"].to_numpy(float)
    out = np.full(len(p), np.nan)
    if len(p) > 1:
        on = start[1:] == end[:-1]
        out[:-1][on] = lazy0[1:][on]
    ts = res.timeseries
    if len(ts):
        t = ts.index.to_numpy(np.int64)
        v = ts["vmap_lazy_nr"].to_numpy(float)
        i = np.searchsorted(t, end, side="left")
        ok = np.isnan(out) & (i < len(t))
        out[ok] = v[i[ok]]
    return out


def drain_purges(run) -> pd.DataFrame:
    """The non-empty purges the model can make (a kernel trace's module-load vm_unmap_aliases ones
    left out), in start order, with: ``size_pages`` (pages purged, see the module docstring),
    ``cluster`` ("big"/"small"), ``lazy_nr_end`` (vmap_lazy_nr at return, pages), ``requeued``
    (big and the next purge is small; False for small ones), ``all_running`` (started before the
    first test worker finished) and ``start_ns``, ``end_ns``, ``duration_ns``, ``trigger``."""
    p = run.purges
    lmp = float(run.summary["lazy_max_pages"])
    if is_kernel_run(run):
        if p["purged"].notna().any():
            p = p[p["purged"] == 1]
        elif p["areas"].notna().any():
            p = p[p["areas"] > 0]
        p = p[p["trigger"] != "unmap_aliases"].sort_values("start_ns", kind="stable")
        size = p["lazy_nr_start"].fillna(p["lazy_nr_delta"]).to_numpy(float)
        end = p["lazy_nr_end"].to_numpy(float)
    else:
        p = p[p["areas"] > 0].sort_values("start_ns", kind="stable")
        size = p["pages"].to_numpy(float)
        end = _model_lazy_nr_end(run, p)
    big = size > BIG_FRACTION * lmp
    nxt_small = np.zeros(len(p), bool)
    nxt_small[:-1] = ~big[1:]
    out = pd.DataFrame({
        "start_ns": p["start_ns"].to_numpy(float), "end_ns": p["end_ns"].to_numpy(float),
        "duration_ns": p["duration_ns"].to_numpy(float), "trigger": p["trigger"].astype(str).to_numpy(),
        "size_pages": size, "cluster": np.where(big, "big", "small"), "lazy_nr_end": end,
        "requeued": big & nxt_small,
        "all_running": p["start_ns"].to_numpy(float) < all_workers_end_ns(run),
    })
    out.attrs["lazy_max_pages"] = lmp
    return out


def _median(s: pd.Series) -> float:
    s = s.dropna()
    return float(s.median()) if len(s) else math.nan


def cluster_stats(run) -> dict[str, float]:
    """The `STATS` of one run (kernel or model), plus ``big_count_all_running`` (the trials behind
    ``requeue_share_all_running``). Shares are NaN without big drains."""
    d = drain_purges(run)
    big, small = d[d["cluster"] == "big"], d[d["cluster"] == "small"]
    big_run = big[big["all_running"]]
    return {
        "big_count": float(len(big)),
        "big_pages_p50": _median(big["size_pages"]),
        "big_duration_p50_ns": _median(big["duration_ns"]),
        "big_lazy_nr_end_p50": _median(big["lazy_nr_end"]),
        "small_count": float(len(small)),
        "small_pages_p50": _median(small["size_pages"]),
        "small_duration_p50_ns": _median(small["duration_ns"]),
        "requeue_share": float(big["requeued"].mean()) if len(big) else math.nan,
        "requeue_share_all_running": float(big_run["requeued"].mean()) if len(big_run) else math.nan,
        "big_count_all_running": float(len(big_run)),
    }


def requeue_in_same_work(kernel_run) -> dict[str, float]:
    """Kernel only: how the drain work ran again after a big drain. 6.1's drain_vmap_area_work loops
    while ``vmap_lazy_nr > lazy_max_pages()``; a vfree that crosses lazy_max_pages while it runs
    queues it once more, which is a new execution. From the recording's drain_vmap_area_work
    entry/exit events: ``requeued`` (big drains followed at once by a small one), ``same_work``
    (of those, the small one inside the same execution: the work's own loop), ``new_work`` (in a
    new execution: re-queued by a vfree)."""
    d = drain_purges(kernel_run)
    dr = kernel_run.drains
    s, e = dr["start_ns"].to_numpy(float), dr["end_ns"].to_numpy(float)

    def execution(t):
        i = np.flatnonzero((s <= t) & (t <= e))
        return int(i[0]) if len(i) else -1

    same = new = 0
    idx = np.flatnonzero(d["requeued"].to_numpy())
    for i in idx:
        a, b = execution(d["start_ns"].iat[i]), execution(d["start_ns"].iat[i + 1])
        if a >= 0 and a == b:
            same += 1
        else:
            new += 1
    return {"requeued": float(len(idx)), "same_work": float(same), "new_work": float(new)}


def by_flush(run, ceiling_pages: int) -> pd.DataFrame:
    """The drains of each cluster split once more by the TLB flush their size calls for on x86
    (``range``: at most ``ceiling_pages`` pages, flushed page by page; ``full``: more, everything
    flushed): index (cluster, flush), ``count``, ``pages_p50``, ``duration_p50_us``. A diagnostic of
    where the purge time goes, not a second definition of the clusters."""
    d = drain_purges(run)
    d = d.assign(flush=np.where(d["size_pages"] > ceiling_pages, "full", "range"))
    g = d.groupby(["cluster", "flush"])
    return pd.DataFrame({"count": g.size(), "pages_p50": g["size_pages"].median(),
                         "duration_p50_us": g["duration_ns"].median() / 1e3})
