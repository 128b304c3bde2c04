"""Figures and email text (`vmlab.plots`, `vmlab.export`) on real small runs.

One module fixture runs a small sweep on hikey960 (stress, 0.3 s simulated): kernels 5.0 and 5.0+threshold,
2 and 4 CPUs, three threshold factors, two seeds, plus one failing row and one run that goes OOM.
"""
from __future__ import annotations

import re
import shlex
from types import SimpleNamespace

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.collections import PolyCollection  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from vmlab import MODEL_VERSION, SimConfig, __version__, get_platform  # noqa: E402
from vmlab.export import (  # noqa: E402
    ascii_chart,
    email_summary,
    export_figure,
    run_command,
    wrap_command,
    write_email,
)
from vmlab.plots import (  # noqa: E402
    df_tradeoff,
    merge_intervals,
    pareto_front,
    plot_heatmap,
    plot_latency_cdf,
    plot_timeseries,
    plot_tradeoff,
)

KERNELS = ("5.0", "5.0+threshold")
NCPUS = (2, 4)
THRESHOLDS = (0.5, 1.0, 4.0)
SEEDS = (1, 2)
BASE = dict(platform="hikey960", workload="stress", duration_s=0.3)
FAIL_MSG = "RuntimeError: engine exploded (test row)"


def _row(cfg: SimConfig, res, kernel: str) -> dict:
    row = {**cfg.to_dict(), "lazy_max_pages_cfg": cfg.lazy_max_pages}
    row.update({**res.summary.to_dict(), "seed": cfg.seed, "error": None, "kernel": kernel})
    return row


@pytest.fixture(scope="module")
def runs(sim):
    """(sweep frame, {(kernel, ncpus, threshold, seed): Result})."""
    results, rows = {}, []
    for k in KERNELS:
        for n in NCPUS:
            for t in THRESHOLDS:
                for s in SEEDS:
                    cfg = SimConfig.for_kernel(k, ncpus=n, threshold_factor=t, seed=s, **BASE)
                    res = sim(cfg)
                    results[(k, n, t, s)] = res
                    rows.append(_row(cfg, res, k))
    bad = SimConfig.for_kernel("5.0+threshold", ncpus=8, threshold_factor=8.0, **BASE)
    rows.append({**bad.to_dict(), "lazy_max_pages_cfg": None, "seed": bad.seed, "kernel": "5.0+threshold",
                 "error": FAIL_MSG})
    df = pd.DataFrame(rows)
    df.attrs["name"] = "test-plots"
    df.attrs["command"] = "vmlab sweep data/grids/test-plots.toml --out /tmp/test-plots"
    return df, results


@pytest.fixture(scope="module")
def oom_result(sim):
    pl = get_platform("hikey960")
    cfg = SimConfig.for_kernel("5.0", ram_bytes=pl.base_mem_bytes + (1 << 20), ncpus=4,
                               sample_interval_ns=100_000, **BASE)
    res = sim(cfg)
    assert bool(res.summary.oom), "the tiny-RAM run was expected to go OOM"
    return res


def _brute_front(xs, ys) -> set[int]:
    out = set()
    for i, (x, y) in enumerate(zip(xs, ys)):
        if not (np.isfinite(x) and np.isfinite(y)):
            continue
        dominated = any(np.isfinite(x2) and np.isfinite(y2) and x2 <= x and y2 <= y and (x2 < x or y2 < y)
                        for j, (x2, y2) in enumerate(zip(xs, ys)) if j != i)
        if not dominated:
            out.add(i)
    return out


def _lines(ax, prefix):
    return [ln for ln in ax.lines if (ln.get_gid() or "").startswith(prefix)]


