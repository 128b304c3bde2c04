"""Validation on held-out recordings: `validate` and `cluster_table`.

`vmlab.calibrate.calibrate` fits a platform on some recordings (``qemu-tcg``: `FITTED_ON`, smp2
fix_size only). `validate` runs the model configured like *every* recording and returns a table of
residuals, one row per recording x quantity, in which ``fitted_on`` marks the rows of a recording
the fit saw: only the other rows are evidence. The shipped recordings held out from the qemu-tcg
fit are smp2r3 and smp2r4 (the same 2-vCPU set-up recorded again), smp2 long_busy (another
workload), and smp8 long_busy. smp8 (8 vCPUs on the 2 host cores) is modelled overcommitted
(``SimConfig.host_cpus=2``, `vmlab.trace.TraceConfig.sim_config`); its one host constant,
qemu-tcg's ``host_slice_ns``, was fitted on smp8 fix_size alone (`fit_host_slice`), so smp8
fix_size is ``fitted_on`` and smp8 long_busy is evidence. ``outside_model`` is kept for a
recording whose guest had more vCPUs than host cores when the host's cores are unknown.
`overcommit_because` says, with numbers, why the model misses smp8 where it does (at the fitted
4 ms host slice every smp8 long_busy quantity is within 2x; a few are outside their tighter bands).

Every quantity has a band stated in `QUANTITIES` (and in the table's ``band`` column):

* ``ratio f``: agrees when 1/f <= model / kernel <= f;
* ``pages f``: agrees when |model - kernel| <= f x lazy_max_pages (for numbers of a few pages,
  whose ratio means nothing: 2 against 6 pages is a ratio of 3 and the same thing);
* ``share z``: agrees when |model - kernel| <= z binomial standard errors of the kernel's share,
  sqrt(p (1 - p) / n) with n its big drains and p clipped to [0.05, 0.95];
* ``count z``: the small drains' count, as the share of the big drains that are followed by one:
  |model - kernel| <= z sqrt(n p (1 - p)).

Event counts and the ``vmap_lazy_nr`` dynamics are kernel logic, so their bands are tight; the
durations are those of an emulated CPU on a shared host (data/kernel/README.md), so theirs are
wider: the three recordings of the same 2-vCPU set-up spread by up to 1.4x in test time and
fix_size purge durations (``kernel_spread`` shows each quantity's spread over the recordings of a
set-up).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .clusters import STATS, cluster_stats
from .model import simulate
from .platforms import QEMU_TCG_FITTED_ON, QEMU_TCG_HOST_FITTED_ON, get_platform
from .trace.shipped import recording_id

__all__ = ["Quantity", "QUANTITIES", "FITTED_ON", "QEMU_HOST_CORES", "recording_id", "outside_model", "validate",
           "cluster_table", "within_band", "band_text", "fit_host_slice", "HOST_FIT_QUANTITIES", "overcommit_because"]

#: recordings (tag/run under data/kernel/raw) that calibrate() fitted each preset on
FITTED_ON: dict[str, tuple[str, ...]] = {"qemu-tcg": tuple(QEMU_TCG_FITTED_ON) + tuple(QEMU_TCG_HOST_FITTED_ON)}
#: host cores the shipped QEMU TCG recordings ran on (data/kernel/README.md, "host: 2 cores")
QEMU_HOST_CORES = 2


@dataclass(frozen=True)
class Quantity:
    """One compared number: its unit, its band (kind and tolerance) and why the band is that."""

    name: str
    unit: str
    band: str          #: "ratio", "pages", "share" or "count" (see the module docstring)
    tol: float         #: the factor, the fraction of lazy_max_pages, or the standard errors
    kind: str          #: "logic" (kernel logic: counts, pages) or "timing" (emulated time)
    why: str


_TIMING = "emulated time; the same 2-vCPU set-up recorded three times spreads by up to 1.4x"
QUANTITIES: tuple[Quantity, ...] = (
    Quantity("peak_lazy_ratio", "x", "ratio", 1.05, "logic",
             "peak vmap_lazy_nr / lazy_max_pages: where a vfree queues the drain work"),
    Quantity("test_avg_usec", "us", "ratio", 1.5, "timing", "test_vmalloc Summary avg, mean over workers; " + _TIMING),
    Quantity("big_count", "count", "ratio", 1.10, "logic", "times vmap_lazy_nr crossed lazy_max_pages and was drained"),
    Quantity("big_pages_p50", "pages", "ratio", 1.02, "logic", "a big drain empties the purge list"),
    Quantity("big_duration_p50_ns", "ns", "ratio", 1.5, "timing", "a full TLB flush plus the IPI round; " + _TIMING),
    Quantity("big_lazy_nr_end_p50", "pages", "pages", 0.01, "logic",
             "what other CPUs freed during the drain: a few pages against lazy_max_pages"),
    Quantity("small_count", "count", "count", 2.0, "timing",
             "whether a vfree lands while a big drain runs (timing), as a binomial count"),
    Quantity("small_pages_p50", "pages", "pages", 0.01, "logic", "one or two vfrees' pages against lazy_max_pages"),
    Quantity("small_duration_p50_ns", "ns", "ratio", 1.5, "timing", "a range TLB flush plus the IPI round; " + _TIMING),
    Quantity("requeue_share", "share", "share", 2.0, "timing",
             "share of big drains followed at once by a small one (binomial)"),
    Quantity("requeue_share_all_running", "share", "share", 2.0, "timing",
             "the same while every test worker still runs (binomial)"),
)
_Q = {q.name: q for q in QUANTITIES}


def outside_model(kernel_run) -> str | None:
    """Why a recording is outside the model (None when it is not): a QEMU TCG guest with more vCPUs
    than host cores whose host core count is unknown (`TraceConfig.host_cpus` None), so the model
    cannot share its vCPUs the way the host did. The shipped recordings know theirs (2)."""
    c = kernel_run.config
    n = c.ncpus
    if c.platform == "qemu-tcg" and n and n > QEMU_HOST_CORES and not getattr(c, "host_cpus", None):
        return (f"{n} vCPUs on host cores that the recording does not name: the model cannot share them "
                f"(pass load_kernel_run(..., host_cpus=H))")
    return None


def _overcommitted(kernel_run) -> bool:
    c = kernel_run.config
    h = getattr(c, "host_cpus", None)
    return bool(h and c.ncpus and c.ncpus > h)


def _setup(kernel_run) -> tuple:
    c = kernel_run.config
    return (c.ncpus, str(c.workload), c.nr_threads, c.test_loop_count, c.test_repeat_count)


def within_band(q: Quantity, kernel: float, model: float, lazy_max_pages: float, n: float) -> bool:
    """Whether ``model`` is within ``q``'s band around ``kernel`` (False when either is NaN)."""
    if not (math.isfinite(kernel) and math.isfinite(model)):
        return False
    if q.band == "ratio":
        if kernel == 0:
            return model == 0
        r = model / kernel
        return 1 / q.tol <= r <= q.tol
    if q.band == "pages":
        return abs(model - kernel) <= q.tol * lazy_max_pages
    if q.band in ("share", "count"):
        return abs(model - kernel) <= _binomial_tol(q, kernel, n)
    raise ValueError(f"unknown band {q.band!r}")


