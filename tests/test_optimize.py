"""vmlab.optimize: the front, determinism, resume after SIGKILL, the kernel-default finding,
bad inputs, the figure, the email section and ``vmlab optimize``. Small budgets throughout."""
from __future__ import annotations

import math
import shlex
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import vmlab.model
from vmlab import SimConfig
from vmlab.optimize import dominates_default, optimize, proposals
from vmlab.plots import pareto_front, pareto_mask

ROOT = Path(__file__).resolve().parent.parent
# fix_size purges within milliseconds (the list era's stress only after ~0.5 simulated s)
BASE = SimConfig.for_kernel("5.0+threshold", platform="hikey960", workload="fix_size", duration_s=0.05)
SPACE = {"threshold_factor": (0.5, 16.0), "lazy_max_pages": (4096, 32768)}
OBJ = ["peak_lazy_ratio", "purge_p99_ns"]


def _run(out, **kw):
    args = dict(base=BASE, space=SPACE, objectives=OBJ, n_trials=8, seed=3, by={"ncpus": [2, 4]},
                workers=1, out=out, progress=False, batch_size=4)
    args.update(kw)
    return optimize(**args)


@pytest.fixture(scope="module")
def small(tmp_path_factory, engine_warm):
    return _run(tmp_path_factory.mktemp("opt") / "small")


def _dominates(a, b, dirs):
    """a dominates b: no worse in every objective, better in one."""
    s = np.array([1 if d == "min" else -1 for d in dirs])
    a, b = np.asarray(a, float) * s, np.asarray(b, float) * s
    return bool((a <= b).all() and (a < b).any())


def _check_front(g, dirs):
    """Front rows are dominated by no row; every other row with values is dominated by a front row."""
    vals = g[OBJ].to_numpy(float)
    finite = np.isfinite(vals).all(axis=1)
    front = g.pareto.to_numpy(bool)
    assert front.any() and not (front & ~finite).any()
    for i in np.flatnonzero(front):
        assert not any(_dominates(vals[j], vals[i], dirs) for j in range(len(g)) if finite[j]), i
    for i in np.flatnonzero(~front & finite):
        assert any(_dominates(vals[j], vals[i], dirs) for j in np.flatnonzero(front)), i


# ------------------------------------------------------------------ the front
def test_front_is_the_nondominated_set_of_each_group(small):
    df = small
    assert len(df) == 16 and set(df.ncpus) == {2, 4}
    for col in ("ncpus", "trial", "threshold_factor", "lazy_max_pages", *OBJ, "pareto", "seed", "error"):
        assert col in df.columns
    dirs = df.attrs["directions"]
    assert dirs == ["min", "min"]
    for n, g in df.groupby("ncpus"):
        assert sorted(g.trial) == list(range(8))
        assert g.lazy_max_pages.map(lambda v: isinstance(v, (int, np.integer))).all()   # ints stay ints
        assert g.threshold_factor.between(0.5, 16).all() and g.lazy_max_pages.between(4096, 32768).all()
        _check_front(g, dirs)


def test_pareto_mask_known_fronts_and_agreement_with_pareto_front():
    d = pd.DataFrame({"a": [1, 2, 3, 2, np.nan, 1], "b": [3, 2, 1, 3, 0, 3], "c": [0, 0, 0, 0, 0, -1]})
    assert list(pareto_mask(d, ["a", "b"])) == [True, True, True, False, False, True]
    assert list(pareto_mask(d, ["a", "b", "c"])) == [False, True, True, False, False, True]
    assert list(pareto_mask(d, ["a", "b"], ["max", "min"])) == [False, False, True, False, False, False]
    assert list(pareto_mask(d, ["a", "b"], ["max", "max"])) == [False, False, True, True, False, False]
    assert list(pareto_mask(d, ["a"])) == [True, False, False, False, False, True]
    rng = np.random.default_rng(0)
    r = pd.DataFrame(rng.integers(0, 6, size=(60, 2)), columns=["x", "y"]).astype(float)
    via3 = pareto_mask(r.assign(z=0.0), ["x", "y", "z"])
    assert (pareto_mask(r, ["x", "y"]) == pareto_front(r, "x", "y")).all() and (via3 == pareto_front(r, "x", "y")).all()


