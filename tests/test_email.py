"""The email text a new user sends: what its numbers mean and what it shows of the sender's machine.

* The time column (``ran s``) and the context line give the simulated time each run covered
  (``summary.sim_ns``), marked "(limit)" when the run was cut at ``duration_s`` before its test
  program ended (``summary.tests_done``), not the configured ``duration_s``; figure subtitles
  say "up to N s simulated" when runs ended before ``duration_s``.
* "Reproduce with" names a kernel recording relative to the project (or by its last path
  components when it lives elsewhere): no absolute path, no home or temporary directory; nor
  does the metadata of a figure drawn from it.
"""
from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from vmlab import SimConfig, load_kernel_run
from vmlab.export import email_summary, ran_text, run_end
from vmlab.result import SUMMARY_KEYS

TAG, RUN = "smp2", "fix_size"
ROOT = Path(__file__).resolve().parent.parent
#: a path starting at the root, after a blank, quote, bracket or '=' (or at a line's start)
ABSOLUTE = re.compile(r"""(?:^|[\s'"(=:])/[\w.~-]""", re.M)


def table(text: str) -> list[dict[str, str]]:
    """The email's table as {header: cell} rows, cut at the spans of its dash line."""
    lines = text.splitlines()
    i = next(k for k, ln in enumerate(lines) if ln.startswith("- -"))
    spans, pos = [], 0
    for dashes in lines[i].split(" "):
        spans.append((pos, pos + len(dashes)))
        pos += len(dashes) + 1
    heads = [lines[i - 1][a:b].strip() for a, b in spans]
    rows = []
    for ln in lines[i + 1:]:
        if not ln.strip():
            break
        if not ln[:1].strip() or ln[1:2] != " ":   # the notes after the table
            break
        rows.append({h: ln[a:b].strip() for h, (a, b) in zip(heads, spans)})
    return rows


@pytest.fixture(scope="module")
def recording(kernel_data):
    return load_kernel_run(kernel_data / "raw" / TAG, run=RUN)


@pytest.fixture(scope="module")
def model_of_recording(sim, recording):
    return sim(recording.sim_config())


# --------------------------------------------------------------------------- the run's end
def test_summary_says_how_the_run_ended(sim, model_of_recording):
    assert "tests_done" in SUMMARY_KEYS
    done = model_of_recording.summary
    limit_ns = model_of_recording.config.duration_s * 1e9
    assert done.tests_done and not done.oom and 0 < done.sim_ns < limit_ns     # finished early
    cut = sim(SimConfig.for_kernel("5.0", platform="hikey960", ncpus=4, workload="stress",
                                   duration_s=0.05)).summary
    assert not cut.tests_done and not cut.oom and cut.sim_ns == 0.05e9          # cut at the limit


def test_recording_comparison_shows_the_time_each_run_covered(recording, model_of_recording):
    res, kr = model_of_recording, recording
    assert res.config.duration_s > 2 * res.summary.sim_ns / 1e9      # the limit is far away
    text = email_summary([res, kr])
    assert all(len(ln) <= 72 for ln in text.splitlines())
    rows = {r["kernel"]: r for r in table(text)}
    assert set(rows) == {"6.1", "6.1 trace"} and "dur s" not in text
    model, trace = rows["6.1"]["ran s"], rows["6.1 trace"]["ran s"]
    # the model's test program ended well before duration_s: its end, unmarked, not the limit
    assert "limit" not in model and float(model) == pytest.approx(res.summary.sim_ns / 1e9, rel=0.01)
    assert float(model) != pytest.approx(res.config.duration_s)
    assert float(trace) == pytest.approx(kr.summary.sim_ns / 1e9, rel=0.01)
    assert "(limit)" not in text


def test_a_run_cut_at_the_limit_is_marked(sim):
    base = dict(platform="hikey960", ncpus=2, workload="fix_size", test_loop_count=2000)
    done = sim(SimConfig.for_kernel("5.0+threshold", duration_s=1.0, **base))
    cut = sim(SimConfig.for_kernel("5.0+threshold", duration_s=0.001, **base))
    assert run_end(done.summary) == "done" and run_end(cut.summary) == "limit"
    rows = table(email_summary([done, cut]))
    cells = sorted(r["ran s"] for r in rows)
    assert cells == sorted([f"{done.summary.sim_ns / 1e9:.3g}", "0.001 (limit)"])
    assert done.summary.sim_ns < 1e9
    # one run: the context line says it
    assert "0.001 s simulated (cut at the duration_s limit)" in email_summary(cut).replace("\n", " ")
    assert "s simulated (test program done)" in email_summary(done).replace("\n", " ")


