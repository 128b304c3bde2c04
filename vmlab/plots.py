"""The standard figures, each a ``df_*`` (the data, a DataFrame) / ``plot_*`` (the picture) pair.

Every ``plot_*`` takes tidy data (a sweep DataFrame or a `Result`), draws on ``ax`` when given
(otherwise on a new email-sized `matplotlib.figure.Figure`, never through pyplot, so no global
state is left behind) and returns the Figure. Units are on every axis; groups differ by marker
and line style as well as colour (viridis, monotonic in lightness), so the figures survive
grayscale printing. Each figure carries its provenance (sweep name, configs, model version) in
``fig.vmlab_metadata``, which `vmlab.export.export_figure` writes into the files' metadata.

The data helpers (sweep frames, column units, labels, the Pareto front, provenance) are
`vmlab.frames`'s, which needs no matplotlib; they are re-exported here under their old names.
"""
from __future__ import annotations

import json
import math
from typing import Iterable

import numpy as np
import pandas as pd
from matplotlib.collections import PolyCollection
from matplotlib.colors import LogNorm, Normalize
from matplotlib.figure import Figure
from matplotlib import colormaps
from matplotlib.ticker import FuncFormatter

from .frames import (  # noqa: F401 - the public ones and those the old code imported from here
    MiB,
    _EXTRA_CONFIG,
    _UNITS,
    _constant,
    _context,
    _describe_frame,
    _describe_run,
    _fmt_value,
    _group_text,
    _hashable,
    _is_missing,
    _log_worthy,
    _page_size,
    _plural,
    _sget,
    _sort_key,
    _title,
    axis_label,
    column_unit,
    config_dict,
    error_rows,
    fmt_ms,
    frame_of,
    kernel_of,
    merge_intervals,
    ok_rows,
    pareto_front,
    pareto_mask,
    provenance,
    result_row,
    run_end,
    run_label,
    short_number,
)
from .paths import shown_path
from .ticks import roomy_log_labels

FIGSIZE = (6.4, 4.0)
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*", "h", "<", ">", "p")
LINESTYLES = ("-", "--", "-.", ":", (0, (5, 1, 1, 1, 1, 1)), (0, (1, 3)), (0, (8, 2)))


def _new_fig(ax):
    if ax is not None:
        return ax.figure, ax
    fig = Figure(figsize=FIGSIZE, layout="constrained")
    return fig, fig.add_subplot()


def _attach(fig: Figure, meta: dict, title: str | None = None):
    """The last step of every plot function: the provenance into ``fig.vmlab_metadata``, and log
    axes whose minor tick labels only appear where they have room (`vmlab.ticks`)."""
    roomy_log_labels(fig)
    cur = dict(getattr(fig, "vmlab_metadata", {}) or {})
    cur.update(meta)
    if title and "title" not in cur:
        cur["title"] = title
    fig.vmlab_metadata = cur


def _normalise_labels(d: pd.DataFrame, label: str) -> pd.Series:
    """Label values; a threshold factor means nothing for non-threshold policies (-> NaN)."""
    lab = d[label].map(_hashable) if label in d.columns else pd.Series(np.nan, index=d.index)
    if label == "threshold_factor" and "policy" in d.columns:
        lab = lab.where(d["policy"] == "threshold", np.nan)
    return lab


def _auto_split(d: pd.DataFrame, group: str) -> str | None:
    for c in ("kernel", "policy", "ncpus"):
        if c == group or c not in d.columns:
            continue
        vals = d[c].map(_hashable)
        if vals.nunique(dropna=True) < 2:
            continue
        if group not in d.columns or vals.groupby(d[group].map(_hashable), dropna=False).nunique().max() > 1:
            return c
    return None


def df_tradeoff(df: pd.DataFrame, x: str = "peak_lazy_pages", y: str = "purge_p99_ns",
                    group: str = "ncpus", label: str = "threshold_factor", split: str | None = "auto",
                    pareto: str = "group") -> pd.DataFrame:
    """The aggregated points of `plot_tradeoff`: median x, y (and min/max) per (group, split, label).

    Columns: ``group``, ``split``, ``label``, ``x``, ``x_lo``, ``x_hi``, ``y``, ``y_lo``, ``y_hi``,
    ``n`` (runs), ``pareto``. Rows with an error or a missing x/y are left out; the number left out
    is in ``attrs["dropped"]``.
    """
    d = ok_rows(df)
    n_ok = len(d)
    d = d[pd.to_numeric(d[x], errors="coerce").notna() & pd.to_numeric(d[y], errors="coerce").notna()]
    if split == "auto":
        split = _auto_split(d, group)
    def keycol(c):  # a missing group/split value is its own group
        return d[c].map(lambda v: "n/a" if _is_missing(v) else _hashable(v))

    t = pd.DataFrame({
        "group": keycol(group) if group in d.columns else "all",
        "split": keycol(split) if split else "",
        "label": _normalise_labels(d, label),
        "xv": pd.to_numeric(d[x], errors="coerce").astype(float),
        "yv": pd.to_numeric(d[y], errors="coerce").astype(float),
    }, index=d.index)
    g = t.groupby(["group", "split", "label"], dropna=False, sort=False)
    pts = g.agg(x=("xv", "median"), x_lo=("xv", "min"), x_hi=("xv", "max"),
                y=("yv", "median"), y_lo=("yv", "min"), y_hi=("yv", "max"),
                n=("xv", "size")).reset_index()
    if not len(pts):
        pts["pareto"] = []
    elif pareto == "group":   # the choices that are not dominated at the same group (CPU count)
        pts["pareto"] = pd.concat([pareto_front(sub, "x", "y") for _, sub in pts.groupby("group", sort=False)]
                                  ).reindex(pts.index).to_numpy()
    else:
        pts["pareto"] = pareto_front(pts, "x", "y").to_numpy()
    pts.attrs["dropped"] = int(n_ok - len(d))
    pts.attrs["failed"] = int(len(df) - n_ok)
    pts.attrs["split"] = split
    return pts


def tradeoff_points(*args, **kwargs) -> pd.DataFrame:
    """Deprecated: `df_tradeoff` (the same frame)."""
    import warnings

    warnings.warn("vmlab.plots.tradeoff_points is deprecated; use vmlab.plots.df_tradeoff", DeprecationWarning,
                  stacklevel=2)
    return df_tradeoff(*args, **kwargs)


