"""The policy-lab panel (`vmlab.widgets.policy_lab`) without a browser: its defaults, a custom
policy, re-runs on a change, a tiny optimisation with its front, and Export into a temporary tree."""
from __future__ import annotations

import math

import pytest

from vmlab import SimConfig, purge_policy
from vmlab.policies import POLICY_NAMES
from vmlab.widgets import POLICY_LAB_DEFAULTS, policy_lab

PNG = b"\x89PNG\r\n\x1a\n"
# fix_size purges within milliseconds (stress on the list era only after ~0.5 simulated s)
FAST = dict(ncpus=2, workload="fix_size", duration_s=0.05)


@purge_policy
def yield_below_3x(lazy_nr, lazy_max, done, left, waiters, hold_ns, ncpus):
    """Yield while the backlog is under 3 x lazy_max_pages (pages)."""
    return lazy_nr < 3 * lazy_max


@pytest.fixture(autouse=True)
def _data(tmp_path, monkeypatch, engine_warm):
    monkeypatch.setenv("VMLAB_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("VMLAB_FIGURES_DIR", str(tmp_path / "figures"))


def _raw(p):
    return list(p.table().attrs["raw"].values())


def test_defaults_construct_and_run_the_seed_experiment():
    p = policy_lab()
    assert p.error is None, p.error
    kernel, pol = (r.config for r in p.results)
    assert kernel == SimConfig.for_kernel("5.0+threshold", **POLICY_LAB_DEFAULTS)
    assert pol == kernel.replace(policy="adaptive")          # same machine, workload and seed
    assert [o[1] for o in p.controls["policy"].options][:len(POLICY_NAMES)] == list(POLICY_NAMES)
    assert bytes(p.image.value).startswith(PNG)
    assert p.labels() == ["kernel: 5.0+threshold ×2", "policy: adaptive"]
    for lab in p.labels():
        assert lab in p.summary_text
    for row in ("peak vmap_lazy_nr / lazy_max_pages", "purge p99", "longest vmap_area_lock wait"):
        assert row in p.summary_text
    for raw, res in zip(_raw(p), p.results):
        assert raw["peak_lazy_ratio"] == pytest.approx(float(res.summary.peak_lazy_ratio))
        assert raw["purges"] > 0 and math.isfinite(raw["purge_p99_ns"])   # 2 s of stress purges
    assert p.controls["threshold"].disabled and p.controls["batch"].disabled


def test_a_custom_policy_is_offered_run_and_named():
    p = policy_lab(policies=[yield_below_3x], **FAST)
    assert p.controls["policy"].value == yield_below_3x
    assert p.results[1].config.policy == yield_below_3x
    assert "yield_below_3x (custom)" in p.summary_text
    assert "yield_below_3x" in p.status.value
    assert any("yield_below_3x" in str(lab) for lab, _ in p.controls["policy"].options)


def test_changing_the_policy_or_its_knob_re_runs():
    p = policy_lab(policy="threshold", **FAST)
    img, table = p.image.value, p.summary_text
    assert not p.controls["threshold"].disabled
    p.controls["policy"].value = "batch"
    assert p.results[1].config.policy == "batch" and not p.controls["batch"].disabled
    assert p.controls["threshold"].disabled
    assert "batch 64 entries" in p.summary_text and p.summary_text != table and bytes(p.image.value) != bytes(img)
    p.controls["batch"].value = 4
    assert p.results[1].config.batch_entries == 4 and "batch 4 entries" in p.summary_text
    p.controls["ncpus"].value = 4          # a shared control moves both runs
    assert [r.config.ncpus for r in p.results] == [4, 4]


def test_an_invalid_setting_is_shown_and_keeps_the_last_runs():
    p = policy_lab(policy="hysteresis", **FAST)
    before = p.results
    p.controls["low"].value = 8.0          # above threshold ×2: SimConfig rejects it
    assert p.error and "low_factor" in p.error and "vmlab-error" in p.status.value
    assert p.results is before


def test_a_tiny_optimisation_draws_the_front_and_exports(tmp_path):
    p = policy_lab(policy="threshold", n_trials=4, **FAST)
    assert not p.pareto_image.value
    df = p.optimize()
    assert df is not None, p.opt_status.value
    assert len(df) == 4 and df["pareto"].any()
    assert set(p.space()) == {"threshold_factor", "lazy_max_pages"}
    assert df["threshold_factor"].between(0.25, 32.0).all()
    assert df["lazy_max_pages"].between(4096, 131072).all()
    assert df[["peak_lazy_ratio", "purge_p99_ns"]].notna().all().all()    # every trial purged
    assert (tmp_path / "data" / "optimize" / p.study_name() / "optuna.log").is_file()
    assert bytes(p.pareto_image.value).startswith(PNG)
    assert f"{int(df['pareto'].sum())} on the front" in p.opt_status.value
    # the star is the searched policy at its defaults, and says so (not "kernel default")
    legend = [t.get_text() for t in p.pareto_figure().axes[0].get_legend().get_texts()]
    assert "threshold at its defaults" in legend and "kernel default" not in legend

    p.export_button.click()
    out = tmp_path / "figures" / "policy-lab"
    assert "wrote 9 files" in p.export_paths.value, p.export_paths.value
    files = {f.name for f in out.iterdir()}
    name = p.study_name()
    for ext in ("png", "svg", "pdf"):
        assert f"{name}-pareto.{ext}" in files
        assert sum(f.endswith(f"-timeseries.{ext}") for f in files) == 1
    assert f"{name}-trials.csv" in files
    texts = sorted(out.glob("*.txt"))
    assert len(texts) == 2
    opt_text = (out / f"{name}.txt").read_text()
    assert "Proposed setting" in opt_text and "vmlab.optimize(" in opt_text
    assert all(len(line) <= 72 for t in texts for line in t.read_text().splitlines())
    for f in p.exported:
        assert f.stat().st_size > 0


def test_export_before_an_optimisation_writes_the_runs_only(tmp_path):
    p = policy_lab(policies=[yield_below_3x], **FAST)
    paths = p.export(out_dir=tmp_path / "x")
    assert {q.suffix for q in paths} == {".png", ".svg", ".pdf", ".txt"} and len(paths) == 4
    assert all(q.parent == tmp_path / "x" and q.stat().st_size > 0 for q in paths)
    assert "yield_below_3x" in next(q for q in paths if q.suffix == ".txt").read_text()


def test_a_custom_policy_optimises_lazy_max_pages_only(tmp_path):
    p = policy_lab(policies=[yield_below_3x], n_trials=4, optimize_dir=tmp_path / "opt", **FAST)
    assert set(p.space()) == {"lazy_max_pages"}
    df = p.optimize()
    assert df is not None, p.opt_status.value
    assert len(df) == 4 and df["pareto"].any()
    assert (tmp_path / "opt" / p.study_name()).is_dir()
