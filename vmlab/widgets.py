"""Widget panels for JupyterLab: `explore`, `sweep_panel`, `compare_panel`.

Each function returns a panel object; the last expression of a cell displays it::

    from vmlab.widgets import explore
    explore()                                  # one model run per change
    explore(kernel="5.0", duration_s=4)        # start elsewhere; any SimConfig field may be given

* `explore()` - a kernel era (4.9 ... 6.1, or custom policy knobs), the resched threshold factor
  (log slider), ncpus (powers of two), lazy_max_pages (the kernel formula or a log slider), the
  test_vmalloc workload, the platform, the simulated duration and the seed. Every change re-runs
  `vmlab.simulate` and redraws one image: vmap_lazy_nr over time (left) and the trade-off marker
  (right: peak vmap_lazy_nr / lazy_max_pages against purge p99, this run against the earlier runs of
  the session), plus a table of the key numbers next to those of the previous run. **Export**
  writes the figures (PNG, SVG, PDF) and the email text.
* `sweep_panel()` - ranges of threshold factor, ncpus and lazy_max_pages, and seeds; **Run** goes
  through the cached `vmlab.sweep` (its tqdm progress bar shows in the panel) and draws the
  trade-off plot and a heatmap; **Export** writes them, the email text and the grid file(s) that
  reproduce the sweep with ``vmlab sweep``.
* `compare_panel()` - two kernel eras (or threshold factors) on the same machine and workload:
  their vmap_lazy_nr overlaid, and their latency CDFs.

Nothing here needs a browser: each panel keeps its widgets in ``panel.controls``, its last image in
``panel.image.value`` (PNG bytes) and its table as text in ``panel.summary_text``. Setting a
control's ``value`` re-runs the panel exactly as moving it in JupyterLab does. A configuration the
model rejects (or a run that fails) shows the message inside the panel; the previous figure stays.

Where files go: ``out_dir`` when given; else ``$VMLAB_FIGURES_DIR/<dir>``; else
``<data>/figures/<dir>``, where ``<dir>`` is ``explore``, ``compare`` or ``sweep-<name>`` and
``<data>`` is ``$VMLAB_DATA_DIR`` or `vmlab.sweep.default_root` (the checkout's ``data/``). Sweep
caches go to ``<data>/sweeps/<name>``. Exported figures are the standard email-sized ones (with
their provenance metadata), not the panel's screen image.

Speed: the explore default (5.1, hikey960, 8 CPUs, stress, 2 s simulated) costs ~0.1 s of model
and ~0.2 s of figure per change; the figure uses a fixed layout (constrained layout would add
~0.15 s), garbage collection is paused during a redraw, and the last 32 runs are kept, so moving a
slider back is instant. ``panel.timings`` has the numbers of the last change.

The module also holds the small plotting helpers the notebooks use: `overlay_timeseries`,
`plot_purge_breakdown`, `show` (a figure as an inline PNG) and `claim` (print a claim next to the
number that supports it).
"""
from __future__ import annotations

import gc
import html
import io
import math
import os
import re
import time
from collections import OrderedDict
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from .config import ALLOCATORS, FLUSH_RANGES, KERNELS, POLICIES, PURGE_MODES, TEST_SETS, SimConfig
from .config import kernel_formula_lazy_max_pages
from .platforms import PLATFORMS, get_platform
from .plots import LINESTYLES, MiB, provenance

ERAS: tuple[str, ...] = tuple(KERNELS)          # "4.9", "5.0", "5.1", "5.2", "5.11", "6.1"
CUSTOM = "custom"
#: SimConfig fields a kernel era fixes (the "kernel details" of the explore panel)
ERA_FIELDS = ("policy", "allocator", "flush_range", "purge_mode", "lock_split", "test_set")
NCPUS = tuple(2 ** i for i in range(9))          # 1 .. 256
DURATIONS = (0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0)
THRESHOLDS = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0)
LAZY_MAX_CHOICES = (4096, 8192, 16384, 32768, 65536, 131072, 262144)

#: explore() defaults: the seed's board and test, short enough to redraw well within 0.5 s
#: (5.1 stress on hikey960 simulates 2 s in about 0.1 s of wall time; the figure takes ~0.2 s).
EXPLORE_DEFAULTS = dict(kernel="5.1", platform="hikey960", ncpus=8, workload="stress",
                        duration_s=2.0, seed=1)
COMPARE_DEFAULTS = dict(a="5.0", b="5.1", platform="hikey960", ncpus=8, workload="stress",
                        duration_s=4.0, seed=1)

_CSS = """<style>
.vmlab-panel .vmlab-error {background:#fdecea;border-left:4px solid #b71c1c;padding:4px 8px;
  color:#5f1010;white-space:pre-wrap;font-family:var(--jp-code-font-family,monospace);font-size:12px}
.vmlab-panel .vmlab-ok {color:var(--jp-ui-font-color2,#555);font-size:12px}
.vmlab-panel table.vmlab-table {border-collapse:collapse;font-size:12px}
.vmlab-panel table.vmlab-table td, .vmlab-panel table.vmlab-table th {padding:1px 8px;text-align:right;
  border-bottom:1px solid var(--jp-border-color2,#ddd);white-space:nowrap;line-height:1.4}
.vmlab-panel table.vmlab-table td:first-child, .vmlab-panel table.vmlab-table th:first-child {text-align:left}
.vmlab-panel .vmlab-paths {font-family:var(--jp-code-font-family,monospace);font-size:11px}
</style>"""


# ------------------------------------------------------------------------------------ places
def data_root() -> Path:
    """``$VMLAB_DATA_DIR``, else the checkout's ``data/`` (`vmlab.sweep.default_root`)."""
    env = os.environ.get("VMLAB_DATA_DIR")
    if env:
        return Path(env).expanduser()
    from .sweep import default_root

    return default_root()


def figures_dir(name: str, out_dir: str | Path | None = None) -> Path:
    """Where a panel or notebook writes its files: ``out_dir``, ``$VMLAB_FIGURES_DIR/<name>`` or
    ``<data>/figures/<name>``."""
    if out_dir is not None:
        return Path(out_dir).expanduser()
    env = os.environ.get("VMLAB_FIGURES_DIR")
    if env:
        return Path(env).expanduser() / name
    return data_root() / "figures" / name


def sweeps_dir(name: str) -> Path:
    """The parquet cache of a sweep: ``<data>/sweeps/<name>``."""
    return data_root() / "sweeps" / name