# ---------------------------------------------------------------------------------- figures
def plot_tradeoff(df: pd.DataFrame, x: str = "peak_lazy_pages", y: str = "purge_p99_ns",
                  group: str = "ncpus", label: str = "threshold_factor", ax=None,
                  split: str | None = "auto", title: str | None = None, pareto: str = "group") -> Figure:
    """Purge latency (or max lock wait) against memory growth, one line per ``group``.

    ``x``: ``peak_lazy_pages`` (MiB on the top axis), ``peak_lazy_ratio`` or ``peak_mem_bytes``;
    ``y``: ``purge_p99_ns``, ``purge_max_ns`` or ``lock_wait_max_ns`` (drawn in ms). Points are
    annotated with their ``label`` value; rows sharing (group, label) are aggregated by median with
    min-max error bars. When ``kernel`` or ``policy`` varies within a group (``split="auto"``), the
    lines are split by it (line style). The Pareto front (minimising x and y) is marked with hollow
    rings and a gray step line: per group by default (``pareto="group"``: the thresholds not
    dominated at the same CPU count), or over all points (``pareto="all"``). Log scales where the
    data spans more than 10x.
    """
    fig, ax = _new_fig(ax)
    pts = df_tradeoff(df, x, y, group, label, split, pareto)
    split = pts.attrs["split"]
    _, xf, xunit = column_unit(x)
    _, yf, yunit = column_unit(y)
    ax.set_xlabel(axis_label(x))
    ax.set_ylabel(axis_label(y))
    context = _context(ok_rows(df)) if len(df) else ""
    main = title or f"{column_unit(y)[0]} vs {column_unit(x)[0]}"
    if not len(pts):
        ax.text(0.5, 0.5, "no successful runs with this x and y", transform=ax.transAxes,
                ha="center", va="center")
        ax.set_title(main + (f"\n{context}" if context else ""), fontsize=9)
        _attach(fig, provenance(df), main)
        return fig

    groups = sorted(pts["group"].unique(), key=_sort_key)
    splits = sorted(pts["split"].unique(), key=_sort_key)
    cmap = colormaps["viridis"]
    numeric_label = pd.to_numeric(pts["label"], errors="coerce").notna().any()
    for gi, gv in enumerate(groups):
        color = cmap(0.85 * gi / max(1, len(groups) - 1))
        for si, sv in enumerate(splits):
            sub = pts[(pts["group"] == gv) & (pts["split"] == sv)]
            if not len(sub):
                continue
            if numeric_label:
                sub = sub.assign(_k=pd.to_numeric(sub["label"], errors="coerce")).sort_values(
                    ["_k", "x"], na_position="last")
            else:
                sub = sub.sort_values("x")
            style = si if split else gi
            ls = LINESTYLES[style % len(LINESTYLES)]
            name = _group_text(group, gv) + (f", {_group_text(split, sv)}" if split else "")
            xs, ys = sub["x"].to_numpy() * xf, sub["y"].to_numpy() * yf
            ax.plot(xs, ys, color=color, ls=ls, marker=MARKERS[style % len(MARKERS)], ms=5, lw=1.3,
                    mfc=color if not split or gi % 2 == 0 else "white", mec=color,
                    label=name, gid=f"group:{name}")
            multi = sub["n"].to_numpy() > 1
            if multi.any():
                ax.errorbar(xs[multi], ys[multi],
                            xerr=[xs[multi] - sub["x_lo"].to_numpy()[multi] * xf,
                                  sub["x_hi"].to_numpy()[multi] * xf - xs[multi]],
                            yerr=[ys[multi] - sub["y_lo"].to_numpy()[multi] * yf,
                                  sub["y_hi"].to_numpy()[multi] * yf - ys[multi]],
                            fmt="none", ecolor=color, elinewidth=0.8, capsize=2, alpha=0.8,
                            label="_nolegend_", gid="spread")
            texts: dict[tuple[float, float], list[str]] = {}
            for xv, yv, lv in zip(xs, ys, sub["label"]):  # coincident points share one label
                if not _is_missing(lv):
                    texts.setdefault((float(xv), float(yv)), []).append(_fmt_value(lv))
            for (xv, yv), labs in texts.items():
                ax.annotate(",".join(labs), (xv, yv), xytext=(3, 3), textcoords="offset points",
                            fontsize=6.5, color="0.15", gid="point-label")

    front = pts[pts["pareto"]].sort_values("x")
    for _, sub in (front.groupby("group", sort=False) if pareto == "group" else [(None, front)]):
        ax.step(sub["x"].to_numpy() * xf, sub["y"].to_numpy() * yf, where="post", color="0.55", lw=3.5,
                alpha=0.6, zorder=0.5, solid_capstyle="butt", label="_nolegend_", gid="pareto")
    fx, fy = front["x"].to_numpy() * xf, front["y"].to_numpy() * yf
    what = "per " + (group if group != "ncpus" else "CPU count") if pareto == "group" else "all points"
    ax.plot(fx, fy, ls="none", marker="o", ms=12, mfc="none", mec="black", mew=1.1,
            label=f"Pareto front, {what} ({len(front)})", gid="pareto-points", zorder=3)

    allx = np.concatenate([pts["x_lo"], pts["x_hi"]]) * xf
    ally = np.concatenate([pts["y_lo"], pts["y_hi"]]) * yf
    if _log_worthy(allx):
        ax.set_xscale("log")
    if _log_worthy(ally):
        ax.set_yscale("log")
    if x.endswith("_pages"):
        ps = _page_size(df)
        sec = ax.secondary_xaxis("top", functions=(lambda p: p * ps / MiB, lambda m: m * MiB / ps))
        sec.set_xlabel(f"{column_unit(x)[0]} (MiB, {ps // 1024} KiB pages)", fontsize=8)
        sec.tick_params(which="both", labelsize=7)

    sub_parts = [p for p in (context,) if p]
    nmax = int(pts["n"].max())
    if nmax > 1:
        sub_parts.append(f"median of up to {nmax} runs, bars min–max")
    if pts.attrs["failed"]:
        sub_parts.append(f"{_plural(pts.attrs['failed'], 'failed run')} not shown")
    if pts.attrs["dropped"]:
        sub_parts.append(f"{_plural(pts.attrs['dropped'], 'run')} without {y} not shown")
    ax.set_title(_title(main, sub_parts), fontsize=9)
    ltitle = f"points: {column_unit(label)[0]}" if label else None
    ax.legend(fontsize=7, title=ltitle, title_fontsize=7, loc="best", framealpha=0.85)
    ax.grid(True, which="major", alpha=0.3)
    meta = provenance(df)
    _attach(fig, meta, main)
    return fig


def df_timeseries(result, column: str = "vmap_lazy_nr") -> pd.DataFrame:
    """The series `plot_timeseries` draws: ``column`` (and ``purge_active`` when recorded) against
    simulated time in s (index ``time_s``). ``attrs``: ``lazy_max_pages`` and
    ``resched_threshold_pages`` from the run's summary (NaN when it does not say)."""
    ts = result.timeseries
    t_ns = ts["time_ns"].to_numpy(dtype=float) if "time_ns" in ts.columns else np.asarray(ts.index, dtype=float)
    cols = [c for c in (column, "purge_active") if c in ts.columns]
    out = pd.DataFrame({c: pd.to_numeric(ts[c], errors="coerce").to_numpy(dtype=float) for c in cols},
                       index=pd.Index(t_ns / 1e9, name="time_s"))
    summ = getattr(result, "summary", None)
    out.attrs["lazy_max_pages"] = _sget(summ, "lazy_max_pages")
    out.attrs["resched_threshold_pages"] = _sget(summ, "resched_threshold_pages")
    return out


