"""The notebooks: committed without outputs, and each runs top to bottom on a fresh kernel.

Each notebook is executed headless with papermill (a fresh ``python3`` kernel, small parameters
injected into its ``parameters`` cell), in a temporary directory with ``VMLAB_DATA_DIR`` and
``VMLAB_FIGURES_DIR`` pointing there, so nothing is written under ``data/``. The executed copy must
have no error output, and the files the notebook promises must exist.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
NOTEBOOKS = REPO / "notebooks"
NAMES = ("01-explore", "02-sweep", "03-seed-reproduction", "05-policy-lab")
FIG = ("png", "svg", "pdf")

nbformat = pytest.importorskip("nbformat")


def _cells(name):
    return nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4).cells


@pytest.mark.parametrize("name", NAMES)
def test_committed_without_outputs_and_with_parameters(name):
    cells = _cells(name)
    code = [c for c in cells if c.cell_type == "code"]
    assert code
    for c in code:
        assert c.outputs == [] and c.execution_count is None, f"{name}: strip the outputs"
        assert "widgets" not in c.metadata
    assert sum("parameters" in c.metadata.get("tags", []) for c in code) == 1
    meta = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4).metadata
    assert "widgets" not in meta, "widget state is saved in the notebook: clear it"
    assert meta.get("kernelspec", {}).get("name") == "python3"
    # thin: the logic lives in vmlab/, not in the notebook
    assert sum(len(c.source.splitlines()) for c in code) < 250


def _papermill():
    try:
        import papermill
    except ImportError:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail("CI=true but papermill is not installed (a test extra): the notebooks were not run")
        pytest.skip("NOTEBOOKS NOT RUN: papermill is not installed (pip install papermill)")
    return papermill


def _run(notebook, tmp_path, monkeypatch, **params):
    papermill = _papermill()
    monkeypatch.setenv("VMLAB_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("VMLAB_FIGURES_DIR", str(tmp_path / "figures"))
    out = tmp_path / f"{notebook}.out.ipynb"
    papermill.execute_notebook(str(NOTEBOOKS / f"{notebook}.ipynb"), str(out), parameters=params,
                               kernel_name="python3", progress_bar=False, cwd=str(tmp_path),
                               start_timeout=120)
    nb = nbformat.read(out, as_version=4)
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
              if o.get("output_type") == "error"]
    assert not errors, [f"{o['ename']}: {o['evalue']}" for o in errors]
    text = "\n".join(o.get("text", "") for c in nb.cells if c.cell_type == "code"
                     for o in c.get("outputs", []) if o.get("output_type") == "stream")
    assert "Traceback" not in text
    return nb, text


def _figs(d: Path, stem: str) -> list[Path]:
    return [d / f"{stem}.{ext}" for ext in FIG]


def _assert_files(paths):
    missing = [str(p) for p in paths if not p.is_file() or p.stat().st_size == 0]
    assert not missing, missing


def test_01_explore(tmp_path, monkeypatch):
    out = tmp_path / "out"
    nb, text = _run("01-explore", tmp_path, monkeypatch, out_dir=str(out), export_now=True)
    widgets = [o for c in nb.cells for o in c.get("outputs", [])
               if "application/vnd.jupyter.widget-view+json" in o.get("data", {})]
    assert len(widgets) == 2                       # the explore panel and the compare panel
    stem = "5.0+threshold-hikey960-8cpu-stress-thr2-lmformula-2s-seed1"
    _assert_files(_figs(out, f"{stem}-timeseries") + _figs(out, f"{stem}-tradeoff") + [out / f"{stem}.txt"])
    cmp = sorted(out.glob("5.0-*--vs--*"))
    assert {p.suffix for p in cmp} == {".png", ".svg", ".pdf", ".txt"} and len(cmp) == 7
    assert str(out / f"{stem}.txt") in text


def test_02_sweep(tmp_path, monkeypatch):
    out = tmp_path / "out"
    nb, text = _run("02-sweep", tmp_path, monkeypatch, name="nbtest", duration_s=0.1,
                    thresholds=[1.0, 4.0], ncpus=[2, 4], seeds=1, workers=1, out_dir=str(out),
                    sweep_dir=str(tmp_path / "cache"), run_panel=True)
    assert "6 runs, 0 failed" in text       # the scripted sweep: 2 factors x 2 CPU counts + 5.0 x 2
    # the panel ran first (its range 1..4 also has 2.0) and the scripted sweep shares its cache
    cached = list((tmp_path / "cache").glob("*.parquet"))
    assert len(cached) == 3 * 2 + 2
    _assert_files(_figs(out, "nbtest-tradeoff-purge") + _figs(out, "nbtest-tradeoff-lockwait")
                  + _figs(out, "nbtest-heatmap") + [out / "nbtest.txt"])
    assert "vmlab sweep nbtest" in (out / "nbtest.txt").read_text()
    assert not list((tmp_path / "data").glob("sweeps/*"))   # nothing went to the default cache


def test_03_seed_reproduction(tmp_path, monkeypatch):
    out = tmp_path / "out"
    # (oom_duration_s=60: with the list walk at the kernel's pace 5.0+threshold's memory levels off
    # and 5.0's passes it only after the stress set-up, ~30-60 s; docs/calibration.md)
    nb, text = _run("03-seed-reproduction", tmp_path, monkeypatch, duration_s=1.0, oom_duration_s=60.0,
                    seed_duration_s=120.0,
                    long_duration_s=30.0, sweep_duration_s=0.25, sweep_seeds=1, sweep_ncpus=[2, 8],
                    sweep_thresholds=[1, 2, 4], workers=1, out_dir=str(out),
                    sweep_dir=str(tmp_path / "cache"))
    stems = ["seed-50-vs-threshold-timeseries", "seed-50-timeseries", "seed-50-threshold-timeseries",
             "seed-latency-cdf",
             "seed-memory-components", "seed-oom-memory", "seed-oom-lazy", "seed-purge-breakdown", "seed-threshold-tradeoff",
             "seed-threshold-tradeoff-lockwait", "seed-threshold-heatmap", "seed-flush-range-full-list",
             "seed-flush-range-stress"]
    _assert_files([p for s in stems for p in _figs(out, s)]
                  + [out / f"{s}.txt" for s in ("seed-50-vs-threshold", "seed-threshold", "seed-flush-range")])
    # every claim is printed with its verdict; the ones that do not depend on the run length hold
    claims = [ln for ln in text.splitlines() if ln.startswith("[")]
    assert len(claims) >= 15, claims
    for must in ("lazy_max_pages on 8 CPUs is", "the longest 5.0 purge's wall time",
                 "5.0 does not run out of memory", "5.0+threshold's memory levels off",
                 "5.0's extra memory after", "the walk costs 110 ns per entry"):
        line = next((ln for ln in claims if must in ln), None)
        assert line and line.startswith("[holds]"), (must, line)
    # against the seed's published figures: each says agrees or disagrees (with its reason), and
    # at the full 900 s (test_magnitudes.py) the 5.0 figures agree; here, 120 s, they are printed
    verdicts = [ln for ln in text.splitlines() if ln.startswith(("agrees (", "disagrees ("))]
    assert len(verdicts) == 3, verdicts
    assert all("because" in v for v in verdicts if v.startswith("disagrees"))
    assert any("5.0+threshold longest purge" in v and v.startswith("disagrees") for v in verdicts)


def test_05_policy_lab(tmp_path, monkeypatch):
    out = tmp_path / "out"
    # (fix_size on 2 CPUs purges within milliseconds: every trial has a purge p99)
    nb, text = _run("05-policy-lab", tmp_path, monkeypatch, ncpus=2, workload="fix_size", duration_s=0.05,
                    n_trials=4, out_dir=str(out), run_optimize=True)
    widgets = [o for c in nb.cells for o in c.get("outputs", [])
               if "application/vnd.jupyter.widget-view+json" in o.get("data", {})]
    assert len(widgets) == 1                       # the policy-lab panel
    assert "4 trials in" in text and "on the front" in text
    # the notebook's own policy ran against 5.0+threshold ×2 and named the files
    runs = sorted(out.glob("my_policy_custom_--vs--5.0+threshold*"))
    assert {p.suffix for p in runs} == {".png", ".svg", ".pdf", ".txt"} and len(runs) == 4
    assert "my_policy" in next(p for p in runs if p.suffix == ".txt").read_text()
    name = "my_policy-hikey960-2cpu-fix_size_alloc_test-0.05s-seed1-opt0"
    _assert_files(_figs(out, f"{name}-pareto") + [out / f"{name}-trials.csv", out / f"{name}.txt"])
    assert "Proposed setting" in (out / f"{name}.txt").read_text()
    # the search ran in the data directory, not in the repository's data/
    assert (tmp_path / "data" / "optimize" / name / "optuna.log").is_file()
