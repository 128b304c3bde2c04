"""The explore panel: `explore` and `ExplorePanel`, one model run per change (the controls are
described in the `vmlab.widgets` package doc), plus its trade-off marker plot.

Speed: the explore default (5.0+threshold, hikey960, 8 CPUs, stress, 2 s simulated) costs ~0.1 s of model
and ~0.2 s of figure per change; the figure uses a fixed layout (constrained layout would add
~0.15 s), garbage collection is paused during a redraw, and the last 32 runs are kept, so moving a
slider back is instant. ``panel.timings`` has the numbers of the last change.
"""
from __future__ import annotations

import math
import time
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from ..config import (
    KERNELS,
    POLICIES,
    SimConfig,
    kernel_formula_lazy_max_pages,
)
from ..fields import FIELD
from ..platforms import get_platform
from ..frames import MiB, provenance
from ..ticks import roomy_log_labels
from .base import (
    field_control,
    _CSS,
    CUSTOM,
    ERA_FIELDS,
    ERAS,
    _error_html,
    _ok_html,
    _Panel,
    _round3,
    _table_html,
    _table_text,
    _era,
    figure_png,
    figures_dir,
    message_of,
    run_controls,
    run_stem,
    run_label,
    summary_frame,
)

#: explore() defaults: the seed's board and test, short enough to redraw well within 0.5 s
#: (5.0+threshold stress on hikey960 simulates 2 s in about 0.1 s of wall time; the figure takes ~0.2 s).
EXPLORE_DEFAULTS = dict(kernel="5.0+threshold", platform="hikey960", ncpus=8, workload="stress",
                        duration_s=2.0, seed=1)


# ------------------------------------------------------------------------------------ plotting
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
    roomy_log_labels(ax.figure)          # minor tick labels only where they have room



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
        c["era"] = W.Dropdown(options=list(ERAS) + [CUSTOM], value=_era(cfg), description="kernel",
                              tooltip="the purge logic of a kernel version, or custom knobs")
        pol_opts = [(n, n) for n in POLICIES]
        if cfg.policy not in POLICIES:          # a vmlab.purge_policy function
            pol_opts.append((f"{cfg.policy.name} (custom)", cfg.policy))
        c["policy"] = W.Dropdown(options=pol_opts, value=cfg.policy, description=FIELD["policy"].label,
                                 tooltip=FIELD["policy"].tooltip())
        for name in ("allocator", "flush_range", "purge_mode", "lock_split", "test_set", "purge_lock",
                     "lazy_drop", "lock_break"):       # described in vmlab.fields
            c[name] = field_control(name, getattr(cfg, name))
        c["lock_split"].indent = True
        hosts = sorted({1, 2, 4, 8, 16, 32, 64, 128} | ({cfg.host_cpus} if cfg.host_cpus else set()))
        c["host_cpus"] = W.Dropdown(options=[("a core per vCPU", None)] + [(f"{n} cores", n) for n in hosts],
                                    value=cfg.host_cpus, description=FIELD["host_cpus"].label,
                                    tooltip=FIELD["host_cpus"].tooltip())
        c["lazy_formula"] = W.Checkbox(value=cfg.lazy_max_pages is None, description="kernel formula",
                                       indent=True)
        lm = cfg.lazy_max_pages or r.lazy_max_pages
        c["lazy_max"] = W.FloatLogSlider(value=float(lm), base=2, min=8, max=max(22, math.log2(lm)),
                                         step=1, description="lazy_max", continuous_update=False,
                                         readout_format=",.0f", disabled=cfg.lazy_max_pages is None)
        for w in c.values():
            w.style.description_width = "80px"
        c.update(run_controls(cfg))
        c["threshold"].add_class("vmlab-threshold")
        self.controls = c

        self.lazy_note = W.HTML(value="")
        self._make_outputs()

        details = W.VBox([c[k] for k in ("allocator", "flush_range", "purge_mode", "lock_split", "purge_lock",
                                          "lazy_drop", "lock_break", "test_set")])
        acc = W.Accordion(children=[details], selected_index=None)
        acc.set_title(0, "kernel details (changing one makes the era custom)")
        col1 = W.VBox([c["era"], c["policy"], c["threshold"], acc])
        col2 = W.VBox([c["ncpus"], c["host_cpus"], c["lazy_formula"], c["lazy_max"], self.lazy_note])
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
        for k in ("threshold", "ncpus", "host_cpus", "lazy_max", "workload", "platform", "duration", "seed"):
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
            purge_lock=c["purge_lock"].value, lazy_drop=c["lazy_drop"].value, lock_break=c["lock_break"].value,
            ncpus=int(c["ncpus"].value), host_cpus=c["host_cpus"].value,
            lazy_max_pages=None if c["lazy_formula"].value else int(round(c["lazy_max"].value)),
            workload=c["workload"].value, platform=c["platform"].value,
            duration_s=float(c["duration"].value), seed=c["seed"].value,
        )
        if isinstance(d.get("workload"), list):
            d["workload"] = tuple(d["workload"])
        return SimConfig(**d)

    # --------------------------------------------------------------- running and drawing
    def _simulate(self, cfg: SimConfig):
        from ..model import simulate

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
        self._set_status(_ok_html(f"running {run_label(cfg)} for {cfg.duration_s:g} simulated s…"))
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
        what = (f"{run_label(cfg)} · {r.platform.name} · {r.ncpus} CPUs · "
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
                                 label=run_label(res.config) + f" {res.config.resolved().ncpus}c"))
        del self.history[:-60]

    def _current_point(self):
        s = self.result.summary
        return dict(x=float(s.peak_lazy_ratio), y=float(s.purge_p99_ns) / 1e6,
                    label=run_label(self.result.config) + f" {self.result.config.resolved().ncpus}c")

    def panel_figure(self) -> Figure:
        """The panel's image: time series (left) and trade-off marker (right), fixed layout."""
        from ..plots import plot_timeseries

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
        from ..export import email_summary, export_figure, write_email
        from ..plots import plot_timeseries

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
        text = email_summary(res, title=f"vmlab explore: {run_label(res.config)} on "
                                        f"{res.config.resolved().platform.name}")
        paths.append(write_email(text, stem))
        self.exported = paths
        return paths


def explore(cfg: SimConfig | None = None, out_dir=None, **fields) -> ExplorePanel:
    """The explore panel (see the module doc). ``explore(kernel="5.0", ncpus=4, duration_s=4)``
    or ``explore(SimConfig(...))``; fields without a control (``ram_bytes``, ``nr_pages``,
    ``sample_interval_ns`` ...) are kept from there. ``out_dir``: where **Export** writes."""
    return ExplorePanel(cfg, out_dir=out_dir, **fields)
