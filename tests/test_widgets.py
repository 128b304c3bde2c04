"""The widget panels (`vmlab.widgets`) without a browser: build them, set control values as a user
would, and check that the figure, the summary and the files follow; bad input is shown, not raised.
"""
from __future__ import annotations

import numpy as np
import pytest

from vmlab import SimConfig, simulate
from vmlab import model as vmlab_model
from vmlab.frames import kernel_of, run_label
from vmlab.plots import df_overlay, df_purge_breakdown, plot_overlay, plot_purge_breakdown
from vmlab.sweep import load_grid, plan
from vmlab.widgets import (
    CUSTOM,
    ERAS,
    NCPUS,
    compare_panel,
    explore,
    figures_dir,
    run_stem,
    summary_frame,
    sweep_panel,
)

PNG = b"\x89PNG\r\n\x1a\n"
FAST = dict(duration_s=0.25)          # keeps the module quick; the defaults are timed separately


@pytest.fixture
def panel(engine_warm, tmp_path):
    return explore(out_dir=tmp_path / "explore", **FAST)


# ------------------------------------------------------------------------------------ explore
def test_explore_defaults_are_the_seed_board_and_redraw_once_per_move(engine_warm, tmp_path):
    p = explore(out_dir=tmp_path)
    cfg = p.config()
    assert kernel_of(cfg, strict=False) == "5.0+threshold" and cfg.policy == "threshold" and cfg.threshold_factor == 2.0
    assert (cfg.platform, cfg.ncpus, cfg.workload, cfg.lazy_max_pages) == ("hikey960", 8, "stress", None)
    assert p.error is None and bytes(p.image.value).startswith(PNG)
    # each slider move is one model run and one figure (the 0.5 s redraw budget itself is measured
    # by benchmarks/bench_widgets.py, not asserted here: this machine is shared and noisy)
    for v in (2.38, 2.83, 3.36):
        runs, png = p.runs, p.image.value
        p.controls["threshold"].value = v
        assert p.error is None and p.runs == runs + 1 and p.image.value != png
        assert p.result.config.threshold_factor == v and p.timings["cached"] is False
        assert set(p.timings) == {"simulate", "draw", "total", "cached"}
    p.controls["threshold"].value = 2.38                  # back to an earlier value: no model run
    assert p.timings["cached"] is True and p.result.config.threshold_factor == 2.38


def test_controls_cover_the_issue(panel):
    c = panel.controls
    assert list(c["era"].options) == list(ERAS) + [CUSTOM] == ["4.9", "5.0", "5.0+threshold", "5.1", "5.2", "5.11", "6.1", "custom"]
    assert tuple(c["ncpus"].options) == NCPUS == (1, 2, 4, 8, 16, 32, 64, 128, 256)
    assert c["threshold"].base == 2 and c["threshold"].min < 0 < c["threshold"].max     # log scale
    assert c["lazy_max"].base == 2
    for k in ("threshold", "ncpus", "lazy_max", "duration"):
        assert c[k].continuous_update is False, k
    assert not c["seed"].continuous_update
    values = [v for _, v in c["workload"].options]
    assert {"stress", "performance", "smoke", "fix_size_alloc_test", "vm_map_ram_test"} <= set(values)
    assert set(c["platform"].options) == {"hikey960", "qemu-tcg", "x86-server"}


def test_kernel_detail_controls_are_described_by_the_fields_table(panel):
    from vmlab.fields import FIELD
    from vmlab.widgets.base import ERA_FIELDS

    for name in ERA_FIELDS:
        w = panel.controls[name]
        assert w.description == FIELD[name].label and w.tooltip == FIELD[name].tooltip(), name
        if FIELD[name].allowed() is not None and name != "policy":
            assert [v for _, v in w.options] == list(FIELD[name].allowed())
    assert panel.controls["threshold"].tooltip == FIELD["threshold_factor"].tooltip()


