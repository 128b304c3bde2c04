"""The policy seam: built-in policies' defining behaviour, user-defined policies (`purge_policy`),
and custom policies through simulate, sweeps (processes, stdin, Dask), the cache key and the widgets."""
from __future__ import annotations

import subprocess
import sys
import textwrap
from importlib import import_module

import numpy as np
import pandas as pd
import pytest

from vmlab import SimConfig, get_platform, purge_policy, simulate, sweep
from vmlab import engine as E
from vmlab.policies import POLICY_NAMES, PurgePolicy

CONTENDED = dict(platform="hikey960", ncpus=4, workload="fix_size", duration_s=0.3)


@purge_policy
def threshold_2x(lazy_nr, lazy_max, done, left, waiters, hold_ns, ncpus):
    """The kernel's 5.2 rule, written as a user policy."""
    return lazy_nr < 2 * lazy_max


def _same_run(a, b):
    pd.testing.assert_frame_equal(a.purges, b.purges)
    pd.testing.assert_frame_equal(a.timeseries, b.timeseries)
    pd.testing.assert_frame_equal(a.latency, b.latency)
    pd.testing.assert_frame_equal(a.tests, b.tests)
    skip = {"wall_s", "events"}      # engine bookkeeping: the custom path stops at every entry
    for k in a.summary.index:
        if k not in skip:
            va, vb = a.summary[k], b.summary[k]
            assert (va == vb) or (pd.isna(va) and pd.isna(vb)), (k, va, vb)


# --------------------------------------------------------------------------- built-in policies
def test_builtin_policy_names():
    assert POLICY_NAMES == ("no-resched", "always-resched", "threshold", "hysteresis", "batch",
                            "hold-budget", "adaptive")


@pytest.mark.parametrize("kernel", ["5.0+threshold", "6.1"])
def test_a_user_function_that_is_threshold_gives_the_threshold_run(sim, kernel):
    # (3 s: the list era's stress runs purge first after ~0.5 s)
    base = dict(platform="hikey960", ncpus=8, workload="stress", duration_s=3.0 if kernel == "5.0+threshold" else 0.3,
                seed=3)
    built_in = sim(SimConfig.for_kernel(kernel, **base))
    custom = sim(SimConfig.for_kernel(kernel, policy=threshold_2x, **base))
    assert built_in.purges.yields.sum() > 0
    _same_run(built_in, custom)
    assert custom.model_version.endswith(f"+policy-{threshold_2x.key}")


def _wants_sequence(P, lazies):
    """Call the engine's policy decision on a sequence of vmap_lazy_nr values, state kept in K."""
    K = np.zeros(E.N_LS, np.int64)
    fn = E._no_policy()
    return [bool(E._policy_wants(P, K, lz, 0, 0, 10, lz, 0, fn)) for lz in lazies]


def test_hysteresis_stops_at_the_high_mark_and_resumes_below_the_low_one():
    P = np.zeros(E.N_PARAMS, np.int64)
    P[E.P_POLICY] = E.POLICY_HYSTERESIS
    P[E.P_RESCHED_THRESH] = 150
    P[E.P_LOW_THRESH] = 50
    got = _wants_sequence(P, [100, 149, 150, 120, 60, 50, 49, 120, 149, 151, 10])
    assert got == [True, True, False, False, False, False, True, True, True, False, True]


def test_hysteresis_with_the_low_mark_at_the_high_one_is_threshold(sim):
    a = sim(SimConfig.for_kernel("5.2", **CONTENDED))
    b = sim(SimConfig.for_kernel("5.2", policy="hysteresis", low_factor=2.0, **CONTENDED))
    _same_run(a, b)


