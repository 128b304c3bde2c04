"""Search SimConfig fields for the Pareto front of summary objectives (optuna over the sweep cache).

>>> from vmlab import SimConfig, optimize
>>> base = SimConfig.for_kernel("5.0+threshold", platform="hikey960", workload="stress", duration_s=0.2)
>>> df = optimize(base, {"threshold_factor": (0.5, 16.0), "lazy_max_pages": (4096, 131072)},
...               n_trials=40, seed=0, by={"ncpus": [4, 8]}, name="hikey-front")
>>> df[df.pareto]                 # one front per CPU count

* **Space** (`vmlab.space`): ``{field: (low, high)}`` ranges (log-scaled for threshold_factor,
  lazy_max_pages, durations, CPU and thread counts; integer fields stay integers) and
  ``{field: [choices]}``. Sampled floats are rounded to 4 significant digits, so a proposal reads
  well and reproduces exactly.
* **Objectives**: two or more `vmlab.SUMMARY_KEYS` (units as there: ns, pages, ratios), all
  minimised unless written ``"max:ops"`` (or ``"min:..."``), or a dict ``{"ops": "max", ...}``.
  A trial whose run fails, or has no value for an objective (no purge: no purge p99), is a failed
  trial: in the frame with NaN objectives, never on the front, ignored by the sampler.
* **by**: ``{"ncpus": [4, 8, 32]}`` (a Cartesian product if several fields) gives one study, and
  one front, per value: a field that sets the scale of the objectives (more CPUs, more lazy pages
  for every setting) would otherwise crowd the others off a single front.
* **Search**: optuna's NSGA-II (``sampler="nsga2"``, population = ``batch_size``) or TPE
  (``"tpe"``). Trials are asked ``batch_size`` at a time per group; every config of a round (all
  groups, and each group's kernel default once) runs through one `vmlab.sweep` call, so runs are
  cached as ``<out>/runs/<run_key>.parquet`` and run on local processes (``workers``), or a Dask
  cluster (``scheduler="tcp://..."`` or ``client=``).
* **Determinism**: each trial's sampler is seeded from (``seed``, trial number) and a batch is
  told only once all its runs are in, so a seed gives the same trials whatever the number of
  workers (up to ``batch_size``).
* **Resume**: the studies live in an optuna journal, ``<out>/optuna.log``. A re-run (after a
  SIGKILL too) finishes the trials in flight, served from the run cache where their runs had
  finished, completes the interrupted batch and goes on; finished trials are neither re-asked
  nor re-run, and the result is the one an uninterrupted run gives. A study is keyed by the
  base config, space, objectives, sampler, seed, batch size and model version, so changing one
  starts a new study (runs already cached stay free); raising ``n_trials`` continues it. One
  optimiser per ``out`` at a time.
* **Result**: one row per trial: the by-columns, ``trial`` (its number in its group's study), the
  space fields (values that ran), the objectives (median over ``seeds`` runs), ``pareto`` (within
  its by-group), ``seed`` and ``run_key`` of its first run, ``error``. ``df.attrs`` records the
  objectives, directions, space, base config, and ``kernel_default``: per group, the kernel's own
  setting of the searched fields (the era preset's value, lazy_max_pages from the kernel formula)
  and its objective values. `proposals` and `dominates_default` read it.
"""
from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .config import KERNELS, SimConfig
from .result import SUMMARY_KEYS
from .space import Space, SpaceError
from .version import MODEL_VERSION

#: Summary keys that can be objectives (wall_s is the host's time, not the model's).
OBJECTIVE_KEYS = tuple(k for k in SUMMARY_KEYS if k != "wall_s")
SAMPLERS = ("nsga2", "tpe")
DEFAULT_OBJECTIVES = ("peak_lazy_ratio", "purge_p99_ns")
_BATCH_ATTR = "vmlab_batch"


