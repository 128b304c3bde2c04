"""The model against a kernel recording: `compare` and `calibrate`.

``compare(kernel_run, result)`` puts the summary numbers both have side by side (with the ratio
model / kernel) and overlays vmap_lazy_nr over time.

``calibrate(kernel_run, platform)`` fits a platform's cost constants so that the model, run with the
recording's parameters, reproduces it. Each *knob* scales a group of constants by one factor and
has a designated target in the recording:

========================  =========================================================  =====================
knob                      constants                                                  target
========================  =========================================================  =====================
``alloc/free per op``     kmalloc_va_ns, alloc_base_ns, tree_level_ns, map_page_ns   test_vmalloc
                          (alloc path); lookup_ns, unmap_page_ns, lazy_add_ns (free  ``Summary:`` avg per
                          path) - the Summary gives their sum only, so the split is  test
                          kept
``per-area purge cost``   free_area_ns (the purge loop, per purge-list entry)        purge durations
``flush-range walk``      flush_walk_area_ns (<= 5.10 kernels only)                  purge durations
``full TLB flush``        tlb_flush_base_ns (the flush of everything, spans above    purge durations
                          the ceiling: big drains only)
``fixed purge cost``      tlb_flush_cpu_ns, purge_steal_ns (the IPI round and the    purge durations
                          list steal: every purge)
========================  =========================================================  =====================

The purge durations are compared cluster by cluster (`vmlab.clusters`: a purge is big when it purges
more than lazy_max_pages / 2 pages): the median duration of the big purges and that of the small
ones, kernel against model, each a target when the recording has at least ``MIN_CLUSTER`` of them
(the median of all purges lies between two clusters and compares nothing with nothing). A
recording with neither falls back to the median of all its purges.

The fit is Gauss-Newton in log space: one model run per knob (constants x2) gives the sensitivity of
every target to every knob; a knob is fitted only if doubling it moves its own target by at least
``min_sensitivity`` (in log) and it is not collinear with a knob already chosen; then a few
least-squares steps, each one model run per recording. Knobs that cannot be fitted keep their
values and the report says why (e.g. 6.1 merges lazy areas at insert, so a fix_size purge has one
purge-list entry and its duration says nothing about a per-entry cost). A handful of short runs:
seconds. ``report.attrs["recordings"]`` names the recordings fitted on (``tag/run``): they are not
evidence; `vmlab.validation.validate` holds the others out.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterable, Sequence

import numpy as np
import pandas as pd
from .clusters import CLUSTERS, MIN_CLUSTER, cluster_stats, drain_purges
from .model import simulate
from .platforms import Platform, get_platform
from .trace.shipped import recording_id

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["compare", "calibrate", "KNOBS", "Knob", "model_like", "purge_cost_regression"]


@dataclass(frozen=True)
class Knob:
    name: str
    constants: tuple[str, ...]
    target: str              #: "test" (Summary averages) or "purge" (median purge durations per cluster)
    description: str


ALLOC_COSTS = ("kmalloc_va_ns", "alloc_base_ns", "tree_level_ns", "map_page_ns")
FREE_COSTS = ("lookup_ns", "unmap_page_ns", "lazy_add_ns")
KNOBS: tuple[Knob, ...] = (
    Knob("alloc/free per op", ALLOC_COSTS + FREE_COSTS, "test",
         "vmalloc and vfree path costs; the Summary averages time alloc + free together, so one factor"),
    Knob("per-area purge cost", ("free_area_ns",), "purge",
         "the purge free loop, per purge-list entry (also charged by 5.11+ vfree's merge at insert)"),
    Knob("flush-range walk", ("flush_walk_area_ns",), "purge",
         "the <= 5.10 flush-range loop, per purge-list entry"),
    Knob("full TLB flush", ("tlb_flush_base_ns",), "purge",
         "the flush of everything, for a purge list that spans more than the ceiling: the big drains pay "
         "it, the small ones (a range flush, per page) do not"),
    Knob("fixed purge cost", ("tlb_flush_cpu_ns", "purge_steal_ns"), "purge",
         "the TLB flush's IPI round (per CPU, or once for a broadcast) and the list steal: what every "
         "purge pays, big or small, whatever its entries"),
)


# ---------------------------------------------------------------------------------- helpers
def _runs(kernel_run) -> list:
    if hasattr(kernel_run, "summary") and hasattr(kernel_run, "purges"):
        return [kernel_run]
    runs = list(kernel_run)
    if not runs:
        raise ValueError("calibrate needs at least one KernelRun")
    return runs


def model_like(kernel_run, platform=None, kernel: str | None = None, seed: int = 1, **overrides):
    """`simulate` of the model configured like a recording (its parameters, CPU count and kernel)."""
    return simulate(kernel_run.sim_config(platform, kernel=kernel, seed=seed, **overrides))


def _kernel_purges(run) -> pd.DataFrame:
    """The recording's non-empty purges the model can make (module load's vm_unmap_aliases left out)."""
    p = run.purges
    if p["purged"].notna().any():
        p = p[p["purged"] == 1]
    elif p["areas"].notna().any():
        p = p[p["areas"] > 0]
    return p[p["trigger"] != "unmap_aliases"]


def _model_purges(res) -> pd.DataFrame:
    p = res.purges
    return p[p["areas"] > 0]


def _test_means(tests: pd.DataFrame, complete_only: bool = False) -> dict[str, float]:
    if tests is None or not len(tests):
        return {}
    t = tests[tests["complete"]] if complete_only and "complete" in tests else tests
    return {str(k): float(v) for k, v in t.groupby("test")["avg_usec"].mean().items()}


def _purge_medians(run) -> dict[str, float]:
    """Median purge duration (ns) per cluster, ``purge_p50_ns[big]`` and ``purge_p50_ns[small]``
    (NaN for a cluster of fewer than MIN_CLUSTER purges), and ``purge_p50_ns`` over all of them."""
    d = drain_purges(run)
    out = {}
    for cl in CLUSTERS:
        x = d.loc[d["cluster"] == cl, "duration_ns"].dropna()
        out[f"purge_p50_ns[{cl}]"] = float(x.median()) if len(x) >= MIN_CLUSTER else math.nan
    x = d["duration_ns"].dropna()
    out["purge_p50_ns"] = float(x.median()) if len(x) else math.nan
    return out


def _targets(run) -> dict[str, float]:
    """The numbers of a recording that calibrate fits: Summary averages and the median purge
    duration of each cluster it has (of all purges when it has neither)."""
    out = {f"test_avg_usec[{k}]": v for k, v in _test_means(run.tests).items()}
    med = _purge_medians(run)
    per_cluster = {k: v for k, v in med.items() if k != "purge_p50_ns" and math.isfinite(v)}
    if per_cluster:
        out.update(per_cluster)
    elif math.isfinite(med["purge_p50_ns"]):
        out["purge_p50_ns"] = med["purge_p50_ns"]
    return out


def _model_targets(res) -> dict[str, float]:
    out = {f"test_avg_usec[{k}]": v for k, v in _test_means(res.tests, complete_only=True).items()}
    out.update({k: v for k, v in _purge_medians(res).items() if math.isfinite(v)})
    return out


#: the numbers calibrate's report shows as checks (not fitted): `vmlab.clusters.cluster_stats` ones
CHECKS = ("peak_lazy_ratio", "big_count", "big_pages_p50", "small_count", "small_pages_p50", "requeue_share")


def _checks(run_or_res) -> dict[str, float]:
    st = cluster_stats(run_or_res)
    st["peak_lazy_ratio"] = float(run_or_res.summary["peak_lazy_ratio"])
    return {k: float(st[k]) for k in CHECKS}


def _scaled(plat: Platform, knobs: Sequence[Knob], factors: Sequence[float]) -> Platform:
    changes = {}
    for kb, f in zip(knobs, factors):
        for c in kb.constants:
            changes[c] = max(1, int(round(getattr(plat, c) * f)))
    return plat.with_costs(**changes)


def _round_sig(x: float, sig: int = 3) -> int:
    if x <= 0:
        return 1
    e = int(math.floor(math.log10(x))) - sig + 1
    return max(1, int(round(x / 10 ** e) * 10 ** e)) if e > 0 else max(1, int(round(x)))


def purge_cost_regression(kernel_run) -> dict:
    """The recording's own purge cost: duration = a + b * vmap_lazy_nr drop (least squares over its
    non-empty purges, module load's left out). ``b`` (ns per page) is what a per-area cost would
    show; 2 pages per 1-page area."""
    p = _kernel_purges(kernel_run)[["duration_ns", "lazy_nr_delta"]].dropna()
    if len(p) < 3 or p["lazy_nr_delta"].nunique() < 2:
        return dict(intercept_ns=math.nan, ns_per_page=math.nan, r2=math.nan, n=len(p))
    x = p["lazy_nr_delta"].to_numpy(float)
    y = p["duration_ns"].to_numpy(float)
    b, a = np.polyfit(x, y, 1)
    r2 = 1.0 - ((y - (a + b * x)) ** 2).sum() / ((y - y.mean()) ** 2).sum()
    return dict(intercept_ns=float(a), ns_per_page=float(b), r2=float(r2), n=int(len(p)))


# ---------------------------------------------------------------------------------- calibrate
def calibrate(kernel_run, platform="qemu-tcg", *, kernel: str | None = None, knobs: Iterable[str] | None = None,
              seed: int = 1, max_iter: int = 4, tol: float = 0.03, min_sensitivity: float = 0.1,
              smooth: Sequence[float] = (0.97, 1.0, 1.03), name: str | None = None,
              verbose: bool = False) -> tuple[Platform, pd.DataFrame]:
    """Fit ``platform``'s cost constants to one recording (or a list of them).

    Returns ``(fitted platform, report)``. The platform is ``platform.with_costs(...)`` with the
    fitted constants (3 significant digits) and the name ``name`` (default ``<platform>-fit``).
    The report has one row per constant (``kind="constant"``: before, after, factor, status), per
    fitted target (``kind="target"``: kernel value, model before and after, ratios model/kernel;
    the purge targets are per cluster, ``purge_p50_ns[big]`` and ``purge_p50_ns[small]``) and per
    check that is not fitted (``kind="check"``: `CHECKS`, peak vmap_lazy_nr / lazy_max_pages and
    per cluster the count and median pages, and the re-queue share, see `vmlab.clusters`).
    ``report.attrs`` holds the recordings fitted on (``recordings``, ``tag/run``), the
    sensitivities, the iterations, the number of model runs and `purge_cost_regression` of each
    recording.

    The model's test time is not smooth in the costs (a few percent more or less can flip the
    workers' lock contention pattern and move it by 10-15 %), so every point is evaluated as the
    geometric mean over runs with all costs scaled by each factor of ``smooth``; sensitivities use
    a x2 step; a step is taken only if it lowers the squared log error (else halved, twice), and the
    best point is kept, so the fit never ends worse than it started.

    ``knobs`` restricts the fit to some of `KNOBS` (by name). Raises ``ValueError`` when a
    recording has nothing to fit (no Summary lines and no purge durations).
    """
    t_start = time.perf_counter()
    runs = _runs(kernel_run)
    base = get_platform(platform)
    chosen = [k for k in KNOBS if knobs is None or k.name in set(knobs)]
    if knobs is not None and len(chosen) != len(set(knobs)):
        raise ValueError(f"knobs: unknown name(s) {sorted(set(knobs) - {k.name for k in KNOBS})}; "
                         f"allowed: {[k.name for k in KNOBS]}")
    targets: list[tuple[int, str, float]] = []
    for i, r in enumerate(runs):
        t = _targets(r)
        if not t:
            raise ValueError(f"{r.name}: nothing to calibrate on (no test_vmalloc Summary lines and no purge "
                             f"durations in the recording)")
        targets += [(i, k, v) for k, v in t.items()]
    cfgs = [r.sim_config(base, kernel=kernel, seed=seed) for r in runs]
    smooth = tuple(smooth) or (1.0,)
    all_costs = tuple(sorted({c for kb in KNOBS for c in kb.constants}))
    nsims = 0

    def evaluate(logf: np.ndarray):
        """(residuals: log model/kernel per target, the unjittered results)."""
        nonlocal nsims
        plat = _scaled(base, chosen, np.exp(logf))
        acc = np.zeros(len(targets))
        center = None
        for j in smooth:
            p = plat if j == 1.0 else plat.with_costs(**{c: max(1, int(round(getattr(plat, c) * j))) for c in all_costs})
            results = []
            for c in cfgs:
                results.append(simulate(c.replace(platform=p)))
                nsims += 1
            if j == 1.0 or center is None:
                center = results
            for t, (i, k, v) in enumerate(targets):
                m = _model_targets(results[i]).get(k, math.nan)
                acc[t] += math.log(m / v) if m > 0 and v > 0 else math.nan
        return acc / len(smooth), center

    logf = np.zeros(len(chosen))
    r0, res0 = evaluate(logf)
    if np.isnan(r0).any():
        bad = [targets[j][1] for j in np.flatnonzero(np.isnan(r0))]
        raise ValueError(f"the model run gives no value for {bad} (tests not complete within the run, or no "
                         f"purge); check the recording's parameters and the platform")
    # sensitivities: d log(target) / d log(knob), from runs with the knob's constants doubled
    J = np.zeros((len(targets), len(chosen)))
    status: dict[str, str] = {}
    flush = {c.flush_range for c in cfgs}
    for j, kb in enumerate(chosen):
        if kb.name == "flush-range walk" and flush == {"at-insert"}:
            status[kb.name] = ("not used: this kernel keeps the flush range at insert (5.11+), so the model "
                               "has no flush-range walk to fit")
            continue
        e = np.zeros(len(chosen))
        e[j] = math.log(2.0)
        rj, _ = evaluate(e)
        J[:, j] = (rj - r0) / math.log(2.0)
    # choose identifiable knobs: strongest on their own target first, never collinear with a chosen one
    own = {kb.name: [t for t, (_, k, _) in enumerate(targets) if k.startswith("test_avg") == (kb.target == "test")]
           for kb in chosen}
    order = sorted(range(len(chosen)), key=lambda j: -max([abs(J[t, j]) for t in own[chosen[j].name]] or [0]))
    sel: list[int] = []
    for j in order:
        kb = chosen[j]
        if kb.name in status:
            continue
        rows = own[kb.name]
        if not rows:
            status[kb.name] = ("not fitted: the recording has no "
                               + ("Summary averages" if kb.target == "test" else "purge durations"))
            continue
        s = max(abs(J[t, j]) for t in rows)
        if s < min_sensitivity:
            what = "the test time" if kb.target == "test" else "the median purge durations"
            extra = ""
            if kb.name == "per-area purge cost":
                ents = [_model_purges(r)["entries"].median() for r in res0]
                extra = (f"; the model's purges have a median of {np.nanmedian(ents):g} purge-list "
                         f"entr{'y' if np.nanmedian(ents) == 1 else 'ies'} (lazy areas are merged at insert since 5.11)")
            status[kb.name] = (f"not identifiable: doubling it moves {what} by {100 * (2 ** s - 1):.1f} % "
                               f"(< {100 * (2 ** min_sensitivity - 1):.1f} %){extra}; kept")
            continue
        cand = sel + [j]
        sv = np.linalg.svd(J[:, cand], compute_uv=False)
        if len(cand) > len(targets) or sv[-1] < 0.05 * sv[0] or sv[-1] < 0.05:
            other = ", ".join(chosen[i].name for i in sel)
            status[kb.name] = f"not identifiable separately from {other} with these targets; kept"
            continue
        sel.append(j)

    def sse(r):
        return float(np.nansum(r ** 2))

    best = (sse(r0), logf.copy(), r0, res0)
    cur_r, cur_f = r0, logf.copy()
    it = 0
    for it in range(1, max_iter + 1):
        if not sel or np.nanmax(np.abs(cur_r)) < tol:
            it -= 1
            break
        step, *_ = np.linalg.lstsq(J[:, sel], -cur_r, rcond=None)
        step = np.clip(step, -math.log(20), math.log(20))
        improved = False
        for _ in range(3):
            trial = cur_f.copy()
            trial[sel] += step
            rt, rest = evaluate(trial)
            if not np.isnan(rt).any() and sse(rt) < sse(cur_r):
                cur_f, cur_r, improved = trial, rt, True
                if sse(rt) < best[0]:
                    best = (sse(rt), trial.copy(), rt, rest)
                break
            step = step / 2
        if not improved:
            break
    # the fitted platform, rounded, and one last evaluation with it
    factors = np.exp(best[1])
    changes = {}
    for j, kb in enumerate(chosen):
        if j in sel:
            for c in kb.constants:
                changes[c] = _round_sig(getattr(base, c) * factors[j])
    fitted = base.with_costs(name=name or f"{base.name}-fit", **changes)
    fit_f = np.array([math.log(getattr(fitted, kb.constants[0]) / getattr(base, kb.constants[0]))
                      for kb in chosen])
    moved = any(getattr(fitted, c) != getattr(base, c) for c in changes)
    r_final, final = evaluate(fit_f) if moved else (r0, res0)

    rows = []
    for j, kb in enumerate(chosen):
        st = "fitted" if j in sel else status.get(kb.name, "kept")
        for c in kb.constants:
            before, after = getattr(base, c), getattr(fitted, c)
            rows.append(dict(kind="constant", name=c, knob=kb.name, before=float(before), after=float(after),
                             factor=after / before if before else math.nan, status=st))
    for t, (i, k, v) in enumerate(targets):
        rb, ra = math.exp(r0[t]), math.exp(r_final[t])
        rows.append(dict(kind="target", name=k, run=runs[i].name, kernel=v, model_before=rb * v, model_after=ra * v,
                         ratio_before=rb, ratio_after=ra,
                         knob=", ".join(chosen[j].name for j in sel if abs(J[t, j]) >= min_sensitivity)))
    for i, rr in enumerate(runs):
        kc = _checks(rr)
        b = _checks(res0[i])
        a = _checks(final[i])
        for k, v in kc.items():
            rows.append(dict(kind="check", name=k, run=rr.name, kernel=v, model_before=b[k], model_after=a[k],
                             ratio_before=b[k] / v if v else math.nan, ratio_after=a[k] / v if v else math.nan,
                             status="not fitted"))
    cols = ["kind", "name", "knob", "run", "before", "after", "factor", "kernel", "model_before", "model_after",
            "ratio_before", "ratio_after", "status"]
    report = pd.DataFrame(rows)
    report = report[[c for c in cols if c in report.columns]]
    report.attrs.update({
        "recordings": [recording_id(r) for r in runs],
        "platform": base.name,
        "fitted_platform": fitted.name,
        "knobs_fitted": [chosen[j].name for j in sel],
        "sensitivity": {kb.name: {f"{runs[i].name}:{k}": round(float(J[t, j]), 3)
                                  for t, (i, k, _) in enumerate(targets)} for j, kb in enumerate(chosen)},
        "iterations": it,
        "model_runs": nsims,
        "smooth": smooth,
        "max_abs_log_ratio": float(np.nanmax(np.abs(r_final))) if len(r_final) else math.nan,
        "wall_s": time.perf_counter() - t_start,
        "purge_cost_regression": {rr.name: purge_cost_regression(rr) for rr in runs},
        "kernel": sorted({c.policy + "/" + c.flush_range + "/" + c.purge_mode for c in cfgs}),
    })
    if verbose:
        print(report.to_string())
    return fitted, report


# ---------------------------------------------------------------------------------- compare
#: (summary key, unit, note) of the comparison table, in order
_COMPARE_ROWS = (
    ("peak_lazy_pages", "pages", "kernel: the largest sample (ticks + purge/drain entry and exit)"),
    ("lazy_max_pages", "pages", ""),
    ("peak_lazy_ratio", "x", ""),
    ("purges", "count", "non-empty; the kernel's include module load's vm_unmap_aliases purges"),
    ("purges_drain", "count", "non-empty purges from drain_vmap_area_work"),
    ("purges_entry_gt_lazy_max", "count", "non-empty purges entered with vmap_lazy_nr > lazy_max_pages"),
    ("purge_p50_ns", "ns", "over both clusters (a midpoint when they are bimodal: read the big_/small_ rows); "
                           "kernel: wall time entry to return, preemption included"),
    ("purge_p99_ns", "ns", ""),
    ("purge_max_ns", "ns", ""),
    ("purge_pages_p50", "pages", "over both clusters; kernel: median vmap_lazy_nr drop (entry - exit); model: "
                                 "pages purged"),
    ("alloc_failures", "count", "kernel: purges from the allocation-failure path"),
    ("sim_ns", "ns", "run length: start to end marker / simulated time to the end of the tests"),
    ("peak_mem_bytes", "bytes", "kernel: MemTotal - MemFree; model: its memory model (different baselines)"),
)


#: the per-cluster rows of the comparison (`vmlab.clusters`): (stat, unit)
_CLUSTER_ROWS = (("big_count", "count"), ("big_pages_p50", "pages"), ("big_duration_p50_ns", "ns"),
                 ("small_count", "count"), ("small_pages_p50", "pages"), ("small_duration_p50_ns", "ns"),
                 ("requeue_share", "share"))


def _summary_extras(run_or_res, is_kernel: bool) -> dict:
    s = run_or_res.summary
    p = run_or_res.purges
    if is_kernel:
        ne = p[p["purged"] == 1] if p["purged"].notna().any() else p
        lmp = s["lazy_max_pages"]
    else:
        ne = p[p["areas"] > 0]
        lmp = s["lazy_max_pages"]
    out = {"purges_drain": float((ne["trigger"] == "drain").sum()),
           "purges_entry_gt_lazy_max": float((ne["lazy_nr_start"] > lmp).sum())}
    return out


def _cluster_rows(kernel_run, result) -> list[dict]:
    from .clusters import STATS

    kc, mc = cluster_stats(kernel_run), cluster_stats(result)
    rows = []
    for key, unit in _CLUSTER_ROWS:
        kv, mv = kc[key], mc[key]
        if math.isfinite(kv) and math.isfinite(mv):
            rows.append(dict(metric=key, kernel=kv, model=mv, ratio=mv / kv if kv else (1.0 if mv == kv else math.nan),
                             unit=unit, note=STATS[key][1]))
    return rows


def compare(kernel_run, result, ax=None, title: str | None = None,
            window: tuple[float, float] | None = None) -> tuple[pd.DataFrame, "Figure"]:
    """The summary numbers of a recording and a model run side by side, and vmap_lazy_nr overlaid.

    Returns ``(table, figure)``. The table (index ``metric``) has ``kernel``, ``model``, ``ratio``
    (model / kernel; 1 when both are 0), ``unit`` and ``note``, for every number both have (finite
    in both), the per-cluster numbers of `vmlab.clusters` (``big_*``, ``small_*``,
    ``requeue_share``), and the test_vmalloc averages per test. The figure plots both vmap_lazy_nr series
    (time from each run's start; `vmlab.plots.plot_overlay`), the lazy_max_pages and resched
    threshold of each run's summary (``resched_threshold_pages``), and the kernel's non-empty purges
    as ticks; ``window=(t0, t1)`` (seconds) zooms in.
    """
    rows = []
    ks, ms = kernel_run.summary, result.summary
    kx, mx = _summary_extras(kernel_run, True), _summary_extras(result, False)
    for key, unit, note in _COMPARE_ROWS:
        kv = kx.get(key, ks.get(key, math.nan) if key in ks.index else math.nan)
        mv = mx.get(key, ms.get(key, math.nan) if key in ms.index else math.nan)
        try:
            kv, mv = float(kv), float(mv)
        except (TypeError, ValueError):
            continue
        if not (math.isfinite(kv) and math.isfinite(mv)):
            continue
        ratio = mv / kv if kv else (1.0 if mv == kv else math.nan)
        rows.append(dict(metric=key, kernel=kv, model=mv, ratio=ratio, unit=unit, note=note))
    rows += _cluster_rows(kernel_run, result)
    kt, mt = _test_means(kernel_run.tests), _test_means(result.tests, complete_only=True)
    for k in sorted(set(kt) & set(mt)):
        rows.append(dict(metric=f"test_avg_usec[{k}]", kernel=kt[k], model=mt[k], ratio=mt[k] / kt[k], unit="us",
                         note="test_vmalloc Summary avg, mean over workers"))
    table = pd.DataFrame(rows, columns=["metric", "kernel", "model", "ratio", "unit", "note"]).set_index("metric")

    from .plots import plot_overlay

    kp = _kernel_purges(kernel_run)["start_ns"].dropna().to_numpy(float) / 1e9
    # the lines: each run's lazy_max_pages and resched threshold from its own summary
    fig = plot_overlay([result, kernel_run], [f"model ({_label(result)})", f"kernel ({kernel_run.name}, samples)"],
                       ax=ax, ids=["model", "kernel"], window=window,
                       title=title or f"vmap_lazy_nr: kernel {kernel_run.name} vs the model",
                       ticks=[(kp, f"kernel purges ({len(kp)})", "kernel_purges")] if len(kp) else ())
    (ax if ax is not None else fig.axes[0]).set_xlabel("time since the test started (s)")
    return table, fig


def _label(res) -> str:
    cfg = res.config
    plat = cfg.platform if isinstance(cfg.platform, str) else cfg.platform.name
    return f"{plat}, {cfg.ncpus} CPUs"
