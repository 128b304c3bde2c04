"""Figures of several runs that the compare panel and the notebooks draw: `overlay_timeseries`
(one column of several runs on one time axis) and `plot_purge_breakdown` (where a purge's time goes).
"""
from __future__ import annotations

from typing import Iterable, Sequence

import numpy as np
from matplotlib import colormaps
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from ..plots import LINESTYLES, MiB, provenance
from ..frames import run_label


# ------------------------------------------------------------------------------------ plotting
def _style(i: int, n: int):
    cmap = colormaps["viridis"]
    return dict(color=cmap(0.85 * i / max(1, n - 1)), ls=LINESTYLES[i % len(LINESTYLES)])


def overlay_timeseries(results: Sequence, labels: Sequence[str] | None = None,
                       column: str = "vmap_lazy_nr", ax=None, title: str | None = None,
                       hlines: Iterable[tuple[float, str]] = ()) -> Figure:
    """Several runs' ``column`` (vmap_lazy_nr, or mem_bytes in MiB, ...) on one time axis.

    For vmap_lazy_nr, each distinct lazy_max_pages is a dashed line and each threshold-policy run's
    resched threshold a dotted one; an OOM is a vertical dash-dot line. ``hlines`` adds reference
    lines ``(value in the column's unit, text)``, e.g. the RAM limit.
    """
    results = list(results)
    labels = list(labels) if labels is not None else [run_label(r.config) for r in results]
    if ax is None:
        fig = Figure(figsize=(6.4, 4.0), layout="constrained")
        ax = fig.add_subplot()
    else:
        fig = ax.figure
    pages = column in ("vmap_lazy_nr", "live_pages", "va_highwater_pages")
    scale, unit = (1.0, "pages") if pages else ((1 / MiB, "MiB") if column.endswith("bytes") else (1.0, ""))
    n = len(results)
    ymax = 0.0
    t_end = 0.0
    for i, (res, lab) in enumerate(zip(results, labels)):
        ts = res.timeseries
        t = np.asarray(ts.index, dtype=float) / 1e9
        y = ts[column].to_numpy(dtype=float) * scale
        st = _style(i, n)
        ax.plot(t, y, lw=1.3, label=lab, gid=f"series:{lab}", zorder=3, **st)
        if len(y):
            ymax = max(ymax, float(np.nanmax(y)))
        t_end = max(t_end, float(res.summary.sim_ns) / 1e9, float(t[-1]) if len(t) else 0.0)
        if bool(res.summary.oom) and np.isfinite(res.summary.oom_time_ns):
            ot = float(res.summary.oom_time_ns) / 1e9
            ax.axvline(ot, color=st["color"], ls="-.", lw=1.4, gid=f"oom:{lab}")
            ax.annotate(f"OOM ({lab}) at {ot:.3g} s", (ot, 0.6 - 0.08 * i), xycoords=("data", "axes fraction"),
                        xytext=(-4, 0), textcoords="offset points", ha="right", va="center", fontsize=7,
                        fontweight="bold", bbox=dict(facecolor="white", edgecolor="none", alpha=0.8, pad=1))
    if column == "vmap_lazy_nr":
        lms = sorted({float(r.summary.lazy_max_pages) for r in results})
        for lm in lms:
            ax.axhline(lm, color="0.35", ls="--", lw=1.1, gid="lazy_max", label=f"lazy_max_pages = {lm:,.0f}")
            ymax = max(ymax, lm)
        thr = {}
        for r, lab in zip(results, labels):
            if r.config.policy == "threshold":
                thr.setdefault(float(r.summary.resched_threshold_pages), []).append(lab)
        for v, labs in sorted(thr.items()):
            if len(labs) == n and n > 1:
                text = f"resched threshold = {v:,.0f}"
            else:
                text = f"resched threshold ({', '.join(labs)}) = {v:,.0f}"
            ax.axhline(v, color="0.1", ls=":", lw=1.3, gid="resched_threshold", label=text)
            ymax = max(ymax, v)
    for v, text in hlines:
        ax.axhline(v, color="#b71c1c", ls="-", lw=1.0, gid="hline", label=text)
        ymax = max(ymax, float(v))
    base = 0.0
    if column == "mem_bytes":
        lows = [float(r.timeseries[column].min()) * scale for r in results if len(r.timeseries)]
        base = min(lows) * 0.98 if lows else 0.0
    ax.set_ylim(base, base + max(ymax - base, 1.0) * 1.3)
    ax.set_xlim(0, max(t_end, 1e-9))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:,.0f}"))
    ax.set_xlabel("time (s)")
    names = {"vmap_lazy_nr": "vmap_lazy_nr", "mem_bytes": "memory in use", "lazy_areas": "lazy areas",
             "busy_areas": "busy areas"}
    ax.set_ylabel(f"{names.get(column, column.replace('_', ' '))} ({unit})" if unit else names.get(column, column))
    if pages and results:
        ps = results[0].config.resolved().platform.page_size
        sec = ax.secondary_yaxis("right", functions=(lambda p: p * ps / MiB, lambda m: m * MiB / ps))
        sec.set_ylabel(f"MiB ({ps // 1024} KiB pages)")
    ctxs = set()
    for r in results:
        c = r.config
        rr = c.resolved()
        wl = c.workload if isinstance(c.workload, str) else ",".join(c.workload)
        ctxs.add(f"{rr.platform.name} · {wl} · {rr.ncpus} CPUs")
    main = title or f"{names.get(column, column)} over time"
    ax.set_title(main + (f"\n{ctxs.pop()}" if len(ctxs) == 1 else ""), fontsize=9)
    ax.legend(fontsize=7, loc="upper left", framealpha=0.9, ncols=2)
    ax.grid(True, alpha=0.3)
    meta = provenance(results)
    meta["title"] = main
    fig.vmlab_metadata = meta
    return fig