# ------------------------------------------------------------------------------------ helpers
def figure_png(fig: Figure, dpi: float = 96) -> bytes:
    """The figure as PNG bytes (Agg; no pyplot, no global state)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


@contextmanager
def gc_paused():
    """No cyclic garbage collection inside the block (a redraw makes many short-lived matplotlib
    objects; a full collection in the middle of one costs up to ~0.1 s of slider latency)."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def show(fig: Figure, dpi: float = 110):
    """Display a figure in the notebook as a PNG (no pyplot, no backend set-up needed)."""
    from IPython.display import Image, display

    display(Image(data=figure_png(fig, dpi)))


def message_of(exc: BaseException) -> str:
    """One readable line for an exception (no traceback)."""
    text = str(exc).strip() or type(exc).__name__
    if isinstance(exc, (ValueError, TypeError)):
        return text
    return f"{type(exc).__name__}: {text}"


def _error_html(what: str, msg: str) -> str:
    return f'<div class="vmlab-error"><b>{html.escape(what)}</b>\n{html.escape(msg)}</div>'


def _ok_html(msg: str) -> str:
    return f'<div class="vmlab-ok">{html.escape(msg)}</div>'


def _fmt_ms(ns) -> str:
    if ns is None or not np.isfinite(ns):
        return "—"
    ms = float(ns) / 1e6
    if ms >= 100:
        return f"{ms:,.0f} ms"
    if ms >= 1:
        return f"{ms:.2f} ms"
    return f"{ms * 1000:.1f} µs"


def _fmt_int(v) -> str:
    return "—" if v is None or not np.isfinite(v) else f"{int(round(float(v))):,}"


def _round3(v) -> float:
    """A log slider's value as its readout shows it (3 significant digits): 2**1.25 -> 2.38."""
    return float(f"{float(v):.3g}")


def _workload_options() -> list[tuple[str, str]]:
    from .workloads import MODES, TEST_CASES

    return [(f"mode: {m}", m) for m in sorted(MODES, key=lambda m: m != "stress")] + \
        [(f"test: {t}", t) for t in TEST_CASES]


def _workload_value(workload) -> str:
    """The dropdown value of a workload: a mode, or a test's full name ("fix_size" too)."""
    from .workloads import canonical_test

    w = workload if isinstance(workload, str) else workload[0]
    return w if w in dict((v, k) for k, v in _workload_options()) else (canonical_test(w) or w)


def era_of(cfg: SimConfig) -> str:
    """The kernel era whose purge logic ``cfg`` has (threshold factor ignored), else "custom"."""
    for k, preset in KERNELS.items():
        if all(getattr(cfg, f) == v for f, v in preset.items() if f != "threshold_factor"):
            return k
    return CUSTOM


def short_label(cfg: SimConfig) -> str:
    """'5.1 ×2', '5.0', 'threshold ×4 (custom)': the legend text of a run."""
    era = era_of(cfg)
    thr = f" ×{cfg.threshold_factor:g}" if cfg.policy == "threshold" else ""
    if era != CUSTOM:
        return f"{era}{thr}"
    return f"{cfg.policy}{thr} (custom)"


def run_stem(cfg: SimConfig) -> str:
    """A file-name stem describing a run: 5.1-hikey960-8cpu-stress-thr2-lmformula-2s-seed1."""
    r = cfg.resolved()
    era = era_of(cfg)
    pol = era if era != CUSTOM else f"custom-{cfg.policy}"
    wl = cfg.workload if isinstance(cfg.workload, str) else "+".join(cfg.workload)
    parts = [pol, str(get_platform(cfg.platform).name), f"{r.ncpus}cpu", wl]
    if cfg.policy == "threshold":
        parts.append(f"thr{cfg.threshold_factor:g}")
    parts.append("lmformula" if cfg.lazy_max_pages is None else f"lm{cfg.lazy_max_pages}")
    parts += [f"{cfg.duration_s:g}s", f"seed{cfg.seed}"]
    return re.sub(r"[^A-Za-z0-9_.+-]+", "_", "-".join(parts))


def summary_frame(result, previous=None) -> pd.DataFrame:
    """The key numbers of a run as a table (index: quantity; columns: this run[, previous run]).

    Cells are display strings; ``attrs["raw"]`` keeps the numbers of this run.
    """
    def col(res):
        s = res.summary
        cfg = res.config
        r = cfg.resolved()
        ps = r.platform.page_size
        peak = float(s.peak_lazy_pages)
        thr = (f"{int(s.resched_threshold_pages):,} pages" if cfg.policy == "threshold"
               else f"— ({cfg.policy})")
        oom = (f"yes, at {float(s.oom_time_ns) / 1e9:.2f} s" if bool(s.oom) else "no")
        lm_src = "formula" if cfg.lazy_max_pages is None else "set"
        return {
            "run": short_label(cfg),
            "peak vmap_lazy_nr": f"{peak:,.0f} pages ({peak * ps / MiB:,.0f} MiB)",
            "peak / lazy_max_pages": f"{float(s.peak_lazy_ratio):.2f}×",
            "lazy_max_pages": f"{int(s.lazy_max_pages):,} ({lm_src})",
            "resched threshold": thr,
            "purges": _fmt_int(s.purges),
            "purge p50": _fmt_ms(s.purge_p50_ns),
            "purge p99": _fmt_ms(s.purge_p99_ns),
            "purge max": _fmt_ms(s.purge_max_ns),
            "flush-range walk share": (f"{float(s.purge_walk_share) * 100:.1f} %"
                                       if np.isfinite(s.purge_walk_share) else "—"),
            "max vmap_area_lock wait": _fmt_ms(s.lock_wait_max_ns),
            "max vmap_area_lock hold": _fmt_ms(s.lock_hold_max_ns),
            "vmalloc p99": _fmt_ms(s.alloc_p99_ns),
            "peak memory": f"{float(s.peak_mem_bytes) / MiB:,.0f} MiB of {r.ram_bytes / MiB:,.0f}",
            "OOM": oom,
            "simulated": f"{float(s.sim_ns) / 1e9:g} s, {_fmt_int(s.ops)} ops",
            "model wall time": f"{float(s.wall_s):.3f} s",
        }

    cols = {"this run": col(result)}
    if previous is not None:
        cols["previous run"] = col(previous)
    df = pd.DataFrame(cols)
    df.attrs["raw"] = dict(result.summary)
    return df


def _table_html(df: pd.DataFrame) -> str:
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in ["", *df.columns])
    rows = []
    for idx, r in df.iterrows():
        cells = "".join(f"<td>{html.escape(str(v))}</td>" for v in r)
        rows.append(f"<tr><td>{html.escape(str(idx))}</td>{cells}</tr>")
    return f'<table class="vmlab-table"><tr>{head}</tr>{"".join(rows)}</table>'


def _table_text(df: pd.DataFrame) -> str:
    return df.to_string()