# ------------------------------------------------------------------ inputs
def parse_objectives(objectives) -> list[tuple[str, str]]:
    """[(summary key, "min" | "max")] from names ("max:ops") or a {name: direction} dict."""
    if isinstance(objectives, str):
        objectives = [objectives]
    if isinstance(objectives, dict):
        items = [(str(k), str(v).lower()) for k, v in objectives.items()]
    else:
        try:
            names = list(objectives)
        except TypeError:
            raise SpaceError(f"objectives={objectives!r} must be a list of summary keys or a dict") from None
        items = []
        for o in names:
            if not isinstance(o, str):
                raise SpaceError(f"objective {o!r} must be a summary key name, e.g. 'purge_p99_ns' or 'max:ops'")
            d, sep, n = o.partition(":")
            items.append((n, d.lower()) if sep else (o, "min"))
    if not items:
        raise SpaceError("objectives is empty: give one or more summary keys")
    seen = set()
    for name, d in items:
        if name not in OBJECTIVE_KEYS:
            raise SpaceError(f"objective {name!r} is not a summary key; allowed: {list(OBJECTIVE_KEYS)}")
        if d not in ("min", "max"):
            raise SpaceError(f"objective {name!r}: direction {d!r} must be 'min' or 'max'")
        if name in seen:
            raise SpaceError(f"objective {name!r} is listed twice")
        seen.add(name)
    return items


def parse_by(by, base: SimConfig) -> tuple[list[str], list[dict]]:
    """(by fields, [one dict of values per group]) from ``{field: [values]}`` (Cartesian product)."""
    if by is None or by == {}:
        return [], [{}]
    if not isinstance(by, dict):
        raise SpaceError(f"by={by!r} must be a dict of field -> list of values, e.g. {{'ncpus': [4, 8]}}")
    fields = set(SimConfig.field_names()) - {"seed"}
    for k, vals in by.items():
        if k not in fields:
            raise SpaceError(f"by field {k!r} is not a SimConfig field; allowed: {sorted(fields)}")
        if not isinstance(vals, (list, tuple)) or not vals:
            raise SpaceError(f"by field {k!r}: {vals!r} must be a non-empty list of values")
        if len(set(map(repr, vals))) != len(vals):
            raise SpaceError(f"by field {k!r}: {list(vals)!r} repeats a value")
        for v in vals:
            try:
                base.replace(**{k: v})
            except (TypeError, ValueError) as e:
                raise SpaceError(f"by field {k!r}: value {v!r} is not allowed: {e}") from None
    keys = list(by)
    return keys, [dict(zip(keys, combo)) for combo in itertools.product(*(by[k] for k in keys))]


def kernel_default_values(base: SimConfig, names) -> dict:
    """The kernel's own setting of each searched field: the era preset's value where the preset
    sets it (``base``'s era, found with `vmlab.frames.kernel_of`), ``lazy_max_pages=None`` (the
    kernel formula), SimConfig's default for the other purge knobs (threshold_factor 2.0), and
    ``base``'s value for fields that are not the kernel's (duration, CPU count, workload...)."""
    from .frames import kernel_of

    kernel = kernel_of(base, strict=False)
    preset = KERNELS.get(kernel, {}) if kernel else {}
    tunable = set(next(iter(KERNELS.values()))) | {"lazy_max_pages"}
    defaults = {f.name: f.default for f in SimConfig.__dataclass_fields__.values()}
    out = {}
    for n in names:
        if n in preset:
            out[n] = preset[n]
        elif n in tunable:
            out[n] = defaults[n]
        else:
            out[n] = getattr(base, n)
    return out


def _round_sig(v, digits: int = 4):
    if isinstance(v, float) and math.isfinite(v) and v != 0:
        return float(f"{v:.{digits}g}")
    return v


def _group_label(group: dict) -> str:
    return ",".join(f"{k}={v}" for k, v in group.items()) or "all"


# ------------------------------------------------------------------ optuna plumbing
def _storage(path: Path):
    """An optuna journal at ``path``: a lock left by a killed writer is cleared, and a last line
    cut short is dropped (one optimiser per ``out``: nobody else writes here)."""
    from optuna.storages.journal import JournalFileBackend, JournalFileOpenLock, JournalStorage

    lock = Path(str(path) + ".lock")
    if lock.exists() and time.time() - lock.stat().st_mtime > 2.0:
        lock.unlink(missing_ok=True)
    if path.exists():
        data = path.read_bytes()
        if data and not data.endswith(b"\n"):
            with open(path, "r+b") as f:
                f.truncate(data.rfind(b"\n") + 1)
    return JournalStorage(JournalFileBackend(str(path), lock_obj=JournalFileOpenLock(str(path))))


def _distributions(space: Space) -> dict:
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    out = {}
    for d in space.dims:
        if d.kind == "choice":
            out[d.name] = CategoricalDistribution(list(d.choices))
        elif d.kind == "int":
            out[d.name] = IntDistribution(int(d.low), int(d.high), log=d.log)
        else:
            out[d.name] = FloatDistribution(float(d.low), float(d.high), log=d.log)
    return out


