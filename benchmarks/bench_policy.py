"""Custom purge policies: the speed of a user function (`vmlab.purge_policy`) against the built-in.

A user policy is a numba C callback the engine calls after every purge-list entry (it cannot run
ahead of other tasks' events, since it may read the number of waiters), so it costs an indirect
call per entry and more events. Measured on runs where the policy is asked often: 5.0+threshold
stress on hikey960, 8 CPUs, and 5.2 fix_size on 4 CPUs, the built-in and an identical user
function alternated in this process. Prints, last::

    RESULT custom_policy_speed_ratio=<float>      (ops/s of the user function over the built-in; goal >= 0.5)

Run: ``.venv/bin/python benchmarks/bench_policy.py [--quick]``.
"""
from __future__ import annotations

import argparse
import statistics
import warnings

warnings.simplefilter("ignore", FutureWarning)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    from vmlab import SimConfig, purge_policy, simulate

    @purge_policy
    def threshold_2x(lazy_nr, lazy_max, done, left, waiters, hold_ns, ncpus):
        return lazy_nr < 2 * lazy_max

    reps = 1 if args.quick else 3
    cases = [("5.0+threshold", dict(platform="hikey960", ncpus=8, workload="stress", duration_s=2.0 if args.quick else 4.0)),
             ("5.2", dict(platform="hikey960", ncpus=4, workload="fix_size", duration_s=0.5 if args.quick else 1.0))]
    ratios = []
    for kernel, kw in cases:
        rates = {"built-in": [], "custom": []}
        simulate(SimConfig.for_kernel(kernel, policy=threshold_2x, **{**kw, "duration_s": 0.01}))  # compile
        for _ in range(reps):
            for name, pol in (("built-in", "threshold"), ("custom", threshold_2x)):
                r = simulate(SimConfig.for_kernel(kernel, policy=pol, **kw))
                rates[name].append(r.summary.ops / r.summary.wall_s)
        b, c = statistics.median(rates["built-in"]), statistics.median(rates["custom"])
        ratios.append(c / b)
        print(f"{kernel} {kw['workload']} {kw['ncpus']} CPUs: built-in {b / 1e6:.2f} M ops/s, "
              f"user function {c / 1e6:.2f} M ops/s, ratio {c / b:.3f}")
    print(f"RESULT custom_policy_speed_ratio={min(ratios):.3f}")


if __name__ == "__main__":
    main()