# ---------------------------------------------------------------------------------- helpers
def test_pareto_front_hand_made():
    df = pd.DataFrame({
        "x": [1.0, 2.0, 3.0, 2.0, 1.0, 5.0, 4.0, np.nan, 3.0, 0.5],
        "y": [9.0, 5.0, 5.0, 5.0, 9.0, 1.0, 1.0, 0.1, 2.0, np.nan],
    }, index=list("abcdefghij"))
    front = pareto_front(df, "x", "y")
    # a/e equal (both kept), b/d equal (both kept), c dominated by b, f dominated by g,
    # h and j have a missing coordinate
    assert set(front[front].index) == {"a", "e", "b", "d", "g", "i"}
    assert front.index.equals(df.index)
    assert set(np.flatnonzero(front.to_numpy())) == _brute_front(df.x.to_numpy(), df.y.to_numpy())


def test_pareto_front_random_matches_brute_force():
    rng = np.random.default_rng(7)
    df = pd.DataFrame({"x": rng.integers(0, 8, 60).astype(float), "y": rng.integers(0, 8, 60).astype(float)})
    front = pareto_front(df, "x", "y")
    assert set(np.flatnonzero(front.to_numpy())) == _brute_front(df.x.to_numpy(), df.y.to_numpy())


def test_tradeoff_points_is_df_tradeoff_with_a_warning(runs):
    import vmlab.plots as P

    df, _ = runs
    with pytest.warns(DeprecationWarning, match="df_tradeoff"):
        old = P.tradeoff_points(df)
    pd.testing.assert_frame_equal(old, df_tradeoff(df))


def test_export_names_through_plots_warn():
    import vmlab.export
    import vmlab.plots as P

    with pytest.warns(DeprecationWarning, match="vmlab.export"):
        assert P.export_figure is vmlab.export.export_figure


def test_merge_intervals():
    s, e = merge_intervals([10, 0, 4, 30, 31], [12, 3, 5, 30, 40], min_gap=1.0)
    # [0,3] and [4,5] are 1 apart (not > 1): merged; [10,12]; [30,30] and [31,40] merged
    assert s.tolist() == [0, 10, 30] and e.tolist() == [5, 12, 40]
    s, e = merge_intervals([0, 4], [3, 5], min_gap=0.5)
    assert len(s) == 2
    s, e = merge_intervals([0], [0], min_width=2.0)
    assert e[0] - s[0] == 2.0
    s, e = merge_intervals([], [])
    assert len(s) == 0


# ---------------------------------------------------------------------------------- trade-off
def test_tradeoff_lines_units_and_front(runs):
    df, _ = runs
    fig = plot_tradeoff(df)
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    groups = _lines(ax, "group:")
    # one line per (ncpus, kernel): kernel varies within an ncpus group, so the lines are split
    assert len(groups) == len(NCPUS) * len(KERNELS)
    names = {ln.get_label() for ln in groups}
    assert names == {f"{n} CPUs, {k}" for n in NCPUS for k in KERNELS}
    assert not any("8 CPUs" in n for n in names), "the failed row must not be plotted"
    assert "pages" in ax.get_xlabel() and "ms" in ax.get_ylabel()
    assert any("MiB" in c.get_xlabel() for c in ax.child_axes)
    # 5.0 ignores the threshold: one point per ncpus; 5.0+threshold one per threshold
    npts = sum(len(ln.get_xdata()) for ln in groups)
    assert npts == len(NCPUS) * (1 + len(THRESHOLDS))
    # points labelled by threshold (coincident points share a label)
    labels = " ".join(t.get_text() for t in ax.texts if t.get_gid() == "point-label")
    for t in THRESHOLDS:
        assert f"{t:g}" in labels
    # seeds aggregated: spread drawn
    assert any(c.get_gid() == "spread" for c in ax.collections)
    # the front is exactly the non-dominated aggregated points of each CPU count, and in ms
    pts = df_tradeoff(df)
    want = set()
    for _, sub in pts.groupby("group"):
        want |= {sub.index[i] for i in _brute_front(sub.x.to_numpy(), sub.y.to_numpy())}
    (front,) = _lines(ax, "pareto-points")
    got = set(zip(np.round(front.get_xdata(), 6), np.round(front.get_ydata(), 9)))
    exp = {(round(pts.x[i], 6), round(pts.y[i] * 1e-6, 9)) for i in want}
    assert got == exp and len(front.get_xdata()) == len(want)
    steps = [ln for ln in ax.lines if ln.get_gid() == "pareto"]
    assert len(steps) == pts.group.nunique() and sum(len(ln.get_xdata()) for ln in steps) == len(want)
    # over all points instead
    fig_all = plot_tradeoff(df, pareto="all")
    (front_all,) = _lines(fig_all.axes[0], "pareto-points")
    assert len(front_all.get_xdata()) == len(_brute_front(pts.x.to_numpy(), pts.y.to_numpy()))
    assert "hikey960" in ax.get_title() and "stress" in ax.get_title()
    assert fig.get_figwidth() == pytest.approx(6.4)


