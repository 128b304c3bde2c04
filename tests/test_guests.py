"""Issue 14: overcommitted guests, vCPUs that share host cores (``SimConfig.host_cpus``)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from vmlab import SimConfig, simulate
from vmlab import engine as E
from vmlab.platforms import get_platform


# --------------------------------------------------------------------------- the host schedule
@pytest.mark.parametrize("ncpus,host,slice_ns", [(2, 1, 10), (3, 2, 7), (5, 2, 4), (4, 4, 5)])
def test_schedule_helpers_match_a_brute_force_schedule(ncpus, host, slice_ns):
    for c in range(ncpus):
        n = E._vcpu_n.py_func(c, ncpus, host)
        j = c // host

        def runs(t):
            return j * slice_ns <= t % (n * slice_ns) < (j + 1) * slice_ns

        off = 0
        for t in range(150):
            assert E._vcpu_off.py_func(c, t, ncpus, host, slice_ns) == off
            nr = t
            while not runs(nr):
                nr += 1
            assert E._vcpu_next_run.py_func(c, t, ncpus, host, slice_ns) == nr
            for work in (1, 3, slice_ns, 2 * slice_ns + 1):
                x, left = t, work
                while left:
                    left -= runs(x)
                    x += 1
                assert E._vcpu_delay.py_func(c, t, work, ncpus, host, slice_ns) == x
            off += not runs(t)


# --------------------------------------------------------------------------- validation
def test_host_cpus_validation():
    assert SimConfig(host_cpus=None).host_cpus is None
    SimConfig(platform="qemu-tcg", ncpus=8, host_cpus=2)
    SimConfig(ncpus=4, host_cpus=4)
    SimConfig(host_cpus=8)                 # hikey960: 8 CPUs by default
    for bad in (0, -1, 9, 2.0, "2", True):
        with pytest.raises(ValueError, match=r"host_cpus=.*1\.\.8"):
            SimConfig(ncpus=8, host_cpus=bad)
    with pytest.raises(ValueError, match=r"host_cpus=3.*1\.\.2"):
        SimConfig(ncpus=2, host_cpus=3)
    assert get_platform("qemu-tcg").host_slice_ns == 4_000_000   # fitted on smp8 fix_size (vmlab.validation)


def test_cli_flag_and_command():
    from vmlab.cli import main
    from vmlab.export import run_command
    cmd = " ".join(run_command(SimConfig.for_kernel("6.1", platform="qemu-tcg", ncpus=8, host_cpus=2)))
    assert cmd.startswith("vmlab run") and "--host-cpus 2" in cmd
    assert "host-cpus" not in " ".join(run_command(SimConfig.for_kernel("6.1", platform="qemu-tcg", ncpus=8)))
    assert main(["run", "--kernel", "6.1", "--platform", "qemu-tcg", "--ncpus", "2", "--host-cpus", "1",
                 "--workload", "fix_size", "--duration", "0.02", "--json"]) in (0, None)


# --------------------------------------------------------------------------- nothing changes without it
@pytest.mark.parametrize("cfg", [
    SimConfig.for_kernel("6.1", platform="qemu-tcg", ncpus=4, duration_s=0.2),
    SimConfig.for_kernel("5.0+threshold", platform="hikey960", ncpus=4, workload="fix_size", duration_s=0.2),
    SimConfig.for_kernel("5.11", platform="x86-server", ncpus=3, duration_s=0.2),
], ids=["6.1", "5.0+threshold", "5.11"])
def test_host_cpus_none_changes_nothing(cfg):
    a = simulate(cfg)
    b = simulate(cfg.replace(host_cpus=None))
    # one vCPU per host core is the same machine, whatever its slice
    c = simulate(cfg.replace(host_cpus=cfg.resolved().ncpus))
    for r in (b, c):
        pd.testing.assert_frame_equal(a.purges, r.purges)
        pd.testing.assert_frame_equal(a.timeseries, r.timeseries)
        pd.testing.assert_frame_equal(a.latency, r.latency)
        assert a.summary.ops == r.summary.ops and a.summary.events == r.summary.events
    assert (a.timeseries.steal_ns == 0).all() and a.summary.lock_holder_preempt_max_ns == 0


# --------------------------------------------------------------------------- 2 vCPUs on one host core
@pytest.fixture(scope="module")
def two_on_one():
    cfg = SimConfig.for_kernel("6.1", platform="qemu-tcg", ncpus=2, workload="fix_size", duration_s=0.5,
                               lazy_max_pages=100, host_cpus=1)
    return cfg, simulate(cfg)


def test_two_vcpus_on_one_core_steal_half(two_on_one):
    cfg, r = two_on_one
    ts = r.timeseries
    t = ts.index.to_numpy(dtype=float)
    # summed over the 2 vCPUs: one of them is always descheduled, so steal = elapsed (50 % each)
    per_vcpu = ts.steal_ns.to_numpy(dtype=float) / 2
    assert np.all(np.abs(per_vcpu[1:] / t[1:] - 0.5) <= 0.5 * get_platform("qemu-tcg").host_slice_ns / t[1:] + 1e-12)
    assert abs(per_vcpu[-1] / t[-1] - 0.5) < 0.01


def test_two_vcpus_on_one_core_lock_holder_preemption(two_on_one):
    cfg, r = two_on_one
    s = r.summary
    slice_ns = get_platform("qemu-tcg").host_slice_ns
    assert s.lock_holder_preempt_max_ns > 0
    # a waiter spins while the holder's vCPU is off: the wait exceeds a host slice
    assert s.lock_wait_max_ns > slice_ns
    assert s.lock_holder_preempt_max_ns <= s.lock_hold_max_ns


def test_drain_runs_only_when_its_vcpu_runs(two_on_one):
    cfg, r = two_on_one
    slice_ns = get_platform("qemu-tcg").host_slice_ns
    d = r.purges[r.purges.trigger == "drain"]
    assert len(d) > 0
    for _, p in d.iterrows():
        c, st, en = int(p.cpu), int(p.start_ns), int(p.end_ns)
        # the drain starts no earlier than its vCPU's next run window ...
        assert E._vcpu_next_run.py_func(c, st, 2, 1, slice_ns) == st
        # ... and its work stops while the vCPU is descheduled
        off = E._vcpu_off.py_func(c, en, 2, 1, slice_ns) - E._vcpu_off.py_func(c, st, 2, 1, slice_ns)
        assert p.duration_ns - p.work_ns >= off


# --------------------------------------------------------------------------- the figure
def test_plot_host_overcommit():
    from vmlab.plots import df_host_overcommit, plot_host_overcommit
    runs = [simulate(SimConfig.for_kernel(k, platform="qemu-tcg", ncpus=4, workload="fix_size",
                                          duration_s=0.1, host_cpus=h))
            for k in ("6.1", "5.0+threshold") for h in (None, 2, 1)]
    d = df_host_overcommit(runs)
    assert list(d.columns) == ["kernel", "host_share", "host_cpus", "ncpus", "peak_lazy_ratio", "runs"]
    assert set(d.kernel) == {"6.1", "5.0+threshold"}
    assert sorted(d[d.kernel == "6.1"].host_share) == [0.25, 0.5, 1.0]
    r = d.set_index(["kernel", "host_cpus"]).peak_lazy_ratio
    assert r[("6.1", 4)] == pytest.approx(runs[0].summary.peak_lazy_ratio)
    fig = plot_host_overcommit(runs)
    ax = fig.axes[0]
    assert {ln.get_gid() for ln in ax.lines} >= {"line:6.1", "line:5.0+threshold"}
    assert "host_cpus" in ax.get_xlabel() and fig.vmlab_metadata["title"]


def test_the_explore_panel_exposes_host_cpus(engine_warm, tmp_path):
    from vmlab.widgets import explore

    p = explore(out_dir=tmp_path, kernel="6.1", platform="qemu-tcg", ncpus=2, workload="fix_size",
                duration_s=0.25)
    assert p.config().host_cpus is None and p.error is None
    runs = p.runs
    p.controls["host_cpus"].value = 1
    assert p.error is None and p.runs == runs + 1 and p.config().host_cpus == 1
    assert p.result.timeseries.steal_ns.iloc[-1] > 0
    p.controls["host_cpus"].value = 4                  # more host cores than vCPUs: refused, named
    assert p.error and "host_cpus" in p.error


# --------------------------------------------------------------------------- the guest's spinlock
def test_spinlock_kind_is_validated_and_taken_from_the_platform():
    with pytest.raises(ValueError, match="spinlock"):
        SimConfig(spinlock="ticket")
    P = lambda c: int(c.engine_inputs()[0][E.P_SPINLOCK])  # noqa: E731
    assert P(SimConfig(platform="qemu-tcg", ncpus=4, host_cpus=2)) == E.SPINLOCK_TAS     # docs/facts.md §6
    assert P(SimConfig(platform="hikey960", ncpus=4, host_cpus=2)) == E.SPINLOCK_QUEUED
    assert P(SimConfig(platform="qemu-tcg", ncpus=4, host_cpus=2, spinlock="queued")) == E.SPINLOCK_QUEUED
    odd = get_platform("qemu-tcg").with_costs(guest_spinlock="ticket")
    with pytest.raises(ValueError, match="guest_spinlock='ticket' is not allowed"):
        SimConfig(platform=odd, ncpus=4, host_cpus=2).engine_inputs()


def test_spinlock_kind_matters_only_on_an_overcommitted_guest():
    base = SimConfig.for_kernel("6.1", platform="x86-server", ncpus=8, workload="fix_size", duration_s=0.05)
    a, b = (simulate(base.replace(spinlock=k)) for k in ("queued", "test-and-set"))
    pd.testing.assert_frame_equal(a.purges, b.purges)
    pd.testing.assert_frame_equal(a.latency, b.latency)
    assert a.summary.events == b.summary.events
    # with 8 vCPUs on 2 cores the release goes elsewhere than the FIFO head, and the run changes
    g = base.replace(host_cpus=2, duration_s=0.2)
    q, t = (simulate(g.replace(spinlock=k)) for k in ("queued", "test-and-set"))
    assert q.summary.events != t.summary.events and q.summary.ops != t.summary.ops


def test_test_and_set_lets_a_running_vcpu_take_a_free_lock():
    """8 vCPUs on 2 cores at 4 ms slices: with the FIFO lock the tests crawl (the head of the queue
    is descheduled for up to 3 slices while everyone behind it spins); with test-and-set a running
    vCPU takes the free lock, and nobody waits for a whole host round for a lock that is free."""
    base = SimConfig.for_kernel("6.1", platform="qemu-tcg", ncpus=8, host_cpus=2, workload="fix_size",
                                duration_s=0.5, lazy_max_pages=1 << 30)     # no purge: the locks alone
    q, t = (simulate(base.replace(spinlock=k)) for k in ("queued", "test-and-set"))
    assert t.summary.ops > 10 * q.summary.ops
    rnd = 4 * get_platform("qemu-tcg").host_slice_ns            # one host round: 4 vCPUs per core
    assert q.latency.at["lock_wait", "max"] >= rnd - 1_000_000
    # a test-and-set wait longer than a round would need the lock held by a descheduled holder
    assert t.latency.at["lock_wait", "p50"] < 100_000


def test_x86_tlb_flush_waits_for_every_vcpu():
    """on_each_cpu(..., wait=1) on an overcommitted x86 guest: the flush ends only when every other
    vCPU has run its IPI handler, so a purge's flush phase lasts until the last one's next window."""
    cfg = SimConfig.for_kernel("6.1", platform="qemu-tcg", ncpus=4, host_cpus=2, workload="fix_size",
                               duration_s=1.0, lazy_max_pages=256)
    r = simulate(cfg)
    S = get_platform("qemu-tcg").host_slice_ns
    p = r.purges[r.purges.areas > 0]
    assert len(p) > 0
    # with 2 vCPUs per core the other vCPU on the purging one's core is off for a slice: the flush
    # phase (flush start to the free loop's first lock) spans its next window in most purges
    gap = p.duration_ns - p.work_ns
    assert (gap > S // 2).mean() > 0.5
    arm = simulate(cfg.replace(platform="hikey960"))       # arm64 broadcasts: no wait for other vCPUs
    assert (arm.purges.duration_ns - arm.purges.work_ns).median() < gap.median()
