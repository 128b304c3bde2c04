"""Fit and validation kept apart (issue 11): `vmlab.validation.validate` on the shipped recordings.

The fit: calibrate() fits qemu-tcg on smp2 fix_size only (``platforms.QEMU_TCG_FITTED_ON``); the
preset is its fixed point. The evidence: every other recording inside the model, i.e. at 2 vCPUs:
smp2r3 and smp2r4 fix_size (the fitted workload, recorded again) and smp2, smp2r3, smp2r4
long_busy (a workload the fit did not see). smp8 (8 vCPUs on 2 host cores) is modelled with
host_cpus=2; qemu-tcg's host_slice_ns was fitted on smp8 fix_size alone (4 ms, a real host slice,
with the guest's test-and-set lock and the TLB flush's wait for every vCPU modelled), and smp8
long_busy is held out: its test time, drain counts, peak ratio and drain durations are asserted
within 2x, and every quantity outside its band has its reason in numbers (`overcommit_because`).

Tolerances asserted on the evidence rows (the bands are `vmlab.validation.QUANTITIES`):

* kernel logic, every held-out recording: peak vmap_lazy_nr / lazy_max_pages within 5 %, the big
  drains' count within 10 % and median pages within 2 %, vmap_lazy_nr at the end of a big drain
  and the small drains' median pages within 1 % of lazy_max_pages;
* timing, the fitted workload held out (smp2r3, smp2r4 fix_size): test time and the median big and
  small drain durations within 1.5x;
* timing, the other workload (long_busy): within 2x. The table's band is 1.5x, and it marks where
  it is missed (the three long_busy recordings themselves spread by 1.4x in test time and 2.4x in
  big-drain duration, and the model's long_busy loop is slower than all three); notebook 04 says so.

The re-queue share and the small drains' count are not asserted: the table and notebook 04
report them as disagreeing in fix_size, and test_notebooks checks that they say so.
"""
from __future__ import annotations

import math

import numpy as np
import pytest

from vmlab import calibrate
from vmlab.clusters import cluster_stats, drain_purges
from vmlab.platforms import QEMU_TCG_FITTED_ON, QEMU_TCG_HOST_FITTED_ON
from vmlab.trace import load_shipped, shipped_runs
from vmlab.validation import QUANTITIES, cluster_table, validate

LOGIC = ("peak_lazy_ratio", "big_count", "big_pages_p50", "big_lazy_nr_end_p50", "small_pages_p50")
TIMING = ("test_avg_usec", "big_duration_p50_ns", "small_duration_p50_ns")


@pytest.fixture(scope="module")
def kruns():
    return {f"{t}/{r}": load_shipped(t, r) for t, r in shipped_runs()}


@pytest.fixture(scope="module")
def results():
    return {}


@pytest.fixture(scope="module")
def table(engine_warm, kruns, results):
    return validate("qemu-tcg", kruns, results=results)


@pytest.fixture(scope="module")
def all_evidence(table):
    return table[~table.fitted_on & ~table.outside_model]


@pytest.fixture(scope="module")
def evidence(all_evidence):
    """The 2-vCPU evidence (a core per vCPU); smp8 long_busy has its own tests below."""
    return all_evidence[~all_evidence.recording.str.startswith("smp8/")]


@pytest.fixture(scope="module")
def fit(engine_warm, kruns):
    return calibrate([kruns[r] for r in QEMU_TCG_FITTED_ON], "qemu-tcg")


# ------------------------------------------------------------------------------------ the split
def test_no_held_out_recording_was_fitted_on(table, all_evidence, fit):
    """calibrate() names the recordings it fitted; none of them is evidence, and validate's
    fitted_on flags are exactly those recordings' rows."""
    _, report = fit
    used = report.attrs["recordings"]
    assert used == list(QEMU_TCG_FITTED_ON) == ["smp2/fix_size"]
    evidence = all_evidence
    assert set(evidence.recording).isdisjoint(used)
    assert (table.fitted_on == table.recording.isin(used + list(QEMU_TCG_HOST_FITTED_ON))).all()
    assert set(evidence.recording) == {"smp2r3/fix_size", "smp2r4/fix_size", "smp2/long_busy",
                                       "smp2r3/long_busy", "smp2r4/long_busy", "smp8/long_busy"}
    assert not table.outside_model.any()