def _binomial_tol(q: Quantity, kernel: float, n: float) -> float:
    if not n or not math.isfinite(n):
        return 0.0
    if q.band == "share":
        p = min(max(kernel, 0.05), 0.95)
        return q.tol * math.sqrt(p * (1 - p) / n)
    p = min(max(kernel / n, 0.05), 0.95)          # "count": kernel small drains over big ones
    return q.tol * math.sqrt(n * p * (1 - p))


def band_text(q: Quantity, lazy_max_pages: float, kernel: float, n: float) -> str:
    """The band of one row in words, e.g. ``x/÷1.5``, ``±164 pages``, ``±0.10 (2 s.e., n=73)``."""
    if q.band == "ratio":
        return f"x/÷{q.tol:g}"
    if q.band == "pages":
        return f"±{q.tol * lazy_max_pages:,.0f} pages ({q.tol:.0%} of lazy_max_pages)"
    tol = _binomial_tol(q, kernel, n)
    num = f"{tol:.2f}" if q.band == "share" else f"{tol:.1f}"
    return f"±{num} ({q.tol:g} s.e., n={n:.0f})"


def deviation_text(q: Quantity, kernel: float, model: float) -> str:
    """How far the model is from the kernel, in the band's terms: ``1.37x``, ``20 pages``, ``0.27``."""
    if not (math.isfinite(kernel) and math.isfinite(model)):
        return "no value"
    if q.band == "ratio":
        if kernel == 0 or model == 0:
            return f"{model - kernel:+,.3g} {q.unit}"
        r = model / kernel
        return f"{max(r, 1 / r):.2f}x ({'more' if r > 1 else 'less'})"
    if q.band == "pages":
        return f"{model - kernel:+,.0f} pages"
    if q.band == "share":
        return f"{model - kernel:+.2f}"
    return f"{model - kernel:+,.0f}"


def _values(run, is_kernel: bool) -> dict[str, float]:
    out = dict(cluster_stats(run))
    out["peak_lazy_ratio"] = float(run.summary["peak_lazy_ratio"])
    t = run.tests
    if t is not None and len(t) and not is_kernel:
        t = t[t["complete"]]
    out["test_avg_usec"] = float(t["avg_usec"].mean()) if t is not None and len(t) else math.nan
    return out