def test_tradeoff_aggregates_by_median(runs):
    df, _ = runs
    pts = df_tradeoff(df)
    ok = df[df.error.isna()]
    r = pts[(pts.group == 4) & (pts.split == "5.0+threshold") & (pts.label == 0.5)].iloc[0]
    sub = ok[(ok.kernel == "5.0+threshold") & (ok.ncpus == 4) & (ok.threshold_factor == 0.5)]
    assert r.n == len(SEEDS)
    assert r.y == pytest.approx(sub.purge_p99_ns.median())
    assert r.x_lo == sub.peak_lazy_pages.min() and r.x_hi == sub.peak_lazy_pages.max()
    # 5.0: every threshold factor collapses into one point per ncpus
    assert (pts[pts.split == "5.0"].n == len(THRESHOLDS) * len(SEEDS)).all()
    assert pts.attrs["failed"] == 1


def test_tradeoff_variants(runs):
    df, _ = runs
    fig = plot_tradeoff(df, x="peak_mem_bytes", y="lock_wait_max_ns", group="kernel")
    ax = fig.axes[0]
    assert "MiB" in ax.get_xlabel() and "ms" in ax.get_ylabel() and "lock" in ax.get_ylabel()
    groups = _lines(ax, "group:")
    # ncpus varies within each kernel: split by it
    assert len(groups) == len(KERNELS) * len(NCPUS)
    fig = plot_tradeoff(df, x="peak_lazy_ratio", y="purge_max_ns", split=None)
    ax = fig.axes[0]
    assert len(_lines(ax, "group:")) == len(NCPUS) and "×" in ax.get_xlabel()
    # into a given axes
    host = Figure()
    a2 = host.add_subplot()
    assert plot_tradeoff(df, ax=a2) is host


def test_tradeoff_only_failures():
    df = pd.DataFrame([{"ncpus": 2, "threshold_factor": 1.0, "peak_lazy_pages": np.nan,
                        "purge_p99_ns": np.nan, "error": "boom"}])
    fig = plot_tradeoff(df)
    assert not _lines(fig.axes[0], "group:")


# ---------------------------------------------------------------------------------- time series
def _spans(ax):
    (coll,) = [c for c in ax.collections if c.get_gid() == "purge_spans"]
    assert isinstance(coll, PolyCollection)
    return coll