def _sampler(kind: str, seed: int, number: int, population: int):
    import optuna

    s = int(np.random.SeedSequence([seed, number]).generate_state(1)[0])
    if kind == "nsga2":
        return optuna.samplers.NSGAIISampler(seed=s, population_size=population)
    return optuna.samplers.TPESampler(seed=s)


def _values(rows: pd.DataFrame, objectives) -> list[float]:
    """Median of each objective over a trial's runs; NaN if any run failed or all are missing."""
    if rows["error"].notna().any():
        return [math.nan] * len(objectives)
    return [float(pd.to_numeric(rows[o], errors="coerce").median()) for o, _ in objectives]


# ------------------------------------------------------------------ the search
def optimize(base: SimConfig | None, space: dict, objectives=DEFAULT_OBJECTIVES, n_trials: int = 40,
             seed: int = 0, by: dict | None = None, workers: int | None = None,
             scheduler: str | None = None, client=None, name: str = "optimize",
             out: str | Path | None = None, sampler: str = "nsga2", progress: bool = True,
             batch_size: int | None = None, seeds: int = 1) -> pd.DataFrame:
    """Pareto-optimal settings of ``space`` for ``objectives``, per ``by`` group. See the module doc.

    ``n_trials`` is per group; ``seeds`` runs per trial (objectives are their median);
    ``batch_size`` (default ``max(8, workers)``) trials are asked per round and group.
    """
    import optuna
    from tqdm.auto import tqdm

    from .sweep import default_root, local_executor, sweep

    base = base or SimConfig()
    if not isinstance(base, SimConfig):
        raise SpaceError(f"base must be a SimConfig, got {type(base).__name__}")
    by_keys, groups = parse_by(by, base)
    sp = Space.parse(space, base, exclude=by_keys)
    objs = parse_objectives(objectives)
    if sampler not in SAMPLERS:
        raise SpaceError(f"sampler={sampler!r} is not known; allowed: {list(SAMPLERS)}")
    for what, v, lo in (("n_trials", n_trials, 1), ("seeds", seeds, 1), ("seed", seed, 0)):
        if isinstance(v, bool) or not isinstance(v, int) or v < lo:
            raise SpaceError(f"{what}={v!r} must be an integer >= {lo}")
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
        raise SpaceError(f"workers={workers!r} must be an integer >= 1")
    if not name or any(c in name for c in "/\\") or name.startswith("."):
        raise SpaceError(f"name={name!r} must be a plain directory name")
    nworkers = workers or os.cpu_count() or 1
    batch = batch_size if batch_size is not None else max(8, nworkers)
    if isinstance(batch, bool) or not isinstance(batch, int) or batch < 2:
        raise SpaceError(f"batch_size={batch_size!r} must be an integer >= 2")

    out = Path(out) if out is not None else default_root() / "optimize" / name
    out.mkdir(parents=True, exist_ok=True)
    runs_dir = out / "runs"
    storage = _storage(out / "optuna.log")
    dists = _distributions(sp)
    fingerprint = hashlib.sha256(json.dumps(
        [base.to_dict(), sp.to_json(), objs, sampler, seed, batch, seeds, MODEL_VERSION],
        sort_keys=True, default=str).encode()).hexdigest()[:12]
    directions = ["minimize" if d == "min" else "maximize" for _, d in objs]
    default_vals = kernel_default_values(base, sp.names)

    def config_of(params: dict, group: dict) -> SimConfig:
        vals = {k: _round_sig(params[k]) for k in sp.names}
        return sp.config(base, vals).replace(**group)

    prev = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    studies = [optuna.create_study(storage=storage, study_name=f"{name}[{_group_label(g)}]-{fingerprint}",
                                   directions=directions, load_if_exists=True) for g in groups]
    pool = None
    dask_client = client
    try:
        if dask_client is None and scheduler is not None:
            from dask.distributed import Client
            dask_client = Client(scheduler)
        elif dask_client is None and nworkers > 1:
            pool = local_executor(nworkers)

        def run(configs: list[SimConfig]) -> pd.DataFrame:
            return sweep(configs=configs, seeds=seeds, name=name, out=runs_dir, workers=nworkers,
                         client=dask_client, executor=pool, progress=False)

        def valid(study):
            return [t for t in study.get_trials(deepcopy=False) if set(t.params) == set(sp.names)]

        bar = tqdm(total=n_trials * len(groups), desc=f"optimize {name}", unit="trial",
                   disable=not progress,
                   initial=sum(min(n_trials, sum(t.state.is_finished() for t in valid(s))) for s in studies))
        defaults = [config_of(default_vals, g) for g in groups]
        first = True
        while True:
            todo: list[tuple[int, int, dict]] = []     # (group, trial number, params)
            for gi, study in enumerate(studies):
                trials = study.get_trials(deepcopy=False)
                for t in trials:      # asked by a run killed in the middle of its ask: never ran
                    if t.state.name == "RUNNING" and set(t.params) != set(sp.names):
                        study.tell(t.number, state=optuna.trial.TrialState.FAIL)
                ok = valid(study)
                stale = [t for t in ok if t.state.name == "RUNNING"]
                if stale:   # an interrupted round: its trials, and the rest of its batch
                    b = next((t.user_attrs[_BATCH_ATTR] for t in stale if _BATCH_ATTR in t.user_attrs),
                             1 + max((t.user_attrs.get(_BATCH_ATTR, -1) for t in ok), default=-1))
                    in_batch = sum(t.user_attrs.get(_BATCH_ATTR) == b or
                                   (_BATCH_ATTR not in t.user_attrs and t in stale) for t in ok)
                    todo += [(gi, t.number, t.params) for t in stale]
                    n_new = min(batch - in_batch, n_trials - len(ok))
                else:
                    b = 1 + max((t.user_attrs.get(_BATCH_ATTR, 0) for t in ok), default=-1)
                    n_new = min(batch, n_trials - len(ok))
                for _ in range(max(0, n_new)):
                    study.sampler = _sampler(sampler, seed, len(study.get_trials(deepcopy=False)), batch)
                    t = study.ask(dists)
                    t.set_user_attr(_BATCH_ATTR, b)
                    todo.append((gi, t.number, t.params))
            if not todo and not first:
                break
            configs = [config_of(p, groups[gi]) for gi, _, p in todo] + (defaults if first else [])
            rows = run(configs)
            for i, (gi, number, _) in enumerate(todo):
                vals = _values(rows.iloc[i * seeds:(i + 1) * seeds], objs)
                if all(math.isfinite(v) for v in vals):
                    studies[gi].tell(number, vals)
                else:
                    studies[gi].tell(number, state=optuna.trial.TrialState.FAIL)
            bar.update(len(todo))
            first = False
        bar.close()

        # the frame: every finished trial, looked up in the run cache
        recs = []
        for gi, study in enumerate(studies):
            for t in sorted(valid(study), key=lambda t: t.number)[:n_trials]:
                recs.append((gi, t))
        all_rows = run([config_of(t.params, groups[gi]) for gi, t in recs] + defaults)
    finally:
        optuna.logging.set_verbosity(prev)
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
        if dask_client is not None and client is None:
            dask_client.close()

    table = []
    for i, (gi, t) in enumerate(recs):
        rs = all_rows.iloc[i * seeds:(i + 1) * seeds]
        vals = _values(rs, objs)
        err = next((e for e in rs["error"] if isinstance(e, str) and e), None)
        cfg = config_of(t.params, groups[gi])
        table.append({**groups[gi], "trial": t.number, **{k: getattr(cfg, k) for k in sp.names},
                      **{o: v for (o, _), v in zip(objs, vals)},
                      "seed": int(rs["seed"].iloc[0]), "run_key": rs["run_key"].iloc[0], "error": err})
    df = pd.DataFrame(table)
    names = [o for o, _ in objs]
    dirs = [d for _, d in objs]
    if len(df):
        df["pareto"] = _front(df, by_keys, names, dirs)
    else:
        df["pareto"] = pd.Series(dtype=bool)
    kd = []
    off = len(recs) * seeds
    for gi, g in enumerate(groups):
        rs = all_rows.iloc[off + gi * seeds: off + (gi + 1) * seeds]
        kd.append({**g, **default_vals, **{o: v for o, v in zip(names, _values(rs, objs))},
                   "run_key": rs["run_key"].iloc[0]})
    df.attrs.update(name=name, out=str(out), objectives=names, directions=dirs, by=by_keys,
                    space=sp.to_json(), base=base.to_dict(), kernel_default=kd, sampler=sampler,
                    seed=seed, seeds=seeds, batch_size=batch, model_version=MODEL_VERSION,
                    study=fingerprint)
    return df


