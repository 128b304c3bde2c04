"""vmlab.sweep: grid expansion, per-run seeds, the parquet cache, interruption, errors, Dask."""
from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pandas as pd
import pytest

import vmlab
from vmlab import SimConfig, sweep
from vmlab.result import SUMMARY_KEYS
from vmlab.sweep import load_cached, plan

BASE = SimConfig.for_kernel("5.0+threshold", platform="hikey960", workload="random_size", duration_s=0.01)
GRID = {"threshold_factor": [0.5, 4.0], "ncpus": [1, 2]}
COMPARE = [c for c in ("kernel", "policy", "threshold_factor", "ncpus", "seed", "run_key", "error")]
NUMERIC = [k for k in SUMMARY_KEYS if k not in ("wall_s",)]


def _same_rows(a: pd.DataFrame, b: pd.DataFrame):
    a = a.sort_values("run_key").reset_index(drop=True)
    b = b.sort_values("run_key").reset_index(drop=True)
    assert list(a.run_key) == list(b.run_key)
    for c in COMPARE:
        assert list(a[c].astype(str)) == list(b[c].astype(str)), c
    for c in NUMERIC:
        np.testing.assert_array_equal(a[c].astype(float).to_numpy(), b[c].astype(float).to_numpy(), err_msg=c)


def test_plan_is_the_cartesian_product_times_seeds():
    runs = plan(BASE, GRID, seeds=3)
    assert len(runs) == 2 * 2 * 3
    assert len({r["run_key"] for r in runs}) == 12
    pts = {(r["config"].threshold_factor, r["config"].ncpus) for r in runs}
    assert pts == {(0.5, 1), (0.5, 2), (4.0, 1), (4.0, 2)}
    # the seeds come from one root: the same root gives the same seeds, another root others
    assert [r["config"].seed for r in plan(BASE, GRID, seeds=3)] == [r["config"].seed for r in runs]
    other = [r["config"].seed for r in plan(BASE, GRID, seeds=3, root_seed=7)]
    assert set(other).isdisjoint(r["config"].seed for r in runs)
    # adding a grid value does not reseed the existing points
    more = plan(BASE, {**GRID, "ncpus": [1, 2, 4]}, seeds=3)
    assert {r["run_key"] for r in runs} <= {r["run_key"] for r in more}


def test_plan_kernel_pseudo_field_and_explicit_seeds():
    runs = plan(BASE, {"kernel": ["5.0", "5.0+threshold", "6.1"], "seed": [11, 12]})
    assert len(runs) == 6
    by = {(r["kernel"], r["config"].seed): r["config"] for r in runs}
    assert by[("5.0", 11)].policy == "always-resched" and by[("6.1", 12)].purge_mode == "deferred"
    assert by[("6.1", 11)].workload == "random_size" and by[("6.1", 11)].duration_s == 0.01


def test_plan_rejects_bad_grids():
    with pytest.raises(ValueError, match="nosuch"):
        plan(BASE, {"nosuch": [1]})
    with pytest.raises(ValueError, match="ncpus"):
        plan(BASE, {"ncpus": [0]})
    with pytest.raises(ValueError, match="list"):
        plan(BASE, {"ncpus": 4})
    with pytest.raises(ValueError, match="seeds"):
        plan(BASE, GRID, seeds=0)


def test_sweep_rows_cache_and_model_version(tmp_path):
    df = sweep(BASE, GRID, seeds=2, name="t", out=tmp_path, workers=1, progress=False)
    assert len(df) == 8 and df.error.isna().all()
    for k in SUMMARY_KEYS:
        assert k in df.columns
    assert (df.model_version == vmlab.MODEL_VERSION).all()
    assert df.ncpus.tolist() == [1, 1, 2, 2, 1, 1, 2, 2]
    assert df.lazy_max_pages_cfg.isna().all()                     # kernel formula
    assert sorted(set(df.lazy_max_pages)) == [8192, 16384]        # fls(1), fls(2) x 8192
    assert len(list(tmp_path.glob("*.parquet"))) == 8
    # every row equals a direct simulate() of its config
    r = df.iloc[3]
    res = vmlab.simulate(BASE.replace(threshold_factor=r.threshold_factor, ncpus=int(r.ncpus), seed=int(r.seed)))
    assert res.summary.peak_lazy_pages == r.peak_lazy_pages and res.summary.ops == r.ops

    # a re-run reads the cache: nothing is simulated (simulate would raise here)
    mtimes = {p: p.stat().st_mtime_ns for p in tmp_path.glob("*.parquet")}
    import vmlab.model as sim_mod
    orig = sim_mod.simulate
    sim_mod.simulate = lambda *a, **k: (_ for _ in ()).throw(RuntimeError("must not run"))
    try:
        again = sweep(BASE, GRID, seeds=2, name="t", out=tmp_path, workers=1, progress=False)
    finally:
        sim_mod.simulate = orig
    _same_rows(df, again)
    assert {p: p.stat().st_mtime_ns for p in tmp_path.glob("*.parquet")} == mtimes

    # rows of another model version are never used
    for p in tmp_path.glob("*.parquet"):
        d = pd.read_parquet(p)
        d["model_version"] = "0+other"
        d.to_parquet(p, index=False)
    assert load_cached(tmp_path) == {}