def test_timeseries_lines_and_spans(runs):
    _, results = runs
    res = results[("5.0+threshold", 2, 1.0, 2)]        # a run with many purges (11)
    fig = plot_timeseries(res)
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    assert ax.get_xlabel() == "time (s)" and "pages" in ax.get_ylabel()
    assert any("MiB" in c.get_ylabel() for c in ax.child_axes)
    (lm,) = _lines(ax, "lazy_max")
    (th,) = _lines(ax, "resched_threshold")
    assert lm.get_ydata()[0] == res.summary.lazy_max_pages
    assert th.get_ydata()[0] == res.summary.resched_threshold_pages == int(1.0 * res.summary.lazy_max_pages)
    (lazy,) = _lines(ax, "vmap_lazy_nr")
    assert len(lazy.get_xdata()) == len(res.timeseries)
    # spans: the purges merged at one pixel, each at least a pixel wide
    pr = res.purges
    assert len(pr) > 3
    x0, x1 = ax.get_xlim()
    px = max(ax.bbox.width, 100.0)
    ns_px = (x1 - x0) * 1e9 / px
    starts, ends = pr.start_ns.to_numpy(float), pr.end_ns.to_numpy(float)
    ts = res.timeseries
    if ts.purge_active.iloc[-1]:
        # the purge still running at the end is shaded from the time series
        idle = np.flatnonzero(ts.purge_active.to_numpy() == 0)
        t_open = max(float(ts.index[idle[-1] + 1]), ends.max())
        starts = np.append(starts, t_open)
        ends = np.append(ends, max(float(ts.index[-1]), float(res.summary.sim_ns)))
    ms_, me_ = merge_intervals(starts, ends, min_gap=ns_px, min_width=ns_px)
    coll = _spans(ax)
    assert len(coll.get_paths()) == len(ms_) <= len(starts)
    # every purge lies inside a shaded span
    spans = np.array([(p.vertices[:, 0].min(), p.vertices[:, 0].max()) for p in coll.get_paths()])
    for s, e in zip(pr.start_ns / 1e9, pr.end_ns / 1e9):
        assert ((spans[:, 0] <= s + 1e-12) & (spans[:, 1] >= e - 1e-12)).any()
    assert not _lines(ax, "oom")
    assert "hikey960" in ax.get_title() and "stress" in ax.get_title()


def test_timeseries_merges_many_purges():
    n = 5000
    starts = np.arange(n) * 20_000.0  # a purge every 20 µs over 0.1 s: far below a pixel
    trace = SimpleNamespace(
        config=None,
        summary=pd.Series({"lazy_max_pages": 1000.0, "oom": False}),
        timeseries=pd.DataFrame({"time_ns": np.arange(101) * 1_000_000,
                                 "vmap_lazy_nr": np.linspace(0, 900, 101)}),
        purges=pd.DataFrame({"start_ns": starts, "duration_ns": np.full(n, 5_000.0)}),
    )
    fig = plot_timeseries(trace)
    ax = fig.axes[0]
    assert len(_spans(ax).get_paths()) < 50
    (th,) = _lines(ax, "resched_threshold")
    assert th.get_ydata()[0] == 2000.0  # 2 x lazy_max when the summary has no threshold


def test_timeseries_kernel_trace_schema():
    """A trace: no walk_ns/flush_ns, NaN summary values, time as the index, no config."""
    trace = SimpleNamespace(
        config={"platform": "qemu-tcg", "workload": "fix_size", "ncpus": 2},
        summary=pd.Series({"lazy_max_pages": np.nan, "resched_threshold_pages": np.nan,
                           "oom": np.nan, "oom_time_ns": np.nan, "sim_ns": np.nan}),
        timeseries=pd.DataFrame({"vmap_lazy_nr": [0, 10, 40, 5]},
                                index=pd.Index([0, 1_000_000, 2_000_000, 3_000_000], name="time_ns")),
        purges=pd.DataFrame({"start_ns": [500_000.0, 2_100_000.0], "end_ns": [900_000.0, 2_400_000.0]}),
    )
    fig = plot_timeseries(trace)
    ax = fig.axes[0]
    assert not _lines(ax, "lazy_max") and not _lines(ax, "resched_threshold") and not _lines(ax, "oom")
    assert len(_spans(ax).get_paths()) == 2
    assert "qemu-tcg" in ax.get_title()


def test_timeseries_oom(oom_result):
    fig = plot_timeseries(oom_result)
    ax = fig.axes[0]
    (ln,) = _lines(ax, "oom")
    assert ln.get_xdata()[0] == pytest.approx(oom_result.summary.oom_time_ns / 1e9)
    assert any(t.get_gid() == "oom_text" and "OOM" in t.get_text() for t in ax.texts)