def plot_timeseries(result, ax=None, title: str | None = None) -> Figure:
    """vmap_lazy_nr over time with lazy_max_pages, the resched threshold, purges and OOM.

    Works on a `Result` or on any object with ``timeseries`` (``vmap_lazy_nr``, index or column
    ``time_ns``), ``purges`` (``start_ns`` and ``end_ns`` or ``duration_ns``) and ``summary``
    (values may be missing or NaN), e.g. a kernel trace.
    """
    fig, ax = _new_fig(ax)
    cfg = getattr(result, "config", None)
    summ = getattr(result, "summary", None)
    data = df_timeseries(result)
    t = data.index.to_numpy(dtype=float)
    t_ns = t * 1e9
    lazy = data["vmap_lazy_nr"].to_numpy(dtype=float)
    ax.plot(t, lazy, color="black", lw=1.1, marker="." if len(t) < 40 else None,
            label="vmap_lazy_nr", gid="vmap_lazy_nr", zorder=2)

    lazy_max = _sget(summ, "lazy_max_pages")
    if math.isnan(lazy_max) and hasattr(cfg, "resolved"):
        try:
            lazy_max = float(cfg.resolved().lazy_max_pages)
        except Exception:  # noqa: BLE001
            pass
    thresh = _sget(summ, "resched_threshold_pages")
    if math.isnan(thresh) and not math.isnan(lazy_max):
        thresh = 2.0 * lazy_max
    d = config_dict(cfg)
    ymax = np.nanmax(lazy) if np.isfinite(lazy).any() else 0.0
    if not math.isnan(lazy_max):
        ax.axhline(lazy_max, color="0.35", ls="--", lw=1.2, gid="lazy_max",
                   label=f"lazy_max_pages = {lazy_max:,.0f}")
        ymax = max(ymax, lazy_max)
    if not math.isnan(thresh):
        note = ""
        if d.get("policy") and d["policy"] != "threshold":
            note = f" (unused by {d['policy']})"
        ax.axhline(thresh, color="0.1", ls=":", lw=1.4, gid="resched_threshold",
                   label=f"resched threshold = {thresh:,.0f}{note}")
        ymax = max(ymax, thresh)

    # time extent
    sim_ns = _sget(summ, "sim_ns")
    pr = getattr(result, "purges", None)
    starts = ends = np.empty(0)
    if pr is not None and len(pr) and "start_ns" in pr.columns:
        starts = pd.to_numeric(pr["start_ns"], errors="coerce").to_numpy(dtype=float)
        if "end_ns" in pr.columns:
            ends = pd.to_numeric(pr["end_ns"], errors="coerce").to_numpy(dtype=float)
        elif "duration_ns" in pr.columns:
            ends = starts + pd.to_numeric(pr["duration_ns"], errors="coerce").to_numpy(dtype=float)
        else:
            starts = np.empty(0)
    # a purge still running at the end is not in the purge table: take it from the time series
    ts_ = getattr(result, "timeseries", None)
    if ts_ is not None and "purge_active" in getattr(ts_, "columns", ()) and len(ts_) and ts_["purge_active"].iloc[-1]:
        act = ts_["purge_active"].to_numpy() != 0
        idle = np.flatnonzero(~act)
        first = idle[-1] + 1 if len(idle) else 0
        t_first = float(ts_.index[first])
        last_end = np.nanmax(ends) if len(ends) and np.isfinite(ends).any() else -np.inf
        t_open = max(t_first, last_end)
        t_last = max(float(ts_.index[-1]), sim_ns if not math.isnan(sim_ns) else 0.0)
        if t_last > t_open:
            starts = np.append(starts, t_open)
            ends = np.append(ends, t_last)
    cand = [v for v in (np.nanmax(t_ns) if len(t_ns) else np.nan, sim_ns,
                        np.nanmax(ends) if len(ends) and np.isfinite(ends).any() else np.nan)
            if not math.isnan(v)]
    t_end = max(cand) if cand else 1.0
    t0 = min(0.0, np.nanmin(t_ns)) if len(t_ns) else 0.0
    if t_end <= t0:
        t_end = t0 + 1.0
    oom = bool(_sget(summ, "oom") == 1.0)
    oom_t = _sget(summ, "oom_time_ns") if oom else math.nan
    ax.set_xlim(t0 / 1e9, (t_end + (0.04 * (t_end - t0) if oom else 0.0)) / 1e9)

    if len(starts):
        px = max(float(ax.bbox.width), 100.0)
        ns_per_px = (t_end - t0) / px
        ms_, me_ = merge_intervals(starts, ends, min_gap=ns_per_px, min_width=ns_per_px)
        verts = [[(a / 1e9, 0), (a / 1e9, 1), (b / 1e9, 1), (b / 1e9, 0)] for a, b in zip(ms_, me_)]
        coll = PolyCollection(verts, transform=ax.get_xaxis_transform(), facecolors="0.75",
                              edgecolors="none", alpha=0.55, zorder=0,
                              label=f"purge running ({len(starts):,} purges)")
        coll.set_gid("purge_spans")
        ax.add_collection(coll, autolim=False)

    if oom:
        if not math.isnan(oom_t):
            ax.axvline(oom_t / 1e9, color="black", ls="-.", lw=1.6, gid="oom", label="OOM")
            right = oom_t - t0 > 0.6 * (t_end - t0)
            ax.text(oom_t / 1e9, 0.6, f"OOM at {oom_t / 1e6:.3g} ms ", transform=ax.get_xaxis_transform(),
                    ha="right" if right else "left", va="center", fontsize=8, fontweight="bold",
                    gid="oom_text", bbox=dict(facecolor="white", edgecolor="none", alpha=0.8, pad=1))
        else:
            ax.text(0.99, 0.97, "OOM (time unknown)", transform=ax.transAxes, ha="right", va="top",
                    fontsize=8, fontweight="bold", gid="oom_text")

    ax.set_ylim(0, max(ymax, 1.0) * 1.3)  # headroom for the legend
    ax.set_xlabel("time (s)")
    ax.set_ylabel("vmap_lazy_nr (pages)")
    ps = _page_size(cfg=cfg)
    sec = ax.secondary_yaxis("right", functions=(lambda p: p * ps / MiB, lambda m: m * MiB / ps))
    sec.set_ylabel(f"vmap_lazy_nr (MiB, {ps // 1024} KiB pages)")
    main = title or "vmap_lazy_nr over time"
    ctx = _describe_run(cfg)
    ax.set_title(main + (f"\n{ctx}" if ctx else ""), fontsize=9)
    ax.legend(fontsize=7, loc="upper left", framealpha=0.9, ncols=2)
    ax.grid(True, alpha=0.3)
    meta = provenance(result) if hasattr(result, "summary") else {}
    _attach(fig, meta, main)
    return fig


