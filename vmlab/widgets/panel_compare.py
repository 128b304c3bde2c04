"""The compare panel: `compare_panel` and `ComparePanel`, two kernel eras (or threshold factors)
on the same machine and workload, their vmap_lazy_nr overlaid next to their latency CDFs.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pandas as pd
from matplotlib.figure import Figure

from ..config import KERNELS, SimConfig
from .base import (
    _CSS,
    ERA_FIELDS,
    ERAS,
    LAZY_MAX_CHOICES,
    _error_html,
    _ok_html,
    _Panel,
    _round3,
    _table_html,
    _table_text,
    figure_png,
    figures_dir,
    message_of,
    run_controls,
    run_stem,
    run_label,
    summary_frame,
)
from ..plots import plot_overlay

COMPARE_DEFAULTS = dict(a="5.0", b="5.0+threshold", platform="hikey960", ncpus=8, workload="stress",
                        duration_s=4.0, seed=1)


# ------------------------------------------------------------------------------------ compare panel
class ComparePanel(_Panel):
    """Two eras or threshold factors on one machine and workload; see `compare_panel`."""

    name = "compare"
    KINDS = {"vmalloc + lock wait": ("alloc", "lock_wait"), "purge": ("purge",), "vfree": ("free",),
             "lock hold": ("lock_hold",)}

    def __init__(self, a: str = "5.0", b: str = "5.0+threshold", out_dir=None, dpi: float = 96, **fields):
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
        c.update(run_controls(self.base, {f"threshold_{s}": f"{s.upper()}: threshold ×" for s in "ab"}))
        lm_opts = [("kernel formula", 0)] + [(f"{v:,} pages", v) for v in
                                             sorted(set(LAZY_MAX_CHOICES) | {self.base.lazy_max_pages or 4096})]
        c["lazy_max"] = W.Dropdown(options=lm_opts, value=self.base.lazy_max_pages or 0, description="lazy_max")
        c["kinds"] = W.Dropdown(options=list(self.KINDS), value="vmalloc + lock wait", description="latency")
        for w in c.values():
            w.style.description_width = "110px"
        self.controls = c
        self._make_outputs()
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
        labs = [f"{s}: {run_label(r.config)}" for s, r in zip("AB", self.results)]
        return labs

    def _update(self):
        from ..model import simulate

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
        from ..plots import plot_latency_cdf

        fig = Figure(figsize=(10.5, 3.8))
        a1, a2 = fig.subplots(1, 2, width_ratios=[1.4, 1])
        fig.subplots_adjust(left=0.078, right=0.985, bottom=0.13, top=0.86, wspace=0.5)
        plot_overlay(self.results, self.labels(), ax=a1)
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
        self.status.value = _ok_html(f"A: {run_label(a.config)}, B: {run_label(b.config)} — model "
                                     f"{self.timings.get('simulate', 0):.2f} s, figure {self.timings['draw']:.2f} s")

    def export(self, out_dir=None) -> list[Path]:
        """Write the overlay and the latency CDFs (PNG, SVG, PDF) and the email text."""
        from ..export import email_summary, export_figure, write_email
        from ..plots import plot_latency_cdf

        if not self.results:
            raise RuntimeError("nothing to export: no run has succeeded yet")
        out = figures_dir(self.name, out_dir if out_dir is not None else self.out_dir)
        a, b = self.results
        stem = out / f"{run_stem(a.config)}--vs--{run_label(b.config).replace(' ', '').replace('×', 'thr')}"
        labs = self.labels()
        paths = export_figure(plot_overlay(self.results, labs), f"{stem}-timeseries")
        kinds = self.KINDS[self.controls["kinds"].value]
        paths += export_figure(plot_latency_cdf(self.results, kinds=kinds, labels=labs), f"{stem}-latency-cdf")
        text = email_summary(self.results, title=f"vmlab compare: {labs[0]} vs {labs[1]}")
        paths.append(write_email(text, stem))
        self.exported = paths
        return paths


def compare_panel(a: str = "5.0", b: str = "5.0+threshold", out_dir=None, **fields) -> ComparePanel:
    """The compare panel: kernel eras ``a`` and ``b`` (default 5.0 vs 5.0+threshold, the seed's experiment) on the same platform,
    CPUs, workload, duration and seed (any SimConfig field may be given)."""
    return ComparePanel(a, b, out_dir=out_dir, **fields)