# ------------------------------------------------------------------ determinism and resume
def test_stable_for_a_seed_whatever_the_workers(small, tmp_path):
    again = _run(tmp_path / "again")
    pd.testing.assert_frame_equal(small, again)
    two = _run(tmp_path / "two", workers=2)
    pd.testing.assert_frame_equal(small, two)
    other = _run(tmp_path / "other", seed=4)
    assert not np.array_equal(other.threshold_factor.to_numpy(), small.threshold_factor.to_numpy())


def test_a_rerun_is_served_from_the_cache(small, monkeypatch):
    calls = []
    real = vmlab.model.simulate
    monkeypatch.setattr(vmlab.model, "simulate", lambda cfg: calls.append(cfg) or real(cfg))
    again = _run(small.attrs["out"])
    assert calls == []
    pd.testing.assert_frame_equal(small, again)
    more = _run(small.attrs["out"], n_trials=10)       # more trials continue the same study
    assert len(calls) <= 4 and len(more) == 20
    pd.testing.assert_frame_equal(more[more.trial < 8].drop(columns="pareto").reset_index(drop=True),
                                  small.drop(columns="pareto").reset_index(drop=True))


def test_resumes_after_sigkill_without_rerunning_finished_trials(tmp_path, engine_warm):
    out = tmp_path / "killed"
    kw = dict(base=BASE.replace(ncpus=2), space=SPACE, objectives=OBJ, n_trials=12, seed=5, workers=1,
              progress=False, batch_size=4)
    # each run sleeps 0.1 s in the child, so the kill lands while runs are in flight
    script = textwrap.dedent(f"""
        import time
        import vmlab.model
        from vmlab import SimConfig
        from vmlab.optimize import optimize
        _simulate = vmlab.model.simulate
        def slow(cfg):
            time.sleep(0.1)
            return _simulate(cfg)
        vmlab.model.simulate = slow
        base = SimConfig.for_kernel("5.0+threshold", platform="hikey960", workload="fix_size", duration_s=0.05, ncpus=2)
        optimize(base, {SPACE!r}, objectives={OBJ!r}, n_trials=12, seed=5, workers=1, progress=False,
                 batch_size=4, out={str(out)!r})
    """)
    proc = subprocess.Popen([sys.executable, "-c", script])
    runs = out / "runs"
    deadline = time.time() + 180
    while time.time() < deadline and len(list(runs.glob("*.parquet"))) < 7:
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    before = {p.name for p in runs.glob("*.parquet")}
    assert 7 <= len(before) < 13, len(before)       # 12 trials + the kernel default
    assert (out / "optuna.log").stat().st_size > 0

    calls = []
    real = vmlab.model.simulate
    vmlab.model.simulate = lambda cfg: calls.append(cfg) or real(cfg)
    try:
        resumed = optimize(**kw, out=out)
    finally:
        vmlab.model.simulate = real
    after = {p.name for p in runs.glob("*.parquet")}
    assert before <= after
    assert len(calls) == len(after - before) and len(calls) < 13 - 7 + 1   # no finished run again
    assert len(resumed) == 12 and sorted(resumed.trial) == list(range(12))
    assert resumed.error.isna().all()
    _check_front(resumed, ["min", "min"])           # no by: one front over all trials
    reference = optimize(**kw, out=tmp_path / "whole")
    pd.testing.assert_frame_equal(resumed, reference)   # the trials of an uninterrupted run


