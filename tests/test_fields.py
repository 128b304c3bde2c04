"""The one table of SimConfig's fields (`vmlab.fields`) and what is derived from it: the ``vmlab run``
options and the reproduce command of the email text (`vmlab.export.run_command`)."""
from __future__ import annotations

import random
import shlex
import warnings

import pytest

from vmlab import config as C
from vmlab.cli import _config_from_args, build_parser
from vmlab.config import KERNELS, SimConfig
from vmlab.export import _CLI, run_command
from vmlab.fields import FIELD, FIELDS, cli_flags, in_range
from vmlab.workloads import MODES, TEST_IDS


def _parse(argv) -> SimConfig:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)      # --kernel 5.1's rename notice
        return _config_from_args(build_parser().parse_args(list(argv)))


def test_table_is_simconfigs_fields_in_order():
    assert [f.name for f in FIELDS] == SimConfig.field_names(), (
        "every SimConfig field needs a row in vmlab/fields.py (FIELDS), in SimConfig's order")


def test_every_field_but_policy_code_has_a_cli_flag():
    missing = [n for n in SimConfig.field_names() if n != "policy_code" and n not in cli_flags()]
    assert missing == []
    assert "policy_code" not in cli_flags()
    assert _CLI == cli_flags()
    flags = list(cli_flags().values())
    assert len(set(flags)) == len(flags)
    opts = build_parser()._subparsers._group_actions[0].choices["run"]._option_string_actions
    for name, flag in cli_flags().items():
        assert flag in opts and opts[flag].dest == name, flag


def test_choices_are_configs():
    assert C.PURGE_MODES is FIELD["purge_mode"].allowed() or C.PURGE_MODES == FIELD["purge_mode"].allowed()
    for name, tup in [("policy", C.POLICIES), ("allocator", C.ALLOCATORS), ("flush_range", C.FLUSH_RANGES),
                      ("preempt", C.PREEMPTS), ("purge_lock", C.PURGE_LOCKS), ("lazy_drop", C.LAZY_DROPS),
                      ("test_set", C.TEST_SETS)]:
        assert FIELD[name].allowed() == tuple(tup), name


@pytest.mark.parametrize("f", [f for f in FIELDS if f.type in ("int", "float")], ids=lambda f: f.name)
def test_ranges_agree_with_simconfig(f):
    lo, hi = f.bounds()
    base = dict(duration_s=1e-3) if f.name == "sample_interval_ns" else {}
    if f.name == "duration_s":
        base = dict(sample_interval_ns=10**9)
    if f.name == "low_factor":
        base = dict(threshold_factor=1e6)
    if f.name == "host_cpus":
        base = dict(ncpus=1024)          # (host_cpus is also bounded by ncpus)
    ok = [hi] + ([] if f.lo_open else [lo]) + ([None] if f.none_ok else [])
    bad = [hi * 2 if f.type == "float" else hi + 1, lo - 1]
    if f.lo_open:
        bad.append(lo)
    for v in ok:
        assert in_range(f, v)
        SimConfig(**base, **{f.name: v})
    for v in bad:
        assert not in_range(f, v)
        with pytest.raises(ValueError, match=f.name):
            SimConfig(**base, **{f.name: v})


def test_cli_reads_yes_no_and_none():
    cfg = _parse(["run", "--kernel", "6.1", "--lock-break", "none", "--lock-split", "no",
                  "--sequential-test-order", "yes", "--check-invariants", "on", "--lazy-max-pages",
                  "default", "--run-test-mask", "3", "--sample-interval-ns", "5000", "--preempt", "none"])
    assert cfg == SimConfig.for_kernel("6.1", lock_break=None, lock_split=False, sequential_test_order=True,
                                       check_invariants=True, run_test_mask=3, sample_interval_ns=5000)
    assert _parse(["run", "--preempt", "voluntary"]).preempt == "voluntary"
    for argv in (["run", "--lock-split", "maybe"], ["run", "--preempt", "half"], ["run", "--seed", "none"],
                 ["run", "--ncpus", "x"]):
        with pytest.raises(SystemExit) as e:
            _parse(argv)
        assert e.value.code == 2