def _front(df: pd.DataFrame, by_keys, names, dirs) -> pd.Series:
    from .frames import pareto_mask

    if not by_keys:
        return pareto_mask(df, names, dirs)
    parts = [pareto_mask(sub, names, dirs) for _, sub in df.groupby(by_keys, sort=False, dropna=False)]
    return pd.concat(parts).reindex(df.index).astype(bool)


# ------------------------------------------------------------------ reading a result
def _groups(df: pd.DataFrame):
    by = list(df.attrs.get("by") or [])
    defaults = df.attrs.get("kernel_default") or []
    for d in defaults:
        g = {k: d[k] for k in by}
        sub = df
        for k, v in g.items():
            sub = sub[sub[k].isna()] if v is None else sub[sub[k] == v]
        yield g, d, sub


def gains(values, default, directions) -> list[float]:
    """Relative gain of each objective over the default: positive is better in its direction
    ((default - value) / |default| when minimised). A zero default gives 0 when equal, else ±inf."""
    out = []
    for v, d, dr in zip(values, default, directions):
        if not (math.isfinite(v) and math.isfinite(d)):
            out.append(math.nan)
            continue
        diff = (d - v) if dr == "min" else (v - d)
        out.append(diff / abs(d) if d != 0 else (0.0 if diff == 0 else math.copysign(math.inf, diff)))
    return out