# ------------------------------------------------------------------ the kernel default
def test_hikey960_finding_against_the_kernel_default(tmp_path, engine_warm):
    # (1 s: the list era's stress runs purge first after ~0.5 simulated s)
    base = SimConfig.for_kernel("5.0+threshold", platform="hikey960", workload="stress", duration_s=1.0)
    df = optimize(base, {"threshold_factor": (0.5, 16.0), "lazy_max_pages": (4096, 131072)}, n_trials=8,
                  seed=0, by={"ncpus": [4, 8]}, workers=1, out=tmp_path / "hikey", progress=False, batch_size=4)
    finding = dominates_default(df)
    print(finding.text)
    dirs = df.attrs["directions"]
    defaults = df.attrs["kernel_default"]
    assert [d["ncpus"] for d in defaults] == [4, 8]
    from vmlab.sweep import plan
    for d in defaults:       # the kernel default is the era's factor 2 and the kernel formula
        assert d["threshold_factor"] == 2.0 and d["lazy_max_pages"] is None
        assert plan(configs=[base.replace(ncpus=d["ncpus"])])[0]["run_key"] == d["run_key"]
    table = finding.table
    assert list(table.ncpus) == [4, 8]
    any_found = False
    for _, r in table.iterrows():
        g = df[df.ncpus == r.ncpus]
        dv = [next(d for d in defaults if d["ncpus"] == r.ncpus)[o] for o in OBJ]
        beats = [_dominates(row, dv, dirs) for row in g[OBJ].to_numpy(float)
                 if np.isfinite(row).all()]
        assert r.n_dominating == sum(beats)
        assert bool(r.dominates) == any(beats)
        any_found |= any(beats)
        line = next(ln for ln in finding.text.splitlines() if ln.startswith(f"ncpus={r.ncpus}:"))
        if r.dominates:
            row = g[g.trial == r.trial].iloc[0]
            assert row.pareto and _dominates(row[OBJ].to_numpy(float), dv, dirs)
            assert f"trial {int(r.trial)}" in line and "dominates" in line
        else:
            assert "no trial dominates" in line
    assert finding.found == any_found
    assert finding.text.splitlines()[0] == ("found a setting that dominates the kernel default" if any_found
                                            else "found no setting that dominates the kernel default")


def test_proposals_on_a_known_frame():
    """Ties are not domination; the proposal is the front trial with the best worst-case gain."""
    df = pd.DataFrame({"ncpus": [2, 2, 2, 2, 4, 4], "trial": [0, 1, 2, 3, 0, 1],
                       "threshold_factor": [1.0, 4.0, 8.0, 2.0, 1.0, 4.0],
                       "peak_lazy_ratio": [1.0, 0.9, 0.5, 1.0, 3.0, 1.0],
                       "purge_p99_ns": [10.0, 8.0, 9.5, 10.0, 1.0, 50.0]})
    df["pareto"] = pd.concat([pareto_mask(g, OBJ) for _, g in df.groupby("ncpus")]).reindex(df.index)
    df.attrs.update(objectives=OBJ, directions=["min", "min"], by=["ncpus"], space={"threshold_factor": [0.5, 16]},
                    base=BASE.to_dict(), kernel_default=[
                        {"ncpus": 2, "threshold_factor": 2.0, "peak_lazy_ratio": 1.0, "purge_p99_ns": 10.0},
                        {"ncpus": 4, "threshold_factor": 2.0, "peak_lazy_ratio": 2.0, "purge_p99_ns": 20.0}])
    t = proposals(df).set_index("ncpus")
    # 2 CPUs: trials 1 (-10 %, -20 %) and 2 (-50 %, -5 %) dominate, trial 0 only ties (it is the default)
    assert t.loc[2, "n_dominating"] == 2 and t.loc[2, "dominates"] and t.loc[2, "trial"] == 1
    assert t.loc[2, "peak_lazy_ratio_gain"] == pytest.approx(0.1) and t.loc[2, "purge_p99_ns_gain"] == pytest.approx(0.2)
    # 4 CPUs: a trade-off each way (gains -50 %/+95 % and +50 %/-150 %); trial 0 gives up least
    assert t.loc[4, "n_dominating"] == 0 and not t.loc[4, "dominates"] and t.loc[4, "trial"] == 0
    f = dominates_default(df)
    assert f.found and "ncpus=2: trial 1 (threshold_factor=4)" in f.text and "ncpus=4: no trial" in f.text
    four = df[df.ncpus == 4].copy()
    four.attrs["kernel_default"] = df.attrs["kernel_default"][1:]
    f4 = dominates_default(four)
    assert not f4.found and f4.text.startswith("found no setting")