def claim(text: str, holds) -> None:
    """Print a claim, with its numbers in ``text``, marked [holds] or [DOES NOT HOLD]."""
    print(f"[{'holds' if bool(holds) else 'DOES NOT HOLD'}] {text}")


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
    labels = list(labels) if labels is not None else [short_label(r.config) for r in results]
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
    labels = list(labels) if labels is not None else [short_label(r.config) for r in results]
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


def _tradeoff_marker(ax, history: list[dict], current: dict | None):
    """Peak vmap_lazy_nr / lazy_max_pages against purge p99: earlier runs gray, this run black."""
    pts = [h for h in history if np.isfinite(h["x"]) and np.isfinite(h["y"])]
    if pts:
        ax.scatter([h["x"] for h in pts], [h["y"] for h in pts], s=22, color="0.65", marker="o",
                   label=f"earlier runs ({len(pts)})", zorder=2, gid="history")
        for h in pts[-8:]:
            ax.annotate(h["label"], (h["x"], h["y"]), xytext=(0, 4), textcoords="offset points",
                        fontsize=6, color="0.45", ha="center", va="bottom")
    xs = [h["x"] for h in pts]
    ys = [h["y"] for h in pts]
    if current is not None and np.isfinite(current["x"]) and np.isfinite(current["y"]):
        ax.scatter([current["x"]], [current["y"]], s=110, color="black", marker="*", zorder=4,
                   label="this run", gid="current")
        ax.annotate(current["label"], (current["x"], current["y"]), xytext=(0, -9),
                    textcoords="offset points", fontsize=8, fontweight="bold", ha="center", va="top")
        xs.append(current["x"])
        ys.append(current["y"])
    elif current is not None:
        ax.text(0.5, 0.5, "no purge in this run:\nno purge p99 to place", transform=ax.transAxes,
                ha="center", va="center", fontsize=8)
    ys_pos = [v for v in ys if v > 0]
    if ys_pos and max(ys_pos) / min(ys_pos) > 10:
        ax.set_yscale("log")
    xs_pos = [v for v in xs if v > 0]
    if xs_pos and max(xs_pos) / min(xs_pos) > 10:
        ax.set_xscale("log")
    ax.axvline(1.0, color="0.35", ls="--", lw=1.0)
    ax.margins(x=0.25, y=0.15)
    ax.set_xlabel("peak vmap_lazy_nr / lazy_max_pages (×)")
    ax.set_ylabel("purge duration p99 (ms)")
    ax.set_title("trade-off: memory growth vs purge latency\nlower left is better", fontsize=9)
    ax.grid(True, alpha=0.3, which="both")
    if xs or ys:
        ax.legend(fontsize=7, loc="best", framealpha=0.9)


# ------------------------------------------------------------------------------------ base
class _Panel:
    """Common parts: the widget tree, display, status line, export box."""

    name = "panel"
    widget: Any

    def _repr_mimebundle_(self, include=None, exclude=None):
        return self.widget._repr_mimebundle_(include=include, exclude=exclude)

    def _ipython_display_(self):  # older IPython
        from IPython.display import display

        display(self.widget)

    def _set_status(self, html_text: str):
        self.status.value = html_text

    def update(self):
        """Re-run the model for the current controls and redraw (errors go to the status line).

        Garbage collection is paused meanwhile: it made the slowest redraws slower.
        """
        with gc_paused():
            self._update()

    def _update(self):  # pragma: no cover - overridden by panels that re-run on change
        raise NotImplementedError

    def _make_export_box(self):
        import ipywidgets as W

        self.export_button = W.Button(description="Export", icon="download",
                                      tooltip="Write PNG, SVG and PDF figures and the email text")
        self.export_button.add_class("vmlab-export")
        self.export_paths = W.HTML(value="")
        self.export_paths.add_class("vmlab-export-paths")
        self.export_button.on_click(lambda _b: self._export_clicked())
        return W.VBox([self.export_button, self.export_paths])

    def _export_clicked(self):
        self.export_paths.value = _ok_html("exporting…")
        try:
            paths = self.export()
        except Exception as e:  # noqa: BLE001 - shown in the panel
            self.export_paths.value = _error_html("Export failed", message_of(e))
            return
        items = "".join(f"<li>{html.escape(str(p))}</li>" for p in paths)
        self.export_paths.value = (f'<div class="vmlab-paths">wrote {len(paths)} files:'
                                   f"<ul>{items}</ul></div>")

    def export(self, out_dir=None) -> list[Path]:  # pragma: no cover - overridden
        raise NotImplementedError