def test_ran_text_over_seeds_and_ends():
    rows = [dict(sim_ns=2e9, tests_done=False, oom=False), dict(sim_ns=1e9, tests_done=True, oom=False)]
    assert ran_text(rows) == "1.5 (limit 1/2)"
    assert ran_text(rows[:1] * 3) == "2 (limit)"
    oom = dict(sim_ns=0.7e9, tests_done=False, oom=True)          # stopped by the OOM, not the limit
    assert run_end(oom) == "oom" and ran_text([oom]) == "0.7"
    assert run_end(dict(sim_ns=1e9)) is None and ran_text([dict(sim_ns=1e9)]) == "1"
    assert ran_text([dict(oom=False)]) == "-"


def test_figure_subtitle_says_up_to_when_runs_ended_early(sim):
    from vmlab.plots import frame_of, plot_tradeoff

    base = dict(platform="hikey960", workload="fix_size", test_loop_count=2000)
    done = [sim(SimConfig.for_kernel("5.0+threshold", ncpus=n, duration_s=1.0, **base)) for n in (1, 2)]
    cut = [sim(SimConfig.for_kernel("5.0+threshold", ncpus=n, duration_s=0.001, **base)) for n in (1, 2)]
    assert all(r.summary.tests_done for r in done) and not any(r.summary.tests_done for r in cut)
    title = plot_tradeoff(frame_of(done), label=None).axes[0].get_title()
    assert "up to 1 s simulated" in title
    title = plot_tradeoff(frame_of(cut), label=None).axes[0].get_title()
    assert "0.001 s simulated" in title and "up to" not in title


# --------------------------------------------------------------------------- no absolute paths
def _no_absolute_path(text: str, *dirs: Path):
    assert not ABSOLUTE.search(text), ABSOLUTE.search(text)
    for d in (ROOT, Path.home(), *dirs):
        assert str(d) not in text, d
    assert "/tmp" not in text and "/home" not in text and "/root" not in text


def _loads(text: str, root: Path):
    """The recording the email's load_kernel_run line names, loaded from ``root``."""
    m = re.search(r"load_kernel_run\('([^']+)', run='([^']+)'\)", text)
    assert m, text
    return load_kernel_run(root / m.group(1), run=m.group(2))


def test_reproduce_names_the_shipped_recording_relative_to_the_project(recording, model_of_recording):
    for text in (email_summary(recording), email_summary([model_of_recording, recording])):
        _no_absolute_path(text)
        assert f"data/kernel/raw/{TAG}" in text
        again = _loads(text.split("Reproduce with:")[1], ROOT)      # it names this recording
        assert again.summary.purges == recording.summary.purges
        assert again.summary.sim_ns == recording.summary.sim_ns


def test_a_recording_outside_the_project_is_named_by_its_last_directories(kernel_data, tmp_path):
    src = kernel_data / "raw" / TAG
    dst = tmp_path / "recordings" / "board-a"
    dst.mkdir(parents=True)
    for f in src.glob(f"{RUN}_*"):
        shutil.copy(f, dst / f.name)
    text = email_summary(load_kernel_run(dst, run=RUN))
    _no_absolute_path(text, tmp_path)
    assert "recordings/board-a" in text
    assert _loads(text, tmp_path).summary.purges > 0


def test_figure_metadata_of_a_recording_has_no_absolute_path(recording, model_of_recording, tmp_path):
    from PIL import Image

    from vmlab.calibrate import compare
    from vmlab.export import export_figure
    from vmlab.plots import plot_latency_cdf, plot_timeseries

    figs = [plot_timeseries(recording), plot_latency_cdf([model_of_recording, recording], kinds=("purge",)),
            compare(recording, model_of_recording)[1]]
    for i, fig in enumerate(figs):
        (png, *_) = export_figure(fig, tmp_path / f"f{i}", formats=("png",))
        meta = " ".join(str(v) for v in Image.open(png).info.values())
        assert f"data/kernel/raw/{TAG}" in meta
        _no_absolute_path(meta, tmp_path)