def plot_heatmap(df: pd.DataFrame, x: str, y: str, value: str, agg: str = "median", ax=None,
                 title: str | None = None, log: bool | None = None) -> Figure:
    """``value`` (aggregated by ``agg`` over the other columns) on the grid of two swept columns.

    Cells are annotated; missing cells are hatched. Missing keys (e.g. ``lazy_max_pages_cfg`` =
    None, the kernel formula) form their own row/column, shown as "formula"/"—".
    """
    fig, ax = _new_fig(ax)
    d = ok_rows(df)
    vtext, vf, vunit = column_unit(value)
    key = lambda s: s.map(_hashable)  # noqa: E731
    t = pd.DataFrame({"x": key(d[x]), "y": key(d[y]),
                      "v": pd.to_numeric(d[value], errors="coerce").astype(float) * vf})
    main = title or f"{vtext} by {column_unit(x)[0]} and {column_unit(y)[0]}"
    if not len(t):
        ax.text(0.5, 0.5, "no successful runs", transform=ax.transAxes, ha="center", va="center")
        ax.set_xlabel(axis_label(x))
        ax.set_ylabel(axis_label(y))
        ax.set_title(main, fontsize=9)
        _attach(fig, provenance(df), main)
        return fig
    xs = sorted(t["x"].unique(), key=_sort_key)
    ys = sorted(t["y"].unique(), key=_sort_key)
    grid = np.full((len(ys), len(xs)), np.nan)
    counts = np.zeros_like(grid, dtype=int)
    for (xv, yv), sub in t.groupby(["x", "y"], dropna=False):
        i = next(k for k, v in enumerate(ys) if (v == yv) or (_is_missing(v) and _is_missing(yv)))
        j = next(k for k, v in enumerate(xs) if (v == xv) or (_is_missing(v) and _is_missing(xv)))
        vals = sub["v"].dropna()
        counts[i, j] = len(sub)
        if len(vals):
            grid[i, j] = float(getattr(vals, agg)())
    finite = grid[np.isfinite(grid)]
    if log is None:
        log = _log_worthy(finite)
    norm = (LogNorm(finite.min(), finite.max()) if log and len(finite) else
            Normalize(finite.min() if len(finite) else 0, finite.max() if len(finite) else 1))
    cmap = colormaps["viridis"].with_extremes(bad="white")
    im = ax.imshow(np.ma.masked_invalid(grid), origin="lower", aspect="auto", cmap=cmap, norm=norm)
    for i in range(len(ys)):
        for j in range(len(xs)):
            v = grid[i, j]
            if np.isfinite(v):
                lum = np.dot(cmap(norm(v))[:3], (0.299, 0.587, 0.114))
                ax.text(j, i, short_number(v), ha="center", va="center", fontsize=7,
                        color="black" if lum > 0.5 else "white", gid="cell")
            else:
                ax.add_patch(_hatch_cell(j, i))
                ax.text(j, i, "n/a", ha="center", va="center", fontsize=7, color="0.3", gid="cell-missing")

    def ticks(vals, col):
        if col == "lazy_max_pages_cfg":
            return ["formula" if _is_missing(v) else f"{int(v):,}" for v in vals]
        return [_fmt_value(v) for v in vals]

    ax.set_xticks(range(len(xs)), ticks(xs, x), fontsize=7)
    ax.set_yticks(range(len(ys)), ticks(ys, y), fontsize=7)
    ax.set_xlabel(axis_label(x))
    ax.set_ylabel(axis_label(y))
    cb = fig.colorbar(im, ax=ax)
    cb.set_label(f"{vtext} ({vunit}), {agg}" if vunit else f"{vtext}, {agg}")
    cb.ax.tick_params(which="both", labelsize=7)
    ctx = _context(d) if len(d) else ""
    nfail = len(df) - len(d)
    over = [c for c in ("kernel", "policy", "ncpus", "threshold_factor", "lazy_max_pages_cfg",
                        "platform", "workload", "seed") if c in d.columns and c not in (x, y)
            and d[c].map(_hashable).nunique(dropna=False) > 1]
    extra = [ctx, f"{agg} over {', '.join(over)}" if over else "",
             f"{_plural(nfail, 'failed run')} not shown" if nfail else ""]
    ax.set_title(_title(main, extra), fontsize=9)
    _attach(fig, provenance(df), main)
    return fig


def _hatch_cell(j, i):
    from matplotlib.patches import Rectangle

    return Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, hatch="///", edgecolor="0.7", lw=0)


#: quantile points of the latency table and where they sit on the y axis
CDF_LEVELS = (("p50", 0.5), ("p99", 0.99), ("p999", 0.999), ("max", 0.9999))
_KIND_TEXT = {"alloc": "vmalloc", "free": "vfree", "lock_wait": "lock wait", "lock_hold": "lock hold",
              "purge": "purge"}


def plot_latency_cdf(results, kinds: Iterable[str] = ("alloc", "lock_wait"), labels=None, ax=None,
                     title: str | None = None) -> Figure:
    """Latency CDFs per run through the known quantiles (p50, p99, p99.9, max) of ``latency``.

    One colour and marker per result, one line style per kind; log-x in µs (ms when the largest
    value exceeds 5 ms). The y axis is a logit scale so the tail is readable; the maximum (level
    1) is drawn on the axis's top row, labelled "max".
    """
    fig, ax = _new_fig(ax)
    if hasattr(results, "latency"):
        results = [results]
    elif isinstance(results, dict):
        if labels is None:
            labels = list(results.keys())
        results = list(results.values())
    else:
        results = list(results)
    kinds = tuple(kinds)
    if labels is None:
        labels = [run_label(getattr(r, "config", None)) for r in results]
        if len(set(labels)) < len(labels):  # add the config fields that differ
            dicts = [config_dict(getattr(r, "config", None)) for r in results]
            keys = [k for k in dicts[0] if k not in ("seed",) and
                    len({str(dd.get(k)) for dd in dicts}) > 1] if dicts else []
            labels = [lab + (" " + " ".join(f"{k}={_fmt_value(_hashable(dd.get(k)))}" for k in keys[:3])
                             if keys else f" #{i + 1}") for i, (lab, dd) in enumerate(zip(labels, dicts))]
    labels = list(labels)
    if len(labels) != len(results):
        raise ValueError(f"labels has {len(labels)} entries for {len(results)} results")

    allmax = 0.0
    for r in results:
        for k in kinds:
            if k in r.latency.index:
                v = pd.to_numeric(r.latency.loc[k, ["p50", "p99", "p999", "max"]], errors="coerce")
                if v.notna().any():
                    allmax = max(allmax, float(v.max()))
    scale, unit = (1e-6, "ms") if allmax > 5e6 else (1e-3, "µs")
    cmap = colormaps["viridis"]
    for ri, (r, lab) in enumerate(zip(results, labels)):
        color = cmap(0.85 * ri / max(1, len(results) - 1))
        for ki, k in enumerate(kinds):
            if k not in r.latency.index:
                continue
            row = r.latency.loc[k]
            if _is_missing(row.get("count")) or float(row.get("count", 0) or 0) == 0:
                continue
            xs, qs = [], []
            for col, q in CDF_LEVELS:
                v = row.get(col)
                if not _is_missing(v) and float(v) > 0:
                    xs.append(float(v) * scale)
                    qs.append(q)
            if not xs:
                continue
            ax.plot(xs, qs, color=color, ls=LINESTYLES[ki % len(LINESTYLES)],
                    marker=MARKERS[ri % len(MARKERS)], ms=4.5, lw=1.3,
                    label=f"{lab} · {_KIND_TEXT.get(k, k)}", gid=f"cdf:{lab}:{k}")
    ax.set_xscale("log")
    ax.set_yscale("logit")
    ax.set_ylim(0.3, 0.99993)
    ax.set_yticks([0.5, 0.9, 0.99, 0.999, 0.9999], ["p50", "p90", "p99", "p99.9", "max"])
    ax.yaxis.set_minor_formatter("")
    ax.set_xlabel(f"latency ({unit})")
    ax.set_ylabel("quantile (fraction of operations ≤ x)")
    ctxs = {_describe_run(getattr(r, "config", None)).rsplit(" · ", 1)[0] for r in results}
    main = title or ("latency: " + ", ".join(_KIND_TEXT.get(k, k) for k in kinds))
    ctx = ctxs.pop() if len(ctxs) == 1 else ""
    ax.set_title(main + (f"\n{ctx}" if ctx else "") , fontsize=9)
    ax.legend(fontsize=7, loc="lower right", framealpha=0.85)
    ax.grid(True, which="major", alpha=0.3)
    _attach(fig, provenance(results), main)
    return fig


# ---------------------------------------------------------------------------------- optimise / sensitivity
def _default_records(df: pd.DataFrame, kernel_default) -> list[dict]:
    if kernel_default is False:
        return []
    if kernel_default is None:
        return list(df.attrs.get("kernel_default") or [])
    if isinstance(kernel_default, pd.DataFrame):
        return kernel_default.to_dict("records")
    if isinstance(kernel_default, dict):
        return [kernel_default]
    return list(kernel_default)