# ---------------------------------------------------------------------------------- heat map, CDF
def test_heatmap(runs):
    df, _ = runs
    fig = plot_heatmap(df[df.kernel == "5.0+threshold"], "threshold_factor", "ncpus", "purge_max_ns")
    assert isinstance(fig, Figure)
    ax, cax = fig.axes[0], fig.axes[1]
    cells = [t for t in ax.texts if t.get_gid() == "cell"]
    assert len(cells) == len(THRESHOLDS) * len(NCPUS)
    assert "ms" in cax.get_ylabel()
    assert "×" in ax.get_xlabel() and "CPUs" in ax.get_ylabel()
    assert [t.get_text() for t in ax.get_yticklabels()] == ["2", "4"]  # not 8: the failed row
    ok = df[(df.kernel == "5.0+threshold") & df.error.isna()]
    med = ok[(ok.ncpus == 2) & (ok.threshold_factor == 0.5)].purge_max_ns.median() / 1e6
    assert float(cells[0].get_text()) == pytest.approx(med, rel=0.01)
    # lazy_max_pages_cfg None is its own "formula" column
    fig = plot_heatmap(df, "lazy_max_pages_cfg", "kernel", "peak_lazy_ratio", agg="max")
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["formula"]
    assert "×" in fig.axes[1].get_ylabel()


def test_latency_cdf(runs):
    _, results = runs
    rs = [results[("5.0", 4, 1.0, 1)], results[("5.0+threshold", 4, 0.5, 1)]]
    fig = plot_latency_cdf(rs)
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    lines = _lines(ax, "cdf:")
    assert len(lines) == 4
    labels = [ln.get_label() for ln in lines]
    assert any(lab.startswith("5.0") for lab in labels) and any(lab.startswith("5.0+threshold") for lab in labels)
    assert ax.get_xscale() == "log" and re.search(r"\((µs|ms)\)", ax.get_xlabel())
    # styles: one line style per kind, one colour per result
    by = {(lab.split(" · ")[0], lab.split(" · ")[1]): ln for lab, ln in zip(labels, lines)}
    kinds = {k for _, k in by}
    assert len({by[(r, k)].get_linestyle() for r, k in by if r == labels[0].split(" · ")[0]}) == len(kinds)
    # the alloc line goes through p50, p99, p999 and max of the latency table
    r = rs[0]
    alloc = next(ln for ln in lines if ln.get_gid().endswith(":alloc") and ln.get_label().startswith("5.0"))
    scale = 1e-3 if "µs" in ax.get_xlabel() else 1e-6
    want = r.latency.loc["alloc", ["p50", "p99", "p999", "max"]].to_numpy(float) * scale
    assert np.allclose(alloc.get_xdata(), want)
    assert list(alloc.get_ydata()[:3]) == [0.5, 0.99, 0.999]
    # explicit labels
    fig = plot_latency_cdf(rs, kinds=("alloc",), labels=["old", "new"])
    assert sorted(ln.get_label() for ln in _lines(fig.axes[0], "cdf:")) == ["new · vmalloc", "old · vmalloc"]


def test_no_pyplot_figures_left(runs):
    import matplotlib.pyplot as plt

    df, results = runs
    plot_tradeoff(df)
    plot_timeseries(next(iter(results.values())))
    assert plt.get_fignums() == []


# ---------------------------------------------------------------------------------- export
def test_export_figure_metadata(runs, tmp_path):
    from PIL import Image

    df, _ = runs
    fig = plot_tradeoff(df)
    paths = export_figure(fig, tmp_path / "sub" / "tradeoff")
    assert [p.name for p in paths] == ["tradeoff.png", "tradeoff.svg", "tradeoff.pdf"]
    for p in paths:
        assert p.stat().st_size > 1000
    with Image.open(paths[0]) as im:
        text = dict(im.text)
        dpi = im.info.get("dpi")
        w, h = im.size
    assert text["model_version"] == MODEL_VERSION and text["vmlab_version"] == __version__
    assert "test-plots" in text.get("sweep", "")
    assert dpi and round(dpi[0]) == 150
    assert (w, h) == (960, 600)  # 6.4 x 4 in at 150 dpi
    svg = paths[1].read_text()
    assert MODEL_VERSION in svg and "test-plots" in svg and __version__ in svg
    assert "<text" not in svg  # svg.fonttype = path
    pdf = paths[2].read_bytes()
    assert MODEL_VERSION.encode() in pdf and b"test-plots" in pdf
    assert b"/FontFile2" in pdf  # pdf.fonttype = 42 (TrueType)


