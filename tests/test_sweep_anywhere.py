"""Sweeps from anywhere: a script without a main guard, code piped to ``python -``, ``python -c``,
a notebook and Dask all run a multi-process sweep; a dying worker names the configs it ran.

(Mesa's batch_run users hit BrokenProcessPool in exactly these cases.)"""
from __future__ import annotations

import subprocess
import sys
import textwrap

from importlib import import_module

import pytest

from vmlab import SimConfig, sweep

S = import_module("vmlab.sweep")      # (the package exports the function `sweep` under that name)

SNIPPET = textwrap.dedent("""\
    from vmlab import SimConfig, sweep
    df = sweep(SimConfig.for_kernel("5.0+threshold", platform="hikey960", workload="fix_size",
                                    duration_s=0.005),
               grid={{"threshold_factor": [1.0, 2.0], "ncpus": [2, 4]}}, seeds=1, name="anywhere",
               out={out!r}, workers=2, progress=False)
    print("ROWS", len(df), bool(df.error.isna().all()))
""")


def _check(proc):
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "ROWS 4 True" in proc.stdout, (proc.stdout, proc.stderr[-3000:])
    assert "BrokenProcessPool" not in proc.stderr


def test_script_without_main_guard(tmp_path):
    script = tmp_path / "sweep_demo.py"
    script.write_text(SNIPPET.format(out=str(tmp_path / "cache")))
    _check(subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300,
                          cwd=tmp_path))


def test_code_piped_to_python_stdin(tmp_path):
    code = SNIPPET.format(out=str(tmp_path / "cache"))
    _check(subprocess.run([sys.executable, "-"], input=code, capture_output=True, text=True, timeout=300,
                          cwd=tmp_path))


def test_python_dash_c(tmp_path):
    code = SNIPPET.format(out=str(tmp_path / "cache"))
    _check(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                          cwd=tmp_path))


def test_notebook(tmp_path):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    nb = nbformat.v4.new_notebook()
    nb.cells.append(nbformat.v4.new_code_cell(SNIPPET.format(out=str(tmp_path / "cache"))))
    nbclient.NotebookClient(nb, timeout=300, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}}).execute()
    text = "".join(o.get("text", "") for o in nb.cells[0].outputs)
    assert "ROWS 4 True" in text, nb.cells[0].outputs


def test_dask_client(tmp_path):
    distributed = pytest.importorskip("dask.distributed")
    base = SimConfig.for_kernel("5.0+threshold", platform="hikey960", workload="fix_size", duration_s=0.005)
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as client:
        df = sweep(base, {"ncpus": [2, 4]}, name="anywhere-dask", out=tmp_path / "c", client=client,
                   progress=False)
    assert len(df) == 2 and df.error.isna().all()


def test_a_dying_worker_names_its_configs(tmp_path, monkeypatch):
    import sweep_crash_helper

    monkeypatch.setattr(S, "run_one", sweep_crash_helper.crash_on_4_cpus)
    base = SimConfig.for_kernel("5.0+threshold", platform="hikey960", workload="fix_size", duration_s=0.005)
    configs = [base.replace(ncpus=n) for n in (1, 2, 3, 4, 5)]
    with pytest.raises(S.SweepWorkerDied) as ei:
        sweep(configs=configs, name="crash", out=tmp_path / "c", workers=2, progress=False)
    msg = str(ei.value)
    assert "ncpus=4" in msg and "re-run the sweep to resume" in msg
    assert any(c.get("ncpus") == 4 for c in ei.value.configs)
    # what finished before the crash is cached; a re-run without the crash completes
    monkeypatch.setattr(S, "run_one", sweep_crash_helper.run_one)
    df = sweep(configs=configs, name="crash", out=tmp_path / "c", workers=2, progress=False)
    assert len(df) == 5 and df.error.isna().all()


def test_the_main_free_spawn_restores_multiprocessing():
    import multiprocessing.spawn as mp_spawn

    orig = mp_spawn.get_preparation_data
    with S._main_free_spawn():
        d = mp_spawn.get_preparation_data("x")
        assert "init_main_from_path" not in d and "init_main_from_name" not in d
    assert mp_spawn.get_preparation_data is orig