def _in_group(df: pd.DataFrame, by: list[str], key: tuple) -> pd.Series:
    m = pd.Series(True, index=df.index)
    for k, v in zip(by, key):
        m &= df[k].isna() if _is_missing(v) else (df[k] == v)
    return m


def _by_text(by: list[str], key: tuple) -> str:
    return ", ".join(_group_text(k, v) for k, v in zip(by, key)) or "all trials"


def plot_pareto(df: pd.DataFrame, objectives: Iterable[str] | None = None, by: Iterable[str] | str | None = None,
                kernel_default=None, ax=None, title: str | None = None,
                default_label: str = "kernel default") -> Figure:
    """The Pareto front of an optimisation (`vmlab.optimize`): the first two objectives on x and y.

    Every trial is a small hollow marker; the front (the ``pareto`` column, computed here with
    `pareto_mask` per ``by`` group when missing) is filled and joined by a line, one colour and
    marker per group; the kernel's default setting is a large star of the group's colour (``None``:
    ``df.attrs["kernel_default"]``; a dict, records or DataFrame of objective values and by-fields;
    ``False``: not drawn; ``default_label``: its legend text, when the base searched is not the
    kernel's own policy). ``objectives`` and ``by`` default to the frame's attrs. Units on both
    axes; log scales where the data spans more than 10x. Failed trials are counted, not drawn.
    """
    objectives = list(objectives or df.attrs.get("objectives") or ("peak_lazy_ratio", "purge_p99_ns"))
    if len(objectives) < 2:
        raise ValueError("plot_pareto needs two objectives (x and y)")
    by = [by] if isinstance(by, str) else list(by if by is not None else df.attrs.get("by") or [])
    for c in objectives + by:
        if c not in df.columns:
            raise ValueError(f"plot_pareto: column {c!r} is not in the frame")
    dirs = list(df.attrs.get("directions") or ["min"] * len(objectives))
    if len(dirs) != len(objectives):
        dirs = ["min"] * len(objectives)
    x, y = objectives[:2]
    d = ok_rows(df)
    if "pareto" not in d.columns:
        parts = [pareto_mask(sub, objectives, dirs) for _, sub in
                 (d.groupby(by, sort=False, dropna=False) if by else [(None, d)])]
        d = d.assign(pareto=pd.concat(parts).reindex(d.index).astype(bool) if parts else False)
    vals = d[objectives].apply(pd.to_numeric, errors="coerce")
    shown = d[vals.notna().all(axis=1)]
    failed = len(df) - len(shown)
    fig, ax = _new_fig(ax)
    _, xf, _ = column_unit(x)
    _, yf, _ = column_unit(y)
    ax.set_xlabel(axis_label(x) + (" ↑ better" if dirs[0] == "max" else ""))
    ax.set_ylabel(axis_label(y) + (" ↑ better" if dirs[1] == "max" else ""))
    keys = sorted({tuple(_hashable(r) for r in row) for row in shown[by].itertuples(index=False)}
                  if by else {()}, key=lambda k: [_sort_key(v) for v in k])
    defaults = _default_records(df, kernel_default)
    for dr in defaults:
        keys += [k for k in [tuple(dr.get(b) for b in by)] if k not in keys]
    cmap = colormaps["viridis"]
    allx, ally = [], []
    for gi, key in enumerate(keys):
        color = cmap(0.85 * gi / max(1, len(keys) - 1))
        marker = MARKERS[gi % len(MARKERS)]
        sub = shown[_in_group(shown, by, key)] if by else shown
        xs, ys = sub[x].to_numpy(float) * xf, sub[y].to_numpy(float) * yf
        allx += list(xs)
        ally += list(ys)
        name = _by_text(by, key)
        ax.plot(xs, ys, ls="none", marker=marker, ms=4, mfc="none", mec=color, alpha=0.55,
                label="_nolegend_", gid=f"trials:{name}")
        front = sub[sub["pareto"].astype(bool)].sort_values([x, y])
        fx, fy = front[x].to_numpy(float) * xf, front[y].to_numpy(float) * yf
        ax.plot(fx, fy, ls=LINESTYLES[gi % len(LINESTYLES)], marker=marker, ms=6, color=color, lw=1.3,
                drawstyle="steps-post" if dirs[:2] == ["min", "min"] else "default",
                label=f"{name}: front ({len(front)} of {len(sub)})", gid=f"front:{name}")
        for dr in defaults:
            if by and tuple(dr.get(b) for b in by) != key:
                continue
            dx, dy = _sget(dr, x) * xf, _sget(dr, y) * yf
            if math.isfinite(dx) and math.isfinite(dy):
                allx.append(dx)
                ally.append(dy)
                ax.plot([dx], [dy], ls="none", marker="*", ms=15, mfc=color, mec="black", mew=1.0,
                        zorder=4, label="_nolegend_", gid=f"kernel-default:{name}")
    if any(math.isfinite(_sget(dr, x)) and math.isfinite(_sget(dr, y)) for dr in defaults):
        ax.plot([], [], ls="none", marker="*", ms=12, mfc="0.6", mec="black", label=default_label)
    if _log_worthy(allx):
        ax.set_xscale("log")
    if _log_worthy(ally):
        ax.set_yscale("log")
    main = title or f"Pareto front: {column_unit(y)[0]} vs {column_unit(x)[0]}"
    base = df.attrs.get("base")
    parts = [_context(pd.DataFrame([base]))] if isinstance(base, dict) else []
    parts.append(f"{len(df)} trials" + (f", {failed} failed or without a value (not shown)" if failed else ""))
    if len(objectives) > 2:
        parts.append(f"front over {len(objectives)} objectives: " + ", ".join(objectives[2:]) + " not drawn")
    ax.set_title(_title(main, parts), fontsize=9)
    if keys and len(shown):
        ax.legend(fontsize=7, loc="best", framealpha=0.85)
    else:
        ax.text(0.5, 0.5, "no finished trials", transform=ax.transAxes, ha="center", va="center")
    ax.grid(True, which="major", alpha=0.3)
    meta = provenance(df)
    if df.attrs.get("name"):
        meta["optimize"] = str(df.attrs["name"])
    _attach(fig, meta, main)
    return fig