def test_the_preset_is_the_fit(fit):
    """platforms.QEMU_TCG says its constants are calibrate() on QEMU_TCG_FITTED_ON: fitting again
    from it moves nothing by more than 10 %, and its targets are per cluster, within 10 %."""
    _, rep = fit
    const = rep[rep.kind == "constant"]
    assert const.factor.between(0.9, 1.1).all(), const[["name", "factor", "status"]]
    tgt = rep[rep.kind == "target"].set_index("name")
    assert {"purge_p50_ns[big]", "purge_p50_ns[small]"} <= set(tgt.index)
    assert "purge_p50_ns" not in tgt.index                 # no median across the two clusters
    assert tgt.ratio_after.between(0.9, 1.1).all(), tgt[["kernel", "model_after"]]
    assert set(rep.attrs["knobs_fitted"]) == {"alloc/free per op", "full TLB flush", "fixed purge cost"}
    assert "1 purge-list entry" in const.set_index("name").status["free_area_ns"]


# ------------------------------------------------------------------------------------ the table
def test_table_shape_and_bands(table, kruns):
    assert len(table) == len(kruns) * len(QUANTITIES)
    assert set(table.quantity) == {q.name for q in QUANTITIES}
    # within_band is what the stated band says
    q = {x.name: x for x in QUANTITIES}
    for _, r in table.iterrows():
        b = q[r.quantity]
        if b.band == "ratio" and r.kernel > 0:
            assert r.within_band == (1 / b.tol <= r.model / r.kernel <= b.tol), r
        elif b.band == "pages":
            assert r.within_band == (abs(r.model - r.kernel) <= b.tol * r.lazy_max_pages), r
    # ratio = model / kernel
    nz = table.kernel > 0
    assert np.allclose(table.ratio[nz], table.model[nz] / table.kernel[nz])


def test_kernel_logic_agrees_on_every_held_out_recording(evidence):
    rows = evidence[evidence.quantity.isin(LOGIC)]
    assert len(rows) == 5 * len(LOGIC)
    assert rows.within_band.all(), rows[~rows.within_band][["recording", "quantity", "kernel", "model", "band"]]


def test_timing_agrees_on_the_fitted_workload_held_out(evidence):
    rows = evidence[evidence.quantity.isin(TIMING) & evidence.recording.str.endswith("/fix_size")]
    assert set(rows.recording) == {"smp2r3/fix_size", "smp2r4/fix_size"} and len(rows) == 2 * len(TIMING)
    assert rows.within_band.all(), rows[~rows.within_band][["recording", "quantity", "ratio"]]
    assert rows.ratio.between(1 / 1.5, 1.5).all()


def test_timing_of_the_other_workload_within_2x(evidence):
    rows = evidence[evidence.quantity.isin(TIMING) & evidence.recording.str.endswith("/long_busy")]
    assert len(rows) == 3 * len(TIMING)
    assert rows.ratio.between(0.5, 2.0).all(), rows[["recording", "quantity", "ratio"]]


# ------------------------------------------------------------------------------------ clusters
def test_clusters_are_split_once_and_medians_come_from_one_cluster(kruns, results):
    """Every purge is big (> lazy_max_pages / 2 pages) or small; the big drains of a 2-vCPU run
    purge ~lazy_max_pages and the small ones a few pages, in kernel and model alike, so neither
    cluster median lies between the clusters."""
    for name in ("smp2r3/fix_size", "smp2/long_busy"):
        for run in (kruns[name], results[name]):
            d = drain_purges(run)
            lmp = d.attrs["lazy_max_pages"]
            assert set(d.cluster) == {"big", "small"}
            assert (d.size_pages[d.cluster == "big"] > lmp / 2).all()
            assert (d.size_pages[d.cluster == "small"] <= lmp / 2).all()
            st = cluster_stats(run)
            assert abs(st["big_pages_p50"] / lmp - 1) < 0.02
            assert st["small_pages_p50"] < 0.01 * lmp


def test_cluster_table(table):
    ct = cluster_table(table)
    assert list(ct.index.names) == ["recording", "cluster"] and len(ct) == 2 * table.recording.nunique()
    row = ct.loc[("smp2r3/fix_size", "big")]
    t = table[(table.recording == "smp2r3/fix_size")].set_index("quantity")
    assert row.kernel_count == t.at["big_count", "kernel"] and row.model_pages_p50 == t.at["big_pages_p50", "model"]
    assert row.kernel_duration_p50_us == pytest.approx(t.at["big_duration_p50_ns", "kernel"] / 1e3)
    assert math.isnan(ct.loc[("smp2r3/fix_size", "small")].kernel_lazy_nr_end_p50)
    assert not ct.loc[("smp2r3/fix_size", "big")].agrees           # the re-queue share disagrees
    assert ct.xs("small", level="cluster").fitted_on.sum() == 2         # smp2 and smp8 fix_size


