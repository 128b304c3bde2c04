"""Deprecated home of two figures, now `vmlab.plots`'s: ``overlay_timeseries`` is
`vmlab.plots.plot_overlay` (with a DeprecationWarning) and `plot_purge_breakdown` is
`vmlab.plots.plot_purge_breakdown` (the same function)."""
from __future__ import annotations

import warnings

from ..plots import plot_overlay, plot_purge_breakdown

__all__ = ["overlay_timeseries", "plot_purge_breakdown"]


def overlay_timeseries(results, labels=None, column: str = "vmap_lazy_nr", ax=None, title: str | None = None,
                       hlines=()):
    """Deprecated: `vmlab.plots.plot_overlay` (the same figure)."""
    warnings.warn("vmlab.widgets.overlay_timeseries is deprecated; use vmlab.plots.plot_overlay",
                  DeprecationWarning, stacklevel=2)
    return plot_overlay(results, labels, column=column, ax=ax, title=title, hlines=hlines)