def plot_sensitivity(df: pd.DataFrame, ax=None, title: str | None = None) -> Figure:
    """Bars of the sensitivity indices of `vmlab.sensitivity` with their confidence intervals.

    Sobol: first-order ``S1`` (filled) and total ``ST`` (hatched) per field, error bars the 95 %
    half-widths; a total index near 0 means the output ignores the field. Morris: ``mu_star``
    (filled, with its interval) and ``sigma`` (hatched) in the output's unit per step of the
    field's (log) range.
    """
    fig, ax = _new_fig(ax)
    sobol = "ST" in df.columns
    cols = (("S1", "S1_conf", "first order S1"), ("ST", "ST_conf", "total ST")) if sobol else \
        (("mu_star", "mu_star_conf", "μ* (mean |effect|)"), ("sigma", None, "σ (spread of effects)"))
    output = df.attrs.get("output", "output")
    _, f, unit = column_unit(output)
    scale = 1.0 if sobol else f
    names = [str(i) for i in df.index]
    pos = np.arange(len(names))
    h = 0.38
    cmap = colormaps["viridis"]
    for j, (c, conf, lab) in enumerate(cols):
        v = pd.to_numeric(df[c], errors="coerce").to_numpy(float) * scale
        err = pd.to_numeric(df[conf], errors="coerce").to_numpy(float) * scale if conf else None
        ax.barh(pos + (j - 0.5) * h, v, height=h, xerr=err, color=cmap(0.25 + 0.5 * j), edgecolor="black",
                hatch="//" if j else None, capsize=3, error_kw={"elinewidth": 0.9}, label=lab, gid=f"bars:{c}")
    ax.set_yticks(pos, names)
    ax.invert_yaxis()
    ax.axvline(0, color="0.3", lw=0.8)
    if sobol:
        ax.set_xlabel(f"Sobol index of {column_unit(output)[0]} (share of variance)")
    else:
        ax.set_xlabel(f"elementary effect on {column_unit(output)[0]}"
                      + (f" ({unit} per full range of the field)" if unit else " (per full range of the field)"))
    method = df.attrs.get("method", "sobol" if sobol else "morris")
    main = title or f"Sensitivity of {column_unit(output)[0]} ({method})"
    parts = []
    base = df.attrs.get("base")
    if isinstance(base, dict):
        parts.append(_context(pd.DataFrame([base])))
    if df.attrs.get("evaluations"):
        parts.append(f"{df.attrs['evaluations']} evaluations, n={df.attrs.get('n')}, bars: 95 % intervals"
                     if sobol else f"{df.attrs['evaluations']} evaluations, n={df.attrs.get('n')} trajectories")
    ax.set_title(_title(main, parts), fontsize=9)
    ax.legend(fontsize=7, loc="best", framealpha=0.85)
    ax.grid(True, axis="x", alpha=0.3)
    from .version import MODEL_VERSION, __version__

    meta = {"vmlab_version": __version__, "model_version": MODEL_VERSION,
            "sensitivity": json.dumps(dict(df.attrs), default=str, sort_keys=True)}
    _attach(fig, meta, main)
    return fig


def __getattr__(name):
    """Deprecated: ``vmlab.plots.export_figure`` (and email_summary, write_email) are `vmlab.export`'s."""
    if name in ("export_figure", "email_summary", "write_email"):
        import warnings

        from . import export

        warnings.warn(f"vmlab.plots.{name} is deprecated; import it from vmlab.export", DeprecationWarning,
                      stacklevel=2)
        return getattr(export, name)
    raise AttributeError(f"module 'vmlab.plots' has no attribute {name!r}")


__all__ = ["plot_tradeoff", "plot_timeseries", "plot_heatmap", "plot_latency_cdf", "plot_pareto",
           "plot_sensitivity", "pareto_front", "pareto_mask", "merge_intervals", "tradeoff_points",
           "df_memory", "plot_memory"]


# ---------------------------------------------------------------------------------- memory
#: Legend text of each memory component (`vmlab.result.MEM_COMPONENTS`).
MEM_LABELS = {"mem_base_bytes": "base (before the test)", "mem_data_bytes": "data pages held",
              "mem_pcpu_bytes": "percpu (pcpu_alloc_test)", "mem_va_obj_bytes": "vmap_area objects",
              "mem_pt_bytes": "page tables"}


def df_memory(result) -> pd.DataFrame:
    """Memory by component over time, MiB (index: simulated seconds); columns as `MEM_LABELS`.
    Empty for a result without the components (e.g. a kernel recording)."""
    ts = result.timeseries
    cols = [c for c in MEM_LABELS if c in ts.columns and pd.to_numeric(ts[c], errors="coerce").notna().any()]
    out = ts[cols].astype(float) / MiB
    out.index = np.asarray(ts.index, dtype=float) / 1e9
    out.index.name = "time_s"
    return out


def plot_memory(results, labels=None, ram_bytes: float | None = None, title: str | None = None) -> Figure:
    """One stacked area plot per run: memory by component (MiB) over simulated time, with the RAM
    limit dashed when it is in view (``ram_bytes``, default each run's configured RAM)."""
    results = list(results) if isinstance(results, (list, tuple)) else [results]
    labels = list(labels) if labels is not None else [run_label(getattr(r, "config", None)) for r in results]
    fig = Figure(figsize=(FIGSIZE[0] * min(len(results), 2), FIGSIZE[1]), layout="constrained")
    axes = fig.subplots(1, len(results), sharey=True, squeeze=False)[0]
    colors = ["0.8", "#4c72b0", "#dd8452", "#c44e52", "#55a868"]
    for ax, res, lab in zip(axes, results, labels):
        df = df_memory(res)
        if df.empty:
            ax.text(0.5, 0.5, "no memory components", ha="center", transform=ax.transAxes)
            continue
        ax.stackplot(df.index, *[df[c] for c in df.columns], labels=[MEM_LABELS[c] for c in df.columns],
                     colors=colors[: len(df.columns)], gid="memory_stack")
        ram = ram_bytes
        if ram is None and hasattr(getattr(res, "config", None), "resolved"):
            ram = res.config.resolved().ram_bytes
        top = float(df.sum(axis=1).max())
        if ram is not None and ram / MiB <= 1.3 * top:
            ax.axhline(ram / MiB, color="black", ls="--", lw=1, gid="ram", label=f"RAM {ram / MiB:,.0f} MiB")
        ax.set_title(lab, fontsize=9)
        ax.set_xlabel("time (s)")
        ax.set_ylim(0, None)
    axes[0].set_ylabel("memory (MiB)")
    axes[-1].legend(loc="lower right", fontsize=7)
    if title:
        fig.suptitle(title)
    return fig


# ---------------------------------------------------------------------------------- several runs
#: axis text of the columns `plot_overlay` knows by name
_SERIES_NAMES = {"vmap_lazy_nr": "vmap_lazy_nr", "mem_bytes": "memory in use", "lazy_areas": "lazy areas",
                 "busy_areas": "busy areas"}
_PAGE_SERIES = ("vmap_lazy_nr", "live_pages", "va_highwater_pages")


def _run_list(results, labels):
    if isinstance(results, dict):
        labels = list(results) if labels is None else labels
        results = list(results.values())
    elif hasattr(results, "timeseries"):
        results = [results]
    results = list(results)
    labels = list(labels) if labels is not None else [run_label(getattr(r, "config", None)) for r in results]
    if len(labels) != len(results):
        raise ValueError(f"labels has {len(labels)} entries for {len(results)} results")
    return results, labels


def _series_scale(column: str) -> tuple[float, str]:
    if column in _PAGE_SERIES:
        return 1.0, "pages"
    return (1 / MiB, "MiB") if column.endswith("bytes") else (1.0, "")


