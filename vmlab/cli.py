"""The ``vmlab`` command (also ``python -m vmlab``).

* ``vmlab run [--kernel 5.0] [--platform hikey960] [--ncpus 8] [--policy ...] [--json]``: one run,
  its summary printed.
* ``vmlab sweep GRID.toml [--out DIR] [--workers N] [--scheduler tcp://...]``: a sweep from a grid
  file (format: `vmlab.sweep.GRID_DOC`); writes the parquet dataset, the figures and the email text.
* ``vmlab optimize FILE.toml [--out DIR] [--workers N] [--scheduler tcp://...] [--n-trials N]``: a
  Pareto search from an optimisation file (format: `vmlab.optimize.OPTIMIZE_DOC`); writes the
  trials (parquet, CSV), the Pareto figure and the email text with the proposed settings.
* ``vmlab figures``: the main job, the seed's standard figure set (`vmlab.figures`).

Without ``--out``, sweep caches go to ``<data>/sweeps/<name>/`` and figures to
``<data>/figures/<name>/``, where ``<data>`` is ``$VMLAB_DATA_DIR`` or the checkout's ``data/``;
``$VMLAB_FIGURES_DIR`` moves the figures only (`vmlab.paths`).
* ``vmlab lab``: JupyterLab on ``notebooks/``, bound to 127.0.0.1 with a token.

Bad options give a one-line error naming the option, and exit code 2.
"""
from __future__ import annotations

import argparse
import json
import math
import shlex
import sys
from pathlib import Path

from .config import KERNELS, SimConfig
from .fields import cli_fields
from .paths import figures_dir


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit code 2, no usage dump
        self.exit(2, f"vmlab: error: {message}\n")


#: what an option given as "none"/"default" parses to (None is "option not given")
_NONE = type("_NoneWord", (), {"__repr__": lambda self: "none"})()


def _config_from_args(a) -> SimConfig:
    fields = {}
    for f in cli_fields():
        v = getattr(a, f.dest, None)
        if v is not None:
            fields[f.name] = None if v is _NONE else v
    if getattr(a, "kernel", None):
        return SimConfig.for_kernel(a.kernel, **fields)
    return SimConfig(**fields)


def _field_type(f):
    """argparse's ``type`` for a field of `vmlab.fields`: its text parsed, "none" as `_NONE`."""
    def parse(text):
        try:
            v = f.parse(text)
        except ValueError as e:
            raise argparse.ArgumentTypeError(str(e)) from None
        return _NONE if v is None else v
    parse.__name__ = f.name
    return parse


def _add_field_options(r) -> None:
    """One ``vmlab run`` option per SimConfig field that has one (the table in `vmlab.fields`)."""
    for f in cli_fields():
        kw = dict(dest=f.dest, help=f.tooltip().replace("%", "%%"))
        allowed = f.allowed()
        if allowed is not None and not f.none_ok:
            kw.update(choices=list(allowed))
        else:
            kw.update(type=_field_type(f))
            if allowed is not None:
                kw.update(metavar="{" + ",".join(list(allowed) + ["none"]) + "}")
            else:
                kw.update(metavar=f.metavar + ("|none" if f.none_ok else ""))
        r.add_argument(f.flag, **kw)


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
    from .model import simulate

    cfg = _config_from_args(a)
    res = simulate(cfg)
    if a.json:
        print(json.dumps({"config": cfg.to_dict(), "model_version": res.model_version,
                          "summary": _jsonable(res.summary)}, indent=2))
    else:
        print(f"# vmlab {res.model_version}: {cfg}")
        print("\n".join(_summary_lines(res.summary)))
    return 0


def cmd_sweep(a) -> int:
    from .figures import sweep_outputs
    from .sweep import load_grid, sweep

    g = load_grid(a.grid)
    name = g["name"]
    if a.out:
        data_dir, fig_dir = Path(a.out) / "sweep", Path(a.out)
    else:   # vmlab.sweep's default cache (<data>/sweeps/<name>); figures as vmlab.paths says
        data_dir, fig_dir = None, figures_dir(name)
    command = "vmlab " + " ".join(shlex.quote(x) for x in a.argv)
    df = sweep(g["base"], g["grid"], seeds=g["seeds"], root_seed=g["root_seed"], name=name,
               out=data_dir, workers=a.workers, scheduler=a.scheduler, progress=not a.quiet,
               command=command)
    bad = int(df.error.notna().sum())
    print(f"{len(df)} runs ({bad} failed) in {df.attrs['out']}")
    for p in sweep_outputs(df, fig_dir, name, command=command):
        print(p)
    return 1 if bad == len(df) else 0


