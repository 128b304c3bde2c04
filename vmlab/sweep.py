"""Sweeps: many model runs, streamed to a parquet cache, returned as one tidy DataFrame.

>>> from vmlab import SimConfig, sweep
>>> df = sweep(SimConfig.for_kernel("5.0+threshold", platform="hikey960", workload="stress", duration_s=2),
...            grid={"threshold_factor": [0.5, 1, 2, 4], "ncpus": [2, 4, 8]}, seeds=3,
...            name="seed-threshold")

* **Runs.** The Cartesian product of ``grid`` (any `SimConfig` field, plus ``kernel``, which
  applies `SimConfig.for_kernel` before the other fields), or an explicit ``configs`` list, times
  ``seeds`` replicates. Each run's seed is spawned from one root (``numpy.random.SeedSequence``
  with ``root_seed``; the spawn key is the replicate and a hash of the point, so adding points
  does not reseed the others) and recorded in its row. A grid that lists ``seed`` uses those
  seeds as they are.
* **Rows.** One row per run: the config fields (``ncpus``, ``preempt``, ``nr_threads`` and the
  other ``None`` defaults resolved to the values that ran), ``kernel``, ``lazy_max_pages_cfg``
  (the config's value; NaN means the kernel formula), every key of `vmlab.SUMMARY_KEYS`
  (``lazy_max_pages`` is the resolved value), ``seed``, ``model_version``, ``run_key`` and ``error``
  (None, or the exception text of a run that raised: the sweep goes on).
* **Cache.** ``<out>/<run_key>.parquet``, one file per run, where ``run_key`` hashes the config,
  seed and `MODEL_VERSION`: a re-run skips what is on disk, another model version never matches.
  Files are written to a temporary name and renamed, so a sweep killed at any moment (Ctrl-C,
  SIGKILL) loses at most the runs in flight and leaves no partial file; an unreadable file is
  recomputed. ``out`` defaults to `vmlab.paths.sweeps_dir` ``(name)``: ``<data>/sweeps/<name>/``, where
  ``<data>`` is ``$VMLAB_DATA_DIR`` or the checkout's ``data/``.
* **Parallelism.** Local worker processes (every core by default) started once per sweep with
  the ``forkserver`` method (``spawn`` where that is missing), which is safe inside Jupyter: the
  workers import vmlab once and receive plain dicts, never notebook-defined functions, and they
  never re-import the caller's ``__main__``: a script without an ``if __name__ == "__main__":``
  guard, code piped to ``python -`` and ``python -c`` work as a notebook does. A worker that dies
  (killed, out of memory, a crash in native code) stops the sweep with `SweepWorkerDied`, which
  names the configs it was running; a run that raises is an error row with its traceback.
  ``executor=`` (e.g. `local_executor`) reuses a pool the caller keeps open across sweeps. With
  ``client=`` (a ``dask.distributed.Client``) or ``scheduler="tcp://host:port"`` the same runs go to
  a Dask cluster. ``workers=1`` runs in this process.
* **Progress.** A ``tqdm.auto`` bar (notebook or terminal); ``progress=False`` turns it off.
* **Memory.** Results are reduced to their row as they arrive; no `Result` is kept.
"""
from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import math
import multiprocessing as mp
import os
import time
import traceback
import zlib
import multiprocessing.spawn as mp_spawn
import threading
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Iterable

import numpy as np
import pandas as pd

from .config import SimConfig
# the grid file format (GRID_DOC), its reader and its writer live in vmlab.grids; re-exported here
from .grids import GRID_DOC, GridError, _none, load_grid, write_grid  # noqa: F401
from .paths import data_root, sweeps_dir
from .result import SUMMARY_KEYS
from .version import MODEL_VERSION

#: Config fields whose None default is replaced by the value that ran, in the row.
RESOLVED_FIELDS = ("ncpus", "preempt", "nr_threads", "test_loop_count", "test_repeat_count",
                   "sequential_test_order", "nr_pages", "run_test_mask", "ram_bytes")
GRID_PSEUDO_FIELDS = ("kernel",)


#: The data directory (``$VMLAB_DATA_DIR``, else the checkout's ``data/``): `vmlab.paths.data_root`,
#: under the name this module has always exported.
default_root = data_root


