"""Tick labels that a reader can read: no two labels on one axis overlap, in every standard figure
rendered at its export size (`vmlab.plots.FIGSIZE` at the 150 dpi of `export_figure`).

The standard set is what ``vmlab figures`` (`vmlab.figures.standard_figures`) and ``vmlab sweep``
(`vmlab.figures.sweep_outputs`) draw, produced here by their own code on a small, fast stress
sweep, captured at `export_figure` instead of written. Where a log axis spans about a decade with
one power of ten inside, matplotlib's formatter labels 2, 3, 4 and 6 x 10^n: ``3×10⁴`` ran into
``4×10⁴`` on the README's figure. Whether the small sweep hits that case depends on the model's
numbers, so a second test draws the trade-off over spans around it directly.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.transforms import Bbox

from vmlab import export as vmlab_export
from vmlab import figures as vmlab_figures
from vmlab.plots import FIGSIZE
from vmlab.sweep import load_cached

EXPORT_DPI = 150


def rendered(fig: Figure, dpi: int = EXPORT_DPI):
    """Draw ``fig`` at ``dpi`` on an Agg canvas; returns its renderer."""
    fig.set_dpi(dpi)
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    return canvas.get_renderer()


def _axes_of(fig: Figure):
    seen = []
    todo = list(fig.axes)
    while todo:
        ax = todo.pop()
        if ax not in seen:
            seen.append(ax)
            todo += list(getattr(ax, "child_axes", []))      # secondary axes (MiB)
    return seen


def drawn_labels(axis):
    """The visible, non-empty tick labels (major and minor) of ticks inside the view."""
    lo, hi = sorted(axis.get_view_interval())
    tol = 1e-9 * max(abs(lo), abs(hi), 1e-300)
    out = []
    for major in (True, False):
        ticks = axis.get_major_ticks() if major else axis.get_minor_ticks()
        locs = axis.get_majorticklocs() if major else axis.get_minorticklocs()
        for tick, loc in zip(ticks, locs):
            if not lo - tol <= loc <= hi + tol:
                continue
            for lab in (tick.label1, tick.label2):
                if lab.get_visible() and lab.get_text().strip():
                    out.append(lab)
    return out


def overlapping_labels(fig: Figure) -> list[str]:
    """'axis: "a" / "b"' for every pair of tick labels on one axis whose boxes overlap."""
    renderer = rendered(fig)
    bad = []
    for ax in _axes_of(fig):
        for name, axis in (("x", ax.xaxis), ("y", ax.yaxis)):
            labs = drawn_labels(axis)
            boxes = [lab.get_window_extent(renderer) for lab in labs]
            for i in range(len(labs)):
                for j in range(i + 1, len(labs)):
                    inter = Bbox.intersection(boxes[i], boxes[j])
                    if inter is not None and inter.width > 0.5 and inter.height > 0.5:
                        bad.append(f"{ax.get_label() or type(ax).__name__}.{name}: "
                                   f"{labs[i].get_text()!r} / {labs[j].get_text()!r}")
    return bad


@pytest.fixture(scope="module")
def standard_set(engine_warm, tmp_path_factory):
    """{stem: Figure} of `standard_figures` and `sweep_outputs` on a small stress sweep."""
    mp = pytest.MonkeyPatch()
    figs: dict[str, Figure] = {}

    def capture(fig, stem, *a, **k):
        figs[str(stem).rsplit("/", 1)[-1]] = fig
        return []

    try:
        mp.setattr(vmlab_export, "export_figure", capture)
        mp.setattr(vmlab_figures, "SEED_GRID_THRESHOLD", {"kernel": ["5.0+threshold"], "threshold_factor": [0.5, 2, 16],
                                                   "ncpus": [2, 8, 16], "lazy_max_pages": [None, 8192]})
        mp.setattr(vmlab_figures, "SEED_GRID_50", {"kernel": ["5.0"], "ncpus": [2, 8, 16],
                                                   "lazy_max_pages": [None, 8192]})
        mp.setattr(vmlab_figures, "SEED_SEEDS", 1)
        out = tmp_path_factory.mktemp("figures")
        vmlab_figures.standard_figures(out, workers=1, progress=False, duration_s=0.3)
        df = pd.DataFrame(list(load_cached(out / "sweep").values()))     # the same runs
        vmlab_figures.sweep_outputs(df, out / "sweep-figs", "sweep", email=False)
    finally:
        mp.undo()
    return figs


def test_the_standard_set_is_complete(standard_set):
    stems = {"tradeoff-purge", "tradeoff-lockwait", "heatmap-ncpus", "heatmap-lazymax",
             "timeseries-5.0", "timeseries-5.0+threshold", "timeseries-5.2", "latency-cdf"}
    assert {f"seed-threshold-{s}" for s in stems} | {"sweep-tradeoff-purge", "sweep-tradeoff-lockwait",
                                                     "sweep-heatmap"} == set(standard_set)
    for fig in standard_set.values():
        assert tuple(fig.get_size_inches()) == pytest.approx(FIGSIZE)


@pytest.mark.parametrize("stem", ["seed-threshold-tradeoff-purge", "seed-threshold-tradeoff-lockwait",
                                  "seed-threshold-heatmap-ncpus", "seed-threshold-heatmap-lazymax",
                                  "seed-threshold-timeseries-5.0", "seed-threshold-timeseries-5.0+threshold",
                                  "seed-threshold-timeseries-5.2",
                                  "seed-threshold-latency-cdf", "sweep-tradeoff-purge",
                                  "sweep-tradeoff-lockwait", "sweep-heatmap"])
def test_no_tick_labels_overlap(standard_set, stem):
    fig = standard_set[stem]
    assert overlapping_labels(fig) == []
    _log_axes_have_two_labels(fig, stem)      # and each log axis still says where it is


def _log_axes_have_two_labels(fig, what):
    for ax in _axes_of(fig):
        for axis in (ax.xaxis, ax.yaxis):
            if axis.get_scale() in ("log", "functionlog"):
                assert len(drawn_labels(axis)) >= 2, (what, axis.get_view_interval())


@pytest.mark.parametrize("lo,hi", [(1.3e4, 5e5),      # the README figure's x axis
                                   (1.5e4, 1.9e5), (2.6e3, 1.3e5), (1.2e4, 1.4e5), (5.5e3, 7e4),
                                   (9e3, 1.1e5), (1e3, 1e7)])
def test_log_axes_over_spans_near_one_decade(lo, hi):
    """plot_tradeoff on points spread over [lo, hi] pages (log: more than 10x) and as many ms."""
    from vmlab.plots import plot_tradeoff

    x = np.geomspace(lo, hi, 6)
    df = pd.DataFrame({"peak_lazy_pages": x, "purge_p99_ns": x * 1e2, "ncpus": [2, 2, 2, 8, 8, 8],
                       "threshold_factor": [0.5, 2, 16] * 2, "platform": "hikey960", "error": None})
    fig = plot_tradeoff(df)
    assert fig.axes[0].get_xscale() == "log"
    assert overlapping_labels(fig) == [], (lo, hi)
    _log_axes_have_two_labels(fig, (lo, hi))