# ------------------------------------------------------------------ bad inputs
@pytest.mark.parametrize("kw,needle", [
    (dict(space={"bogus": (1, 2)}), "'bogus' is not a SimConfig field"),
    (dict(space={"threshold_factor": (4.0, 1.0)}), "needs low < high"),
    (dict(space={"threshold_factor": (0.0, 1.0)}), "log scale"),
    (dict(space={"ncpus": (0, 8)}), "allowed 1..1024"),
    (dict(space={"lazy_max_pages": (4096.5, 8192)}), "takes integers"),
    (dict(space={"policy": ("threshold", "no-resched")}), "not numeric"),
    (dict(space={"policy": ["threshold", "sometimes"]}), "policy"),
    (dict(space={"threshold_factor": 2.0}), "(low, high) tuple"),
    (dict(space={"seed": (1, 9)}), "cannot be searched"),
    (dict(space={}), "non-empty dict"),
    (dict(objectives=["peak_lazy_ratio", "latency"]), "'latency' is not a summary key"),
    (dict(objectives=["best:ops"]), "direction 'best'"),
    (dict(objectives={"ops": "up"}), "direction 'up'"),
    (dict(by={"cpus": [2]}), "by field 'cpus'"),
    (dict(by={"ncpus": [2, 0]}), "allowed 1..1024"),
    (dict(by={"threshold_factor": [1.0]}), "also a `by` field"),
    (dict(sampler="random"), "sampler='random'"),
    (dict(n_trials=0), "n_trials=0"),
    (dict(batch_size=1), "batch_size=1"),
])
def test_bad_inputs_name_the_field(tmp_path, kw, needle):
    args = dict(space=SPACE)
    args.update(kw)
    with pytest.raises(ValueError, match=None) as e:
        optimize(BASE, args.pop("space"), out=tmp_path / "bad", progress=False, workers=1, **args)
    assert needle in str(e.value), str(e.value)
    assert not (tmp_path / "bad").exists()       # nothing ran, nothing written