# ------------------------------------------------------------------ describing the runs
def _point_configs(base: SimConfig | None, grid: dict | None) -> list[tuple[dict, SimConfig]]:
    """[(grid values of the point, config)] for the Cartesian product of the grid."""
    base = base or SimConfig()
    grid = dict(grid or {})
    valid = set(SimConfig.field_names()) | set(GRID_PSEUDO_FIELDS)
    for k, v in grid.items():
        if k not in valid:
            raise ValueError(f"grid field {k!r} is not a SimConfig field; allowed: {sorted(valid)}")
        if isinstance(v, (str, bytes)) or not isinstance(v, Iterable):
            raise ValueError(f"grid field {k!r} must be a list of values, got {v!r}")
        grid[k] = list(v)
        if not grid[k]:
            raise ValueError(f"grid field {k!r} has no values")
    keys = list(grid)
    out = []
    for combo in itertools.product(*(grid[k] for k in keys)):
        point = dict(zip(keys, combo))
        fields = {k: v for k, v in point.items() if k != "kernel"}
        if "kernel" in point:
            d = base.to_dict()
            d.update(fields)
            cfg = SimConfig.for_kernel(point["kernel"], **{k: v for k, v in d.items()
                                                           if k not in _kernel_owned(point["kernel"]) or k in fields})
        else:
            cfg = base.replace(**fields)
        out.append((point, cfg))
    return out


def _kernel_owned(version: str) -> set[str]:
    from .config import KERNELS
    return set(KERNELS[str(version)])


def _canonical(cfg: SimConfig) -> str:
    d = cfg.to_dict()
    return json.dumps(d, sort_keys=True, default=str)


def run_key(cfg: SimConfig) -> str:
    """Cache key of one run: config (seed included) and model version."""
    h = hashlib.sha256((_canonical(cfg) + "|" + MODEL_VERSION).encode())
    return h.hexdigest()[:24]


def plan(base: SimConfig | None = None, grid: dict | None = None, configs=None, seeds: int = 1,
         root_seed: int = 0) -> list[dict]:
    """The runs of a sweep, in order: dicts with ``config``, ``kernel``, ``run_key``."""
    if configs is not None and grid:
        raise ValueError("give either grid= or configs=, not both")
    if not isinstance(seeds, int) or seeds < 1:
        raise ValueError(f"seeds={seeds!r} must be an integer >= 1")
    if configs is not None:
        points = [({}, c) for c in configs]
        for c in configs:
            if not isinstance(c, SimConfig):
                raise ValueError(f"configs must hold SimConfig objects, got {type(c).__name__}")
    else:
        points = _point_configs(base, grid)
    explicit_seed = bool(grid) and "seed" in grid
    runs = []
    for point, cfg in points:
        reps = 1 if explicit_seed else seeds
        point_hash = zlib.crc32(_canonical(cfg.replace(seed=0)).encode())
        for rep in range(reps):
            if not explicit_seed:
                ss = np.random.SeedSequence(root_seed, spawn_key=(rep, point_hash))
                cfg_r = cfg.replace(seed=int(ss.generate_state(1, dtype=np.uint64)[0] >> np.uint64(1)))
            else:
                cfg_r = cfg
            runs.append({"config": cfg_r, "kernel": point.get("kernel"), "run_key": run_key(cfg_r)})
    return runs


# ------------------------------------------------------------------ one run -> one row
def _row(cfg: SimConfig, kernel, key: str, summary: dict | None, error: str | None) -> dict:
    d = cfg.to_dict()
    if isinstance(d.get("workload"), list):
        d["workload"] = ",".join(d["workload"])
    try:
        r = cfg.resolved()
        wl = r.workload
        resolved = dict(ncpus=r.ncpus, preempt=r.preempt, nr_threads=wl.nr_threads,
                        test_loop_count=wl.test_loop_count, test_repeat_count=wl.test_repeat_count,
                        sequential_test_order=wl.sequential_test_order, nr_pages=wl.nr_pages,
                        run_test_mask=wl.run_test_mask, ram_bytes=r.ram_bytes)
        d.update(resolved)
    except Exception:  # noqa: BLE001 - an invalid config is reported through `error`
        pass
    d["lazy_max_pages_cfg"] = math.nan if d.pop("lazy_max_pages") is None else float(cfg.lazy_max_pages)
    row = {"kernel": kernel, **d}
    for k in SUMMARY_KEYS:
        row[k] = (summary or {}).get(k, math.nan)
    from .model import model_version_of

    row.update(seed=cfg.seed, model_version=model_version_of(cfg), run_key=key, error=error)
    return row