def _random_value(rng: random.Random, f):
    if f.none_ok and rng.random() < 0.25:
        return None
    if f.type == "bool":
        return rng.random() < 0.5
    if f.type == "workload":
        tests = list(TEST_IDS)
        return rng.choice([rng.choice(list(MODES)), rng.choice(tests),
                           tuple(rng.sample(tests, rng.randint(2, 4)))])
    if f.type in ("str", "policy"):
        return rng.choice(f.allowed())
    lo, hi = f.bounds()
    if f.type == "int":
        top = min(hi, {"seed": 2**63 - 1, "ram_bytes": 1 << 40}.get(f.name, 4096))
        lo = max(lo, 1000) if f.name == "sample_interval_ns" else lo
        return rng.randint(lo, max(lo, top)) if rng.random() < 0.8 else lo
    return rng.choice([round(rng.uniform(0.01, 8), 2), rng.uniform(0.01, 8), float(rng.randint(1, 8))])


def _random_configs(n: int, seed: int = 13):
    rng = random.Random(seed)
    kernels = [None] + list(KERNELS)
    # the policies' own knobs come with their policy; lock_split, lazy_max_pages None/int are common
    often = {"policy", "lock_split", "lazy_max_pages", "ncpus", "platform", "workload"}
    out, tries = [], 0
    while len(out) < n:
        tries += 1
        assert tries < 50 * n
        k = rng.choice(kernels)
        kw = {}
        for f in FIELDS:
            if f.name == "policy_code":
                continue
            if rng.random() < (0.5 if f.name in often else 0.15):
                kw[f.name] = _random_value(rng, f)
        pol = kw.get("policy")
        if pol == "hysteresis":
            kw.setdefault("low_factor", round(rng.uniform(0.1, 1.0), 3))
            kw["threshold_factor"] = max(kw.get("threshold_factor", 2.0) or 2.0, kw["low_factor"])
        elif pol == "batch":
            kw.setdefault("batch_entries", rng.randint(1, 512))
        elif pol == "hold-budget":
            kw.setdefault("hold_budget_us", rng.choice([12.5, 100.0, 333.3]))
        if kw.get("duration_s") is not None:
            kw["duration_s"] = min(kw["duration_s"], 2.0)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", FutureWarning)
                cfg = SimConfig.for_kernel(k, **kw) if k else SimConfig(**kw)
        except ValueError:
            continue
        out.append(cfg)
    return out


def _argv(lines):
    assert lines[0].startswith("vmlab run"), lines
    assert all(len(ln) <= 72 for ln in lines)
    joined = "".join(ln[:-1] if ln.endswith("\\") else ln for ln in lines)   # as the shell reads it
    return shlex.split(joined)[1:]


def test_run_command_round_trips_random_configs():
    cfgs = _random_configs(300)
    seen = {"policy": set(), "kernel": set()}
    for cfg in cfgs:
        argv = _argv(run_command(cfg))
        assert _parse(argv) == cfg, (cfg, argv)
        seen["policy"].add(cfg.policy)
        if "--kernel" in argv:
            seen["kernel"].add(argv[argv.index("--kernel") + 1])
    assert {"hysteresis", "batch", "hold-budget", "threshold"} <= seen["policy"]
    assert len(seen["kernel"]) >= 5


@pytest.mark.parametrize("cfg", [
    SimConfig.for_kernel("5.0+threshold", threshold_factor=4.0, ncpus=8),
    SimConfig.for_kernel("6.1", lock_break=None, lazy_max_pages=512, sample_interval_ns=10_000),
    SimConfig(policy="hysteresis", threshold_factor=3.0, low_factor=0.5, lock_split=True,
              workload=("fix_size_alloc_test", "pcpu_alloc_test"), sequential_test_order=False),
    SimConfig(policy="hold-budget", hold_budget_us=12.5, check_invariants=True, run_test_mask=5, preempt="full"),
])
def test_run_command_special_cases(cfg):
    argv = _argv(run_command(cfg))
    assert _parse(argv) == cfg
    if cfg.threshold_factor == 4.0:
        assert argv[:5] == ["run", "--kernel", "5.0", "--policy", "threshold"]


def test_run_command_custom_policy_is_python():
    from vmlab.policies import purge_policy

    @purge_policy
    def every_other(lazy_nr, lazy_max, done, left, waiters, hold_ns, ncpus):
        return done % 2 == 0

    lines = run_command(SimConfig(policy=every_other, ncpus=4))
    assert ">>> from vmlab import SimConfig, simulate" in lines
    assert any("policy=every_other" in ln for ln in lines)