def proposals(df: pd.DataFrame) -> pd.DataFrame:
    """Per ``by`` group, the proposed setting against the kernel default.

    The proposal is the front trial whose worst relative gain over the default (see `gains`) is
    largest: a trial that dominates the default when there is one (then every gain is >= 0 and
    one is > 0), else the trade-off that gives up least. Columns: the by-fields, ``trial``
    (NaN if no trial finished), ``dominates`` (bool), ``n_dominating`` (trials that dominate the
    default), then per objective ``<obj>``, ``<obj>_default`` and ``<obj>_gain``, then the space
    fields of the proposal.
    """
    names = list(df.attrs["objectives"])
    dirs = list(df.attrs["directions"])
    fields = list(df.attrs["space"])
    out = []
    for g, d, sub in _groups(df):
        dv = [float(d[o]) for o in names]
        rec = {**g, "trial": math.nan, "dominates": False, "n_dominating": 0}
        for o, v in zip(names, dv):
            rec.update({o: math.nan, f"{o}_default": v, f"{o}_gain": math.nan})
        good = sub[sub[names].apply(pd.to_numeric, errors="coerce").notna().all(axis=1)]
        if len(good) and all(math.isfinite(v) for v in dv):
            G = np.array([gains([float(r[o]) for o in names], dv, dirs) for _, r in good.iterrows()])
            dom = (G >= 0).all(axis=1) & (G > 0).any(axis=1)
            rec["n_dominating"] = int(dom.sum())
            on_front = good["pareto"].to_numpy(dtype=bool)
            pick = np.flatnonzero(on_front)
            if len(pick):
                best = pick[np.argmax(G[pick].min(axis=1))]
                row = good.iloc[best]
                rec.update(trial=int(row["trial"]), dominates=bool(dom[best]))
                for o, gval in zip(names, G[best]):
                    rec[o] = float(row[o])
                    rec[f"{o}_gain"] = float(gval)
                rec.update({f: row[f] for f in fields})
        out.append(rec)
    res = pd.DataFrame(out)
    res.attrs.update({k: df.attrs[k] for k in ("objectives", "directions", "space", "by", "base")})
    return res


@dataclass
class Finding:
    """Whether some searched setting dominates the kernel default, in which groups, and how."""

    found: bool
    table: pd.DataFrame       #: `proposals`
    text: str

    def __str__(self) -> str:
        return self.text


def _fmt(v) -> str:
    if isinstance(v, (float, np.floating)) and float(v).is_integer():
        return str(int(v))
    return f"{v:g}" if isinstance(v, (float, np.floating)) else str(v)