def test_hysteresis_keeps_the_backlog_bounded_where_5_0_runs_away(sim):
    base = dict(platform="hikey960", ncpus=8, workload="stress", duration_s=3.0, seed=1)
    r50 = sim(SimConfig.for_kernel("5.0", **base)).summary
    hy = sim(SimConfig.for_kernel("5.0", policy="hysteresis", threshold_factor=2.0, low_factor=1.0, **base))
    assert hy.summary.peak_lazy_ratio < 3.0 < r50.peak_lazy_ratio
    assert hy.purges.yields.sum() > 0            # below the low mark it yields again


@pytest.mark.parametrize("n", [16, 256])
def test_batch_never_yields_twice_within_n_entries(sim, n):
    p = sim(SimConfig.for_kernel("5.0+threshold", policy="batch", batch_entries=n, **CONTENDED)).purges
    p = p[p.areas > 0]
    assert len(p) > 10 and p.yields.sum() > 0
    # the entry counter starts at the purge and restarts at each yield: at most one per n entries
    assert (p.yields <= p.entries // n).all()


@pytest.mark.parametrize("budget_us", [20.0, 100.0])
def test_hold_budget_never_holds_longer_than_the_budget_plus_one_entry(sim, budget_us):
    res = sim(SimConfig.for_kernel("5.0+threshold", policy="hold-budget", hold_budget_us=budget_us, **CONTENDED))
    p = res.purges[res.purges.areas > 0]
    entry = get_platform("hikey960").free_area_ns          # list era: one free_area_ns per entry
    assert len(p) > 10 and p.yields.sum() > 0
    assert (p.max_lock_hold_ns <= budget_us * 1000 + entry).all()
    assert p.max_lock_hold_ns.max() > budget_us * 1000     # (it does hold up to the budget)


def test_adaptive_yields_below_lazy_max_and_while_the_purge_wins():
    P = np.zeros(E.N_PARAMS, np.int64)
    P[E.P_POLICY] = E.POLICY_ADAPTIVE
    P[E.P_LAZY_MAX] = 1000
    K = np.zeros(E.N_LS, np.int64)
    fn = E._no_policy()
    wants = lambda lazy, lazy0, done: bool(E._policy_wants(P, K, lazy, 0, 0, 1, lazy0, done, fn))  # noqa: E731
    assert wants(999, 999, 0)                 # under lazy_max_pages
    assert wants(5000, 5000, 0)               # purge start: nothing freed yet
    assert wants(4000, 5000, 2000)            # freed 2000, backlog fell 1000: winning
    assert not wants(4500, 5000, 2000)        # freed 2000, backlog fell 500: others keep up


def test_adaptive_stays_bounded_where_5_0_runs_away(sim):
    base = dict(platform="hikey960", ncpus=8, workload="stress", duration_s=3.0, seed=1)
    r50 = sim(SimConfig.for_kernel("5.0", **base)).summary
    ad = sim(SimConfig.for_kernel("5.0", policy="adaptive", **base)).summary
    assert ad.peak_lazy_ratio < 3.0 < r50.peak_lazy_ratio


@pytest.mark.parametrize("field,bad", [("low_factor", -1.0), ("batch_entries", 0), ("hold_budget_us", -5.0)])
def test_policy_fields_are_validated(field, bad):
    with pytest.raises(ValueError, match=field):
        SimConfig(**{field: bad})


def test_hysteresis_low_mark_must_be_below_the_high_one():
    with pytest.raises(ValueError, match="low_factor"):
        SimConfig(policy="hysteresis", threshold_factor=1.0, low_factor=2.0)


# --------------------------------------------------------------------------- user policies
def test_bad_signature_names_the_policy():
    with pytest.raises(ValueError, match=r"'two_args'.*7 positional arguments"):
        @purge_policy
        def two_args(lazy_nr, lazy_max):
            return True


def test_a_construct_numba_cannot_compile_names_the_policy_and_line():
    with pytest.raises(ValueError, match=r"'uses_a_dict'.*test_policy_lab.py.*numba cannot compile"):
        @purge_policy
        def uses_a_dict(lazy_nr, lazy_max, done, left, waiters, hold_ns, ncpus):
            return len(globals()) > 0          # fine in Python, not in numba


def test_an_exception_names_the_policy_and_line():
    with pytest.raises(ValueError, match=r"'divides'.*ZeroDivisionError.*line \d+"):
        @purge_policy
        def divides(lazy_nr, lazy_max, done, left, waiters, hold_ns, ncpus):
            return lazy_max // waiters > 1


def test_a_callable_is_made_a_policy_by_simconfig_and_round_trips_through_dicts():
    def plain(lazy_nr, lazy_max, done, left, waiters, hold_ns, ncpus):
        return waiters > 1

    cfg = SimConfig(policy=plain)
    assert isinstance(cfg.policy, PurgePolicy) and cfg.policy.name == "plain"
    d = cfg.to_dict()
    assert d["policy"].startswith("custom:plain@") and d["policy_code"]
    assert SimConfig(**d) == cfg and hash(SimConfig(**d)) == hash(cfg)
    with pytest.raises(ValueError, match="policy_code"):
        SimConfig(policy=d["policy"])


def test_a_changed_policy_is_a_new_cache_entry(tmp_path):
    S = import_module("vmlab.sweep")

    def make(k):
        src = f"def p(lazy_nr, lazy_max, done, left, waiters, hold_ns, ncpus):\n    return lazy_nr < {k} * lazy_max\n"
        ns = {}
        exec(compile(src, f"<policy{k}>", "exec"), ns)
        return purge_policy(ns["p"])

    base = SimConfig.for_kernel("5.2", platform="hikey960", workload="fix_size", duration_s=0.01, ncpus=2)
    keys = {S.run_key(base.replace(policy=make(k))) for k in (2, 3)}
    assert len(keys) == 2
    df = sweep(base, {"policy": [make(2), make(3)]}, name="pol", out=tmp_path / "c", workers=1, progress=False)
    assert df.error.isna().all() and df.model_version.str.contains("policy-").all()


SCRIPT = textwrap.dedent("""\
    from vmlab import SimConfig, purge_policy, simulate, sweep

    @purge_policy
    def mine(lazy_nr, lazy_max, done, left, waiters, hold_ns, ncpus):
        return lazy_nr < 2 * lazy_max and waiters > 0

    base = SimConfig.for_kernel("5.0+threshold", platform="hikey960", workload="fix_size",
                                duration_s=0.02, policy=mine)
    df = sweep(base, {{"ncpus": [2, 4]}}, name="mine", out={out!r}, workers=2, progress=False)
    one = simulate(base.replace(ncpus=4)).summary
    row = df[df.ncpus == 4].iloc[0]
    print("OK", bool(df.error.isna().all()), int(row.ops) == int(one.ops), int(row.purges) == int(one.purges))
""")


def test_custom_policy_in_sweep_workers_from_stdin(tmp_path):
    proc = subprocess.run([sys.executable, "-"], input=SCRIPT.format(out=str(tmp_path / "c")), text=True,
                          capture_output=True, timeout=300, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "OK True True True" in proc.stdout, (proc.stdout, proc.stderr[-2000:])


def test_custom_policy_on_dask(tmp_path):
    distributed = pytest.importorskip("dask.distributed")
    base = SimConfig.for_kernel("5.2", platform="hikey960", workload="fix_size", duration_s=0.01,
                                policy=threshold_2x)
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as client:
        df = sweep(base, {"ncpus": [2]}, name="pol-dask", out=tmp_path / "c", client=client, progress=False)
    assert df.error.isna().all()
    assert int(df.ops.iloc[0]) == int(simulate(base.replace(ncpus=2)).summary.ops)


def test_the_explore_panel_accepts_a_custom_policy(engine_warm, tmp_path):
    from vmlab.widgets import explore

    p = explore(out_dir=tmp_path, policy=threshold_2x, duration_s=0.25, workload="fix_size")
    assert p.error is None and p.config().policy == threshold_2x
    assert p.controls["era"].value == "custom"
    assert "threshold_2x" in p.summary_text