# ------------------------------------------------------------------ figure and text
def test_plot_pareto_marks_each_front_and_default(small):
    from vmlab.plots import plot_pareto

    fig = plot_pareto(small)
    gids = [ln.get_gid() for ln in fig.axes[0].lines]
    assert gids.count("front:2 CPUs") == 1 and gids.count("front:4 CPUs") == 1
    assert {"kernel-default:2 CPUs", "kernel-default:4 CPUs"} <= set(gids)
    front = next(ln for ln in fig.axes[0].lines if ln.get_gid() == "front:4 CPUs")
    g = small[(small.ncpus == 4) & small.pareto]
    assert sorted(front.get_xdata()) == sorted(g.peak_lazy_ratio)
    assert "(ms)" in fig.axes[0].get_ylabel()
    assert "kernel default" in [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    star = next(ln for ln in fig.axes[0].lines if ln.get_gid() == "kernel-default:2 CPUs")
    d2 = small.attrs["kernel_default"][0]
    assert star.get_xdata()[0] == pytest.approx(d2["peak_lazy_ratio"])
    assert star.get_ydata()[0] == pytest.approx(d2["purge_p99_ns"] / 1e6)


def test_proposal_section_reproduces_each_proposal(small, sim):
    from vmlab import cli
    from vmlab.export import optimize_email, proposal_section

    lines = proposal_section(small)
    assert lines[0] == "Proposed setting per CPU count"
    assert max(map(len, lines)) <= 72
    table = proposals(small)
    text = "\n".join(lines)
    for _, r in table.iterrows():
        assert f"{r.ncpus} CPUs:" in text
    # every command, run as `vmlab run` would, gives the numbers of its trial
    cmds, cur = [], None
    for ln in lines:
        s = ln.strip()
        if s.startswith("vmlab run"):
            cur = s
        elif cur is not None:
            cur += " " + s
        if cur is not None and not cur.endswith("\\"):
            cmds.append(cur)
            cur = None
        elif cur is not None:
            cur = cur[:-1].rstrip()
    assert len(cmds) == len(table)
    for cmd, (_, r) in zip(cmds, table.iterrows()):
        a = cli.build_parser().parse_args(shlex.split(cmd)[1:])
        res = sim(cli._config_from_args(a))
        for o in OBJ:
            assert res.summary[o] == pytest.approx(r[o]), (cmd, o)
        for o in OBJ:       # the gain is against the default's value
            d = r[o + "_default"]
            assert r[o + "_gain"] == pytest.approx((d - r[o]) / d)
    email = optimize_email(small, command="vmlab optimize x.toml")
    assert max(map(len, email.splitlines())) <= 72 and "vmlab optimize x.toml" in email


# ------------------------------------------------------------------ the command
def vmlab_cli(*args):
    return subprocess.run([sys.executable, "-m", "vmlab", *args], capture_output=True, text=True,
                          cwd=ROOT, timeout=600)


def test_cli_optimize_writes_trials_figure_and_email(tmp_path):
    p = vmlab_cli("optimize", "data/grids/optimize-smoke.toml", "--out", str(tmp_path), "--workers", "1",
                  "--quiet", "--n-trials", "4")
    assert p.returncode == 0, p.stderr
    trials = pd.read_parquet(tmp_path / "optimize-smoke-trials.parquet")
    assert len(trials) == 8 and set(trials.ncpus) == {2, 4} and trials.pareto.any()
    assert len(pd.read_csv(tmp_path / "optimize-smoke-trials.csv")) == 8
    for ext in ("png", "svg", "pdf"):
        assert (tmp_path / f"optimize-smoke-pareto.{ext}").stat().st_size > 1000
    text = (tmp_path / "optimize-smoke.txt").read_text()
    assert "Proposed setting per CPU count" in text and "vmlab run" in text
    assert "vmlab optimize data/grids/optimize-smoke.toml" in text
    assert max(len(line) for line in text.splitlines()) <= 72
    assert "dominates the kernel default" in p.stdout


@pytest.mark.parametrize("body,needle", [
    ('[space]\nbogus = {low = 1, high = 2}\n', "bogus"),
    ('[space]\nthreshold_factor = {low = 4.0, high = 1.0}\n', "low < high"),
    ('[space]\nthreshold_factor = {min = 1.0, max = 4.0}\n', "{low = ..., high = ...}"),
    ('objectives = ["nope"]\n[space]\nthreshold_factor = {low = 1.0, high = 4.0}\n', "nope"),
    ('n_trials = 0\n[space]\nthreshold_factor = {low = 1.0, high = 4.0}\n', "n_trials"),
    ('[space]\nthreshold_factor = {low = 1.0, high = 4.0}\n[by]\nncpus = [0]\n', "ncpus"),
    ('[base]\nkernel = "9.9"\n', "kernel"),
    ('grid = 1\n', "unknown key"),
    ('[space\n', "TOML"),
])
def test_cli_bad_file_one_line_exit_2(tmp_path, body, needle):
    f = tmp_path / "o.toml"
    f.write_text(body)
    p = vmlab_cli("optimize", str(f), "--out", str(tmp_path / "o"))
    assert p.returncode == 2, (p.stdout, p.stderr)
    assert len(p.stderr.strip().splitlines()) == 1 and needle in p.stderr and "Traceback" not in p.stderr


def test_cli_missing_file(tmp_path):
    p = vmlab_cli("optimize", str(tmp_path / "nosuch.toml"))
    assert p.returncode == 2 and "nosuch.toml" in p.stderr and len(p.stderr.strip().splitlines()) == 1


# ------------------------------------------------------------------ TPE, choices, max, Dask
def test_tpe_with_a_choice_and_a_maximised_objective(tmp_path, engine_warm):
    kw = dict(base=BASE.replace(ncpus=2), space={"threshold_factor": (0.5, 16.0),
                                                "policy": ["threshold", "always-resched"]},
              objectives=["purge_p99_ns", "max:ops"], n_trials=6, seed=1, workers=1, progress=False,
              batch_size=3, sampler="tpe")
    df = optimize(**kw, out=tmp_path / "a")
    assert df.attrs["directions"] == ["min", "max"] and len(df) == 6
    assert set(df.policy) <= {"threshold", "always-resched"}
    vals = df[["purge_p99_ns", "ops"]].to_numpy(float)
    ok = np.isfinite(vals).all(axis=1)
    for i in np.flatnonzero(df.pareto):
        assert not any(_dominates(vals[j], vals[i], ["min", "max"]) for j in np.flatnonzero(ok))
    for i in np.flatnonzero(~df.pareto.to_numpy() & ok):
        assert any(_dominates(vals[j], vals[i], ["min", "max"]) for j in np.flatnonzero(df.pareto))
    pd.testing.assert_frame_equal(df, optimize(**kw, out=tmp_path / "b"))


def test_dask_client_and_scheduler_address_give_the_same_trials(small, tmp_path):
    distributed = pytest.importorskip("dask.distributed")
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                                  dashboard_address=None) as cluster:
        with distributed.Client(cluster) as client:
            remote = _run(tmp_path / "client", client=client, workers=None)
        again = _run(tmp_path / "addr", scheduler=cluster.scheduler_address, workers=None)
    pd.testing.assert_frame_equal(small, remote)
    pd.testing.assert_frame_equal(small, again)