def validate(platform="qemu-tcg", runs=None, *, seed: int = 1, fitted_on=None, results: dict | None = None,
             sample_interval_ns: int = 50_000) -> pd.DataFrame:
    """The model configured like each recording, against it: the residual table.

    ``platform``: a preset name or a `Platform`. ``runs``: KernelRuns (a list, or a dict whose
    values are used), default every shipped recording (`vmlab.trace.shipped_runs`). ``fitted_on``:
    the recordings (``tag/run``, see `recording_id`) the platform was fitted on; default
    ``FITTED_ON[platform name]`` (none for a platform not listed there). ``results``: a dict, filled
    in place with ``recording -> model Result`` (a run already in it is reused; recordings with the
    same configuration share one run). ``sample_interval_ns``: the model's time-series period (ns),
    which bounds the error of its vmap_lazy_nr at the end of a drain that is not followed at once
    by another (a 1-page vfree adds 2 pages about every 15 us per CPU at qemu-tcg speed); it does not
    change the run.

    Returns one row per recording x `QUANTITIES`: ``recording``, ``quantity``, ``unit``,
    ``kernel``, ``model``, ``ratio`` (model / kernel; 1 when both are 0), ``deviation`` (in the
    band's terms), ``band`` (text), ``within_band``, ``fitted_on`` (the recording was fitted on:
    not evidence), ``outside_model`` (and ``note``, why), ``overcommitted`` (more vCPUs than host
    cores: modelled with ``host_cpus``), ``kind`` ("logic"/"timing"), ``n``
    (the kernel's big drains, the trials of the shares), ``lazy_max_pages`` and ``kernel_spread``
    (max / min of the kernel values over the recordings of the same set-up given; NaN for one).
    """
    from .trace import load_shipped, shipped_runs

    if runs is None:
        runs = [load_shipped(t, r) for t, r in shipped_runs()]
    elif isinstance(runs, dict):
        runs = list(runs.values())
    elif hasattr(runs, "purges"):
        runs = [runs]
    plat = get_platform(platform)
    fit = set(FITTED_ON.get(plat.name, ()) if fitted_on is None else fitted_on)
    results = {} if results is None else results
    by_cfg: dict = {}
    rows = []
    for kr in runs:
        rec = recording_id(kr)
        if rec not in results:
            # a preset by its name, so the run's config (and its email) says "qemu-tcg"
            cfg = kr.sim_config(platform if isinstance(platform, str) else plat, seed=seed,
                                sample_interval_ns=sample_interval_ns)
            if cfg not in by_cfg:
                by_cfg[cfg] = simulate(cfg)
            results[rec] = by_cfg[cfg]
        kv, mv = _values(kr, True), _values(results[rec], False)
        lmp = float(kr.summary["lazy_max_pages"])
        why_out = outside_model(kr)
        for q in QUANTITIES:
            k, m = kv[q.name], mv[q.name]
            n = kv["big_count_all_running"] if q.name == "requeue_share_all_running" else kv["big_count"]
            ratio = m / k if k else (1.0 if m == k else math.nan)
            rows.append(dict(recording=rec, quantity=q.name, unit=q.unit, kernel=k, model=m, ratio=ratio,
                             deviation=deviation_text(q, k, m), band=band_text(q, lmp, k, n),
                             within_band=within_band(q, k, m, lmp, n), fitted_on=rec in fit,
                             outside_model=why_out is not None, note=why_out or "", kind=q.kind, n=n,
                             lazy_max_pages=lmp, overcommitted=_overcommitted(kr), setup=_setup(kr)))
    table = pd.DataFrame(rows)
    spread = table.groupby(["setup", "quantity"])["kernel"].agg(
        lambda s: s.max() / s.min() if len(s) > 1 and s.min() > 0 else math.nan)
    table["kernel_spread"] = [spread[(s, q)] for s, q in zip(table["setup"], table["quantity"])]
    table = table.drop(columns="setup")
    table.attrs.update(platform=plat.name, fitted_on=sorted(fit), sample_interval_ns=int(sample_interval_ns),
                       seed=int(seed))
    return table