def cmd_optimize(a) -> int:
    from .figures import optimize_outputs
    from .optimize import dominates_default, load_optimize_file, optimize

    kw = load_optimize_file(a.file)
    name = kw["name"]
    if a.n_trials is not None:
        kw["n_trials"] = a.n_trials
    if a.out:
        data_dir, fig_dir = Path(a.out) / "optimize", Path(a.out)
    else:
        data_dir, fig_dir = None, Path(_data_root()) / "figures" / name
    command = "vmlab optimize " + " ".join(shlex.quote(x) for x in sys.argv[2:])
    df = optimize(**kw, out=data_dir, workers=a.workers, scheduler=a.scheduler, progress=not a.quiet)
    df.attrs["command"] = command
    print(f"{len(df)} trials, {int(df.pareto.sum())} on the front, in {df.attrs['out']}")
    print(dominates_default(df).text)
    for p in optimize_outputs(df, fig_dir, name, command=command):
        print(p)
    return 0


def cmd_figures(a) -> int:
    from .figures import standard_figures

    for p in standard_figures(a.out, workers=a.workers, progress=not a.quiet, duration_s=a.duration_s):
        print(p)
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


def _positive_int(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"{v} must be >= 1")
    return v


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="vmlab", description="Model the Linux vmalloc lazy purge.")
    sub = p.add_subparsers(dest="cmd", required=True, parser_class=_Parser)

    r = sub.add_parser("run", help="one simulation; prints its summary")
    r.add_argument("--kernel", choices=list(KERNELS),
                   help="the purge logic of this kernel era (docs/eras.md); the seed's experiment is "
                        "--kernel 5.0 --policy threshold (= 5.0+threshold)")
    _add_field_options(r)
    r.add_argument("--json", action="store_true", help="print the config and summary as JSON")
    r.set_defaults(func=cmd_run)

    sw = sub.add_parser("sweep", help="run a grid file; writes the parquet dataset, figures, email text")
    sw.add_argument("grid", help="a TOML grid file (see data/grids/)")
    sw.add_argument("--out", help="put the dataset, figures and email text under this directory")
    sw.add_argument("--workers", type=_positive_int, help="local worker processes (default: every core)")
    sw.add_argument("--scheduler", help="run on a Dask cluster at this address (tcp://host:port)")
    sw.add_argument("--quiet", action="store_true", help="no progress bar")
    sw.set_defaults(func=cmd_sweep)

    op = sub.add_parser("optimize", help="Pareto search from a TOML file; writes trials, figure, email text")
    op.add_argument("file", help="a TOML optimisation file (see data/grids/optimize-smoke.toml)")
    op.add_argument("--out", help="put the study, runs, trials, figure and email text under this directory")
    op.add_argument("--workers", type=_positive_int, help="local worker processes (default: every core)")
    op.add_argument("--scheduler", help="run on a Dask cluster at this address (tcp://host:port)")
    op.add_argument("--n-trials", dest="n_trials", type=_positive_int, help="trials per group (overrides the file)")
    op.add_argument("--quiet", action="store_true", help="no progress bar")
    op.set_defaults(func=cmd_optimize)

    f = sub.add_parser("figures", help="the main job: the seed's standard figure set")
    f.add_argument("--out", help="write under this directory instead of data/")
    f.add_argument("--workers", type=_positive_int, help="local worker processes (default: every core)")
    f.add_argument("--duration", dest="duration_s", type=float, default=None,
                   help="simulated seconds per run (default: 10 for the sweep, 20 for the time series)")
    f.add_argument("--quiet", action="store_true", help="no progress bar")
    f.set_defaults(func=cmd_figures)

    lab = sub.add_parser("lab", help="JupyterLab on notebooks/ (127.0.0.1, with a token)")
    lab.add_argument("--port", type=int, default=8888)
    lab.add_argument("--notebooks", default="notebooks")
    lab.set_defaults(func=cmd_lab)
    return p


def main(argv=None) -> int:
    """Run the command in ``argv`` (default: ``sys.argv[1:]``); returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    p = build_parser()
    a = p.parse_args(argv)
    a.argv = argv          # the words as given: the "Reproduce with" command of `vmlab sweep`
    try:
        return a.func(a)
    except ValueError as e:  # SimConfig / grid validation: names the field and the allowed values
        print(f"vmlab: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("vmlab: interrupted; finished runs are kept in the cache", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