def df_overlay(results, labels=None, column: str = "vmap_lazy_nr") -> pd.DataFrame:
    """The series `plot_overlay` draws, long form: one row per sample with ``label``, ``time_s``
    and ``value`` (``column`` in its displayed unit: pages, MiB for ``*_bytes``). ``attrs``:
    ``column``, ``unit``, and per run (lists in ``labels`` order) ``lazy_max_pages``,
    ``resched_threshold_pages`` (NaN for a run whose policy has no threshold), ``oom_time_s``
    (NaN without an OOM) and ``end_s`` (the simulated or recorded length)."""
    results, labels = _run_list(results, labels)
    scale, unit = _series_scale(column)
    parts, lm, thr, oom, end = [], [], [], [], []
    for res, lab in zip(results, labels):
        ts = res.timeseries
        t = (ts["time_ns"].to_numpy(dtype=float) if "time_ns" in ts.columns
             else np.asarray(ts.index, dtype=float)) / 1e9
        v = pd.to_numeric(ts[column], errors="coerce").to_numpy(dtype=float) * scale
        parts.append(pd.DataFrame({"label": lab, "time_s": t, "value": v}))
        summ = getattr(res, "summary", None)
        lm.append(_sget(summ, "lazy_max_pages"))
        pol = config_dict(getattr(res, "config", None)).get("policy")
        thr.append(_sget(summ, "resched_threshold_pages") if pol in (None, "threshold") else math.nan)
        oom_t = _sget(summ, "oom_time_ns") if _sget(summ, "oom") == 1.0 else math.nan
        oom.append(oom_t / 1e9)
        sim = _sget(summ, "sim_ns") / 1e9
        end.append(max([x for x in (sim, float(t[-1]) if len(t) else math.nan) if math.isfinite(x)], default=0.0))
    out = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=["label", "time_s", "value"])
    out.attrs.update(column=column, unit=unit, labels=labels, lazy_max_pages=lm, resched_threshold_pages=thr,
                     oom_time_s=oom, end_s=end)
    return out


def _overlay_context(results) -> str:
    ctxs = set()
    for r in results:
        cfg = getattr(r, "config", None)
        if not hasattr(cfg, "resolved"):
            continue
        rr = cfg.resolved()
        wl = cfg.workload if isinstance(cfg.workload, str) else ",".join(cfg.workload)
        ctxs.add(f"{rr.platform.name} · {wl} · {rr.ncpus} CPUs")
    return ctxs.pop() if len(ctxs) == 1 else ""


def plot_overlay(results, labels=None, column: str = "vmap_lazy_nr", ax=None, title: str | None = None,
                 hlines: Iterable[tuple[float, str]] = (), ticks: Iterable[tuple[Iterable[float], str, str]] = (),
                 ids: Iterable[str] | None = None, window: tuple[float, float] | None = None) -> Figure:
    """Several runs' ``column`` (vmap_lazy_nr, or mem_bytes in MiB, ...) on one time axis (`df_overlay`).

    Runs: Results or recordings (`vmlab.KernelRun`; drawn with sample dots), a list or a dict
    label -> run. For vmap_lazy_nr, each distinct lazy_max_pages is a dashed line and each distinct
    resched threshold (the run's ``resched_threshold_pages``; runs whose policy has none are left
    out) a dotted one; an OOM is a vertical dash-dot line. ``hlines`` adds reference lines ``(value
    in the column's unit, text)``, e.g. the RAM limit; ``ticks`` adds events ``(times in s, text,
    gid)`` as ticks on the time axis, e.g. a recording's purges. ``ids`` are the lines' gids
    (default ``series:<label>``); ``window=(t0, t1)`` (s) zooms in.
    """
    results, labels = _run_list(results, labels)
    data = df_overlay(results, labels, column)
    ids = list(ids) if ids is not None else [f"series:{lab}" for lab in labels]
    fig, ax = _new_fig(ax)
    unit = data.attrs["unit"]
    n = len(results)
    cmap = colormaps["viridis"]
    ymax, t_end = 0.0, 0.0
    for i, (res, lab, gid) in enumerate(zip(results, labels, ids)):
        sub = data[data["label"] == lab] if labels.count(lab) == 1 else \
            df_overlay([res], [lab], column)
        color, ls = cmap(0.85 * i / max(1, n - 1)), LINESTYLES[i % len(LINESTYLES)]
        recording = not hasattr(getattr(res, "config", None), "resolved")
        y = sub["value"].to_numpy(dtype=float)
        ax.plot(sub["time_s"].to_numpy(dtype=float), y, lw=0.9 if recording else 1.3, color=color, ls=ls,
                marker="." if recording else None, ms=2.5, label=lab, gid=gid, zorder=3)
        if np.isfinite(y).any():
            ymax = max(ymax, float(np.nanmax(y)))
        t_end = max(t_end, data.attrs["end_s"][i])
        ot = data.attrs["oom_time_s"][i]
        if math.isfinite(ot):
            ax.axvline(ot, color=color, ls="-.", lw=1.4, gid=f"oom:{lab}")
            ax.annotate(f"OOM ({lab}) at {ot:.3g} s", (ot, 0.6 - 0.08 * i), xycoords=("data", "axes fraction"),
                        xytext=(-4, 0), textcoords="offset points", ha="right", va="center", fontsize=7,
                        fontweight="bold", bbox=dict(facecolor="white", edgecolor="none", alpha=0.8, pad=1))
    if column == "vmap_lazy_nr":
        for lm in sorted({v for v in data.attrs["lazy_max_pages"] if math.isfinite(v)}):
            ax.axhline(lm, color="0.35", ls="--", lw=1.1, gid="lazy_max", label=f"lazy_max_pages = {lm:,.0f}")
            ymax = max(ymax, lm)
        thr: dict[float, list[str]] = {}
        for v, lab in zip(data.attrs["resched_threshold_pages"], labels):
            if math.isfinite(v):
                thr.setdefault(v, []).append(lab)
        for v, labs in sorted(thr.items()):
            text = (f"resched threshold = {v:,.0f}" if len(labs) == n and n > 1
                    else f"resched threshold ({', '.join(labs)}) = {v:,.0f}")
            ax.axhline(v, color="0.1", ls=":", lw=1.3, gid="resched_threshold", label=text)
            ymax = max(ymax, v)
    for v, text in hlines:
        ax.axhline(v, color="#b71c1c", ls="-", lw=1.0, gid="hline", label=text)
        ymax = max(ymax, float(v))
    for times, text, gid in ticks:
        ts_ = np.asarray(list(times), dtype=float)
        ax.plot(ts_, np.zeros_like(ts_), "|", color="black", ms=8, label=text, gid=gid)
    base = 0.0
    if column == "mem_bytes" and len(data):
        lows = data.groupby("label")["value"].min()
        base = float(lows.min()) * 0.98 if len(lows) else 0.0
    ax.set_ylim(base, base + max(ymax - base, 1.0) * 1.3)
    ax.set_xlim(*(window if window is not None else (0, max(t_end, 1e-9))))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:,.0f}"))
    ax.set_xlabel("time (s)")
    name = _SERIES_NAMES.get(column, column.replace("_", " "))
    ax.set_ylabel(f"{name} ({unit})" if unit else name)
    sims = [r for r in results if hasattr(getattr(r, "config", None), "resolved")]
    if column in _PAGE_SERIES and sims:
        ps = sims[0].config.resolved().platform.page_size
        sec = ax.secondary_yaxis("right", functions=(lambda p: p * ps / MiB, lambda m: m * MiB / ps))
        sec.set_ylabel(f"MiB ({ps // 1024} KiB pages)")
    main = title or f"{_SERIES_NAMES.get(column, column)} over time"
    ctx = _overlay_context(results)
    ax.set_title(main + (f"\n{ctx}" if ctx else ""), fontsize=9)
    ax.legend(fontsize=7, loc="upper left", framealpha=0.9, ncols=2)
    ax.grid(True, alpha=0.3)
    meta = provenance(sims or results)
    for r in results:      # a recording's file: relative to the project, never absolute
        path = getattr(getattr(r, "config", None), "path", None)
        if path is not None and r not in sims:
            meta.setdefault("kernel_trace", shown_path(path))
    meta["title"] = main
    fig.vmlab_metadata = meta
    _attach(fig, {}, main)
    return fig


