"""The standard figure sets: for any sweep (``vmlab sweep``), an optimisation (``vmlab optimize``)
and the seed's (``vmlab figures``).

`standard_figures` is the main job (``make figures``). It reproduces the seed's argument on
hikey960 under test_vmalloc.sh stress:

* a sweep of the threshold patch's factor on the 5.0 list allocator ("5.0+threshold", the seed's
  experiment) x CPU count x lazy_max_pages, and 5.0 (always-resched) at the same CPU counts,
  cached under ``<data>/sweeps/seed-threshold/``;
* the trade-off figures (memory growth against purge latency and against the lock wait that
  allocators feel; lazy_max_pages from the kernel formula), heatmaps of peak vmap_lazy_nr over
  threshold x CPUs and of purge p99 over threshold x lazy_max_pages (8 CPUs), the time series of
  5.0, 5.0+threshold and 5.2 (mainline's first kernel with the threshold, on the free tree) on 8
  CPUs and their latency distributions;
* ``seed-threshold.txt``, the plain-text summary for the mailing list.

The figures go to ``<data>/figures/seed-threshold/`` as PNG, SVG and PDF (``<data>`` is
``$VMLAB_DATA_DIR`` or the checkout's ``data/``; ``$VMLAB_FIGURES_DIR/seed-threshold/`` when that is
set: `vmlab.paths`). With ``out``, everything goes under ``out`` (the cache in ``out/sweep/``).
"""
from __future__ import annotations

import shlex
from pathlib import Path

import pandas as pd

from .config import SimConfig
from .paths import figures_dir, sweeps_dir
from .sweep import sweep

#: The seed's sweep: hikey960, stress, 10 simulated seconds per run (the list era purges first after
#: ~0.5 s and settles after a few seconds; 2 s left runs without a purge).
SEED_BASE = dict(platform="hikey960", workload="stress", duration_s=10.0)
SEED_GRID_THRESHOLD = {"kernel": ["5.0+threshold"], "threshold_factor": [0.5, 1, 2, 4, 8, 16], "ncpus": [2, 4, 8, 16],
                "lazy_max_pages": [None, 8192, 32768]}
SEED_GRID_50 = {"kernel": ["5.0"], "ncpus": [2, 4, 8, 16], "lazy_max_pages": [None, 8192, 32768]}
#: Older name of SEED_GRID_THRESHOLD (it said "5.1", a kernel that never had the threshold).
SEED_GRID_51 = SEED_GRID_THRESHOLD
#: The time series and latency figures: the seed's pair, and what mainline shipped.
SEED_TIMESERIES_KERNELS = ("5.0", "5.0+threshold", "5.2")
SEED_SEEDS = 2
TIMESERIES_S = 20.0


def _varying(df: pd.DataFrame, candidates) -> list[str]:
    return [c for c in candidates if c in df.columns and df[c].astype(str).nunique() > 1]


def sweep_outputs(df: pd.DataFrame, fig_dir: Path, name: str, command: str | None = None,
                  email: bool = True) -> list[Path]:
    """The figures and email text of one sweep: trade-off, heatmap, email. Returns the paths."""
    import matplotlib
    matplotlib.use("Agg", force=False)
    from .export import email_summary, export_figure, write_email
    from .plots import plot_heatmap, plot_tradeoff

    fig_dir = Path(fig_dir)
    fig_dir.mkdir(parents=True, exist_ok=True)
    ok = df[df.error.isna()] if "error" in df.columns else df
    meta = {"sweep": name}
    paths: list[Path] = []
    if len(ok):
        vary = _varying(ok, ("ncpus", "kernel", "policy", "lazy_max_pages_cfg", "platform", "workload"))
        group = vary[0] if vary else "ncpus"
        label = "threshold_factor" if "threshold_factor" in _varying(ok, ("threshold_factor",)) else None
        for y, stem in (("purge_p99_ns", "tradeoff-purge"), ("lock_wait_max_ns", "tradeoff-lockwait")):
            fig = plot_tradeoff(ok, x="peak_lazy_pages", y=y, group=group, label=label)
            paths += export_figure(fig, fig_dir / f"{name}-{stem}", metadata=meta)
        axes = _varying(ok, ("threshold_factor", "ncpus", "lazy_max_pages_cfg", "kernel", "policy"))
        if len(axes) >= 2:
            fig = plot_heatmap(ok, x=axes[0], y=axes[1], value="peak_lazy_ratio")
            paths += export_figure(fig, fig_dir / f"{name}-heatmap", metadata=meta)
    if email:
        text = email_summary(df, command=command, title=f"vmlab sweep {name}")
        paths.append(write_email(text, fig_dir / name))
    return paths


