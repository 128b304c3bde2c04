"""What the panels share: the choices their controls offer, where files go, figure and message
helpers, the run summary table, and `_Panel` (display, status line, the **Export** box).

Also the notebook helpers `show` (a figure as an inline PNG) and `claim` (print a claim next to the
number that supports it).
"""
from __future__ import annotations

import gc
import html
import io
import re
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from ..config import KERNELS, SimConfig
from ..fields import FIELD
from ..paths import data_root, figures_dir, sweeps_dir  # noqa: F401 - re-exported
from ..platforms import PLATFORMS, get_platform
from ..frames import CUSTOM, MiB, fmt_ms, kernel_of, run_label

ERAS: tuple[str, ...] = tuple(KERNELS)          # "4.9", "5.0", "5.0+threshold", "5.1", "5.2", "5.11", "6.1"
#: SimConfig fields a kernel era fixes (the "kernel details" of the explore panel)
ERA_FIELDS = ("policy", "allocator", "flush_range", "purge_mode", "lock_split", "purge_lock", "lazy_drop",
              "lock_break", "test_set")
NCPUS = tuple(2 ** i for i in range(9))          # 1 .. 256
DURATIONS = (0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0)
THRESHOLDS = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0)
LAZY_MAX_CHOICES = (4096, 8192, 16384, 32768, 65536, 131072, 262144)

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
# data_root, figures_dir and sweeps_dir are `vmlab.paths`'s (re-exported by `vmlab.widgets`): the
# panels write where `vmlab.sweep`, `vmlab figures` and `vmlab sweep` do.


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


def _fmt_int(v) -> str:
    return "—" if v is None or not np.isfinite(v) else f"{int(round(float(v))):,}"


def _round3(v) -> float:
    """A log slider's value as its readout shows it (3 significant digits): 2**1.25 -> 2.38."""
    return float(f"{float(v):.3g}")


def threshold_slider(value: float, description: str = "threshold ×"):
    """The resched threshold factor control: a log2 slider from ×1/8 to ×64 in quarter steps."""
    import ipywidgets as W

    return W.FloatLogSlider(value=float(value), base=2, min=-3, max=6, step=0.25, description=description,
                            continuous_update=False, readout_format=".3g",
                            tooltip=FIELD["threshold_factor"].tooltip())


def field_control(name: str, value, **kw):
    """The control of one SimConfig field as the one table of the fields (`vmlab.fields`) describes
    it: its label as description and its help text as tooltip; a dropdown of its choices (with
    "auto" for None where allowed), a checkbox, an auto/yes/no dropdown, or a number box bounded by
    its range. ``kw`` (description, options, min, max, indent, ...) overrides."""
    import ipywidgets as W

    f = FIELD[name]
    kw = {"description": f.label, "tooltip": f.tooltip(), **kw}
    if f.widget == "dropdown" and f.allowed() is not None:
        opts = ([("auto", None)] if f.none_ok else []) + [(c, c) for c in f.allowed()]
        return W.Dropdown(**{"options": opts, "value": value, **kw})
    if f.widget == "checkbox":
        return W.Checkbox(value=bool(value), **kw)
    if f.widget == "tristate":
        return W.Dropdown(**{"options": [("auto", None), ("yes", True), ("no", False)], "value": value, **kw})
    lo, hi = f.bounds()
    if f.widget == "int":
        return W.BoundedIntText(**{"value": int(value), "min": lo, "max": hi, **kw})
    if f.widget == "float":
        return W.BoundedFloatText(**{"value": float(value), "min": lo, "max": hi, **kw})
    raise ValueError(f"{name}: no widget for a {f.widget!r} field")


def run_controls(cfg: SimConfig, thresholds: dict[str, str] | None = None,
                 description_width: str = "80px") -> dict[str, Any]:
    """The controls the explore and compare panels share, keyed as in ``panel.controls``.

    ``thresholds`` maps control names to descriptions of `threshold_slider`s (default one,
    ``threshold``); then ``ncpus`` (powers of two and the config's), ``workload``, ``platform``,
    ``duration`` (`DURATIONS` and the config's) and ``seed``, each starting at ``cfg``'s value.
    """
    import ipywidgets as W

    r = cfg.resolved()
    c: dict[str, Any] = {name: threshold_slider(cfg.threshold_factor, text)
                         for name, text in (thresholds or {"threshold": "threshold ×"}).items()}
    c["ncpus"] = W.SelectionSlider(options=sorted(set(NCPUS) | {r.ncpus}), value=r.ncpus,
                                   description="CPUs", continuous_update=False)
    c["workload"] = W.Dropdown(options=_workload_options(), value=_workload_value(cfg.workload),
                               description="workload")
    c["platform"] = W.Dropdown(options=sorted(PLATFORMS), value=r.platform.name, description="platform")
    dur = float(cfg.duration_s)
    c["duration"] = W.SelectionSlider(options=[(f"{d:g} s", d) for d in sorted(set(DURATIONS) | {dur})], value=dur,
                                      description="simulate", continuous_update=False)
    c["seed"] = W.IntText(value=int(cfg.seed), description="seed", continuous_update=False)
    for w in c.values():
        w.style.description_width = description_width
    return c