def plot_purge_breakdown(results: Sequence, labels: Sequence[str] | None = None, ax=None,
                         stat: str = "median", share: bool = False, title: str | None = None) -> Figure:
    """Where a purge's time goes: flush-range walk, TLB flush, free loop (with its lock yields).

    One horizontal stacked bar per run: the ``stat`` ("median", or "largest" = the purge that freed
    the most areas) of the non-empty purges, in ms (``share=True``: in % of that purge, so runs
    of very different lengths compare), annotated with the total and the walk's share.
    """
    results = list(results)
    labels = list(labels) if labels is not None else [run_label(r.config) for r in results]
    if ax is None:
        fig = Figure(figsize=(6.4, 0.9 + 0.55 * max(2, len(results))), layout="constrained")
        ax = fig.add_subplot()
    else:
        fig = ax.figure
    parts = (("walk_ns", "flush-range walk", "///"), ("flush_ns", "TLB flush", ""),
             ("free_ns", "free loop (incl. lock yields)", ".."))
    cmap = colormaps["viridis"]
    rows = []
    for res in results:
        p = res.purges[res.purges.areas > 0]
        if not len(p):
            rows.append({k: 0.0 for k, _, _ in parts} | {"areas": 0})
            continue
        if stat == "largest":
            rows.append(p.loc[p.areas.idxmax()].to_dict())
        else:
            rows.append({k: float(p[k].median()) for k, _, _ in parts} | {"areas": float(p.areas.median())})
    y = np.arange(len(results))[::-1]
    totals = np.array([sum(float(r[k]) for k, _, _ in parts) / 1e6 for r in rows])
    left = np.zeros(len(results))
    for j, (k, text, hatch) in enumerate(parts):
        w = np.array([float(r[k]) / 1e6 for r in rows])
        if share:
            w = np.divide(100 * w, totals, out=np.zeros_like(w), where=totals > 0)
        ax.barh(y, w, left=left, color=cmap(0.15 + 0.35 * j), hatch=hatch, edgecolor="white",
                label=text, gid=f"bar:{k}")
        left += w
    for yi, r, end, tot in zip(y, rows, left, totals):
        walk = float(r["walk_ns"]) / 1e6 / tot if tot > 0 else 0.0
        ax.text(end, yi, f"  {tot:.3g} ms, walk {walk * 100:.2g} %, {int(r['areas']):,} areas",
                va="center", fontsize=7)
    ax.set_yticks(y, labels, fontsize=8)
    ax.set_xlim(0, max(float(left.max()) if len(left) else 1.0, 1e-3) * (1.7 if share else 1.45))
    ax.set_xlabel("share of the purge (%)" if share else "time per purge (ms)")
    main = title or f"where a purge's time goes ({'median purge' if stat == 'median' else 'largest purge'})"
    ax.set_title(main, fontsize=9)
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.16 - 0.1 / max(1, len(results))),
              ncols=3, frameon=False)
    ax.grid(True, axis="x", alpha=0.3)
    meta = provenance(results)
    meta["title"] = main
    fig.vmlab_metadata = meta
    return fig