def test_export_figure_run_config_and_extra_metadata(runs, tmp_path):
    from PIL import Image

    _, results = runs
    res = results[("5.0", 2, 1.0, 1)]
    paths = export_figure(plot_timeseries(res), tmp_path / "ts", formats=("png", "pdf"),
                          metadata={"note": "seed thread"})
    with Image.open(paths[0]) as im:
        text = dict(im.text)
    assert text["model_version"] == res.model_version
    assert '"policy": "always-resched"' in text["config"] and text["note"] == "seed thread"
    assert b"always-resched" in paths[1].read_bytes()


# ---------------------------------------------------------------------------------- email
def _table_rows(text):
    return [ln for ln in text.splitlines() if re.match(r"^[A-Za-z] \S", ln) and " ms" not in ln]


def test_email_summary_sweep(runs, tmp_path):
    df, _ = runs
    text = email_summary(df)
    lines = text.splitlines()
    assert all(len(ln) <= 72 for ln in lines), max(lines, key=len)
    assert MODEL_VERSION in text
    # the recorded command
    assert df.attrs["command"] in text
    # a table row per config: 5.0 per ncpus (threshold ignored), 5.0+threshold per ncpus x threshold
    header = next(ln for ln in lines if ln.startswith("k "))
    for col in ("kernel", "cpus", "thr", "peak/max", "p99 ms", "max ms", "lockw ms", "OOM"):
        assert col in header
    start = lines.index(header) + 2
    rows = []
    for ln in lines[start:]:
        if not re.match(r"^[A-Za-z] ", ln):
            break
        rows.append(ln.split())
    assert len(rows) == len(NCPUS) * (1 + len(THRESHOLDS))
    assert {(r[1], r[2], r[3]) for r in rows} == (
        {("5.0", str(n), "-") for n in NCPUS}
        | {("5.0+threshold", str(n), f"{t:g}") for n in NCPUS for t in THRESHOLDS})
    # the numbers are the medians over seeds
    ok = df[df.error.isna()]
    r = next(r for r in rows if r[1:4] == ["5.0+threshold", "4", "0.5"])
    sub = ok[(ok.kernel == "5.0+threshold") & (ok.ncpus == 4) & (ok.threshold_factor == 0.5)]
    assert float(r[5]) == pytest.approx(sub.peak_lazy_ratio.median(), abs=0.006)
    assert float(r[6]) == pytest.approx(sub.purge_p99_ns.median() / 1e6, rel=0.01)
    # PF stars the Pareto front of each CPU count, as the figure does: every CPU count has one,
    # and no starred row is beaten on both peak/max and p99 by another row of its CPU count
    assert "same CPU count" in text
    for n in NCPUS:
        mine = [r for r in rows if r[2] == str(n)]
        starred = [r for r in mine if r[-1] == "*"]
        assert starred, n
        for a in starred:
            assert not any(float(b[5]) < float(a[5]) and float(b[6]) < float(a[6]) for b in mine), (n, a)
    # the ASCII chart: axis line, and every table key letter appears in it (or in the shared-cell note)
    i = lines.index("Trade-off (letters are the k column above):")
    chart = lines[i + 1:i + 16]
    assert any(ln.strip().startswith("+---") for ln in chart)
    body = "\n".join(chart) + "\n".join(lines[i + 16:i + 20])
    for r in rows:
        assert r[0] in body
    # the failed run: reported, not in the table
    assert "Failed runs (1):" in text and "engine exploded" in " ".join(text.split())
    assert not any(r[2] == "8" for r in rows)
    p = write_email(text, tmp_path / "mail" / "seed")
    assert p.name == "seed.txt" and p.read_text() == text