def _workload_options() -> list[tuple[str, str]]:
    from ..workloads import MODES, TEST_CASES

    return [(f"mode: {m}", m) for m in sorted(MODES, key=lambda m: m != "stress")] + \
        [(f"test: {t}", t) for t in TEST_CASES]


def _workload_value(workload) -> str:
    """The dropdown value of a workload: a mode, or a test's full name ("fix_size" too)."""
    from ..workloads import canonical_test

    w = workload if isinstance(workload, str) else workload[0]
    return w if w in dict((v, k) for k, v in _workload_options()) else (canonical_test(w) or w)


def era_of(cfg: SimConfig) -> str:
    """Deprecated: ``vmlab.frames.kernel_of(cfg, strict=False) or "custom"``."""
    warnings.warn("vmlab.widgets.era_of is deprecated; use vmlab.frames.kernel_of(cfg, strict=False) "
                  '(None for no era, where era_of said "custom")', DeprecationWarning, stacklevel=2)
    return _era(cfg)


def short_label(cfg: SimConfig) -> str:
    """Deprecated: `vmlab.frames.run_label` (the same text)."""
    warnings.warn("vmlab.widgets.short_label is deprecated; use vmlab.frames.run_label",
                  DeprecationWarning, stacklevel=2)
    return run_label(cfg)


def _era(cfg: SimConfig) -> str:
    """The explore panel's kernel choice of ``cfg``: its era (threshold factor ignored), else "custom"."""
    return kernel_of(cfg, strict=False) or CUSTOM


def run_stem(cfg: SimConfig) -> str:
    """A file-name stem describing a run: 5.0+threshold-hikey960-8cpu-stress-thr2-lmformula-2s-seed1."""
    r = cfg.resolved()
    era = _era(cfg)
    pol = era if era != CUSTOM else f"custom-{getattr(cfg.policy, 'name', cfg.policy)}"
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
               else f"— ({getattr(cfg.policy, 'name', cfg.policy)})")
        oom = (f"yes, at {float(s.oom_time_ns) / 1e9:.2f} s" if bool(s.oom) else "no")
        lm_src = "formula" if cfg.lazy_max_pages is None else "set"
        return {
            "run": run_label(cfg),
            "peak vmap_lazy_nr": f"{peak:,.0f} pages ({peak * ps / MiB:,.0f} MiB)",
            "peak / lazy_max_pages": f"{float(s.peak_lazy_ratio):.2f}×",
            "lazy_max_pages": f"{int(s.lazy_max_pages):,} ({lm_src})",
            "resched threshold": thr,
            "purges": _fmt_int(s.purges),
            "purge p50": fmt_ms(s.purge_p50_ns),
            "purge p99": fmt_ms(s.purge_p99_ns),
            "purge max": fmt_ms(s.purge_max_ns),
            "flush-range walk share": (f"{float(s.purge_walk_share) * 100:.1f} %"
                                       if np.isfinite(s.purge_walk_share) else "—"),
            "max vmap_area_lock wait": fmt_ms(s.lock_wait_max_ns),
            "max vmap_area_lock hold": fmt_ms(s.lock_hold_max_ns),
            "vmalloc p99": fmt_ms(s.alloc_p99_ns),
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

    def _make_outputs(self):
        """The status line, the image and the summary table every panel shows."""
        import ipywidgets as W

        self.status = W.HTML(value="")
        self.status.add_class("vmlab-status")
        self.image = W.Image(format="png", value=b"")
        self.image.add_class("vmlab-figure")
        self.image.layout.max_width = "100%"
        self.summary = W.HTML(value="")
        self.summary.add_class("vmlab-summary")
        self.summary_text = ""

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