def dominates_default(df: pd.DataFrame) -> Finding:
    """Did the search find a setting better than the kernel default on every objective at some
    ``by`` value (e.g. CPU count)? `Finding.text` says which, or that none was found."""
    table = proposals(df)
    names = list(df.attrs["objectives"])
    by = list(df.attrs.get("by") or [])
    lines = []
    for _, r in table.iterrows():
        where = ", ".join(f"{k}={_fmt(r[k])}" for k in by) or "all"
        if r["dominates"]:
            setting = ", ".join(f"{f}={_fmt(r[f])}" for f in df.attrs["space"])
            change = ", ".join(f"{o} {-100 * r[o + '_gain'] if dd == 'min' else 100 * r[o + '_gain']:+.0f}%"
                               for o, dd in zip(names, df.attrs["directions"]))
            lines.append(f"{where}: trial {int(r['trial'])} ({setting}) dominates the kernel default "
                         f"({change}); {int(r['n_dominating'])} trials do")
        else:
            lines.append(f"{where}: no trial dominates the kernel default")
    found = bool(table["dominates"].any()) if len(table) else False
    head = ("found a setting that dominates the kernel default" if found
            else "found no setting that dominates the kernel default")
    return Finding(found, table, head + "\n" + "\n".join(lines))


# ------------------------------------------------------------------ optimisation files
OPTIMIZE_DOC = """\
An optimisation file is TOML (``vmlab optimize FILE``):

    name = "hikey-front"         # data/optimize/<name>/ (study, runs), data/figures/<name>/
    objectives = ["peak_lazy_ratio", "purge_p99_ns"]   # summary keys; "max:ops" maximises
    n_trials = 40                # per [by] value
    seed = 0
    sampler = "nsga2"            # or "tpe"; optional: batch_size = 8, seeds = 1
    [base]                       # SimConfig fields; `kernel` picks SimConfig.for_kernel(...)
    kernel = "5.0+threshold"
    platform = "hikey960"
    workload = "stress"
    duration_s = 0.2
    [space]                      # {low, high}: a range; a list: choices ("formula" = None)
    threshold_factor = {low = 0.5, high = 16.0}
    lazy_max_pages = {low = 4096, high = 131072}
    [by]                         # optional: one front per value
    ncpus = [4, 8]
"""


def load_optimize_file(path) -> dict:
    """Read an optimisation file (see `OPTIMIZE_DOC`): the keyword arguments of `optimize`
    (``base``, ``space``, ``objectives``, ``n_trials``, ``seed``, ``by``, ``name``, ``sampler``,
    ``batch_size``, ``seeds``). Every problem raises `vmlab.sweep.GridError` naming the file and key."""
    from .grids import GridError, _none, base_config, file_name, read_toml

    path = Path(path)
    data = read_toml(path, "optimisation", {"name", "objectives", "n_trials", "seed", "sampler",
                                            "batch_size", "seeds", "base", "space", "by"})
    name = file_name(path, data)
    base = base_config(path, data)
    space = {}
    for k, v in dict(data.get("space", {})).items():
        if isinstance(v, dict):
            if set(v) != {"low", "high"}:
                raise GridError(f"{path}: [space] {k} = {v!r}: a range is {{low = ..., high = ...}}")
            space[k] = (v["low"], v["high"])
        elif isinstance(v, list):
            space[k] = [_none(x) for x in v]
        else:
            raise GridError(f"{path}: [space] {k} = {v!r} must be {{low = ..., high = ...}} or a list of choices")
    by = {k: [_none(x) for x in v] if isinstance(v, list) else v for k, v in dict(data.get("by", {})).items()}
    kw = dict(base=base, space=space, by=by or None, name=name,
              objectives=data.get("objectives", list(DEFAULT_OBJECTIVES)),
              n_trials=data.get("n_trials", 40), seed=data.get("seed", 0),
              sampler=data.get("sampler", "nsga2"), batch_size=data.get("batch_size"),
              seeds=data.get("seeds", 1))
    try:
        by_keys, _ = parse_by(kw["by"], base)
        Space.parse(space, base, exclude=by_keys)
        parse_objectives(kw["objectives"])
        if kw["sampler"] not in SAMPLERS:
            raise SpaceError(f"sampler={kw['sampler']!r} is not known; allowed: {list(SAMPLERS)}")
        for what in ("n_trials", "seeds", "seed", "batch_size"):
            v = kw[what]
            lo = {"seed": 0, "batch_size": 2}.get(what, 1)
            if (v is not None or what != "batch_size") and (isinstance(v, bool) or not isinstance(v, int) or v < lo):
                raise SpaceError(f"{what}={v!r} must be an integer >= {lo}")
    except SpaceError as e:
        raise GridError(f"{path}: {e}") from None
    return kw


__all__ = ["optimize", "proposals", "dominates_default", "Finding", "gains", "parse_objectives",
           "kernel_default_values", "load_optimize_file", "OBJECTIVE_KEYS", "OPTIMIZE_DOC"]