def test_threshold_move_redraws_figure_and_summary(panel):
    png0, text0 = panel.image.value, panel.summary_text
    panel.controls["threshold"].value = 4.0
    assert panel.error is None
    assert panel.config().threshold_factor == 4.0
    assert bytes(panel.image.value).startswith(PNG) and panel.image.value != png0
    assert panel.summary_text != text0
    assert "previous run" in panel.summary_text and "5.0+threshold ×4" in panel.summary_text
    assert "131,072 pages" in panel.summary_text            # the resched threshold, 4 x 32768
    assert panel.history and panel.runs == 2


def test_log_slider_values_are_rounded_like_the_readout(panel):
    panel.controls["threshold"].value = 2 ** 1.25
    assert panel.config().threshold_factor == 2.38


def test_era_sets_the_policy_knobs_and_a_knob_makes_it_custom(panel):
    c = panel.controls
    c["era"].value = "5.0"
    assert c["policy"].value == "always-resched" and c["threshold"].disabled
    assert "— (always-resched)" in panel.summary_text
    runs = panel.runs
    c["era"].value = "6.1"
    assert panel.runs == runs + 1          # one run for the whole preset, not one per knob
    cfg = panel.config()
    assert (cfg.allocator, cfg.flush_range, cfg.purge_mode, cfg.lock_split, cfg.test_set) == \
        ("augmented-tree", "at-insert", "deferred", True, "v6.1")
    c["era"].value = "5.0+threshold"
    c["flush_range"].value = "at-insert"
    assert c["era"].value == CUSTOM and panel.config().flush_range == "at-insert"
    assert "(custom)" in panel.summary_text
    c["era"].value = "5.0+threshold"
    assert panel.config().flush_range == "walk" and c["era"].value == "5.0+threshold"


def test_lazy_max_formula_and_slider(panel):
    c = panel.controls
    assert c["lazy_max"].disabled and int(c["lazy_max"].value) == 32768
    c["ncpus"].value = 16
    assert int(c["lazy_max"].value) == 5 * 8192 and "fls(16)" in panel.lazy_note.value
    c["lazy_formula"].value = False
    assert not c["lazy_max"].disabled
    c["lazy_max"].value = 2 ** 12
    assert panel.config().lazy_max_pages == 4096
    assert panel.result.summary.lazy_max_pages == 4096
    assert "4,096 (set)" in panel.summary_text


def test_workload_platform_duration_seed(panel):
    c = panel.controls
    c["platform"].value = "qemu-tcg"
    c["workload"].value = "fix_size_alloc_test"
    c["duration"].value = 0.1
    c["seed"].value = 7
    cfg = panel.config()
    assert (cfg.platform, cfg.workload, cfg.duration_s, cfg.seed) == ("qemu-tcg", "fix_size_alloc_test", 0.1, 7)
    assert panel.result.config == cfg and panel.error is None


def test_bad_value_is_a_message_in_the_panel_not_a_traceback(panel):
    png = panel.image.value
    panel.controls["seed"].value = -1
    assert panel.error and "seed=-1" in panel.error
    assert "vmlab-error" in panel.status.value and "Traceback" not in panel.status.value
    assert "last run that worked" in panel.status.value
    assert panel.image.value == png
    panel.controls["seed"].value = 2
    assert panel.error is None and "vmlab-error" not in panel.status.value


def test_model_failure_is_a_message_in_the_panel(panel, monkeypatch):
    def boom(cfg):
        raise AssertionError("model invariant broken: areas overlap")
    monkeypatch.setattr(vmlab_model, "simulate", boom)
    panel.controls["threshold"].value = 8.0
    assert "areas overlap" in panel.error and "AssertionError" in panel.status.value
    assert "Traceback" not in panel.status.value


def test_moving_back_uses_the_cache(panel):
    panel.controls["threshold"].value = 4.0
    panel.controls["threshold"].value = 2.0
    assert panel.timings["cached"] is True
    assert "5.0+threshold ×2" in panel.summary_text.splitlines()[1]


def test_workload_aliases(engine_warm):
    p = explore(workload="fix_size", **FAST)
    assert p.controls["workload"].value == "fix_size_alloc_test"
    assert [v for _, v in p.controls["workload"].options][0] == "stress"