# ------------------------------------------------------------------------------------ explore
class ExplorePanel(_Panel):
    """One model run per change; see `explore`."""

    name = "explore"

    def __init__(self, cfg: SimConfig | None = None, out_dir=None, dpi: float = 96,
                 cache_size: int = 32, **fields):
        import ipywidgets as W

        self.out_dir = out_dir
        self.dpi = dpi
        kernel = fields.pop("kernel", None)
        if cfg is None:
            kw = dict(EXPLORE_DEFAULTS)
            kw.pop("kernel")
            kw.update(fields)
            cfg = SimConfig.for_kernel(kernel or EXPLORE_DEFAULTS["kernel"], **kw)
        else:
            cfg = cfg.replace(**fields) if fields else cfg
            if kernel:
                d = cfg.to_dict()
                d.update(KERNELS[str(kernel)])
                cfg = SimConfig(**d)
        #: fields the panel has no control for pass through from here (ram_bytes, nr_pages, ...)
        self.base = cfg
        r = cfg.resolved()
        self.result = None
        self.previous = None
        self.error: str | None = None
        self.history: list[dict] = []
        self.timings: dict[str, float] = {}
        self.runs = 0
        self._cache: OrderedDict = OrderedDict()
        self._cache_size = cache_size
        self._quiet = False

        c: dict[str, Any] = {}
        c["era"] = W.Dropdown(options=list(ERAS) + [CUSTOM], value=era_of(cfg), description="kernel",
                              tooltip="the purge logic of a kernel version, or custom knobs")
        c["policy"] = W.Dropdown(options=list(POLICIES), value=cfg.policy, description="policy")
        c["allocator"] = W.Dropdown(options=list(ALLOCATORS), value=cfg.allocator, description="allocator")
        c["flush_range"] = W.Dropdown(options=list(FLUSH_RANGES), value=cfg.flush_range, description="flush range")
        c["purge_mode"] = W.Dropdown(options=list(PURGE_MODES), value=cfg.purge_mode, description="purge")
        c["lock_split"] = W.Checkbox(value=bool(cfg.lock_split), description="lock split (5.5+)", indent=True)
        c["test_set"] = W.Dropdown(options=list(TEST_SETS), value=cfg.test_set, description="test set")
        c["threshold"] = W.FloatLogSlider(value=float(cfg.threshold_factor), base=2, min=-3, max=6, step=0.25,
                                          description="threshold ×", continuous_update=False,
                                          readout_format=".3g",
                                          tooltip="resched while vmap_lazy_nr < factor × lazy_max_pages")
        c["threshold"].add_class("vmlab-threshold")
        c["ncpus"] = W.SelectionSlider(options=sorted(set(NCPUS) | {r.ncpus}), value=r.ncpus,
                                       description="CPUs", continuous_update=False)
        c["lazy_formula"] = W.Checkbox(value=cfg.lazy_max_pages is None, description="kernel formula",
                                       indent=True)
        lm = cfg.lazy_max_pages or r.lazy_max_pages
        c["lazy_max"] = W.FloatLogSlider(value=float(lm), base=2, min=8, max=max(22, math.log2(lm)),
                                         step=1, description="lazy_max", continuous_update=False,
                                         readout_format=",.0f", disabled=cfg.lazy_max_pages is None)
        c["workload"] = W.Dropdown(options=_workload_options(), value=_workload_value(cfg.workload),
                                   description="workload")
        c["platform"] = W.Dropdown(options=sorted(PLATFORMS), value=r.platform.name, description="platform")
        dur = float(cfg.duration_s)
        durs = sorted(set(DURATIONS) | {dur})
        c["duration"] = W.SelectionSlider(options=[(f"{d:g} s", d) for d in durs], value=dur,
                                          description="simulate", continuous_update=False)
        c["seed"] = W.IntText(value=int(cfg.seed), description="seed", continuous_update=False)
        for w in c.values():
            w.style.description_width = "80px"
        self.controls = c

        self.lazy_note = W.HTML(value="")
        self.status = W.HTML(value="")
        self.status.add_class("vmlab-status")
        self.image = W.Image(format="png", value=b"")
        self.image.add_class("vmlab-figure")
        self.image.layout.max_width = "100%"
        self.summary = W.HTML(value="")
        self.summary.add_class("vmlab-summary")
        self.summary_text = ""

        details = W.VBox([c["allocator"], c["flush_range"], c["purge_mode"], c["lock_split"], c["test_set"]])
        acc = W.Accordion(children=[details], selected_index=None)
        acc.set_title(0, "kernel details (changing one makes the era custom)")
        col1 = W.VBox([c["era"], c["policy"], c["threshold"], acc])
        col2 = W.VBox([c["ncpus"], c["lazy_formula"], c["lazy_max"], self.lazy_note])
        col3 = W.VBox([c["workload"], c["platform"], c["duration"], c["seed"]])
        controls = W.HBox([col1, col2, col3], layout=W.Layout(flex_flow="row wrap"))
        bottom = W.HBox([self.summary, self._make_export_box()],
                        layout=W.Layout(align_items="flex-start", grid_gap="24px"))
        self.widget = W.VBox([W.HTML(_CSS), controls, self.status, self.image, bottom])
        self.widget.add_class("vmlab-panel")
        self.widget.add_class("vmlab-explore")

        c["era"].observe(self._on_era, names="value")
        for k in ERA_FIELDS:
            c[k].observe(self._on_detail, names="value")
        c["lazy_formula"].observe(self._on_formula, names="value")
        for k in ("threshold", "ncpus", "lazy_max", "workload", "platform", "duration", "seed"):
            c[k].observe(self._on_change, names="value")
        self._sync_enabled()
        self.update()

    # --------------------------------------------------------------- control logic
    def _on_era(self, change):
        if self._quiet or change["new"] == CUSTOM:
            self._sync_enabled()
            return
        preset = KERNELS[change["new"]]
        self._quiet = True
        try:
            for k in ERA_FIELDS:
                self.controls[k].value = preset[k]
            if "threshold_factor" in preset and self.controls["threshold"].value != preset["threshold_factor"]:
                self.controls["threshold"].value = preset["threshold_factor"]
        finally:
            self._quiet = False
        self._sync_enabled()
        self.update()

    def _on_detail(self, change):
        if self._quiet:
            return
        era = self.controls["era"].value
        # a knob that differs from the era's preset makes the panel custom
        if era != CUSTOM and any(self.controls[k].value != KERNELS[era][k] for k in ERA_FIELDS):
            self._quiet = True
            try:
                self.controls["era"].value = CUSTOM
            finally:
                self._quiet = False
        self._sync_enabled()
        self.update()

    def _on_formula(self, change):
        if self._quiet:
            return
        self._sync_enabled()
        self.update()

    def _on_change(self, change):
        if self._quiet:
            return
        self._sync_enabled()
        self.update()

    def _sync_enabled(self):
        c = self.controls
        c["threshold"].disabled = c["policy"].value != "threshold"
        c["lazy_max"].disabled = bool(c["lazy_formula"].value)
        try:
            ps = get_platform(c["platform"].value).page_size
            f = kernel_formula_lazy_max_pages(int(c["ncpus"].value), ps)
            if c["lazy_formula"].value:
                was = self._quiet
                self._quiet = True          # showing the formula's value is not a change
                try:
                    c["lazy_max"].value = float(f)
                finally:
                    self._quiet = was
                self.lazy_note.value = _ok_html(f"fls({c['ncpus'].value}) × 32 MiB = {f:,} pages "
                                                f"({f * ps // MiB:,} MiB)")
            else:
                v = int(c["lazy_max"].value)
                self.lazy_note.value = _ok_html(f"{v:,} pages ({v * ps / MiB:,.0f} MiB); formula: {f:,}")
        except Exception:  # noqa: BLE001 - the note is cosmetic
            self.lazy_note.value = ""

    def config(self) -> SimConfig:
        """The SimConfig the controls describe (raises ValueError for a bad combination)."""
        c = self.controls
        d = self.base.to_dict()
        d.update(
            policy=c["policy"].value, allocator=c["allocator"].value, flush_range=c["flush_range"].value,
            purge_mode=c["purge_mode"].value, lock_split=bool(c["lock_split"].value),
            test_set=c["test_set"].value, threshold_factor=_round3(c["threshold"].value),
            ncpus=int(c["ncpus"].value),
            lazy_max_pages=None if c["lazy_formula"].value else int(round(c["lazy_max"].value)),
            workload=c["workload"].value, platform=c["platform"].value,
            duration_s=float(c["duration"].value), seed=c["seed"].value,
        )
        if isinstance(d.get("workload"), list):
            d["workload"] = tuple(d["workload"])
        return SimConfig(**d)

    # --------------------------------------------------------------- running and drawing
    def _simulate(self, cfg: SimConfig):
        from .model import simulate

        if cfg in self._cache:
            self._cache.move_to_end(cfg)
            return self._cache[cfg], True
        res = simulate(cfg)
        self._cache[cfg] = res
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return res, False

    def _update(self):
        t0 = time.perf_counter()
        try:
            cfg = self.config()
        except (ValueError, TypeError) as e:
            self._fail("This combination is not valid:", message_of(e))
            return
        self._set_status(_ok_html(f"running {short_label(cfg)} for {cfg.duration_s:g} simulated s…"))
        try:
            res, cached = self._simulate(cfg)
        except Exception as e:  # noqa: BLE001 - any model failure is shown, never raised
            self._fail("The model could not run this configuration:", message_of(e))
            return
        t1 = time.perf_counter()
        if self.result is not None and self.result.config != res.config:
            self.previous = self.result
            self._push_history(self.previous)
        self.result = res
        self.error = None
        try:
            fig = self.panel_figure()
            png = figure_png(fig, self.dpi)
        except Exception as e:  # noqa: BLE001
            self._fail("The figure could not be drawn:", message_of(e))
            return
        t2 = time.perf_counter()
        self.image.value = png
        table = summary_frame(res, self.previous)
        self.summary_text = _table_text(table)
        self.summary.value = _table_html(table)
        self.runs += 1
        self.timings = dict(simulate=t1 - t0, draw=t2 - t1, total=time.perf_counter() - t0, cached=cached)
        r = cfg.resolved()
        what = (f"{short_label(cfg)} · {r.platform.name} · {r.ncpus} CPUs · "
                f"{cfg.workload if isinstance(cfg.workload, str) else ','.join(cfg.workload)} · "
                f"{cfg.duration_s:g} s simulated")
        how = "cached" if cached else f"model {t1 - t0:.2f} s"
        self._set_status(_ok_html(f"{what} — {how}, figure {t2 - t1:.2f} s"))

    def _fail(self, what: str, msg: str):
        self.error = f"{what} {msg}"
        note = "\nThe figure below is still the last run that worked." if self.result is not None else ""
        self._set_status(_error_html(what, msg + note))

    def _push_history(self, res):
        s = res.summary
        self.history.append(dict(x=float(s.peak_lazy_ratio), y=float(s.purge_p99_ns) / 1e6,
                                 label=short_label(res.config) + f" {res.config.resolved().ncpus}c"))
        del self.history[:-60]

    def _current_point(self):
        s = self.result.summary
        return dict(x=float(s.peak_lazy_ratio), y=float(s.purge_p99_ns) / 1e6,
                    label=short_label(self.result.config) + f" {self.result.config.resolved().ncpus}c")

    def panel_figure(self) -> Figure:
        """The panel's image: time series (left) and trade-off marker (right), fixed layout."""
        from .plots import plot_timeseries

        # a fixed layout: constrained layout would cost ~0.15 s per redraw
        fig = Figure(figsize=(10.5, 3.7))
        a1, a2 = fig.subplots(1, 2, width_ratios=[2.2, 1])
        fig.subplots_adjust(left=0.078, right=0.975, bottom=0.13, top=0.85, wspace=0.42)
        plot_timeseries(self.result, ax=a1)
        _tradeoff_marker(a2, self.history, self._current_point())
        return fig

    # --------------------------------------------------------------- export
    def export(self, out_dir=None) -> list[Path]:
        """Write the time series and trade-off figures (PNG, SVG, PDF) and the email text."""
        from .export import email_summary, export_figure, write_email
        from .plots import plot_timeseries

        if self.result is None:
            raise RuntimeError("nothing to export: no run has succeeded yet")
        out = figures_dir(self.name, out_dir if out_dir is not None else self.out_dir)
        res = self.result
        stem = out / run_stem(res.config)
        paths = export_figure(plot_timeseries(res), f"{stem}-timeseries", metadata={"config": res.config})
        fig = Figure(figsize=(6.4, 4.0), layout="constrained")
        _tradeoff_marker(fig.add_subplot(), self.history, self._current_point())
        fig.vmlab_metadata = provenance(res)
        paths += export_figure(fig, f"{stem}-tradeoff", metadata={"config": res.config})
        text = email_summary(res, title=f"vmlab explore: {short_label(res.config)} on "
                                        f"{res.config.resolved().platform.name}")
        paths.append(write_email(text, stem))
        self.exported = paths
        return paths