def cluster_table(table: pd.DataFrame) -> pd.DataFrame:
    """The per-cluster view of a `validate` table: one row per recording x cluster (big, small),
    kernel and model side by side: ``count``, ``pages_p50``, ``duration_p50_us``, and for the big
    drains ``lazy_nr_end_p50`` and the re-queue shares; plus ``agrees`` (every number of the row
    within its band), ``fitted_on`` and ``outside_model``."""
    rows = []
    for rec, t in table.groupby("recording", sort=False):
        t = t.set_index("quantity")
        for cl in ("big", "small"):
            r = dict(recording=rec, cluster=cl)
            names = [f"{cl}_count", f"{cl}_pages_p50", f"{cl}_duration_p50_ns"]
            if cl == "big":
                names += ["big_lazy_nr_end_p50", "requeue_share", "requeue_share_all_running"]
            for q in names:
                col = q.replace(f"{cl}_", "", 1) if q.startswith(cl) else q
                scale = 1e-3 if q.endswith("_ns") else 1.0
                col = col.replace("_ns", "_us")
                r[f"kernel_{col}"] = t.at[q, "kernel"] * scale
                r[f"model_{col}"] = t.at[q, "model"] * scale
            r["agrees"] = bool(t.loc[names, "within_band"].all())
            r["fitted_on"] = bool(t["fitted_on"].iat[0])
            r["outside_model"] = bool(t["outside_model"].iat[0])
            rows.append(r)
    return pd.DataFrame(rows).set_index(["recording", "cluster"])


# ------------------------------------------------------------------------- the host constant
#: what `fit_host_slice` compares: the big drains' count, the peak ratio, the median big drain, test time
HOST_FIT_QUANTITIES = ("big_count", "peak_lazy_ratio", "big_duration_p50_ns", "test_avg_usec")


def fit_host_slice(kernel_run, platform="qemu-tcg", grid_ns=(30_000, 100_000, 300_000, 1_000_000, 2_000_000,
                                                              3_000_000, 4_000_000, 6_000_000, 8_000_000,
                                                              12_000_000),
                   *, seed: int = 1, duration_s: float = 400.0) -> pd.DataFrame:
    """Fit ``host_slice_ns`` on one overcommitted recording (its `sim_config` sets ``host_cpus``):
    the model at every value of ``grid_ns``, one row each, with the model's `HOST_FIT_QUANTITIES`,
    the recording's (``kernel_<q>``) and ``loss`` = mean over them of log(model / kernel)^2 (a
    missing value counts as 100x off). ``attrs["best_ns"]`` is the grid's argmin. ``duration_s``:
    room for slow runs (a run that does not finish its tests reports its test time as at least
    that, ``tests_done`` False). About a second per value."""
    plat = get_platform(platform)
    if not kernel_run.config.host_cpus:
        raise ValueError(f"{recording_id(kernel_run)}: the host's cores are unknown (TraceConfig.host_cpus)")
    kv = _values(kernel_run, True)
    rows = []
    for S in grid_ns:
        cfg = kernel_run.sim_config(plat.with_costs(host_slice_ns=int(S)), seed=seed, duration_s=duration_s,
                                    sample_interval_ns=max(50_000, int(duration_s * 1e9 / 2_000_000) + 1))
        r = simulate(cfg)
        mv = _values(r, False)
        if not math.isfinite(mv["test_avg_usec"]) and r.tests is not None and len(r.tests):
            mv["test_avg_usec"] = float(r.tests["avg_usec"].mean())   # a lower bound: not finished
        logs = [math.log(mv[q] / kv[q]) if math.isfinite(mv[q]) and mv[q] > 0 else math.log(100)
                for q in HOST_FIT_QUANTITIES]
        rows.append(dict(host_slice_ns=int(S), loss=float(np.mean(np.square(logs))),
                         tests_done=bool(r.summary["tests_done"]),
                         **{q: mv[q] for q in HOST_FIT_QUANTITIES},
                         **{f"kernel_{q}": kv[q] for q in HOST_FIT_QUANTITIES}))
    out = pd.DataFrame(rows)
    out.attrs.update(best_ns=int(out.loc[out["loss"].idxmin(), "host_slice_ns"]), recording=recording_id(kernel_run))
    return out


def overcommit_because(table: pd.DataFrame, quantity: str, recording: str) -> str:
    """Why the overcommitted model misses ``quantity`` on ``recording`` (an smp8 row), in numbers."""
    row = table[(table["quantity"] == quantity) & (table["recording"] == recording)].iloc[0]
    k, m = row["kernel"], row["model"]
    host = ("the model's host runs the 8 vCPUs in a fixed round robin of 4 ms slices on 2 cores, where the "
            "recording's host (CFS, itself a VM with about 10 % steal, data/kernel/README.md) does not")
    if quantity == "peak_lazy_ratio":
        return (f"both pass 2x lazy_max_pages while the drain worker's vCPU is descheduled (kernel {k:.2f}x, "
                f"model {m:.2f}x); how far depends on how long it stays off: {host}")
    if quantity.endswith("duration_p50_ns"):
        return (f"kernel drains take {k / 1e6:.0f} ms of wall time, the model's {m / 1e6:.0f} ms: a purge is off its "
                f"vCPU 3 slices in 4 and its TLB flush waits for every other vCPU to run its IPI handler; {host}")
    return f"kernel {k:.4g}, model {m:.4g}: {host}"


assert set(STATS) <= set(_Q), set(STATS) - set(_Q)
