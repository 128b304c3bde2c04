"""Widget panels for JupyterLab: `explore`, `sweep_panel`, `compare_panel`, `policy_lab`.

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
* `policy_lab()` - a purge policy (built in, or a `vmlab.purge_policy` function passed as
  ``policy_lab(policies=[f])``) against the kernel's (5.0+threshold) on the same machine, workload
  and seed: both vmap_lazy_nr curves and a table (peak / lazy_max_pages, purge p99, longest lock
  wait); **Optimise** runs a small `vmlab.optimize` of the policy's knobs and lazy_max_pages (its
  progress bar in the panel; runs under ``<data>/optimize/<name>``) and draws the Pareto front;
  **Export** writes the figures, the trials and both email texts.

Nothing here needs a browser: each panel keeps its widgets in ``panel.controls``, its last image in
``panel.image.value`` (PNG bytes) and its table as text in ``panel.summary_text``. Setting a
control's ``value`` re-runs the panel exactly as moving it in JupyterLab does. A configuration the
model rejects (or a run that fails) shows the message inside the panel; the previous figure stays.

Where files go: ``out_dir`` when given; else ``$VMLAB_FIGURES_DIR/<dir>``; else
``<data>/figures/<dir>``, where ``<dir>`` is ``explore``, ``compare``, ``policy-lab`` or ``sweep-<name>`` and
``<data>`` is ``$VMLAB_DATA_DIR`` or the checkout's ``data/`` (`vmlab.paths`). Sweep
caches go to ``<data>/sweeps/<name>``. Exported figures are the standard email-sized ones (with
their provenance metadata), not the panel's screen image.

The package also holds the notebook helpers `show` (a figure as an inline PNG) and `claim` (print a
claim next to the number that supports it). The figures the panels draw are `vmlab.plots`'s
(``plot_overlay``, ``plot_purge_breakdown``, ...); ``overlay_timeseries`` (now
`vmlab.plots.plot_overlay`, with a DeprecationWarning) and `plot_purge_breakdown` still import from
here.

Modules: `base` (shared choices, places, helpers, the summary table, the `_Panel` base class),
`plotting` (the old names of two `vmlab.plots` figures), `panel_explore`, `panel_sweep` and
`panel_compare`, `panel_policy_lab` (one panel each). Every public name is re-exported here.
"""
from __future__ import annotations

# names marked noqa are public but, as in the single module this package replaces, not in __all__
from .base import (
    CUSTOM,  # noqa: F401
    DURATIONS,  # noqa: F401
    ERA_FIELDS,  # noqa: F401
    ERAS,  # noqa: F401
    LAZY_MAX_CHOICES,  # noqa: F401
    NCPUS,  # noqa: F401
    THRESHOLDS,  # noqa: F401
    claim,
    data_root,
    era_of,
    figure_png,
    figures_dir,
    gc_paused,
    message_of,  # noqa: F401
    run_stem,
    short_label,
    show,
    summary_frame,
    sweeps_dir,
)
from .panel_compare import COMPARE_DEFAULTS, ComparePanel, compare_panel  # noqa: F401
from .panel_explore import EXPLORE_DEFAULTS, ExplorePanel, explore  # noqa: F401
from .panel_policy_lab import POLICY_LAB_DEFAULTS, PolicyLabPanel, policy_lab, policy_label  # noqa: F401
from .panel_sweep import SweepPanel, sweep_panel
from .plotting import overlay_timeseries, plot_purge_breakdown

__all__ = ["explore", "sweep_panel", "compare_panel", "policy_lab", "ExplorePanel", "SweepPanel", "ComparePanel",
           "PolicyLabPanel",
           "overlay_timeseries", "plot_purge_breakdown", "summary_frame", "claim", "figures_dir",
           "sweeps_dir", "data_root", "figure_png", "show", "gc_paused", "era_of", "short_label", "run_stem"]
