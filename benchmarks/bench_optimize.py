"""Optimisation throughput: trials per minute of `vmlab.optimize` with 1 and 2 local workers.

Prints what it measures and, last, exactly::

    RESULT trials_per_min_1=<f> trials_per_min_2=<f> trials_per_min_cached=<f>

* ``trials_per_min_1/2``: an NSGA-II search of threshold_factor x lazy_max_pages on hikey960 stress
  (5.0+threshold, 1 simulated s per run, 4 and 8 CPUs as ``by`` groups, 24 trials each, batches of
  8) with an empty run cache and a new study, worker start-up included; the numba cache is warm.
* ``trials_per_min_cached``: the same search again: the study is complete and every run cached,
  so this is the cost of loading the study and the cached rows.

Run: ``.venv/bin/python benchmarks/bench_optimize.py [--quick]``. Benchmarks print, never assert.
"""
from __future__ import annotations

import argparse
import tempfile
import time


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="8 trials per group, 0.05 simulated s per run")
    args = ap.parse_args()

    from vmlab import SimConfig, simulate
    from vmlab.optimize import optimize

    simulate(SimConfig(workload="fix_size", duration_s=0.001))  # numba cache warm
    base = SimConfig.for_kernel("5.0+threshold", platform="hikey960", workload="stress",
                                duration_s=0.05 if args.quick else 1.0)
    n_trials = 8 if args.quick else 24
    kw = dict(space={"threshold_factor": (0.5, 16.0), "lazy_max_pages": (4096, 131072)}, n_trials=n_trials,
              seed=0, by={"ncpus": [4, 8]}, batch_size=8, progress=False)
    rates = {}
    with tempfile.TemporaryDirectory() as d:
        for w in (1, 2):
            t0 = time.perf_counter()
            df = optimize(base, workers=w, out=f"{d}/w{w}", **kw)
            dt = time.perf_counter() - t0
            rates[w] = len(df) / dt * 60
            print(f"{len(df)} trials, {w} worker(s): {dt:.1f} s, {rates[w]:.0f} trials/min, "
                  f"{int(df.pareto.sum())} on the fronts")
        t0 = time.perf_counter()
        df = optimize(base, workers=1, out=f"{d}/w1", **kw)
        dt = time.perf_counter() - t0
        rates["cached"] = len(df) / dt * 60
        print(f"again from the cache: {dt:.2f} s, {rates['cached']:.0f} trials/min")
    print(f"RESULT trials_per_min_1={rates[1]:.1f} trials_per_min_2={rates[2]:.1f} "
          f"trials_per_min_cached={rates['cached']:.1f}")


if __name__ == "__main__":
    main()
