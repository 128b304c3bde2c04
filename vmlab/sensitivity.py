"""Global sensitivity of one summary output to SimConfig fields (SALib over the sweep cache).

>>> from vmlab import SimConfig, sensitivity
>>> base = SimConfig.for_kernel("5.0+threshold", platform="hikey960", workload="stress",
...                             ncpus=8, duration_s=0.2)
>>> sensitivity(base, {"threshold_factor": (0.5, 16.0), "lazy_max_pages": (4096, 131072)},
...             output="peak_lazy_ratio", method="sobol", n=64)

The space is `vmlab.space`'s: each field is sampled uniformly on its scale (log for
threshold_factor, lazy_max_pages, durations...), integers rounded, choices in equal slots of
[0, 1]. SALib samples the unit cube (Saltelli's scheme for ``"sobol"``: ``n (D + 2)`` runs, ``n``
a power of 2; Morris trajectories for ``"morris"``: ``n (D + 1)`` runs), each point runs through
`vmlab.sweep` (cached under ``<out>/runs``, so a re-run with the same seed is free) and SALib
analyses the outputs.

Result, one row per field (index ``field``):

* ``"sobol"``: ``S1`` (first-order index: the share of the output's variance the field explains
  alone), ``ST`` (total index: with all its interactions; ~0 means the output ignores the field),
  and their 95 % bootstrap half-widths ``S1_conf``, ``ST_conf``.
* ``"morris"``: ``mu_star`` (mean absolute elementary effect, in the output's unit per unit-cube
  step), ``mu_star_conf``, ``sigma`` (spread of the effects: non-linearity or interactions), ``mu``.

`sensitivity_of` is the same with any function in place of the model (no runs), for tests
and for quick looks at a derived quantity.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from .config import SimConfig
from .space import Space, SpaceError

METHODS = ("sobol", "morris")


def _problem(sp: Space) -> dict:
    return {"num_vars": len(sp), "names": sp.names, "bounds": [[0.0, 1.0]] * len(sp)}


def _check_n(method: str, n) -> None:
    if method not in METHODS:
        raise SpaceError(f"method={method!r} is not known; allowed: {list(METHODS)}")
    if isinstance(n, bool) or not isinstance(n, int) or n < 2:
        raise SpaceError(f"n={n!r} must be an integer >= 2")
    if method == "sobol" and n & (n - 1):
        raise SpaceError(f"n={n} must be a power of 2 for method='sobol' (Sobol' sequence), e.g. "
                         f"{1 << max(1, (n - 1).bit_length())}")


def sensitivity_of(fn: Callable[[pd.DataFrame], object], space, method: str = "sobol", n: int = 64,
                   seed: int = 0, output: str = "output", base: SimConfig | None = None) -> pd.DataFrame:
    """Sensitivity indices of ``fn`` over ``space`` (see the module doc).

    ``fn`` gets a DataFrame, one column per field (values on the field's own scale) and one row
    per sample, and returns one number per row.
    """
    from SALib.analyze import morris as morris_a, sobol as sobol_a
    from SALib.sample import morris as morris_s, sobol as sobol_s

    _check_n(method, n)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise SpaceError(f"seed={seed!r} must be an integer >= 0")
    sp = space if isinstance(space, Space) else Space.parse(space, base)
    problem = _problem(sp)
    if method == "sobol":
        U = sobol_s.sample(problem, n, calc_second_order=False, seed=seed)
    else:
        U = morris_s.sample(problem, n, num_levels=4, seed=seed)
    X = pd.DataFrame([sp.from_unit(u) for u in U], columns=sp.names)
    Y = np.asarray(fn(X), dtype=float).reshape(-1)
    if len(Y) != len(X):
        raise ValueError(f"fn returned {len(Y)} values for {len(X)} samples")
    bad = ~np.isfinite(Y)
    if bad.any():
        first = X[bad].head(1).to_dict("records")[0]
        raise ValueError(f"{int(bad.sum())} of {len(Y)} samples have no {output} value (first: {first}); "
                         f"Sobol and Morris need every point: narrow the space or pick another output")
    if method == "sobol":
        # SALib's Sobol analysis seeds its bootstrap only `if seed:`, so 0 would not be reproducible
        r = sobol_a.analyze(problem, Y, calc_second_order=False, seed=seed + 1)
        df = pd.DataFrame({"S1": r["S1"], "S1_conf": r["S1_conf"], "ST": r["ST"], "ST_conf": r["ST_conf"]},
                          index=pd.Index(sp.names, name="field"))
    else:
        r = morris_a.analyze(problem, U, Y, num_levels=4, seed=seed)
        df = pd.DataFrame({"mu_star": r["mu_star"], "mu_star_conf": r["mu_star_conf"], "sigma": r["sigma"],
                           "mu": r["mu"]}, index=pd.Index(sp.names, name="field"))
    df.attrs.update(method=method, output=output, n=n, seed=seed, evaluations=len(Y), space=sp.to_json())
    return df


def sensitivity(base: SimConfig | None, space, output: str = "peak_lazy_ratio", method: str = "sobol",
                n: int = 64, seed: int = 0, workers: int | None = None, scheduler: str | None = None,
                client=None, name: str = "sensitivity", out: str | Path | None = None,
                progress: bool = True, seeds: int = 1) -> pd.DataFrame:
    """Sensitivity of the summary ``output`` of model runs (see the module doc). ``seeds`` runs per
    point (their median is the output); runs are cached under ``<out>/runs``
    (default ``data/sensitivity/<name>/``)."""
    from .optimize import OBJECTIVE_KEYS
    from .sweep import default_root, sweep

    base = base or SimConfig()
    if output not in OBJECTIVE_KEYS:
        raise SpaceError(f"output {output!r} is not a summary key; allowed: {list(OBJECTIVE_KEYS)}")
    _check_n(method, n)
    sp = Space.parse(space, base)
    out = Path(out) if out is not None else default_root() / "sensitivity" / name

    def model(X: pd.DataFrame):
        configs = [sp.config(base, rec) for rec in X.to_dict("records")]
        rows = sweep(configs=configs, seeds=seeds, name=name, out=out / "runs", workers=workers,
                     scheduler=scheduler, client=client, progress=progress)
        vals = pd.to_numeric(rows[output], errors="coerce").where(rows["error"].isna())
        return vals.groupby(np.arange(len(rows)) // seeds).median().to_numpy()

    df = sensitivity_of(model, sp, method=method, n=n, seed=seed, output=output)
    df.attrs.update(name=name, out=str(out), base=base.to_dict())
    return df


__all__ = ["sensitivity", "sensitivity_of", "METHODS"]
