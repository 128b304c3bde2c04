"""The sweep panel: `sweep_panel` and `SweepPanel`, ranges of threshold factor, CPUs and
lazy_max_pages run through the cached `vmlab.sweep`, drawn as a trade-off plot and a heatmap, and
exported with the grid files that reproduce the sweep with ``vmlab sweep``.
"""
from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from ..config import KERNELS, SimConfig
from ..platforms import PLATFORMS
from ..frames import MiB
from ..grids import write_grid
from .base import (
    _CSS,
    DURATIONS,
    LAZY_MAX_CHOICES,
    NCPUS,
    THRESHOLDS,
    _error_html,
    _ok_html,
    _Panel,
    _workload_options,
    _workload_value,
    figure_png,
    figures_dir,
    message_of,
    sweeps_dir,
)


# ------------------------------------------------------------------------------------ sweep panel
class SweepPanel(_Panel):
    """Ranges of threshold factor, CPUs and lazy_max_pages through `vmlab.sweep`; see `sweep_panel`."""

    name = "sweep"

    def __init__(self, name: str = "panel", kernel: str = "5.0+threshold", platform: str = "hikey960",
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
        from ..sweep import sweep

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
        from ..frames import ok_rows

        return ok_rows(self.df)

    def tradeoff_figure(self, **fig_kw) -> Figure:
        from ..plots import plot_tradeoff

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
        from ..plots import plot_heatmap

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
        seeds = int(self.controls["seeds"].value)
        return [(grid["kernel"][0], write_grid(base, grid, name=self._name(), seeds=seeds))
                for base, grid in self.grids()]

    def export(self, out_dir=None) -> list[Path]:
        """Write the trade-off and heatmap figures, the email text and the grid files."""
        from ..export import email_summary, export_figure, write_email
        from ..paths import shown_path

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
            cmds.append(f"vmlab sweep {shown_path(p)}")   # no absolute path in the email
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
