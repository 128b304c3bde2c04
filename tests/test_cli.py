"""The vmlab command: exit codes, one-line errors, the sweep and figures outputs."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parent.parent


def vmlab(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "vmlab", *args], capture_output=True, text=True,
                          cwd=cwd or ROOT, timeout=600)


def test_run_prints_the_summary():
    p = vmlab("run", "--kernel", "5.0", "--ncpus", "2", "--workload", "fix_size", "--duration", "0.02")
    assert p.returncode == 0, p.stderr
    assert "peak_lazy_pages" in p.stdout and "always-resched" in p.stdout


def test_run_json():
    p = vmlab("run", "--kernel", "6.1", "--platform", "qemu-tcg", "--ncpus", "2", "--workload",
              "fix_size", "--duration", "0.02", "--json")
    assert p.returncode == 0, p.stderr
    d = json.loads(p.stdout)
    assert d["config"]["purge_mode"] == "deferred" and d["config"]["platform"] == "qemu-tcg"
    assert d["summary"]["lazy_max_pages"] == 16384 and d["summary"]["ops"] > 0
    assert d["model_version"]


@pytest.mark.parametrize("args,needle", [
    (("run", "--ncpus", "0"), "ncpus"),
    (("run", "--ncpus", "two"), "--ncpus"),
    (("run", "--policy", "sometimes"), "--policy"),
    (("run", "--workload", "sanity"), "workload"),
    (("run", "--threshold-factor", "nan"), "threshold_factor"),
    (("run", "--kernel", "4.4"), "--kernel"),
    (("sweep", "nosuch.toml"), "nosuch.toml"),
    (("sweep", "data/grids/smoke.toml", "--workers", "0"), "--workers"),
    (("frobnicate",), "frobnicate"),
])
def test_bad_options_exit_2_with_one_line(args, needle):
    p = vmlab(*args)
    assert p.returncode == 2, (p.returncode, p.stdout, p.stderr)
    err = p.stderr.strip().splitlines()
    assert len(err) == 1, p.stderr
    assert needle in err[0] and "Traceback" not in p.stderr


@pytest.mark.parametrize("body,needle", [
    ('name = "x"\n[base]\nncpus = 0\n', "ncpus"),
    ('name = "x"\n[base]\nbogus = 1\n', "bogus"),
    ('name = "x"\n[grid]\nncpus = 4\n', "ncpus"),
    ('name = "x"\n[grid]\nseeds = 0\n', "seeds"),
    ('name = "x"\n[grid\n', "TOML"),
    ('name = "x"\n[base]\nkernel = "9.9"\n', "kernel"),
])
def test_bad_grid_file(tmp_path, body, needle):
    g = tmp_path / "g.toml"
    g.write_text(body)
    p = vmlab("sweep", str(g), "--out", str(tmp_path / "o"))
    assert p.returncode == 2, p.stderr
    assert len(p.stderr.strip().splitlines()) == 1 and needle in p.stderr
    assert "Traceback" not in p.stderr


def test_sweep_writes_dataset_figures_and_email(tmp_path):
    out = tmp_path / "smoke"
    p = vmlab("sweep", "data/grids/smoke.toml", "--out", str(out), "--workers", "2", "--quiet")
    assert p.returncode == 0, p.stderr
    files = list((out / "sweep").glob("*.parquet"))
    assert len(files) == 8
    df = pd.concat(pd.read_parquet(f) for f in files)
    assert set(df.kernel) == {"5.0", "5.0+threshold"} and df.error.isna().all()
    for stem in ("smoke-tradeoff-purge", "smoke-tradeoff-lockwait", "smoke-heatmap"):
        for ext in ("png", "svg", "pdf"):
            assert (out / f"{stem}.{ext}").stat().st_size > 1000
    text = (out / "smoke.txt").read_text()
    assert "vmlab sweep data/grids/smoke.toml" in text
    assert max(len(line) for line in text.splitlines()) <= 72
    # a second run is served from the cache and writes the same dataset
    p2 = vmlab("sweep", "data/grids/smoke.toml", "--out", str(out), "--workers", "2", "--quiet")
    assert p2.returncode == 0 and len(list((out / "sweep").glob("*.parquet"))) == 8


def test_figures_main_job_writes_the_standard_set(tmp_path):
    p = vmlab("figures", "--out", str(tmp_path), "--duration", "0.1", "--workers", "2", "--quiet")
    assert p.returncode == 0, p.stderr
    stems = ["tradeoff-purge", "tradeoff-lockwait", "heatmap-ncpus", "heatmap-lazymax",
             "timeseries-5.0", "timeseries-5.0+threshold", "timeseries-5.2", "latency-cdf"]
    for stem in stems:
        for ext in ("png", "svg", "pdf"):
            f = tmp_path / f"seed-threshold-{stem}.{ext}"
            assert f.stat().st_size > 1000, f
    text = (tmp_path / "seed-threshold.txt").read_text()
    command = text.split("Reproduce with:")[1].replace("\\\n", " ").split()
    assert command[:2] == ["vmlab", "figures"] and str(tmp_path) in command
    assert command[command.index("--duration") + 1] == "0.1"
    assert "5.0" in text and "5.0+threshold" in text
    assert max(len(line) for line in text.splitlines()) <= 72
    # 5.0+threshold x 6 thresholds x 4 CPU counts x 3 lazy_max + 5.0 x 4 x 3, two seeds each
    assert len(list((tmp_path / "sweep").glob("*.parquet"))) == (72 + 12) * 2