# ------------------------------------------------------------------------------------ claims
def test_claims_say_agrees_or_disagrees(table):
    """vmlab.claims: a claim agrees (and names its band) or disagrees (and says by how much, where
    and why); a verdict is no bool; a fitted-on recording is refused as evidence."""
    from vmlab.claims import agreement, parse_claim

    v = agreement(table, "big_pages_p50", ["smp2r3/fix_size", "smp2r4/fix_size"])
    assert v.agrees and v.verdict == "agrees (within x/÷1.02)"
    with pytest.raises(TypeError):
        bool(v)
    row = table[(table.quantity == "requeue_share") & (table.recording == "smp2r3/fix_size")].iloc[0]
    d = agreement(table, "requeue_share", ["smp2r3/fix_size"], because="a reason")
    assert d.agrees == row.within_band
    if not d.agrees:
        assert d.verdict.startswith(f"disagrees (by {row.deviation} on smp2r3/fix_size") and "because a reason" in d.verdict
        assert "because not explained" in agreement(table, "requeue_share", ["smp2r3/fix_size"]).verdict
    assert parse_claim(str(d)) == (d.agrees, "requeue_share", ("smp2r3/fix_size",))
    assert parse_claim("[holds] anything") is None
    with pytest.raises(ValueError, match="fitted on"):
        agreement(table, "big_count", ["smp2/fix_size"])
    out = agreement(table, "peak_lazy_ratio", ["smp8/long_busy"])
    assert not out.agrees and "because not explained" in out.verdict   # evidence now: no note to lean on
    assert set(agreement(table, "big_count").recordings) == {
        "smp2r3/fix_size", "smp2r4/fix_size", "smp2/long_busy", "smp2r3/long_busy", "smp2r4/long_busy",
        "smp8/long_busy"}


# ------------------------------------------------------------------- smp8: 8 vCPUs on 2 host cores
def test_smp8_is_modelled_overcommitted(kruns, results, table):
    for r in ("smp8/fix_size", "smp8/long_busy"):
        assert kruns[r].config.host_cpus == 2 and results[r].config.host_cpus == 2
    assert results["smp2/fix_size"].config.host_cpus is None
    assert list(QEMU_TCG_HOST_FITTED_ON) == ["smp8/fix_size"]
    assert table[table.recording == "smp8/fix_size"].fitted_on.all()
    assert not table[table.recording == "smp8/long_busy"].fitted_on.any()


def test_host_slice_is_the_grid_fit(engine_warm, kruns):
    """The preset's host_slice_ns is fit_host_slice's argmin on smp8 fix_size (a grid around it), and
    it is a real host slice: milliseconds (the a-priori estimate for a HZ=250 host)."""
    from vmlab.platforms import Platform, get_platform
    from vmlab.validation import fit_host_slice

    S = get_platform("qemu-tcg").host_slice_ns
    assert S == Platform.host_slice_ns == 4_000_000
    g = fit_host_slice(kruns["smp8/fix_size"], grid_ns=(S // 3, S, 3 * S))
    assert g.attrs["best_ns"] == S and g.tests_done.all()
    # the guest's test-and-set lock is what allows it: with a FIFO lock at the same slice the tests
    # do not finish in 60 s (the recording: 9.4 s), queued behind descheduled waiters
    fifo = get_platform("qemu-tcg").with_costs(guest_spinlock="queued")
    ms = fit_host_slice(kruns["smp8/fix_size"], platform=fifo, grid_ns=(S,), duration_s=60)
    assert not ms.tests_done.iat[0]


def test_smp8_long_busy_held_out(table):
    """The held-out overcommitted recording at the fitted 4 ms host slice: test time, drain counts,
    the peak ratio (past 2x lazy_max_pages in both, the drain worker descheduled) and the drain
    durations within 2x; each quantity outside its band has a reason in numbers."""
    from vmlab.claims import agreement
    from vmlab.validation import overcommit_because

    rec = "smp8/long_busy"
    t = table[table.recording == rec].set_index("quantity")
    for q in ("test_avg_usec", "big_count", "small_count", "peak_lazy_ratio", "big_duration_p50_ns",
              "small_duration_p50_ns"):
        assert 0.5 <= t.at[q, "ratio"] <= 2.0, (q, t.at[q, "ratio"])
    assert t.at["test_avg_usec", "within_band"] and t.at["big_count", "within_band"]
    assert t.at["peak_lazy_ratio", "kernel"] > 2.0 and t.at["peak_lazy_ratio", "model"] > 2.0
    outside = [q for q in t.index if not t.at[q, "within_band"]]
    for q in outside:
        v = agreement(table, q, [rec], because=overcommit_because(table, q, rec))
        assert not v.agrees and "4 ms slices" in v.verdict and "not explained" not in v.verdict