def run_one(payload: dict) -> dict:
    """Run one config (a plain dict: picklable, no notebook objects) and return its row."""
    from .model import simulate

    cfg_dict = dict(payload["config"])
    kernel = payload.get("kernel")
    try:
        if isinstance(cfg_dict.get("workload"), list):
            cfg_dict["workload"] = tuple(cfg_dict["workload"])
        cfg = SimConfig(**cfg_dict)
    except Exception as e:  # noqa: BLE001
        return {"kernel": kernel, **payload["config"], "seed": payload["config"].get("seed"),
                "model_version": MODEL_VERSION, "run_key": payload["run_key"],
                "error": f"{type(e).__name__}: {e}"}
    try:
        res = simulate(cfg)
        summary = {k: (v.item() if hasattr(v, "item") else v) for k, v in res.summary.items()}
        return _row(cfg, kernel, payload["run_key"], summary, None)
    except Exception as e:  # noqa: BLE001 - recorded, the sweep goes on
        tb = traceback.format_exception_only(type(e), e)[-1].strip()
        return _row(cfg, kernel, payload["run_key"], None, tb)


# ------------------------------------------------------------------ the cache
def _write_row_atomic(out: Path, row: dict) -> None:
    df = pd.DataFrame([row])
    final = out / f"{row['run_key']}.parquet"
    tmp = out / f".{row['run_key']}.{os.getpid()}.{time.monotonic_ns()}.tmp"
    df.to_parquet(tmp, engine="pyarrow", index=False)
    with open(tmp, "rb") as f:
        os.fsync(f.fileno())
    os.replace(tmp, final)


def load_cached(out: Path, keys: Iterable[str] | None = None) -> dict[str, dict]:
    """Rows on disk for this model version, by run key. Unreadable files are removed."""
    out = Path(out)
    rows: dict[str, dict] = {}
    if not out.is_dir():
        return rows
    wanted = None if keys is None else set(keys)
    for p in out.glob("*.parquet"):
        key = p.stem
        if wanted is not None and key not in wanted:
            continue
        try:
            df = pd.read_parquet(p, engine="pyarrow")
            row = df.iloc[0].to_dict()
        except Exception:  # noqa: BLE001 - corrupt or partial: recompute
            p.unlink(missing_ok=True)
            continue
        mv = str(row.get("model_version"))
        if mv != MODEL_VERSION and not mv.startswith(MODEL_VERSION + "+policy-"):
            continue      # another model (a custom policy's hash is also in the run key)
        rows[key] = row
    for stale in out.glob(".*.tmp"):   # left by a killed writer
        stale.unlink(missing_ok=True)
    return rows


# ------------------------------------------------------------------ executors
class SweepWorkerDied(RuntimeError):
    """A sweep worker process ended abruptly (killed, out of memory, a native crash): ``configs``
    are the configs (dicts) it and its siblings were running; their rows were not written."""

    def __init__(self, configs: list[dict], cause: BaseException | None = None):
        self.configs = configs
        lines = [f"a sweep worker process died ({cause or 'no reason given'}) while running "
                 f"{len(configs)} config(s); finished runs are cached, re-run the sweep to resume:"]
        for c in configs[:5]:
            keys = ("platform", "ncpus", "policy", "threshold_factor", "workload", "duration_s", "seed")
            lines.append("  " + ", ".join(f"{k}={c.get(k)!r}" for k in keys if k in c))
        if len(configs) > 5:
            lines.append(f"  ... and {len(configs) - 5} more")
        lines.append("a run that raises is recorded with its traceback instead; a dying worker usually "
                     "means the machine ran out of memory or the process was killed")
        super().__init__("\n".join(lines))


_MAIN_FREE = threading.Lock()


@contextlib.contextmanager
def _main_free_spawn():
    """While vmlab starts its own workers, their preparation data omits the parent's ``__main__``.

    forkserver and spawn children normally re-import the parent's main script (as
    ``__mp_main__``) so that functions defined there unpickle. vmlab's workers only run
    `run_one` on plain dicts, so they need nothing from it; re-importing it would re-run a script
    that has no ``if __name__ == "__main__":`` guard (which then starts a sweep inside the worker
    and breaks the pool), and code from ``python -`` has no file to import at all. Only processes
    started inside this block, by this module, are affected.
    """
    with _MAIN_FREE:
        orig = mp_spawn.get_preparation_data

        def without_main(name):
            d = orig(name)
            d.pop("init_main_from_path", None)
            d.pop("init_main_from_name", None)
            return d

        mp_spawn.get_preparation_data = without_main
        try:
            yield
        finally:
            mp_spawn.get_preparation_data = orig