def explore(cfg: SimConfig | None = None, out_dir=None, **fields) -> ExplorePanel:
    """The explore panel (see the module doc). ``explore(kernel="5.0", ncpus=4, duration_s=4)``
    or ``explore(SimConfig(...))``; fields without a control (``ram_bytes``, ``nr_pages``,
    ``sample_interval_ns`` ...) are kept from there. ``out_dir``: where **Export** writes."""
    return ExplorePanel(cfg, out_dir=out_dir, **fields)


# ------------------------------------------------------------------------------------ sweep panel
class SweepPanel(_Panel):
    """Ranges of threshold factor, CPUs and lazy_max_pages through `vmlab.sweep`; see `sweep_panel`."""

    name = "sweep"

    def __init__(self, name: str = "panel", kernel: str = "5.1", platform: str = "hikey960",
                 workload: str = "stress", duration_s: float = 1.0, thresholds=(0.5, 8.0),
                 ncpus=(2, 8), lazy_max=("formula",), seeds: int = 1, include_50: bool = True,
                 workers: int | None = None, out_dir=None, sweep_dir=None, run: bool = False,
                 dpi: float = 96):
        import ipywidgets as W

        self.out_dir = out_dir
        self.sweep_dir = sweep_dir
        self.workers = workers
        self.dpi = dpi
        self.df: pd.DataFrame | None = None
        self.error: str | None = None
        c: dict[str, Any] = {}
        thr_eras = [k for k, v in KERNELS.items() if v["policy"] == "threshold"]
        c["era"] = W.Dropdown(options=thr_eras, value=kernel, description="kernel")
        c["include_50"] = W.Checkbox(value=include_50, description="also 5.0 (always-resched)", indent=True)
        c["platform"] = W.Dropdown(options=sorted(PLATFORMS), value=platform, description="platform")
        c["workload"] = W.Dropdown(options=_workload_options(), value=_workload_value(workload),
                                   description="workload")
        durs = sorted(set(DURATIONS) | {float(duration_s)})
        c["duration"] = W.SelectionSlider(options=[(f"{d:g} s", d) for d in durs], value=float(duration_s),
                                          description="simulate", continuous_update=False)
        c["thresholds"] = W.SelectionRangeSlider(options=[(f"{t:g}", t) for t in THRESHOLDS],
                                                 value=tuple(float(t) for t in thresholds),
                                                 description="threshold ×", continuous_update=False)
        c["ncpus"] = W.SelectionRangeSlider(options=list(NCPUS), value=tuple(ncpus), description="CPUs",
                                            continuous_update=False)
        lm_opts = [("kernel formula", "formula")] + [(f"{v:,} pages ({v * 4096 // MiB} MiB)", str(v))
                                                     for v in LAZY_MAX_CHOICES]
        c["lazy_max"] = W.SelectMultiple(options=lm_opts, value=tuple(str(v) for v in lazy_max),
                                         description="lazy_max", rows=4)
        c["seeds"] = W.IntSlider(value=seeds, min=1, max=8, description="seeds", continuous_update=False)
        c["name"] = W.Text(value=name, description="name", continuous_update=False)
        for w in c.values():
            w.style.description_width = "80px"
        c["thresholds"].add_class("vmlab-thresholds")
        self.controls = c
        self.plan_note = W.HTML(value="")
        self.run_button = W.Button(description="Run sweep", icon="play", button_style="primary")
        self.run_button.add_class("vmlab-run")
        self.run_button.on_click(lambda _b: self.run())
        self.progress = W.Output()
        self.status = W.HTML(value="")
        v = {}
        v["tradeoff_y"] = W.Dropdown(options=[("purge p99", "purge_p99_ns"), ("purge max", "purge_max_ns"),
                                              ("max lock wait", "lock_wait_max_ns"),
                                              ("vmalloc p99", "alloc_p99_ns")],
                                     value="purge_p99_ns", description="trade-off y")
        v["group"] = W.Dropdown(options=[("one line per CPU count", "ncpus"),
                                         ("one line per lazy_max_pages", "lazy_max_pages_cfg")],
                                value="ncpus", description="lines")
        v["heat_value"] = W.Dropdown(options=[("peak / lazy_max", "peak_lazy_ratio"),
                                              ("purge p99", "purge_p99_ns"),
                                              ("max lock wait", "lock_wait_max_ns"),
                                              ("peak memory", "peak_mem_bytes")],
                                     value="peak_lazy_ratio", description="heatmap")
        v["heat_y"] = W.Dropdown(options=[("CPUs", "ncpus"), ("lazy_max_pages", "lazy_max_pages_cfg")],
                                 value="ncpus", description="heatmap y")
        for w in v.values():
            w.style.description_width = "80px"
            w.observe(lambda _c: self.redraw(), names="value")
        self.view_controls = v
        self.tradeoff_image = W.Image(format="png", value=b"")
        self.heatmap_image = W.Image(format="png", value=b"")
        for im in (self.tradeoff_image, self.heatmap_image):
            im.layout.max_width = "49%"
        self.tradeoff_image.add_class("vmlab-tradeoff")
        self.heatmap_image.add_class("vmlab-heatmap")
        for k in ("era", "include_50", "thresholds", "ncpus", "lazy_max", "seeds"):
            c[k].observe(lambda _c: self._update_plan(), names="value")
        col1 = W.VBox([c["era"], c["include_50"], c["platform"], c["workload"], c["duration"]])
        col2 = W.VBox([c["thresholds"], c["ncpus"], c["lazy_max"], c["seeds"], c["name"]])
        self.widget = W.VBox([
            W.HTML(_CSS), W.HBox([col1, col2], layout=W.Layout(flex_flow="row wrap")),
            W.HBox([self.run_button, self.plan_note]), self.progress, self.status,
            W.HBox([v["tradeoff_y"], v["group"], v["heat_value"], v["heat_y"]],
                   layout=W.Layout(flex_flow="row wrap")),
            W.HBox([self.tradeoff_image, self.heatmap_image]), self._make_export_box()])
        self.widget.add_class("vmlab-panel")
        self.widget.add_class("vmlab-sweep")
        self._update_plan()
        if run:
            self.run()

    # --------------------------------------------------------------- the sweep
    def thresholds(self) -> list[float]:
        lo, hi = self.controls["thresholds"].value
        return [t for t in THRESHOLDS if lo <= t <= hi]

    def ncpus(self) -> list[int]:
        lo, hi = self.controls["ncpus"].value
        return [n for n in NCPUS if lo <= n <= hi]

    def lazy_max(self) -> list[int | None]:
        vals = list(self.controls["lazy_max"].value) or ["formula"]
        return [None if v == "formula" else int(v) for v in vals]

    def grids(self) -> list[tuple[dict, dict]]:
        """[(base fields, grid)] of the sweeps the panel runs: the era's, then 5.0's if asked."""
        c = self.controls
        base = dict(platform=c["platform"].value, workload=c["workload"].value,
                    duration_s=float(c["duration"].value))
        out = [(base, {"kernel": [c["era"].value], "threshold_factor": self.thresholds(),
                       "ncpus": self.ncpus(), "lazy_max_pages": self.lazy_max()})]
        if c["include_50"].value:
            out.append((base, {"kernel": ["5.0"], "ncpus": self.ncpus(), "lazy_max_pages": self.lazy_max()}))
        return out

    def n_runs(self) -> int:
        n = 0
        for _, g in self.grids():
            n += int(np.prod([len(v) for v in g.values()]))
        return n * int(self.controls["seeds"].value)

    def _update_plan(self):
        self.plan_note.value = _ok_html(f"{self.n_runs()} runs (cached runs are not re-run)")

    def _name(self) -> str:
        name = str(self.controls["name"].value).strip() or "panel"
        return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).lstrip(".") or "panel"

    def run(self) -> pd.DataFrame | None:
        """Run (or load from the cache) the sweep and redraw; returns the frame (None on error)."""
        from .sweep import sweep

        name = self._name()
        out = Path(self.sweep_dir) if self.sweep_dir is not None else sweeps_dir(name)
        self.status.value = _ok_html(f"running {self.n_runs()} runs into {out} …")
        self.progress.clear_output()
        t0 = time.perf_counter()
        frames = []
        try:
            with self.progress:
                for base, grid in self.grids():
                    frames.append(sweep(SimConfig(**base), grid, seeds=int(self.controls["seeds"].value),
                                        name=name, out=out, workers=self.workers, progress=True))
        except Exception as e:  # noqa: BLE001 - shown in the panel
            self.error = message_of(e)
            self.status.value = _error_html("The sweep could not run:", self.error)
            return None
        df = pd.concat(frames, ignore_index=True)
        df.attrs.update(frames[0].attrs)
        self.df = df
        self.error = None
        nerr = int(df["error"].notna().sum()) if "error" in df.columns else 0
        self.status.value = _ok_html(
            f"{len(df)} runs in {time.perf_counter() - t0:.1f} s (cache: {out})"
            + (f"; {nerr} failed (see the error column of panel.df)" if nerr else ""))
        self.redraw()
        return df

    def _ok(self) -> pd.DataFrame:
        from .plots import ok_rows

        return ok_rows(self.df)

    def tradeoff_figure(self, **fig_kw) -> Figure:
        from .plots import plot_tradeoff

        v = self.view_controls
        ok, group = self._ok(), v["group"].value
        if group == "lazy_max_pages_cfg":
            # plot_tradeoff cannot label a missing lazy_max_pages_cfg (the formula) as a group
            ok = ok.assign(lazy_max=["formula" if pd.isna(x) else f"{int(x):,} pages"
                                     for x in ok["lazy_max_pages_cfg"]])
            group = "lazy_max"
        return plot_tradeoff(ok, x="peak_lazy_pages", y=v["tradeoff_y"].value,
                             group=group, label="threshold_factor",
                             title=f"sweep {self._name()}: memory growth vs "
                                   f"{dict((b, a) for a, b in v['tradeoff_y'].options)[v['tradeoff_y'].value]}")

    def heatmap_figure(self) -> Figure:
        from .plots import plot_heatmap

        v = self.view_controls
        ok = self._ok()
        ok = ok[ok["policy"] == "threshold"] if "policy" in ok.columns else ok
        return plot_heatmap(ok, x="threshold_factor", y=v["heat_y"].value, value=v["heat_value"].value)

    def redraw(self):
        if self.df is None:
            return
        try:
            self.tradeoff_image.value = figure_png(self.tradeoff_figure(), self.dpi)
            self.heatmap_image.value = figure_png(self.heatmap_figure(), self.dpi)
        except Exception as e:  # noqa: BLE001
            self.error = message_of(e)
            self.status.value = _error_html("The figures could not be drawn:", self.error)

    # --------------------------------------------------------------- export
    def grid_toml(self) -> list[tuple[str, str]]:
        """[(file suffix, TOML text)] that reproduce the sweep with ``vmlab sweep`` (one per grid)."""
        def val(v):
            if v is None:
                return '"formula"'
            if isinstance(v, str):
                return f'"{v}"'
            return repr(float(v)) if isinstance(v, float) else str(v)   # 1.0, not 1: same run key

        out = []
        for base, grid in self.grids():
            lines = [f'name = "{self._name()}"', "[base]"]
            lines += [f"{k} = {val(v)}" for k, v in base.items()]
            lines.append("[grid]")
            lines += [f"{k} = [{', '.join(val(x) for x in v)}]" for k, v in grid.items()]
            lines.append(f"seeds = {int(self.controls['seeds'].value)}")
            out.append((grid["kernel"][0], "\n".join(lines) + "\n"))
        return out

    def export(self, out_dir=None) -> list[Path]:
        """Write the trade-off and heatmap figures, the email text and the grid files."""
        from .export import email_summary, export_figure, write_email

        if self.df is None:
            raise RuntimeError("nothing to export: run the sweep first")
        name = self._name()
        out = figures_dir(f"sweep-{name}", out_dir if out_dir is not None else self.out_dir)
        out.mkdir(parents=True, exist_ok=True)
        meta = {"sweep": name}
        v = self.view_controls
        paths = export_figure(self.tradeoff_figure(), out / f"{name}-tradeoff-{v['tradeoff_y'].value[:-3]}",
                              metadata=meta)
        paths += export_figure(self.heatmap_figure(),
                               out / f"{name}-heatmap-{v['heat_value'].value}-by-{v['heat_y'].value}",
                               metadata=meta)
        cmds = []
        for suffix, text in self.grid_toml():
            p = out / f"{name}-{suffix}.toml"
            p.write_text(text)
            paths.append(p)
            cmds.append(f"vmlab sweep {p}")
        text = email_summary(self.df, command=" && ".join(cmds), title=f"vmlab sweep {name}")
        paths.append(write_email(text, out / name))
        self.exported = paths
        return paths