def test_email_summary_result_command_reproduces(runs):
    _, results = runs
    res = results[("5.0+threshold", 4, 4.0, 2)]
    text = email_summary(res)
    lines = text.splitlines()
    assert all(len(ln) <= 72 for ln in lines)
    i = lines.index("Reproduce with:")
    cmd_lines = [ln.strip() for ln in lines[i + 1:]]
    joined = " ".join(ln[:-1].strip() if ln.endswith("\\") else ln for ln in cmd_lines)
    argv = shlex.split(joined)
    assert argv[:6] == ["vmlab", "run", "--kernel", "5.0", "--policy", "threshold"]
    assert "--threshold-factor" in argv and "--seed" in argv
    from vmlab.cli import _config_from_args, build_parser
    cfg = _config_from_args(build_parser().parse_args(argv[1:]))
    assert cfg == res.config


def test_email_summary_results_list_and_oom(runs, oom_result):
    _, results = runs
    text = email_summary([results[("5.0", 2, 1.0, 1)], oom_result])
    lines = text.splitlines()
    assert all(len(ln) <= 72 for ln in lines)
    assert "yes" in text  # OOM column
    # every field has a vmlab run option (vmlab.fields), sample_interval_ns too
    assert ">>> from vmlab import SimConfig, simulate" not in text
    assert "--sample-interval-ns 100000" in text
    assert "vmlab run --kernel 5.0" in text


def test_email_summary_long_command_wraps(runs):
    df, _ = runs
    cmd = ("vmlab sweep " + "data/grids/" + "x" * 90 + ".toml --out /tmp/" + "y" * 30
           + " --workers 2 --scheduler tcp://127.0.0.1:8786")
    text = email_summary(df, command=cmd, title="A title " * 20)
    lines = text.splitlines()
    assert all(len(ln) <= 72 for ln in lines), max(lines, key=len)
    i = lines.index("Reproduce with:")
    # joining the backslash continuations gives the command back, as the shell would
    assert shlex.split(_unwrap(lines[i + 1:])) == shlex.split(cmd)


def _unwrap(lines):
    out = ""
    for s in lines:
        if s.endswith(" \\"):
            out += s[:-2] + " "
        elif s.endswith("\\"):
            out += s[:-1]
        else:
            out += s
    return re.sub(r"\s+", " ", out)


def test_wrap_command_and_chart_units():
    cmd = "vmlab run --kernel 5.0 --policy threshold --platform hikey960 --ncpus 4 --threshold-factor 4 --workload stress --duration 0.1"
    out = wrap_command(cmd, 40)
    assert all(len(ln) <= 40 for ln in out) and all(ln.endswith(" \\") for ln in out[:-1])
    assert shlex.split(_unwrap(out)) == shlex.split(cmd)
    assert wrap_command("short", 72) == ["short"]
    chart = ascii_chart([("A", 1.0, 1.0), ("B", 100.0, 2.0), ("C", 100.0, 2.0)], "x", "y")
    assert "(log)" in chart[-3] or "(log)" in chart[-2]  # x spans 100x
    assert len(chart) <= 16 and all(len(ln) <= 60 for ln in chart)
    assert any("A" in ln for ln in chart) and any("B" in ln for ln in chart)
    assert run_command(SimConfig.for_kernel("5.0", platform="hikey960", ncpus=8))[0].startswith(
        "vmlab run --kernel 5.0 --platform hikey960 --ncpus 8")


def test_wrap_command_cuts_a_long_word_without_gluing_the_next():
    # a path longer than a line is cut; wherever the cut falls (also exactly at the word's end),
    # the shell must read the same words back
    for n in range(55, 80):
        cmd = f"vmlab sweep /{'d' * n}/g.toml --workers 1 --quiet"
        out = wrap_command(cmd, 72)
        assert all(len(ln) <= 72 for ln in out), out
        assert shlex.split(_unwrap(out)) == shlex.split(cmd), (n, out)