def _mp_context():
    methods = mp.get_all_start_methods()
    if "forkserver" in methods:
        ctx = mp.get_context("forkserver")
        try:
            ctx.set_forkserver_preload(["vmlab.model"])
        except Exception:  # noqa: BLE001
            pass
        return ctx
    return mp.get_context("spawn")


def local_executor(workers: int) -> ProcessPoolExecutor:
    """A pool of ``workers`` processes as `sweep` starts them (forkserver, vmlab preloaded).

    Pass it as ``sweep(..., executor=pool)`` to reuse it over many small sweeps (starting the
    workers costs about a second each, as they load the compiled engine); close it yourself.
    """
    return ProcessPoolExecutor(max_workers=workers, mp_context=_mp_context())


def _iter_local(payloads, workers, executor=None):
    if workers == 1 and executor is None:
        for p in payloads:
            yield run_one(p)
        return
    own = executor is None
    with (local_executor(workers) if own else contextlib.nullcontext(executor)) as ex:
        workers = getattr(ex, "_max_workers", workers)   # queue depth follows the pool size
        pending: dict = {}          # future -> payload

        def submit(batch):
            # workers start on submit (3.11 spawns them on demand): keep __main__ out of them
            with _main_free_spawn():
                for p in batch:
                    pending[ex.submit(run_one, p)] = p

        it = iter(payloads)
        try:
            # keep at most 2 runs per worker queued, so an interrupt loses little
            submit(itertools.islice(it, 2 * workers))
            while pending:
                done, _ = wait(set(pending), return_when=FIRST_COMPLETED)
                for f in done:
                    try:
                        row = f.result()
                    except BrokenProcessPool as e:
                        raise SweepWorkerDied([pending[g]["config"] for g in pending], e) from e
                    del pending[f]
                    yield row
                try:
                    submit(itertools.islice(it, len(done)))
                except BrokenProcessPool as e:      # it died between two results
                    raise SweepWorkerDied([p["config"] for p in pending.values()], e) from e
        except BaseException:
            for f in pending:
                f.cancel()
            if own:
                ex.shutdown(wait=False, cancel_futures=True)
            raise


def _iter_dask(payloads, client=None, scheduler=None):
    from dask.distributed import Client, as_completed

    own = client is None
    if own:
        client = Client(scheduler)
    try:
        futures = client.map(run_one, payloads, pure=False)
        for f in as_completed(futures):
            yield f.result()
    finally:
        if own:
            client.close()


# ------------------------------------------------------------------ the public function
def sweep(base: SimConfig | None = None, grid: dict | None = None, *, configs=None, seeds: int = 1,
          name: str = "sweep", root_seed: int = 0, out: str | Path | None = None,
          workers: int | None = None, client=None, scheduler: str | None = None,
          progress: bool = True, retry_errors: bool = False, command: str | None = None,
          executor=None) -> pd.DataFrame:
    """Run (or load from the cache) every run of the sweep; one row per run. See the module doc."""
    if not name or any(c in name for c in "/\\") or name.startswith("."):
        raise ValueError(f"name={name!r} must be a plain directory name")
    if workers is not None and (not isinstance(workers, int) or workers < 1):
        raise ValueError(f"workers={workers!r} must be an integer >= 1")
    runs = plan(base, grid, configs, seeds, root_seed)
    out = Path(out) if out is not None else sweeps_dir(name)
    out.mkdir(parents=True, exist_ok=True)
    keys = [r["run_key"] for r in runs]
    cached = load_cached(out, keys)
    if retry_errors:
        cached = {k: v for k, v in cached.items() if not v.get("error")}
    todo, seen = [], set()
    for r in runs:
        if r["run_key"] in cached or r["run_key"] in seen:
            continue
        seen.add(r["run_key"])
        todo.append({"config": r["config"].to_dict(), "kernel": r["kernel"], "run_key": r["run_key"]})

    if todo:
        from tqdm.auto import tqdm

        if client is not None or scheduler is not None:
            it = _iter_dask(todo, client, scheduler)
        else:
            it = _iter_local(todo, workers or os.cpu_count() or 1, executor)
        bar = tqdm(total=len(runs), initial=len(runs) - len(todo), desc=f"sweep {name}",
                   unit="run", disable=not progress)
        try:
            for row in it:
                _write_row_atomic(out, row)
                cached[row["run_key"]] = row
                bar.update(1)
        finally:
            bar.close()

    df = pd.DataFrame([cached[k] for k in keys])
    df.attrs["name"] = name
    df.attrs["out"] = str(out)
    df.attrs["model_version"] = MODEL_VERSION
    if command:
        df.attrs["command"] = command
    return df