def optimize_outputs(df: pd.DataFrame, fig_dir: Path, name: str, command: str | None = None) -> list[Path]:
    """The files of one `vmlab.optimize` run: ``<name>-trials.parquet`` and ``.csv`` (one row per
    trial), the Pareto figure ``<name>-pareto`` (PNG, SVG, PDF) and the email text ``<name>.txt``
    (`vmlab.export.optimize_email`). Returns the paths."""
    import matplotlib
    matplotlib.use("Agg", force=False)
    from .export import export_figure, optimize_email, write_email
    from .plots import plot_pareto

    fig_dir = Path(fig_dir)
    fig_dir.mkdir(parents=True, exist_ok=True)
    paths = [fig_dir / f"{name}-trials.parquet", fig_dir / f"{name}-trials.csv"]
    df.to_parquet(paths[0], index=False)
    df.to_csv(paths[1], index=False)
    paths += export_figure(plot_pareto(df), fig_dir / f"{name}-pareto", metadata={"optimize": name})
    paths.append(write_email(optimize_email(df, command=command), fig_dir / name))
    return paths


def standard_figures(out: str | Path | None = None, workers: int | None = None,
                     progress: bool = True, duration_s: float | None = None) -> list[Path]:
    """The main job: the seed's figure set. Returns the written paths."""
    import matplotlib
    matplotlib.use("Agg", force=False)
    from .export import email_summary, export_figure, write_email
    from .model import simulate
    from .plots import plot_heatmap, plot_latency_cdf, plot_timeseries, plot_tradeoff

    name = "seed-threshold"
    base_kw = dict(SEED_BASE)
    if duration_s is not None:
        base_kw["duration_s"] = duration_s
    base = SimConfig(**base_kw)
    sweep_dir = sweeps_dir(name) if out is None else Path(out) / "sweep"
    fig_dir = figures_dir(name, out)
    command = "vmlab figures" + (f" --out {shlex.quote(str(out))}" if out is not None else "") \
        + (f" --duration {duration_s:g}" if duration_s is not None else "")
    kw = dict(seeds=SEED_SEEDS, name=name, out=sweep_dir, workers=workers, progress=progress)
    df = pd.concat([sweep(base, SEED_GRID_THRESHOLD, **kw), sweep(base, SEED_GRID_50, **kw)],
                   ignore_index=True)
    ok = df[df.error.isna()]
    formula = ok[ok.lazy_max_pages_cfg.isna()]
    meta = {"sweep": name}
    paths: list[Path] = []
    # the mission's figure: memory growth against purge latency and allocator lock wait, per CPU
    # count, 5.0 against the threshold patch's factors, lazy_max_pages from the kernel formula
    for y, stem in (("purge_p99_ns", "tradeoff-purge"), ("lock_wait_max_ns", "tradeoff-lockwait")):
        fig = plot_tradeoff(formula, x="peak_lazy_pages", y=y, group="ncpus", label="threshold_factor")
        paths += export_figure(fig, fig_dir / f"{name}-{stem}", metadata=meta)
    thr = ok[ok.kernel == "5.0+threshold"]
    fig = plot_heatmap(thr[thr.lazy_max_pages_cfg.isna()], x="threshold_factor", y="ncpus",
                       value="peak_lazy_ratio")
    paths += export_figure(fig, fig_dir / f"{name}-heatmap-ncpus", metadata=meta)
    fig = plot_heatmap(thr[thr.ncpus == 8].assign(lazy_max_pages=thr.lazy_max_pages), x="threshold_factor",
                       y="lazy_max_pages", value="purge_p99_ns")
    paths += export_figure(fig, fig_dir / f"{name}-heatmap-lazymax", metadata=meta)

    # the seed's pair and mainline's 5.2 side by side on the seed's board: 8 CPUs, kernel formula
    results = {}
    for k in SEED_TIMESERIES_KERNELS:
        cfg = SimConfig.for_kernel(k, platform="hikey960", ncpus=8, workload="stress",
                                   duration_s=duration_s or TIMESERIES_S)
        results[k] = simulate(cfg)
        fig = plot_timeseries(results[k])
        paths += export_figure(fig, fig_dir / f"{name}-timeseries-{k}", metadata={"config": repr(cfg)})
    fig = plot_latency_cdf(list(results.values()), labels=list(results))
    paths += export_figure(fig, fig_dir / f"{name}-latency-cdf", metadata={"sweep": name})
    text = email_summary(df, command=command, title="vmlab: the purge threshold on hikey960 stress")
    paths.append(write_email(text, fig_dir / name))
    return paths