def test_failing_run_is_recorded_and_the_sweep_goes_on(tmp_path, monkeypatch):
    import vmlab.model as sim_mod
    orig = sim_mod.simulate

    def flaky(cfg, **kw):
        if cfg.ncpus == 2 and cfg.threshold_factor == 4.0:
            raise RuntimeError("engine exploded")
        return orig(cfg, **kw)

    monkeypatch.setattr(sim_mod, "simulate", flaky)
    df = sweep(BASE, GRID, name="e", out=tmp_path, workers=1, progress=False)
    bad = df[df.error.notna()]
    assert len(bad) == 1 and "engine exploded" in bad.error.iloc[0]
    assert bad.ncpus.iloc[0] == 2 and np.isnan(bad.peak_lazy_pages.iloc[0])
    assert df.error.isna().sum() == 3 and df[df.error.isna()].ops.gt(0).all()
    # retry_errors recomputes only the failed run
    monkeypatch.setattr(sim_mod, "simulate", orig)
    fixed = sweep(BASE, GRID, name="e", out=tmp_path, workers=1, progress=False, retry_errors=True)
    assert fixed.error.isna().all()


def test_corrupt_cache_file_is_recomputed(tmp_path):
    df = sweep(BASE, GRID, name="c", out=tmp_path, workers=1, progress=False)
    victim = tmp_path / f"{df.run_key.iloc[0]}.parquet"
    victim.write_bytes(b"PAR1 truncated")
    (tmp_path / ".deadbeef.123.tmp").write_bytes(b"partial")
    again = sweep(BASE, GRID, name="c", out=tmp_path, workers=1, progress=False)
    _same_rows(df, again)
    assert not list(tmp_path.glob(".*.tmp"))
    pd.read_parquet(victim)


def test_local_processes_give_the_same_rows(tmp_path):
    one = sweep(BASE, GRID, seeds=2, name="l1", out=tmp_path / "a", workers=1, progress=False)
    two = sweep(BASE, GRID, seeds=2, name="l2", out=tmp_path / "b", workers=2, progress=False)
    _same_rows(one, two)


def test_sigkill_loses_only_runs_in_flight(tmp_path):
    out = tmp_path / "k"
    # each run takes at least 50 ms in the child, so the kill lands while most runs are still to do
    # (the model alone does a run in about a millisecond)
    script = textwrap.dedent(f"""
        import time
        import vmlab.model
        from vmlab import SimConfig, sweep
        _simulate = vmlab.model.simulate
        def slow(cfg):
            time.sleep(0.05)
            return _simulate(cfg)
        vmlab.model.simulate = slow
        base = SimConfig.for_kernel("5.0+threshold", platform="hikey960", workload="random_size", duration_s=0.02)
        sweep(base, {{"threshold_factor": [0.5, 1, 2, 4, 8], "ncpus": [1, 2, 3, 4]}}, seeds=2,
              name="k", out={str(out)!r}, workers=1, progress=False)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script])
    deadline = time.time() + 120
    while time.time() < deadline and len(list(out.glob("*.parquet"))) < 5:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done_before = len(list(out.glob("*.parquet")))
    assert 5 <= done_before < 40, done_before
    for p in out.glob("*.parquet"):               # every file on disk is whole
        assert len(pd.read_parquet(p)) == 1
    df = sweep(SimConfig.for_kernel("5.0+threshold", platform="hikey960", workload="random_size", duration_s=0.02),
               {"threshold_factor": [0.5, 1, 2, 4, 8], "ncpus": [1, 2, 3, 4]}, seeds=2,
               name="k", out=out, workers=1, progress=False)
    assert len(df) == 40 and df.run_key.is_unique and df.error.isna().all()
    assert len(list(out.glob("*.parquet"))) == 40
    assert not list(out.glob(".*.tmp"))


def test_dask_local_cluster_gives_the_same_rows(tmp_path):
    distributed = pytest.importorskip("dask.distributed")
    local = sweep(BASE, GRID, seeds=2, name="d1", out=tmp_path / "local", workers=1, progress=False)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address=None) as cluster:
        with distributed.Client(cluster) as client:
            remote = sweep(BASE, GRID, seeds=2, name="d2", out=tmp_path / "dask", client=client,
                           progress=False)
        # and through a scheduler address
        again = sweep(BASE, GRID, seeds=2, name="d3", out=tmp_path / "addr",
                      scheduler=cluster.scheduler_address, progress=False)
    _same_rows(local, remote)
    _same_rows(local, again)


@pytest.mark.parametrize("base, grid, seeds", [
    ({"kernel": "5.0+threshold", "platform": "hikey960", "workload": "stress", "duration_s": 0.5},
     {"kernel": ["5.0", "5.0+threshold"], "threshold_factor": [0.5, 1.0, 2.0], "ncpus": [2, 8],
      "lazy_max_pages": [None, 8192]}, 3),
    (SimConfig.for_kernel("6.1", lock_break=None, workload=("fix_size_alloc_test", "pcpu_alloc_test"),
                          policy="hysteresis", low_factor=0.25, seed=7, check_invariants=True),
     {"lock_split": [True, False], "hold_budget_us": [12.5, 100.0], "preempt": [None, "full"]}, 1),
])
def test_write_grid_round_trips_through_load_grid(tmp_path, base, grid, seeds):
    from vmlab.grids import load_grid as load, write_grid
    from vmlab.sweep import load_grid, write_grid as write2

    assert load is load_grid and write2 is write_grid          # vmlab.sweep re-exports them
    p = tmp_path / "g.toml"
    text = write_grid(base, grid, name="round-trip", seeds=seeds, path=p)
    assert p.read_text() == text
    g = load_grid(p)
    if isinstance(base, dict):
        b = dict(base)
        want = SimConfig.for_kernel(b.pop("kernel"), **b)
    else:
        want = base
    assert g["base"] == want
    assert g["grid"] == grid and g["seeds"] == seeds and g["name"] == "round-trip"
    assert plan(g["base"], g["grid"], seeds=g["seeds"]) == plan(want, grid, seeds=seeds)
