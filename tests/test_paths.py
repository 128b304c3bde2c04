"""Where files go: ``VMLAB_DATA_DIR`` moves every sweep cache and figure (the API, the ``vmlab``
command run in-process, the panels), ``VMLAB_FIGURES_DIR`` moves the figures only, and nothing is
written under the checkout's ``data/`` meanwhile. Tiny configs (fix_size, tens of ms simulated).
"""
from __future__ import annotations

from pathlib import Path

import pytest

from vmlab import SimConfig, cli, paths
from vmlab import figures as vmlab_figures
from vmlab import sweep

ROOT = Path(__file__).resolve().parent.parent
TINY = SimConfig.for_kernel("5.0+threshold", platform="hikey960", workload="fix_size", duration_s=0.02)
GRID_TOML = """\
name = "{name}"
[base]
kernel = "5.0+threshold"
platform = "hikey960"
workload = "fix_size"
duration_s = 0.02
[grid]
kernel = ["5.0", "5.0+threshold"]
ncpus = [1, 2]
seeds = 1
"""


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    """$VMLAB_DATA_DIR -> tmp_path/data, $VMLAB_FIGURES_DIR unset."""
    d = tmp_path / "data"
    monkeypatch.setenv("VMLAB_DATA_DIR", str(d))
    monkeypatch.delenv("VMLAB_FIGURES_DIR", raising=False)
    return d


def _checkout_untouched(name: str):
    for sub in ("sweeps", "figures"):
        assert not (ROOT / "data" / sub / name).exists(), f"wrote into the checkout's data/{sub}/{name}"


def _parquets(d: Path) -> list[Path]:
    return sorted(d.glob("*.parquet"))


# ------------------------------------------------------------------------------ the one function
def test_one_function_decides_the_data_directory(tmp_path, monkeypatch):
    from vmlab.sweep import default_root
    from vmlab.widgets import data_root as widgets_data_root
    from vmlab.widgets import figures_dir as widgets_figures_dir
    from vmlab.widgets import sweeps_dir as widgets_sweeps_dir

    monkeypatch.delenv("VMLAB_DATA_DIR", raising=False)
    monkeypatch.delenv("VMLAB_FIGURES_DIR", raising=False)
    assert paths.data_root() == ROOT / "data" == default_root() == widgets_data_root()
    assert paths.sweeps_dir("s") == ROOT / "data" / "sweeps" / "s"
    assert paths.figures_dir("f") == ROOT / "data" / "figures" / "f"

    monkeypatch.setenv("VMLAB_DATA_DIR", str(tmp_path / "d"))
    for f in (paths.data_root, default_root, widgets_data_root):
        assert f() == tmp_path / "d"
    for f in (paths.sweeps_dir, widgets_sweeps_dir):
        assert f("s") == tmp_path / "d" / "sweeps" / "s"
    for f in (paths.figures_dir, widgets_figures_dir):
        assert f("f") == tmp_path / "d" / "figures" / "f"
        assert f("f", out_dir=tmp_path / "o") == tmp_path / "o"          # out_dir wins

    monkeypatch.setenv("VMLAB_FIGURES_DIR", str(tmp_path / "figs"))     # figures only
    assert paths.figures_dir("f") == tmp_path / "figs" / "f"
    assert paths.sweeps_dir("s") == tmp_path / "d" / "sweeps" / "s"


def test_shown_path_is_never_absolute(tmp_path):
    assert paths.shown_path(ROOT / "data" / "kernel" / "raw" / "smp2") == "data/kernel/raw/smp2"
    assert paths.shown_path(tmp_path / "exp" / "t-5.1.toml") == "exp/t-5.1.toml"
    assert paths.shown_path("data/grids/smoke.toml") == "data/grids/smoke.toml"
    assert paths.shown_path("../elsewhere/g.toml") == "elsewhere/g.toml"
    for p in (tmp_path / "x.toml", Path.home() / "a" / "b" / "c", "/x"):
        shown = paths.shown_path(p)
        assert shown and not shown.startswith("/") and str(tmp_path) not in shown \
            and str(Path.home()) not in shown, shown