def test_fields_without_a_control_pass_through(engine_warm):
    p = explore(kernel="5.0", ram_bytes=(1 << 30) + (64 << 20), nr_pages=2, **FAST)
    cfg = p.config()
    assert cfg.policy == "always-resched" and cfg.ram_bytes == (1 << 30) + (64 << 20) and cfg.nr_pages == 2
    p.controls["ncpus"].value = 4
    assert p.config().ram_bytes == (1 << 30) + (64 << 20)


def test_export_button_writes_figures_and_email(panel, tmp_path):
    panel.controls["threshold"].value = 4.0
    panel.export_button.click()
    out = tmp_path / "explore"
    files = sorted(out.iterdir())
    stem = run_stem(panel.config())
    assert stem == "5.0+threshold-hikey960-8cpu-stress-thr4-lmformula-0.25s-seed1"
    assert {p.name for p in files} == {f"{stem}-{kind}.{ext}" for kind in ("timeseries", "tradeoff")
                                       for ext in ("png", "svg", "pdf")} | {f"{stem}.txt"}
    for p in files:
        assert p.stat().st_size > 0 and p.name in panel.export_paths.value
    text = (out / f"{stem}.txt").read_text()
    assert "vmlab run --kernel 5.0 --policy threshold" in text and "--threshold-factor 4" in text
    assert max(map(len, text.splitlines())) <= 72


def test_export_goes_to_env_dir(engine_warm, tmp_path, monkeypatch):
    monkeypatch.setenv("VMLAB_FIGURES_DIR", str(tmp_path / "figs"))
    assert figures_dir("explore") == tmp_path / "figs" / "explore"
    p = explore(**FAST)
    paths = p.export()
    assert all(str(x).startswith(str(tmp_path / "figs" / "explore")) for x in paths)
    monkeypatch.delenv("VMLAB_FIGURES_DIR")
    monkeypatch.setenv("VMLAB_DATA_DIR", str(tmp_path / "data"))
    assert figures_dir("explore") == tmp_path / "data" / "figures" / "explore"


def test_export_failure_is_shown(panel, monkeypatch):
    import vmlab.export

    def fail(*a, **k):
        raise OSError("disk full")
    monkeypatch.setattr(vmlab.export, "export_figure", fail)
    panel.export_button.click()
    assert "disk full" in panel.export_paths.value and "vmlab-error" in panel.export_paths.value


def test_summary_frame_and_labels(engine_warm):
    a = simulate(SimConfig.for_kernel("5.0", duration_s=0.1))
    b = simulate(SimConfig.for_kernel("5.0+threshold", threshold_factor=4, duration_s=0.1))
    df = summary_frame(b, a)
    assert list(df.columns) == ["this run", "previous run"]
    assert df.loc["run", "this run"] == "5.0+threshold ×4" and df.loc["run", "previous run"] == "5.0"
    assert df.attrs["raw"]["lazy_max_pages"] == 32768
    custom = SimConfig.for_kernel("5.0+threshold", flush_range="at-insert")
    assert run_label(custom) == "threshold ×2 (custom)" and kernel_of(custom, strict=False) is None


def test_old_label_names_warn_and_still_answer():
    import vmlab.widgets as W

    custom = SimConfig.for_kernel("5.0+threshold", flush_range="at-insert")
    with pytest.warns(DeprecationWarning, match="run_label"):
        assert W.short_label(custom) == "threshold ×2 (custom)"
    with pytest.warns(DeprecationWarning, match="kernel_of"):
        assert W.era_of(custom) == CUSTOM
    with pytest.warns(DeprecationWarning, match="kernel_of"):
        assert W.era_of(SimConfig.for_kernel("6.1", threshold_factor=3)) == "6.1"