def test_the_policy_knobs_are_searched_as_ranges():
    """vmlab.space takes its numeric types from vmlab.fields: every int and float field of
    SimConfig, the policy knobs included, can be a range (batch_entries and hold_budget_us on a
    log scale), and an int range yields ints."""
    from vmlab import SimConfig
    from vmlab.fields import FIELDS
    from vmlab.space import FLOAT_FIELDS, INT_FIELDS, Space

    assert INT_FIELDS | FLOAT_FIELDS == {f.name for f in FIELDS if f.type in ("int", "float")}
    sp = Space.parse({"batch_entries": (8, 2048), "hold_budget_us": (10.0, 3000.0), "low_factor": (0.25, 1.0),
                      "host_cpus": (1, 4)}, base=SimConfig(ncpus=8))
    d = {x.name: x for x in sp.dims}
    assert d["batch_entries"].kind == "int" and d["batch_entries"].log
    assert d["hold_budget_us"].kind == "float" and d["hold_budget_us"].log
    assert not d["low_factor"].log and not d["host_cpus"].log
    v = sp.from_unit([0.5, 0.5, 0.5, 1.0])
    assert v["batch_entries"] == 128 and isinstance(v["batch_entries"], int)      # log midpoint of 8..2048
    assert v["hold_budget_us"] == pytest.approx((10.0 * 3000.0) ** 0.5)
    assert v["host_cpus"] == 4
    with pytest.raises(ValueError, match="host_cpus"):
        Space.parse({"host_cpus": (1, 16)}, base=SimConfig(ncpus=8))       # host_cpus <= ncpus