# ------------------------------------------------------------------------------ the API
def test_sweep_writes_its_cache_under_the_data_dir(data_dir):
    df = sweep(TINY, {"ncpus": [1, 2]}, name="envtest", workers=1, progress=False)
    cache = data_dir / "sweeps" / "envtest"
    assert len(df) == 2 and df.error.isna().all()
    assert df.attrs["out"] == str(cache)
    assert {p.stem for p in _parquets(cache)} == set(df.run_key)
    _checkout_untouched("envtest")


# ------------------------------------------------------------------------------ the command
def test_cli_sweep_honours_the_data_dir(data_dir, tmp_path, monkeypatch):
    grid = tmp_path / "g.toml"
    grid.write_text(GRID_TOML.format(name="envcli"))
    assert cli.main(["sweep", str(grid), "--workers", "1", "--quiet"]) == 0
    cache, figs = data_dir / "sweeps" / "envcli", data_dir / "figures" / "envcli"
    assert len(_parquets(cache)) == 4
    assert (figs / "envcli-tradeoff-purge.png").stat().st_size > 1000
    text = (figs / "envcli.txt").read_text()
    # the command given to main() (not the test runner's own argv), unwrapped
    command = " ".join(text.split("Reproduce with:")[1].replace("\\\n", "").split())
    assert command == f"vmlab sweep {grid} --workers 1 --quiet"

    # VMLAB_FIGURES_DIR moves the figures only; the cache stays (and is reused: no new runs)
    monkeypatch.setenv("VMLAB_FIGURES_DIR", str(tmp_path / "figs"))
    before = {p: p.stat().st_mtime_ns for p in _parquets(cache)}
    assert cli.main(["sweep", str(grid), "--workers", "1", "--quiet"]) == 0
    assert {p: p.stat().st_mtime_ns for p in _parquets(cache)} == before
    assert (tmp_path / "figs" / "envcli" / "envcli.txt").exists()
    _checkout_untouched("envcli")


def test_cli_figures_honours_the_data_dir(data_dir, monkeypatch):
    # the standard set's code on a small grid (the real one is 168 runs)
    monkeypatch.setattr(vmlab_figures, "SEED_GRID_THRESHOLD", {"kernel": ["5.0+threshold"], "threshold_factor": [1, 4],
                                                        "ncpus": [2, 8], "lazy_max_pages": [None, 8192]})
    monkeypatch.setattr(vmlab_figures, "SEED_GRID_50", {"kernel": ["5.0"], "ncpus": [2, 8],
                                                        "lazy_max_pages": [None, 8192]})
    monkeypatch.setattr(vmlab_figures, "SEED_SEEDS", 1)
    monkeypatch.setattr(vmlab_figures, "SEED_BASE", dict(vmlab_figures.SEED_BASE, workload="fix_size"))
    assert cli.main(["figures", "--duration", "0.02", "--workers", "1", "--quiet"]) == 0
    name = "seed-threshold"
    assert len(_parquets(data_dir / "sweeps" / name)) == 8 + 4
    figs = data_dir / "figures" / name
    for stem in ("tradeoff-purge", "heatmap-ncpus", "timeseries-5.0", "latency-cdf"):
        assert (figs / f"{name}-{stem}.png").stat().st_size > 1000, stem
    assert (figs / f"{name}.txt").exists()


# ------------------------------------------------------------------------------ the panels
def test_panels_honour_the_data_dir(engine_warm, data_dir):
    from vmlab.widgets import explore, sweep_panel

    p = sweep_panel(name="envpanel", thresholds=(1.0, 2.0), ncpus=(1, 2), duration_s=0.02, seeds=1,
                    workers=1, workload="fix_size")
    df = p.run()
    assert p.error is None and len(df) == p.n_runs()
    cache = data_dir / "sweeps" / "envpanel"
    assert {f.stem for f in _parquets(cache)} == set(df.run_key)
    out = data_dir / "figures" / "sweep-envpanel"
    assert p.export() and all(Path(x).parent == out for x in p.exported)
    text = (out / "envpanel.txt").read_text()          # the grid files, named without the sender's dirs
    assert "vmlab sweep sweep-envpanel/envpanel-5.0+threshold.toml" in text and str(data_dir) not in text

    e = explore(duration_s=0.02, workload="fix_size", ncpus=2)
    assert e.error is None
    assert all(Path(x).parent == data_dir / "figures" / "explore" for x in e.export())
    _checkout_untouched("envpanel")