# ------------------------------------------------------------------------------------ compare
def test_compare_panel(engine_warm, tmp_path):
    p = compare_panel(out_dir=tmp_path, duration_s=0.5)
    assert p.error is None and bytes(p.image.value).startswith(PNG)
    a, b = p.results
    assert (a.config.policy, b.config.policy) == ("always-resched", "threshold")
    assert a.config.seed == b.config.seed and a.config.ncpus == b.config.ncpus == 8
    assert p.summary_text.split("\n")[0].split() == ["A", "B"] and "5.0+threshold ×2" in p.summary_text
    png, sims = p.image.value, p.timings["simulate"]
    p.controls["kinds"].value = "purge"                # a view change: no re-run
    assert p.image.value != png and p.timings["simulate"] == sims
    p.controls["era_a"].value = "4.9"
    assert p.results[0].config.policy == "no-resched" and p.controls["threshold_a"].disabled
    p.controls["threshold_b"].value = 8.0
    assert p.results[1].config.threshold_factor == 8.0 and "5.0+threshold ×8" in p.summary_text
    p.controls["seed"].value = -5
    assert "seed=-5" in p.error and "Traceback" not in p.status.value
    p.controls["seed"].value = 1
    paths = p.export()
    assert {x.suffix for x in paths} == {".png", ".svg", ".pdf", ".txt"} and all(x.exists() for x in paths)
    assert len(paths) == 7


# ------------------------------------------------------------------------------------ sweep
def test_sweep_panel_runs_through_the_cache_and_exports(engine_warm, tmp_path):
    p = sweep_panel(name="t", thresholds=(1.0, 4.0), ncpus=(2, 4), duration_s=0.1, seeds=1, workers=1,
                    out_dir=tmp_path / "figs", sweep_dir=tmp_path / "cache")
    assert p.df is None and p.n_runs() == 3 * 2 + 2         # 5.0+threshold factors x CPUs, plus 5.0 per CPU count
    assert "8 runs" in p.plan_note.value
    p.controls["lazy_max"].value = ("formula", "8192")
    assert p.n_runs() == 16
    p.controls["lazy_max"].value = ("formula",)
    df = p.run()
    assert p.error is None and len(df) == 8 and df.error.isna().all()
    assert set(df.kernel) == {"5.0", "5.0+threshold"} and set(df.ncpus) == {2, 4}
    assert sorted(df[df.kernel == "5.0+threshold"].threshold_factor.unique()) == [1.0, 2.0, 4.0]
    assert len(list((tmp_path / "cache").glob("*.parquet"))) == 8
    assert bytes(p.tradeoff_image.value).startswith(PNG) and bytes(p.heatmap_image.value).startswith(PNG)
    # a re-run reads the cache: no run is simulated or written again
    files = {f: f.stat().st_mtime_ns for f in (tmp_path / "cache").glob("*.parquet")}
    again = p.run()
    assert len(again) == 8 and p.error is None
    assert {f: f.stat().st_mtime_ns for f in (tmp_path / "cache").glob("*.parquet")} == files
    assert again.sort_values("run_key").peak_lazy_pages.tolist() == df.sort_values("run_key").peak_lazy_pages.tolist()
    heat = p.heatmap_image.value
    p.view_controls["heat_value"].value = "purge_p99_ns"
    assert p.heatmap_image.value != heat
    for k, v in (("group", "lazy_max_pages_cfg"), ("heat_y", "lazy_max_pages_cfg"),
                 ("tradeoff_y", "lock_wait_max_ns")):
        p.view_controls[k].value = v
        assert p.error is None, (k, p.error)
    for k, v in (("group", "ncpus"), ("heat_y", "ncpus"), ("tradeoff_y", "purge_p99_ns")):
        p.view_controls[k].value = v

    paths = p.export()
    names = {x.name for x in paths}
    assert {"t-tradeoff-purge_p99.png", "t-heatmap-purge_p99_ns-by-ncpus.svg", "t-5.0+threshold.toml", "t-5.0.toml",
            "t.txt"} <= names, names
    assert all(x.exists() and x.stat().st_size > 0 for x in paths)
    # the grid files reproduce exactly the panel's runs (same configs, same seeds)
    keys = set(df.run_key)
    from_files = set()
    for toml in (tmp_path / "figs").glob("*.toml"):
        g = load_grid(toml)
        from_files |= {r["run_key"] for r in plan(g["base"], g["grid"], seeds=g["seeds"],
                                                  root_seed=g["root_seed"])}
    assert from_files == keys
    assert "vmlab sweep" in (tmp_path / "figs" / "t.txt").read_text()