#: the parts of a purge `plot_purge_breakdown` stacks: column, legend text, hatch
_PURGE_PARTS = (("walk_ns", "flush-range walk", "///"), ("flush_ns", "TLB flush", ""),
                ("free_ns", "free loop (incl. lock yields)", ".."))


def df_purge_breakdown(results, labels=None, stat: str = "median") -> pd.DataFrame:
    """Where a purge's time goes, one row per run (index: label): ``walk_ns``, ``flush_ns``,
    ``free_ns``, ``total_ns``, ``areas`` and ``walk_share``, of the ``stat`` ("median", or
    "largest" = the purge that freed the most areas) of the non-empty purges (zeros without one)."""
    results, labels = _run_list(results, labels)
    rows = []
    for res in results:
        p = res.purges[res.purges.areas > 0]
        if not len(p):
            row = {k: 0.0 for k, _, _ in _PURGE_PARTS} | {"areas": 0.0}
        elif stat == "largest":
            big = p.loc[p.areas.idxmax()]
            row = {k: float(big[k]) for k, _, _ in _PURGE_PARTS} | {"areas": float(big["areas"])}
        else:
            row = {k: float(p[k].median()) for k, _, _ in _PURGE_PARTS} | {"areas": float(p.areas.median())}
        rows.append(row)
    out = pd.DataFrame(rows, index=pd.Index(labels, name="label"),
                       columns=[k for k, _, _ in _PURGE_PARTS] + ["areas"]).astype(float)
    out["total_ns"] = out[[k for k, _, _ in _PURGE_PARTS]].sum(axis=1)
    out["walk_share"] = (out["walk_ns"] / out["total_ns"]).where(out["total_ns"] > 0, 0.0)
    out.attrs["stat"] = stat
    return out


def plot_purge_breakdown(results, labels=None, ax=None, stat: str = "median", share: bool = False,
                         title: str | None = None) -> Figure:
    """Where a purge's time goes (`df_purge_breakdown`): flush-range walk, TLB flush, free loop
    (with its lock yields).

    One horizontal stacked bar per run: the ``stat`` ("median", or "largest" = the purge that freed
    the most areas) of the non-empty purges, in ms (``share=True``: in % of that purge, so runs
    of very different lengths compare), annotated with the total and the walk's share.
    """
    results, labels = _run_list(results, labels)
    data = df_purge_breakdown(results, labels, stat)
    if ax is None:
        fig = Figure(figsize=(6.4, 0.9 + 0.55 * max(2, len(results))), layout="constrained")
        ax = fig.add_subplot()
    else:
        fig = ax.figure
    cmap = colormaps["viridis"]
    y = np.arange(len(results))[::-1]
    totals = data["total_ns"].to_numpy(dtype=float) / 1e6
    left = np.zeros(len(results))
    for j, (k, text, hatch) in enumerate(_PURGE_PARTS):
        w = data[k].to_numpy(dtype=float) / 1e6
        if share:
            w = np.divide(100 * w, totals, out=np.zeros_like(w), where=totals > 0)
        ax.barh(y, w, left=left, color=cmap(0.15 + 0.35 * j), hatch=hatch, edgecolor="white",
                label=text, gid=f"bar:{k}")
        left += w
    for yi, (_, r), end, tot in zip(y, data.iterrows(), left, totals):
        ax.text(end, yi, f"  {tot:.3g} ms, walk {float(r['walk_share']) * 100:.2g} %, {int(r['areas']):,} areas",
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


__all__ += ["df_timeseries", "df_tradeoff", "df_overlay", "plot_overlay", "df_purge_breakdown",
            "plot_purge_breakdown"]


# --------------------------------------------------------------------------- overcommitted guests
def df_host_overcommit(data) -> pd.DataFrame:
    """Peak ``vmap_lazy_nr`` over ``lazy_max_pages`` against the host cores per vCPU, one row per
    kernel and ``host_share`` (``host_cpus / ncpus``; 1.0 when ``host_cpus`` is None: a core per
    vCPU): columns ``kernel``, ``host_share``, ``host_cpus``, ``ncpus``, ``peak_lazy_ratio`` (the
    median over the runs, e.g. seeds) and ``runs``. ``data``: a sweep frame or `Result` objects."""
    from .platforms import get_platform

    if isinstance(data, pd.DataFrame):
        df = ok_rows(data) if "error" in data.columns else data
        rows = df.to_dict("records")
    else:
        rows = [result_row(r) for r in ([data] if hasattr(data, "summary") else data)]
    recs = []
    for r in rows:
        n = r.get("ncpus")
        if _is_missing(n):
            n = get_platform(r.get("platform") or "hikey960").ncpus
        h = r.get("host_cpus")
        h = int(n) if _is_missing(h) else int(h)
        recs.append({"kernel": r.get("kernel") or "custom", "host_cpus": h, "ncpus": int(n),
                     "host_share": h / int(n), "peak_lazy_ratio": float(r["peak_lazy_ratio"])})
    cols = ["kernel", "host_share", "host_cpus", "ncpus", "peak_lazy_ratio", "runs"]
    if not recs:
        return pd.DataFrame(columns=cols)
    f = pd.DataFrame(recs)
    out = (f.groupby(["kernel", "host_share", "host_cpus", "ncpus"], sort=True)["peak_lazy_ratio"]
           .agg(["median", "size"]).reset_index()
           .rename(columns={"median": "peak_lazy_ratio", "size": "runs"}))
    return out[cols]


def plot_host_overcommit(data, ax=None, title: str | None = None) -> Figure:
    """Peak ``vmap_lazy_nr / lazy_max_pages`` against ``host_cpus / ncpus`` (`df_host_overcommit`),
    one line per kernel (e.g. 6.1's drain work against 5.0+threshold's synchronous purge): how far
    the lazy list overshoots when the guest's vCPUs share host cores (lock-holder preemption, a
    descheduled drain vCPU). 1.0 on the x axis is a core per vCPU; the dotted line is lazy_max_pages."""
    d = df_host_overcommit(data)
    if ax is None:
        fig = Figure(figsize=(6.4, 4.0), layout="constrained")
        ax = fig.add_subplot()
    else:
        fig = ax.figure
    kernels = list(dict.fromkeys(d["kernel"]))
    cmap = colormaps["viridis"]
    markers = "osD^v<>"
    styles = ("-", "--", "-.", ":")
    for i, k in enumerate(kernels):
        g = d[d["kernel"] == k].sort_values("host_share")
        ax.plot(g["host_share"], g["peak_lazy_ratio"], marker=markers[i % len(markers)],
                linestyle=styles[i % len(styles)], color=cmap(0.15 + 0.7 * i / max(1, len(kernels) - 1)),
                label=k, gid=f"line:{k}")
    ax.axhline(1.0, color="0.4", linestyle=":", linewidth=1)
    ax.set_xlabel("host cores per vCPU (host_cpus / ncpus)")
    ax.set_ylabel("peak vmap_lazy_nr / lazy_max_pages")
    ax.set_xlim(0, 1.05)
    ax.set_ylim(bottom=0)
    ax.grid(True, alpha=0.3)
    if kernels:
        ax.legend(fontsize=8, title="kernel", title_fontsize=8)
    main = title or "lazy-list overshoot in overcommitted guests"
    ax.set_title(main, fontsize=9)
    meta = provenance(data if isinstance(data, pd.DataFrame) else list(data) if not hasattr(data, "summary") else [data])
    meta["title"] = main
    fig.vmlab_metadata = meta
    return fig


__all__ += ["df_host_overcommit", "plot_host_overcommit"]
