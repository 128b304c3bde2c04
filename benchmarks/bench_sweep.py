"""Sweep throughput and the main job's time.

Prints what it measures and, last, exactly::

    RESULT runs_per_min_1=<f> runs_per_min_2=<f> figures_cold_s=<f> figures_warm_s=<f>

* ``runs_per_min_1/2``: a 24-run sweep (hikey960 stress, 5.1, 1 simulated second per run) with 1 and
  2 local worker processes, cache empty (worker start-up included).
* ``figures_cold_s``: ``vmlab figures --out <empty dir>`` as a subprocess (the numba cache is warm:
  compiling once per machine is `bench_engine.py`'s cold compile).
* ``figures_warm_s``: the same command again, every run served from the sweep cache.

Run: ``.venv/bin/python benchmarks/bench_sweep.py [--quick]``.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="short runs, skip the figures timing")
    args = ap.parse_args()

    from vmlab import SimConfig, simulate, sweep

    simulate(SimConfig(workload="fix_size", duration_s=0.001))  # numba cache warm
    base = SimConfig.for_kernel("5.1", platform="hikey960", workload="stress",
                                duration_s=0.2 if args.quick else 1.0)
    grid = {"threshold_factor": [0.5, 1, 2, 4, 8, 16], "ncpus": [2, 4, 8, 16]}
    rates = {}
    for w in (1, 2):
        with tempfile.TemporaryDirectory() as d:
            t0 = time.perf_counter()
            df = sweep(base, grid, name="bench", out=d, workers=w, progress=False)
            dt = time.perf_counter() - t0
        rates[w] = len(df) / dt * 60
        print(f"sweep of {len(df)} runs, {w} worker(s): {dt:.1f} s, {rates[w]:.0f} runs/min")

    cold = warm = float("nan")
    if not args.quick:
        with tempfile.TemporaryDirectory() as d:
            cmd = [sys.executable, "-m", "vmlab", "figures", "--out", d, "--quiet"]
            t0 = time.perf_counter()
            subprocess.run(cmd, check=True, capture_output=True)
            cold = time.perf_counter() - t0
            t0 = time.perf_counter()
            subprocess.run(cmd, check=True, capture_output=True)
            warm = time.perf_counter() - t0
            n = len(list(Path(d).glob("*")))
        print(f"vmlab figures: cold {cold:.1f} s, warm {warm:.1f} s ({n} files)")
    print(f"RESULT runs_per_min_1={rates[1]:.1f} runs_per_min_2={rates[2]:.1f} "
          f"figures_cold_s={cold:.1f} figures_warm_s={warm:.1f}")


if __name__ == "__main__":
    main()
