"""The ``vmlab`` command (also ``python -m vmlab``).

* ``vmlab run [--kernel 5.0] [--platform hikey960] [--ncpus 8] [--policy ...] [--json]``: one run,
  its summary printed.
* ``vmlab figures``: the main job. For now it runs the seed's comparison (hikey960 stress,
  for_kernel 5.0 against 5.1) and prints the two summaries side by side; the sweep and figure set
  come with the figures issue.
* ``vmlab lab``: JupyterLab on ``notebooks/``, bound to 127.0.0.1 with a token.

Bad options give a one-line error naming the option, and exit code 2.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

from .config import ALLOCATORS, FLUSH_RANGES, KERNELS, POLICIES, PREEMPTS, PURGE_MODES, SimConfig
from .platforms import PLATFORMS


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit code 2, no usage dump
        self.exit(2, f"vmlab: error: {message}\n")


def _config_from_args(a) -> SimConfig:
    fields = {}
    for name in ("platform", "ncpus", "policy", "threshold_factor", "purge_mode", "allocator",
                 "flush_range", "preempt", "lazy_max_pages", "duration_s", "seed", "nr_threads",
                 "test_loop_count", "test_repeat_count", "nr_pages", "ram_bytes"):
        v = getattr(a, name, None)
        if v is not None:
            fields[name] = v
    if a.workload is not None:
        names = [w for w in a.workload.split(",") if w]
        fields["workload"] = names[0] if len(names) == 1 else tuple(names)
    if a.kernel:
        return SimConfig.for_kernel(a.kernel, **fields)
    return SimConfig(**fields)


def _summary_lines(summary) -> list[str]:
    out = []
    for k, v in summary.items():
        if isinstance(v, float) and not math.isnan(v) and k.endswith("_ns"):
            out.append(f"{k:24s} {v:>16,.0f}   ({v / 1e6:.3f} ms)")
        elif isinstance(v, float):
            out.append(f"{k:24s} {v:>16.4g}")
        else:
            out.append(f"{k:24s} {v!s:>16}")
    return out


def _jsonable(summary) -> dict:
    d = {}
    for k, v in summary.items():
        if isinstance(v, float) and math.isnan(v):
            v = None
        elif hasattr(v, "item"):
            v = v.item()
        d[k] = v
    return d


def cmd_run(a) -> int:
    from .simulate import simulate

    cfg = _config_from_args(a)
    res = simulate(cfg)
    if a.json:
        print(json.dumps({"config": cfg.to_dict(), "model_version": res.model_version,
                          "summary": _jsonable(res.summary)}, indent=2))
    else:
        print(f"# vmlab {res.model_version}: {cfg}")
        print("\n".join(_summary_lines(res.summary)))
    return 0


def cmd_figures(a) -> int:
    from .simulate import simulate

    rows = []
    for k in ("5.0", "5.1"):
        cfg = SimConfig.for_kernel(k, platform="hikey960", ncpus=8, workload="stress",
                                   duration_s=a.duration_s)
        r = simulate(cfg)
        rows.append((k, r.summary))
    print(f"hikey960, 8 CPUs, test_vmalloc.sh stress, {a.duration_s:g} s simulated")
    print(f"{'':24s} {'5.0 (always-resched)':>22s} {'5.1 (threshold 2x)':>22s}")
    for key in ("peak_lazy_pages", "lazy_max_pages", "peak_lazy_ratio", "purges", "purge_p99_ns",
                "purge_max_ns", "lock_wait_max_ns", "alloc_p99_ns", "ops", "oom"):
        vals = []
        for _, s in rows:
            v = s[key]
            vals.append(f"{v:,.2f}" if isinstance(v, float) else f"{v!s}")
        print(f"{key:24s} {vals[0]:>22s} {vals[1]:>22s}")
    return 0


def cmd_lab(a) -> int:
    import secrets
    import subprocess

    nb = Path(a.notebooks).resolve()
    token = secrets.token_hex(16)
    cmd = [sys.executable, "-m", "jupyter", "lab", "--ip=127.0.0.1", f"--port={a.port}",
           f"--IdentityProvider.token={token}", "--no-browser", f"--notebook-dir={nb}"]
    import os
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")
    print(f"JupyterLab on http://127.0.0.1:{a.port}/lab?token={token}")
    return subprocess.call(cmd)


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="vmlab", description="Model the Linux vmalloc lazy purge.")
    sub = p.add_subparsers(dest="cmd", required=True, parser_class=_Parser)

    r = sub.add_parser("run", help="one simulation; prints its summary")
    r.add_argument("--kernel", choices=list(KERNELS), help="take policy/allocator/flush/purge mode of this kernel")
    r.add_argument("--platform", choices=sorted(PLATFORMS))
    r.add_argument("--ncpus", type=int)
    r.add_argument("--policy", choices=POLICIES)
    r.add_argument("--threshold-factor", dest="threshold_factor", type=float)
    r.add_argument("--purge-mode", dest="purge_mode", choices=PURGE_MODES)
    r.add_argument("--allocator", choices=ALLOCATORS)
    r.add_argument("--flush-range", dest="flush_range", choices=FLUSH_RANGES)
    r.add_argument("--preempt", choices=PREEMPTS)
    r.add_argument("--lazy-max-pages", dest="lazy_max_pages", type=int)
    r.add_argument("--workload", help="a test_vmalloc.sh mode, a test name, or names joined by commas")
    r.add_argument("--nr-threads", dest="nr_threads", type=int)
    r.add_argument("--test-loop-count", dest="test_loop_count", type=int)
    r.add_argument("--test-repeat-count", dest="test_repeat_count", type=int)
    r.add_argument("--nr-pages", dest="nr_pages", type=int)
    r.add_argument("--ram-bytes", dest="ram_bytes", type=int)
    r.add_argument("--duration", dest="duration_s", type=float, help="simulated seconds")
    r.add_argument("--seed", type=int)
    r.add_argument("--json", action="store_true", help="print the config and summary as JSON")
    r.set_defaults(func=cmd_run)

    f = sub.add_parser("figures", help="the main job: the seed's 5.0 vs 5.1 comparison")
    f.add_argument("--duration", dest="duration_s", type=float, default=4.0, help="simulated seconds")
    f.set_defaults(func=cmd_figures)

    lab = sub.add_parser("lab", help="JupyterLab on notebooks/ (127.0.0.1, with a token)")
    lab.add_argument("--port", type=int, default=8888)
    lab.add_argument("--notebooks", default="notebooks")
    lab.set_defaults(func=cmd_lab)
    return p


def main(argv=None) -> int:
    p = build_parser()
    a = p.parse_args(argv)
    try:
        return a.func(a)
    except ValueError as e:  # SimConfig validation: names the field and the allowed values
        print(f"vmlab: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