def test_sweep_panel_error_is_shown(engine_warm, tmp_path):
    p = sweep_panel(name="bad", duration_s=0.1, workers=1, sweep_dir=tmp_path, platform="hikey960")
    p.controls["name"].value = "../escape"
    assert p._name() == "_escape"
    p.workers = 0                                               # sweep() rejects it: shown, not raised
    assert p.run() is None and "workers=0" in p.error and "vmlab-error" in p.status.value


# ------------------------------------------------------------------------------------ helpers
def test_overlay_and_breakdown_figures(engine_warm, tmp_path):
    import vmlab.widgets as W
    from vmlab.export import export_figure

    ram = 4 << 30
    runs = [simulate(SimConfig.for_kernel(k, duration_s=0.3, ram_bytes=ram)) for k in ("5.0", "5.0+threshold")]
    fig = plot_overlay(runs, ["5.0", "5.0+threshold"])
    ax = fig.axes[0]
    assert {line.get_gid() for line in ax.lines} >= {"series:5.0", "series:5.0+threshold", "lazy_max", "resched_threshold"}
    assert fig.vmlab_metadata["model_version"]
    data = df_overlay(runs, ["5.0", "5.0+threshold"])
    assert list(data.columns) == ["label", "time_s", "value"] and set(data["label"]) == {"5.0", "5.0+threshold"}
    thr = data.attrs["resched_threshold_pages"]        # from the summary; 5.0 has no threshold
    assert np.isnan(thr[0]) and thr[1] == runs[1].summary.resched_threshold_pages
    threshold_line = [ln for ln in ax.lines if ln.get_gid() == "resched_threshold"]
    assert len(threshold_line) == 1 and threshold_line[0].get_ydata()[0] == thr[1]
    with pytest.warns(DeprecationWarning, match="plot_overlay"):
        old = W.overlay_timeseries(runs, ["5.0", "5.0+threshold"])
    assert {ln.get_gid() for ln in old.axes[0].lines} == {ln.get_gid() for ln in ax.lines}
    assert W.plot_purge_breakdown is plot_purge_breakdown
    parts = df_purge_breakdown(runs)
    assert list(parts.index) == ["5.0", "5.0+threshold ×2"] and (parts["total_ns"] > 0).all()
    assert np.allclose(parts[["walk_ns", "flush_ns", "free_ns"]].sum(axis=1), parts["total_ns"])
    fig = plot_overlay(runs, column="mem_bytes", hlines=[(ram / 2**20, "RAM")])
    assert "MiB" in fig.axes[0].get_ylabel()
    fig = plot_purge_breakdown(runs, share=True)
    widths = [p.get_width() for p in fig.axes[0].patches]
    assert np.isclose(sum(widths), 100 * len(runs))
    paths = export_figure(plot_purge_breakdown(runs), tmp_path / "b")
    assert all(p.exists() for p in paths)


def test_explore_and_compare_share_the_run_controls(engine_warm, tmp_path):
    """The controls both panels have come from one builder (`base.run_controls`): same kinds, ranges."""
    from vmlab.widgets.base import run_controls

    cfg = SimConfig.for_kernel("5.0+threshold", ncpus=8, duration_s=0.25)
    built = run_controls(cfg)
    assert list(built) == ["threshold", "ncpus", "workload", "platform", "duration", "seed"]
    p = explore(out_dir=tmp_path / "e", **FAST)
    q = compare_panel(out_dir=tmp_path / "c", duration_s=0.25)
    for k in ("ncpus", "workload", "platform", "duration", "seed"):
        for panel in (p, q):
            w = panel.controls[k]
            assert type(w) is type(built[k]) and getattr(w, "options", None) == getattr(built[k], "options", None), k
    for w in (p.controls["threshold"], q.controls["threshold_a"], q.controls["threshold_b"]):
        assert (w.min, w.max, w.step, w.base) == (built["threshold"].min, built["threshold"].max,
                                                  built["threshold"].step, built["threshold"].base)