def sweep_panel(name: str = "panel", out_dir=None, **kw) -> SweepPanel:
    """The sweep panel (see the module doc). Keywords set the initial controls (``kernel``,
    ``platform``, ``workload``, ``duration_s``, ``thresholds=(lo, hi)``, ``ncpus=(lo, hi)``,
    ``lazy_max=("formula", 8192, ...)``, ``seeds``, ``include_50``), plus ``workers`` (processes;
    default every core), ``sweep_dir`` (the cache) and ``run=True`` to run at once."""
    return SweepPanel(name=name, out_dir=out_dir, **kw)


# ------------------------------------------------------------------------------------ compare panel
class ComparePanel(_Panel):
    """Two eras or threshold factors on one machine and workload; see `compare_panel`."""

    name = "compare"
    KINDS = {"vmalloc + lock wait": ("alloc", "lock_wait"), "purge": ("purge",), "vfree": ("free",),
             "lock hold": ("lock_hold",)}

    def __init__(self, a: str = "5.0", b: str = "5.1", out_dir=None, dpi: float = 96, **fields):
        import ipywidgets as W

        self.out_dir = out_dir
        self.dpi = dpi
        kw = {k: v for k, v in COMPARE_DEFAULTS.items() if k not in ("a", "b")}
        kw.update(fields)
        self.base = SimConfig(**kw)
        r = self.base.resolved()
        self.results: list = []
        self.error: str | None = None
        self.timings: dict[str, float] = {}
        c: dict[str, Any] = {}
        for side, era in (("a", a), ("b", b)):
            c[f"era_{side}"] = W.Dropdown(options=list(ERAS), value=str(era), description=f"{side.upper()}: kernel")
            c[f"threshold_{side}"] = W.FloatLogSlider(value=float(self.base.threshold_factor), base=2, min=-3,
                                                      max=6, step=0.25,
                                                      description=f"{side.upper()}: threshold ×",
                                                      continuous_update=False, readout_format=".3g")
        c["ncpus"] = W.SelectionSlider(options=sorted(set(NCPUS) | {r.ncpus}), value=r.ncpus,
                                       description="CPUs", continuous_update=False)
        lm_opts = [("kernel formula", 0)] + [(f"{v:,} pages", v) for v in
                                             sorted(set(LAZY_MAX_CHOICES) | {self.base.lazy_max_pages or 4096})]
        c["lazy_max"] = W.Dropdown(options=lm_opts, value=self.base.lazy_max_pages or 0, description="lazy_max")
        c["workload"] = W.Dropdown(options=_workload_options(), value=_workload_value(self.base.workload),
                                   description="workload")
        c["platform"] = W.Dropdown(options=sorted(PLATFORMS), value=r.platform.name, description="platform")
        durs = sorted(set(DURATIONS) | {float(self.base.duration_s)})
        c["duration"] = W.SelectionSlider(options=[(f"{d:g} s", d) for d in durs],
                                          value=float(self.base.duration_s), description="simulate",
                                          continuous_update=False)
        c["seed"] = W.IntText(value=int(self.base.seed), description="seed", continuous_update=False)
        c["kinds"] = W.Dropdown(options=list(self.KINDS), value="vmalloc + lock wait", description="latency")
        for w in c.values():
            w.style.description_width = "110px"
        self.controls = c
        self.status = W.HTML(value="")
        self.image = W.Image(format="png", value=b"")
        self.image.add_class("vmlab-figure")
        self.image.layout.max_width = "100%"
        self.summary = W.HTML(value="")
        self.summary.add_class("vmlab-summary")
        self.summary_text = ""
        col1 = W.VBox([c["era_a"], c["threshold_a"], c["era_b"], c["threshold_b"]])
        col2 = W.VBox([c["ncpus"], c["lazy_max"], c["workload"], c["platform"]])
        col3 = W.VBox([c["duration"], c["seed"], c["kinds"]])
        self.widget = W.VBox([W.HTML(_CSS), W.HBox([col1, col2, col3], layout=W.Layout(flex_flow="row wrap")),
                              self.status, self.image,
                              W.HBox([self.summary, self._make_export_box()],
                                     layout=W.Layout(align_items="flex-start", grid_gap="24px"))])
        self.widget.add_class("vmlab-panel")
        self.widget.add_class("vmlab-compare")
        for k, w in c.items():
            w.observe(self._on_change, names="value")
        self._sync_enabled()
        self.update()

    def _on_change(self, change):
        self._sync_enabled()
        if change["owner"] is self.controls["kinds"]:
            self._draw()
        else:
            self.update()

    def _sync_enabled(self):
        for s in ("a", "b"):
            self.controls[f"threshold_{s}"].disabled = KERNELS[self.controls[f"era_{s}"].value]["policy"] != "threshold"

    def configs(self) -> list[SimConfig]:
        c = self.controls
        d = self.base.to_dict()
        for k in ERA_FIELDS:
            d.pop(k, None)
        d.update(ncpus=int(c["ncpus"].value), lazy_max_pages=int(c["lazy_max"].value) or None,
                 workload=c["workload"].value, platform=c["platform"].value,
                 duration_s=float(c["duration"].value), seed=c["seed"].value)
        out = []
        for s in ("a", "b"):
            dd = dict(d, threshold_factor=_round3(c[f"threshold_{s}"].value))
            out.append(SimConfig.for_kernel(c[f"era_{s}"].value, **dd))
        return out

    def labels(self) -> list[str]:
        labs = [f"{s}: {short_label(r.config)}" for s, r in zip("AB", self.results)]
        return labs

    def _update(self):
        from .model import simulate

        t0 = time.perf_counter()
        try:
            cfgs = self.configs()
        except (ValueError, TypeError) as e:
            return self._fail("This combination is not valid:", message_of(e))
        self.status.value = _ok_html("running A and B…")
        try:
            self.results = [simulate(cf) for cf in cfgs]
        except Exception as e:  # noqa: BLE001
            return self._fail("The model could not run this configuration:", message_of(e))
        self.timings["simulate"] = time.perf_counter() - t0
        self.error = None
        self._draw()

    def _fail(self, what, msg):
        self.error = f"{what} {msg}"
        self.status.value = _error_html(what, msg + ("\nThe figure below is still the last pair that worked."
                                                     if self.results else ""))

    def panel_figure(self) -> Figure:
        from .plots import plot_latency_cdf

        fig = Figure(figsize=(10.5, 3.8))
        a1, a2 = fig.subplots(1, 2, width_ratios=[1.4, 1])
        fig.subplots_adjust(left=0.078, right=0.985, bottom=0.13, top=0.86, wspace=0.5)
        overlay_timeseries(self.results, self.labels(), ax=a1)
        plot_latency_cdf(self.results, kinds=self.KINDS[self.controls["kinds"].value], labels=self.labels(), ax=a2)
        return fig

    def _draw(self):
        if not self.results:
            return
        t0 = time.perf_counter()
        try:
            self.image.value = figure_png(self.panel_figure(), self.dpi)
        except Exception as e:  # noqa: BLE001
            return self._fail("The figure could not be drawn:", message_of(e))
        a, b = self.results
        ta, tb = summary_frame(a)["this run"], summary_frame(b)["this run"]
        table = pd.DataFrame({"A": ta, "B": tb})
        self.summary_text = _table_text(table)
        self.summary.value = _table_html(table)
        self.timings["draw"] = time.perf_counter() - t0
        self.status.value = _ok_html(f"A: {short_label(a.config)}, B: {short_label(b.config)} — model "
                                     f"{self.timings.get('simulate', 0):.2f} s, figure {self.timings['draw']:.2f} s")

    def export(self, out_dir=None) -> list[Path]:
        """Write the overlay and the latency CDFs (PNG, SVG, PDF) and the email text."""
        from .export import email_summary, export_figure, write_email
        from .plots import plot_latency_cdf

        if not self.results:
            raise RuntimeError("nothing to export: no run has succeeded yet")
        out = figures_dir(self.name, out_dir if out_dir is not None else self.out_dir)
        a, b = self.results
        stem = out / f"{run_stem(a.config)}--vs--{short_label(b.config).replace(' ', '').replace('×', 'thr')}"
        labs = self.labels()
        paths = export_figure(overlay_timeseries(self.results, labs), f"{stem}-timeseries")
        kinds = self.KINDS[self.controls["kinds"].value]
        paths += export_figure(plot_latency_cdf(self.results, kinds=kinds, labels=labs), f"{stem}-latency-cdf")
        text = email_summary(self.results, title=f"vmlab compare: {labs[0]} vs {labs[1]}")
        paths.append(write_email(text, stem))
        self.exported = paths
        return paths


def compare_panel(a: str = "5.0", b: str = "5.1", out_dir=None, **fields) -> ComparePanel:
    """The compare panel: kernel eras ``a`` and ``b`` (default 5.0 vs 5.1) on the same platform,
    CPUs, workload, duration and seed (any SimConfig field may be given)."""
    return ComparePanel(a, b, out_dir=out_dir, **fields)


__all__ = ["explore", "sweep_panel", "compare_panel", "ExplorePanel", "SweepPanel", "ComparePanel",
           "overlay_timeseries", "plot_purge_breakdown", "summary_frame", "claim", "figures_dir",
           "sweeps_dir", "data_root", "figure_png", "show", "gc_paused", "era_of", "short_label", "run_stem"]
