"""vmlab.trace: ftrace text in, the model's schema out (issue 5), and the recording script.

* every shipped recording (data/kernel/raw/<tag>/) loads, and its counts agree with the shipped CSVs
  parsed by the recorders' own scripts: purge calls, non-empty purges, drains, the largest
  vmap_lazy_nr sample, every purge duration, and the test_vmalloc Summary rows;
* the vmalloc tracepoints parse, on lines written from their documented printk formats (docs/facts.md §
  2.3), as do trace-cmd report, function_graph and header/flag variants;
* malformed, truncated and empty inputs raise errors naming file:line; strict=False skips and counts;
* the plots and the email text accept a KernelRun;
* tools/record-test-vmalloc.sh, without root, against a fake tracefs directory: argument parsing,
  the commands it builds (DRY_RUN), a whole recording that load_kernel_run reads, and the cleanup
  of every probe when it is interrupted.
"""
from __future__ import annotations

import gzip
import json
import os
import shutil
import signal
import subprocess
import time
import warnings

import numpy as np
import pandas as pd
import pytest

from vmlab import read_ftrace, read_test_summary, load_kernel_run
from vmlab.result import LATENCY_KINDS, PURGE_COLUMNS, SUMMARY_KEYS, TIMESERIES_COLUMNS
from vmlab.trace import KernelRun, TraceParseError, TraceWarning, kernel_preset, shipped_runs

RUNS = [("smp2", "fix_size"), ("smp2", "long_busy"), ("smp2r3", "fix_size"), ("smp2r3", "long_busy"),
        ("smp2r4", "fix_size"), ("smp2r4", "long_busy"), ("smp8", "fix_size"), ("smp8", "long_busy")]
HEADER = """# tracer: nop
#
# entries-in-buffer/entries-written: {n}/{n}   #P:2
#
#                                _-----=> irqs-off/BH-disabled
#                               / _----=> need-resched
#                              | / _---=> hardirq/softirq
#                              || / _--=> preempt-depth
#                              ||| / _-=> migrate-disable
#                              |||| /     delay
#           TASK-PID     CPU#  |||||  TIMESTAMP  FUNCTION
#              | |         |   |||||     |         |
"""
PURGE = [
    "     kworker/1:1-35      [001] .....    31.808562: drain_entry: (drain_vmap_area_work+0x0/0x60) lazy=16434\n",
    "     kworker/1:1-35      [001] .....    31.808577: purge_entry: (__purge_vmap_area_lazy+0x0/0x750) lazy=16434\n",
    "     kworker/1:1-35      [001] .....    31.808829: purge_exit: (drain_vmap_area_work+0x25/0x60 <- __purge_vmap_area_lazy) ret=1 lazy=8\n",
    "     kworker/1:1-35      [001] .....    31.808860: drain_exit: (process_one_work+0x1c7/0x380 <- drain_vmap_area_work) lazy=12\n",
]
TICK = "  vmalloc_test/0-421     [000] d.h..    31.810000: tick: (scheduler_tick+0x0/0x270) lazy=40\n"


def write(path, lines, gz=False):
    text = "".join(lines)
    if gz:
        with gzip.open(path, "wt") as f:
            f.write(text)
    else:
        path.write_text(text)
    return path


@pytest.fixture(scope="module")
def raw(kernel_data):
    return kernel_data / "raw"


@pytest.fixture(scope="module")
def key_figures(kernel_data):
    with open(kernel_data / "key_figures.json") as f:
        return {(r["tag"], r["run"]): r for r in json.load(f)}


@pytest.fixture(scope="module")
def kruns(raw):
    with warnings.catch_warnings():
        warnings.simplefilter("error")      # the shipped data loads without a single warning
        return {(t, r): load_kernel_run(raw / t, run=r) for t, r in RUNS}


# ================================================================================ the shipped runs
def test_every_shipped_run_is_listed(raw):
    assert shipped_runs(raw) == sorted(RUNS)


@pytest.mark.parametrize("tag,run", RUNS)
def test_shipped_run_counts_match_the_csvs(kruns, kernel_data, key_figures, tag, run):
    kr = kruns[(tag, run)]
    kf = key_figures[(tag, run)]
    pcsv = pd.read_csv(kernel_data / f"{tag}_{run}_purge_events.csv")
    dcsv = pd.read_csv(kernel_data / f"{tag}_{run}_drain_work_events.csv")
    scsv = pd.read_csv(kernel_data / f"{tag}_{run}_lazy_nr_samples.csv")
    tcsv = pd.read_csv(kernel_data / f"{tag}_{run}_test_summary.csv")
    s = kr.summary
    # purge calls, non-empty purges, drains
    assert s.purge_calls == len(kr.purges) == len(pcsv) == kf["purge_calls_total"]
    assert s.purges == kf["purges_nonempty"] == int((pcsv.ret_purged == 1).sum())
    assert s.drains == len(dcsv) == kf["drain_work_calls"]
    # every purge, in order: duration, entry/exit counter, caller, cpu
    np.testing.assert_array_equal(kr.purges.duration_ns.to_numpy(), pcsv.duration_ns.to_numpy())
    np.testing.assert_array_equal(kr.purges.lazy_nr_start.to_numpy(), pcsv.vmap_lazy_nr_entry.to_numpy())
    np.testing.assert_array_equal(kr.purges.lazy_nr_delta.to_numpy(), pcsv.lazy_nr_delta.to_numpy())
    assert list(kr.purges.caller) == list(pcsv.caller)
    np.testing.assert_array_equal(kr.purges.cpu.to_numpy(), pcsv.cpu.to_numpy())
    np.testing.assert_array_equal(kr.purges.start_ns.to_numpy(), pcsv.t_rel_ns.to_numpy())
    assert (kr.purges.trigger == "drain").sum() == kf["purges_by_caller"].get("drain_vmap_area_work", 0) + \
        int(((pcsv.caller == "drain_vmap_area_work") & (pcsv.ret_purged == 0)).sum())
    # max vmap_lazy_nr: every sample of the CSV, the same values in the same order
    assert s.peak_lazy_pages == scsv.value.max() == kf["lazy_nr_max"]
    lazy = kr.events["vmap_lazy_nr"].dropna().to_numpy(dtype=np.int64)
    np.testing.assert_array_equal(lazy, scsv.value.to_numpy())
    # the summary numbers of the key figures
    assert s.lazy_max_pages == kf["lazy_max_pages"]
    assert s.purge_p50_ns == kf["dur_ns_median"]
    assert s.purge_p99_ns == pytest.approx(kf["dur_ns_p99"])
    assert s.purge_max_ns == kf["dur_ns_max"]
    assert s.purge_pages_p50 == kf["npurged_pages_median"]
    assert s.purges_entry_gt_lazy_max == kf["purges_entry_gt_lazy_max"]
    assert s.sim_ns / 1e9 == pytest.approx(kf["run_duration_s"], abs=1e-6)
    # the test Summary rows
    cols = ["worker", "test", "passed", "failed", "repeat", "loops", "avg_usec", "worker_total_cycles"]
    assert kr.tests[cols].astype(str).values.tolist() == tcsv[cols].astype(kr.tests[cols].dtypes).astype(str).values.tolist()
    assert len(kr.tests) == len(tcsv) == kr.config.nr_threads


@pytest.mark.parametrize("tag,run", RUNS)
def test_shipped_run_config(kruns, tag, run):
    cfg = kruns[(tag, run)].config
    assert cfg.kernel_release == "6.1.0-56-amd64" and cfg.kernel_preset == "6.1"
    assert cfg.platform == "qemu-tcg"                        # from qemu_cmdline.txt's "-accel tcg"
    assert cfg.ncpus == int(tag[3])
    assert cfg.workload == {"fix_size": "fix_size_alloc_test", "long_busy": "long_busy_list_alloc_test"}[run]
    sc = cfg.sim_config()
    assert (sc.ncpus, sc.purge_mode, sc.flush_range, sc.test_loop_count) == (cfg.ncpus, "deferred", "at-insert",
                                                                           cfg.test_loop_count)


def test_kernel_run_has_the_result_schema(kruns):
    kr = kruns[("smp2", "fix_size")]
    assert isinstance(kr, KernelRun)
    assert list(kr.purges.columns[: len(PURGE_COLUMNS)]) == list(PURGE_COLUMNS)
    assert set(TIMESERIES_COLUMNS) <= set(kr.timeseries.columns) and kr.timeseries.index.name == "time_ns"
    assert set(SUMMARY_KEYS) <= set(kr.summary.index)
    assert list(kr.latency.index) == list(LATENCY_KINDS)
    assert {"test", "worker", "loops", "avg_usec", "failed", "passed", "repeat", "complete"} <= set(kr.tests.columns)
    # what a kprobe trace cannot see is NaN, never a made-up number
    for c in ("walk_ns", "flush_ns", "free_ns", "entries", "pages", "yields", "max_lock_hold_ns"):
        assert kr.purges[c].isna().all(), c
    for k in ("alloc_p99_ns", "lock_wait_max_ns", "lock_hold_max_ns", "wall_s", "purge_walk_share", "oom_time_ns"):
        assert np.isnan(kr.summary[k]), k
    assert kr.latency.loc["purge", "count"] == kr.summary.purges
    assert kr.latency.loc["alloc", "count"] == 0
    # the time series: every sample after the start marker, purge_active inside a purge
    ts = kr.timeseries
    assert ts.index.min() >= 0 and ts.index.is_monotonic_increasing
    assert set(ts.source.unique()) == {"tick", "purge_entry", "purge_exit", "drain_entry", "drain_exit"}
    at_entry = ts[ts.source == "purge_exit"]
    assert (at_entry.purge_active == 1).all()
    assert ts.mem_bytes.notna().any() and ts.MemFree_kB.notna().any()     # meminfo markers + MemTotal
    assert kr.summary.peak_lazy_ratio == pytest.approx(kr.summary.peak_lazy_pages / 16384)


def test_gzip_and_plain_text_give_the_same_frame(raw, tmp_path):
    gz = raw / "smp2" / "long_busy_trace.txt.gz"
    plain = tmp_path / "long_busy_trace.txt"
    with gzip.open(gz, "rt") as f:
        plain.write_text(f.read())
    a, b = read_ftrace(gz), read_ftrace(plain)
    pd.testing.assert_frame_equal(a, b)
    assert a.attrs["header"] == {"tracer": "nop", "entries_in_buffer": 2399, "entries_written": 2399, "ncpus": 2}


def test_load_from_a_list_of_files(raw, kruns):
    d = raw / "smp2"
    kr = load_kernel_run([d / "fix_size_trace.txt.gz", d / "fix_size_dmesg.txt", d / "fix_size_params.txt",
                          d / "env.txt"], platform="qemu-tcg")
    ref = kruns[("smp2", "fix_size")]
    assert kr.summary.purges == ref.summary.purges and len(kr.tests) == 2
    with pytest.raises(ValueError, match="several runs"):
        load_kernel_run(d)


# ================================================================================ formats
def _printk(fmt: str, *args) -> str:
    """A tracepoint line body from its printk format (docs/facts.md §2.3), as the kernel would print it."""
    return fmt.replace("%lu", "%d").replace("%lx", "%x").replace("%u", "%d") % args


def test_vmalloc_tracepoints_parse(tmp_path):
    """Lines written from include/trace/events/vmalloc.h's formats (docs/facts.md §2.3)."""
    a = "va_start: %lu size=%lu align=%lu vstart=0x%lx vend=0x%lx failed=%d"
    p = "start=0x%lx end=0x%lx num_purged=%u"
    f = "va_start=0x%lx nr_lazy=%lu nr_lazy_max=%lu"
    va0, vstart, vend = 0xFFFFC90000000000, 0xFFFFC90000000000, 0xFFFFE8FFFFFFFFFF
    lines = ["# tracer: nop\n", "            init-1     [000] .....    99.000000: tracing_mark_write: VMLAB start name=t\n"]
    t = 100.0
    lazy = 0
    for i in range(6):
        va = va0 + i * 0x2000
        t += 0.00001
        lines.append(f"  vmalloc_test/0-120   [000] .....  {t:.6f}: alloc_vmap_area: "
                     + _printk(a, va, 8192, 4096, vstart, vend, 0) + "\n")
        lazy += 2
        t += 0.00001
        lines.append(f"  vmalloc_test/0-120   [000] .....  {t:.6f}: free_vmap_area_noflush: "
                     + _printk(f, va, lazy, 8) + "\n")
        if lazy > 8:
            t += 0.00002
            lines.append(f"     kworker/0:1-35    [000] .....  {t:.6f}: purge_vmap_area_lazy: "
                         + _printk(p, va0, va + 0x2000, 5) + "\n")
            lazy = 0
    lines.append(f"  vmalloc_test/0-120   [000] .....  {t + 1e-5:.6f}: alloc_vmap_area: "
                 + _printk(a, 0, 8192, 1 << 40, vstart, vend, 1) + "\n")
    path = write(tmp_path / "tp_trace.txt", lines)
    df = read_ftrace(path)
    al = df[df.event == "alloc_vmap_area"]
    assert len(al) == 7 and (al.role == "alloc").all()
    assert al.va_start.iloc[1] == va0 + 0x2000 and al["size"].iloc[0] == 8192 and al["align"].iloc[0] == 4096
    assert al.vstart.iloc[0] == vstart and al.vend.iloc[0] == vend and al.failed.tolist() == [0] * 6 + [1]
    assert str(al.va_start.dtype) == "UInt64"           # addresses above 2^63 stay exact
    fr = df[df.event == "free_vmap_area_noflush"]
    assert fr.nr_lazy.tolist() == [2, 4, 6, 8, 10, 2] and (fr.nr_lazy_max == 8).all()
    assert fr.vmap_lazy_nr.tolist() == fr.nr_lazy.tolist()
    pu = df[df.event == "purge_vmap_area_lazy"]
    assert len(pu) == 1 and pu.num_purged.iloc[0] == 5 and pu["end"].iloc[0] == va0 + 5 * 0x2000
    assert (pu.role == "purge_done").all()
    # and as a run: lazy_max from the tracepoint, purges from purge_vmap_area_lazy, failures counted
    with pytest.warns(TraceWarning, match="no dmesg"):
        kr = load_kernel_run(path)
    assert len(kr.tests) == 0 and list(kr.tests.columns)[:3] == ["test", "worker", "loops"]
    assert kr.summary.lazy_max_pages == 8 and kr.summary.peak_lazy_pages == 10
    assert len(kr.purges) == 1 and kr.purges.areas.iloc[0] == 5 and np.isnan(kr.purges.duration_ns.iloc[0])
    assert kr.summary.alloc_failures == 1 and kr.summary.ops == 13


FORMAT_VARIANTS = {
    "no header, flags": PURGE,
    "no irq-info flags": [ln.replace(" .....    ", "    ") for ln in PURGE],
    "record-tgid": [ln.replace("-35      [001]", "-35      (     35) [001]") for ln in PURGE],
    "trace-cmd report": ["cpus=2\n"] + [
        ln.replace(" .....    ", "    ").replace(": (", ":          (") for ln in PURGE],
    "trace-cmd report -l": ["version = 7\n", "cpus=2\n"] + [ln.replace(": (", ":          (") for ln in PURGE],
}


@pytest.mark.parametrize("variant", list(FORMAT_VARIANTS))
def test_ftrace_layouts_parse(tmp_path, variant):
    df = read_ftrace(write(tmp_path / "t.txt", FORMAT_VARIANTS[variant]))
    assert df.event.tolist() == ["drain_entry", "purge_entry", "purge_exit", "drain_exit"]
    assert df.role.tolist() == ["drain_entry", "purge_entry", "purge_exit", "drain_exit"]
    assert df.time_ns.tolist() == [31808562000, 31808577000, 31808829000, 31808860000]
    assert (df.task == "kworker/1:1").all() and (df.pid == 35).all() and (df.cpu == 1).all()
    assert df.vmap_lazy_nr.tolist() == [16434, 16434, 8, 12]
    assert df.caller.tolist()[2:] == ["drain_vmap_area_work", "process_one_work"]
    assert df.ret.iloc[2] == 1


def test_nanosecond_timestamps_and_task_names_with_spaces(tmp_path):
    lines = ["  Web Content-1234    [000] d.h..  5.000000001: tick: (scheduler_tick+0x0/0x270) lazy=7\n",
             "  systemd-journal-99  [001] .....  5.123456789: tick: (scheduler_tick+0x0/0x270) lazy=9\n"]
    df = read_ftrace(write(tmp_path / "t.txt", lines))
    assert df.time_ns.tolist() == [5_000_000_001, 5_123_456_789]
    assert df.task.tolist() == ["Web Content", "systemd-journal"] and df.pid.tolist() == [1234, 99]


def test_trace_marker_from_trace_cmd_print(tmp_path):
    lines = ["            init-1     [000]    31.713154: print:                tracing_mark_write: GTRUN start name=x\n",
             "            init-1     [000]    31.713160: print:                ffffffff81234567: hello there\n"] + PURGE
    df = read_ftrace(write(tmp_path / "t.txt", lines))
    mk = df[df.role == "marker"]
    assert mk.event.tolist() == ["tracing_mark_write"] * 2
    assert mk.text.tolist() == ["GTRUN start name=x", "hello there"]


def test_function_graph_layouts(tmp_path):
    with_abs = [
        "# tracer: function_graph\n",
        "#     TIME        CPU  TASK/PID         DURATION                  FUNCTION CALLS\n",
        "   31.808562 |   1)  kworker-35    |               |  drain_vmap_area_work() {\n",
        "   31.808577 |   1)  kworker-35    |               |    __purge_vmap_area_lazy() {\n",
        "   31.808600 |   1)  kworker-35    |               |      /* purge_entry: (__purge_vmap_area_lazy+0x0/0x750) lazy=16434 */\n",
        "   31.808829 |   1)  kworker-35    | ! 252.000 us  |    }\n",
        "   31.808860 |   1)  kworker-35    | ! 298.000 us  |  }\n",
        "   31.900000 |   0)    init-1      |               |  /* VMLAB start name=x */\n",
    ]
    df = read_ftrace(write(tmp_path / "fg.txt", with_abs))
    ex = df[df.event == "funcgraph_exit"]
    assert ex.func.tolist() == ["__purge_vmap_area_lazy", "drain_vmap_area_work"]
    assert ex.duration_ns.tolist() == [252000, 298000] and ex.role.tolist() == ["purge_exit", "drain_exit"]
    assert ex.parent.iloc[0] == "drain_vmap_area_work" and ex.time_ns.iloc[0] == 31808829000
    assert (df.event == "purge_entry").sum() == 1 and df[df.event == "purge_entry"].vmap_lazy_nr.iloc[0] == 16434
    assert df[df.role == "marker"].text.tolist() == ["VMLAB start name=x"]

    plain = [
        "# tracer: function_graph\n",
        "# CPU  DURATION                  FUNCTION CALLS\n",
        " 1)               |  drain_vmap_area_work() {\n",
        " 1) ! 252.000 us  |    __purge_vmap_area_lazy();\n",
        " 1) ! 298.000 us  |  }\n",
        " ------------------------------------------\n",
        " 0)  bash-1234    =>  kworker-95  \n",
        " ------------------------------------------\n",
        "\n",
        " 0)               |  __purge_vmap_area_lazy() {\n",
        " 0)   0.250 us    |    _raw_spin_lock();\n",
        " 0) + 12.345 us   |  } /* __purge_vmap_area_lazy */\n",
    ]
    df = read_ftrace(write(tmp_path / "fg2.txt", plain))
    ex = df[df.event == "funcgraph_exit"]
    assert ex.duration_ns.tolist() == [252000, 298000, 12345]
    assert ex.leaf.tolist() == [1, 0, 0] and df.time_ns.isna().all()
    assert ex.task.iloc[2] == "kworker" and ex.pid.iloc[2] == 95    # from the context-switch line
    # trace-cmd's funcgraph events
    tc = ["cpus=1\n",
          "     kworker/0:1-35    [000]    31.808577: funcgraph_entry:                   |  __purge_vmap_area_lazy() {\n",
          "     kworker/0:1-35    [000]    31.808829: funcgraph_exit:       ! 252.000 us |  }\n"]
    df = read_ftrace(write(tmp_path / "fg3.txt", tc))
    assert df.role.tolist() == ["purge_entry", "purge_exit"] and df.duration_ns.iloc[1] == 252000
    with pytest.warns(TraceWarning, match="no dmesg"):
        kr = load_kernel_run(tmp_path / "fg3.txt", kernel="6.1")
    assert kr.purges.duration_ns.tolist() == [252000.0] and kr.purges.start_ns.tolist() == [0.0]


def test_event_names_are_configurable_and_probes_are_recognised(tmp_path):
    renamed = [ln.replace("purge_entry:", "my_pstart:").replace("purge_exit:", "my_pend:")
               .replace("drain_entry:", "w_in:").replace("drain_exit:", "w_out:") for ln in PURGE]
    path = write(tmp_path / "t.txt", renamed)
    # by the probed symbol printed in the line, without any mapping
    df = read_ftrace(path)
    assert df.role.tolist() == ["drain_entry", "purge_entry", "purge_exit", "drain_exit"]
    # or by an explicit mapping
    df = read_ftrace(path, events={"my_pstart": "purge_entry"})
    assert df.role.iloc[1] == "purge_entry"
    # another fetch-arg name for the counter
    other = [ln.replace("lazy=", "nr=") for ln in PURGE]
    df = read_ftrace(write(tmp_path / "u.txt", other), lazy_field="nr")
    assert df.vmap_lazy_nr.tolist() == [16434, 16434, 8, 12]
    with pytest.raises(ValueError, match="unknown role"):
        read_ftrace(path, events={"x": "purge_start"})


def test_unknown_events_are_counted_not_kept(tmp_path):
    lines = PURGE + ["     bash-1   [000] .....  31.9: sched_switch: prev_comm=bash prev_pid=1 ==> next_comm=x\n"] * 3
    df = read_ftrace(write(tmp_path / "t.txt", lines))
    assert len(df) == 4 and df.attrs["unknown_events"] == {"sched_switch": 3}
    df = read_ftrace(tmp_path / "t.txt", keep_unknown=True)
    assert (df.event == "sched_switch").sum() == 3


# ================================================================================ bad input
def test_malformed_line_names_file_and_line(tmp_path):
    lines = PURGE[:2] + ["this is not ftrace\n"] + PURGE[2:]
    path = write(tmp_path / "bad.txt", lines)
    with pytest.raises(TraceParseError) as e:
        read_ftrace(path)
    assert str(e.value).startswith(f"{path}:3: malformed line") and "this is not ftrace" in str(e.value)
    assert e.value.lineno == 3 and e.value.path == str(path)
    assert isinstance(e.value, ValueError)
    with pytest.warns(TraceWarning, match=r"skipped 1 malformed line.*bad.txt:3"):
        df = read_ftrace(path, strict=False)
    assert len(df) == 4 and df.attrs["skipped_lines"] == 1


@pytest.mark.parametrize("bad,why", [
    ("     kworker/1:1-35      [001] .....    31.808577: purge_entry: (__purge_vmap_area_lazy+0x0/0x750) lazy=abc\n",
     "lazy='abc' is not a 64-bit integer"),
    ("     kworker/1:1-35      [001] .....    31.808577: purge_entry: __purge_vmap_area_lazy lazy=5\n",
     "without its"),
    ("  vmalloc_test/0-120   [000] .....  100.000010: free_vmap_area_noflush: va_start=0x10 nr_lazy=2\n",
     "lacks field"),
    ("  vmalloc_test/0-120   [000] .....  1x0.000010: tick: (scheduler_tick+0x0/0x270) lazy=5\n",
     "malformed line"),
])
def test_malformed_fields(tmp_path, bad, why):
    path = write(tmp_path / "bad.txt", PURGE + [bad])
    with pytest.raises(TraceParseError, match=why) as e:
        read_ftrace(path)
    assert f"{path}:5:" in str(e.value)


def test_empty_header_only_and_no_events(tmp_path):
    with pytest.raises(TraceParseError, match="empty.*expected ftrace text"):
        read_ftrace(write(tmp_path / "empty.txt", []))
    with pytest.raises(TraceParseError, match="no events: the file has only headers"):
        read_ftrace(write(tmp_path / "hdr.txt", [HEADER.format(n=0)]))
    other = ["     bash-1   [000] .....  31.9: sched_switch: prev_comm=bash prev_pid=1 ==> next_comm=x\n"]
    with pytest.raises(TraceParseError, match=r"none of the vmalloc events.*found only sched_switch \(1\)"):
        read_ftrace(write(tmp_path / "other.txt", other))
    with pytest.raises(FileNotFoundError):
        read_ftrace(tmp_path / "missing.txt")


def test_truncated_files(tmp_path, raw):
    src = raw / "smp2" / "fix_size_trace.txt.gz"
    data = src.read_bytes()
    cut = tmp_path / "cut_trace.txt.gz"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(TraceParseError, match=r"cut_trace.txt.gz:\d+: truncated: the compressed stream ends"):
        read_ftrace(cut)
    with pytest.warns(TraceWarning, match="truncated"):
        df = read_ftrace(cut, strict=False)
    assert 0 < len(df) < 3546 and df.attrs["truncated"]
    # plain text cut in the middle of a line
    with gzip.open(src, "rt") as f:
        text = f.read()
    half = tmp_path / "half.txt"
    half.write_text(text[: len(text) // 2])
    nlines = text[: len(text) // 2].count("\n") + 1
    with pytest.raises(TraceParseError, match=rf"half.txt:{nlines}: .*truncated"):
        read_ftrace(half)
    # whole lines missing at the end: the header's entry count says so
    short = tmp_path / "short.txt"
    short.write_text("".join(text.splitlines(True)[:1000]))
    with pytest.raises(TraceParseError, match="short.txt:1000: truncated: the header says 3546 entries.*988"):
        read_ftrace(short)


def test_corrupt_gzip_and_binary_trace_dat(tmp_path):
    p = tmp_path / "x.gz"
    p.write_bytes(b"\x1f\x8b" + os.urandom(200))
    with pytest.raises(TraceParseError, match="gzip"):
        read_ftrace(p)
    d = tmp_path / "trace.dat"
    d.write_bytes(b"\x17\x08\x44tracing6\x00" + b"\x00" * 50)
    with pytest.raises(TraceParseError, match="trace-cmd report"):
        read_ftrace(d)


# ================================================================================ dmesg
def test_read_test_summary_forms(tmp_path):
    text = ("[   36.8] Summary: fix_size_alloc_test passed: 1 failed: 0 repeat: 1 loops: 300000 avg: 3754179 usec\n"
            "[   36.8] Summary: align_shift_alloc_test passed: 0 failed: 1 repeat: 1 loops: 300000 avg: 12 usec\n"
            "[   36.8] All test took worker0=9180662542 cycles\n"
            "Nov 25 host kernel: Summary: fix_size_alloc_test passed: 1 failed: 0 repeat: 1 loops: 300000 avg: 5061980 usec\n"
            "Nov 25 host kernel: All test took CPU1=12378794014 cycles\n")
    df = read_test_summary(write(tmp_path / "dmesg.txt", [text]))
    assert df.worker.tolist() == [0, 0, 1] and df.avg_usec.tolist() == [3754179, 12, 5061980]
    assert df.complete.all()                 # align_shift fails by design, but it did run
    assert df.worker_total_cycles.tolist() == [9180662542, 9180662542, 12378794014]


def test_bad_summary_lines(tmp_path):
    p = write(tmp_path / "dmesg.txt", ["[ 1.0] hello\n", "[ 1.1] Summary: fix_size_alloc_test passed: one failed\n"])
    with pytest.raises(TraceParseError, match=r"dmesg.txt:2: malformed test_vmalloc Summary line"):
        read_test_summary(p)
    with pytest.raises(TraceParseError, match="no test_vmalloc Summary lines"):
        read_test_summary(write(tmp_path / "d2.txt", ["[ 1.0] hello\n"]))
    with pytest.raises(TraceParseError, match="empty"):
        read_test_summary(write(tmp_path / "d3.txt", []))


# ================================================================================ plots and email
def test_plots_and_email_accept_a_kernel_run(kruns, sim):
    from matplotlib.figure import Figure

    from vmlab.export import email_summary
    from vmlab.plots import plot_latency_cdf, plot_timeseries

    kr = kruns[("smp2", "fix_size")]
    fig = plot_timeseries(kr)
    ax = fig.axes[0]
    assert isinstance(fig, Figure) and "6.1 trace" in ax.get_title() and "qemu-tcg" in ax.get_title()
    assert any(ln.get_gid() == "lazy_max" for ln in ax.get_lines())
    res = sim(kr.sim_config())
    fig = plot_latency_cdf([kr, res], kinds=("purge",))
    labels = [ln.get_label() for ln in fig.axes[0].get_lines() if ln.get_gid() and ln.get_gid().startswith("cdf:")]
    assert len(labels) == 2 and any("trace" in lab for lab in labels)
    text = email_summary(kr)
    assert all(len(line) <= 72 for line in text.splitlines())
    assert "6.1 trace" in text and "1.01" in text        # peak/max of the recording


# ================================================================================ the recording script
SCRIPT = "tools/record-test-vmalloc.sh"


@pytest.fixture
def fake(tmp_path, raw):
    """A fake tracefs (plain files), module tools and kernel files; a fake modprobe that 'runs' test_vmalloc."""
    tf = tmp_path / "tracefs"
    (tf / "events" / "vmlab").mkdir(parents=True)
    (tf / "per_cpu" / "cpu0").mkdir(parents=True)
    for f in ("trace", "trace_marker", "kprobe_events"):
        (tf / f).write_text("")
    (tf / "tracing_on").write_text("1\n")
    (tf / "trace_clock").write_text("[local] global counter uptime perf mono mono_raw boot\n")
    (tf / "buffer_size_kb").write_text("1408\n")
    (tf / "current_tracer").write_text("nop\n")
    (tf / "available_filter_functions").write_text("__purge_vmap_area_lazy\ndrain_vmap_area_work\nscheduler_tick\n")
    (tf / "events" / "vmlab" / "enable").write_text("0\n")
    (tf / "per_cpu" / "cpu0" / "stats").write_text("entries: 10\noverrun: 0\n")
    (tmp_path / "kallsyms").write_text("ffffffff81000000 T __purge_vmap_area_lazy\nffffffff82000000 b vmap_lazy_nr\n")
    (tmp_path / "meminfo").write_text("MemTotal: 2014140 kB\nMemFree: 1911956 kB\nSlab: 16892 kB\n")
    (tmp_path / "modules").write_text("")
    (tmp_path / "dmesg").write_text("[ 1.0] boot\n")
    with gzip.open(raw / "smp2" / "fix_size_trace.txt.gz", "rt") as f:
        (tmp_path / "trace_src").write_text(f.read())
    shutil.copy(raw / "smp2" / "fix_size_dmesg.txt", tmp_path / "dmesg_src")
    mp = tmp_path / "modprobe"
    mp.write_text(f"""#!/usr/bin/env bash
echo "$@" > {tmp_path}/modprobe_args
echo $$ > {tmp_path}/modprobe_pid
cat {tmp_path}/trace_src > {tf}/trace
if [ -n "${{FAKE_SLEEP:-}}" ]; then trap 'kill $! 2>/dev/null; exit 143' TERM; sleep "$FAKE_SLEEP" & wait $!; fi
cat {tmp_path}/dmesg_src >> {tmp_path}/dmesg
exit 1    # test_vmalloc's init returns -EAGAIN
""")
    mp.chmod(0o755)
    env = dict(os.environ, TRACEFS=str(tf), MODPROBE=str(mp), MODINFO="true", DMESG=f"cat {tmp_path}/dmesg",
               KALLSYMS=str(tmp_path / "kallsyms"), MEMINFO=str(tmp_path / "meminfo"),
               MODULES=str(tmp_path / "modules"))
    env.pop("DRY_RUN", None)
    return tmp_path, tf, env


def run_script(repo_dir, env, *args, **kw):
    return subprocess.run(["bash", str(repo_dir / SCRIPT), *args], env=env, capture_output=True, text=True,
                          timeout=60, **kw)


def probes_added_and_removed(tf):
    lines = (tf / "kprobe_events").read_text().splitlines()
    added = [ln.split()[0].split(":", 1)[1] for ln in lines if ln[:1] in "pr"]
    removed = [ln[2:] for ln in lines if ln.startswith("-:")]
    return added, removed


def test_script_parses_its_arguments(repo_dir, fake):
    tmp, tf, env = fake
    env = dict(env, DRY_RUN="1")
    for args, msg in [(["bogus=1"], "unknown test_vmalloc parameter"), (["nr_threads=x"], "non-negative integer"),
                      (["sequential_test_order=2"], "0/1/y/n"), (["-m", "magic"], "choose auto"),
                      (["-b", "0"], "positive number"), (["-Z"], "unknown option"), (["fast"], "not a mode")]:
        p = run_script(repo_dir, env, "-o", str(tmp / "o"), *args)
        assert p.returncode == 2 and msg in p.stderr, (args, p.stderr)
    p = run_script(repo_dir, env, "-h")
    assert p.returncode == 0 and "usage:" in p.stdout


def test_script_builds_its_commands(repo_dir, fake):
    tmp, tf, env = fake
    p = run_script(repo_dir, dict(env, DRY_RUN="1"), "-o", str(tmp / "out"), "-n", "fix_size",
                   "stress", "run_test_mask=1", "test_loop_count=300000")
    assert p.returncode == 0, p.stderr
    cmds = p.stdout.splitlines()
    ncpu = os.cpu_count()
    assert f"+ echo 'p:vmlab/purge_entry __purge_vmap_area_lazy lazy=@vmap_lazy_nr:s64' >> {tf}/kprobe_events" in cmds
    assert f"+ echo 'r16:vmlab/purge_exit __purge_vmap_area_lazy ret=$retval:u8 lazy=@vmap_lazy_nr:s64' >> {tf}/kprobe_events" in cmds
    assert f"+ echo 'p:vmlab/drain_entry drain_vmap_area_work lazy=@vmap_lazy_nr:s64' >> {tf}/kprobe_events" in cmds
    assert f"+ echo 'p:vmlab/tick scheduler_tick lazy=@vmap_lazy_nr:s64' >> {tf}/kprobe_events" in cmds
    assert f"+ echo 'mono' > {tf}/trace_clock" in cmds and f"+ echo '1' > {tf}/events/vmlab/enable" in cmds
    assert (f"+ {env['MODPROBE']} test_vmalloc nr_threads={ncpu} test_repeat_count=20 run_test_mask=1 "
            f"test_loop_count=300000") in cmds
    # the cleanup it would do: every probe removed, the old settings back
    for ev in ("purge_entry", "purge_exit", "drain_entry", "drain_exit", "tick"):
        assert f"+ echo '-:vmlab/{ev}' >> {tf}/kprobe_events" in cmds
    assert f"+ echo 'local' > {tf}/trace_clock" in cmds and f"+ echo '1408' > {tf}/buffer_size_kb" in cmds
    assert cmds.index(f"+ echo '0' > {tf}/events/vmlab/enable") < cmds.index(f"+ echo '-:vmlab/tick' >> {tf}/kprobe_events")
    # DRY_RUN changed nothing
    assert (tf / "kprobe_events").read_text() == "" and not (tmp / "out").exists()
    assert not (tmp / "modprobe_args").exists()
    # a kernel with the vmalloc tracepoints: those, and no kprobes
    for ev in ("alloc_vmap_area", "purge_vmap_area_lazy", "free_vmap_area_noflush"):
        (tf / "events" / "vmalloc" / ev).mkdir(parents=True)
    p = run_script(repo_dir, dict(env, DRY_RUN="1"), "-o", str(tmp / "out"), "run_test_mask=1")
    assert "probe mode: tracepoints" in p.stderr
    assert f"+ echo '1' > {tf}/events/vmalloc/free_vmap_area_noflush/enable" in p.stdout.splitlines()
    assert not any(ln.endswith("/kprobe_events") for ln in p.stdout.splitlines())
    p = run_script(repo_dir, dict(env, DRY_RUN="1", TEST_VMALLOC_KO=str(tmp / "none.ko")), "-o", str(tmp / "o2"))
    assert p.returncode == 1 and "TEST_VMALLOC_KO" in p.stderr


def test_script_checks_tracefs_and_the_module(repo_dir, fake):
    tmp, tf, env = fake
    p = run_script(repo_dir, dict(env, TRACEFS=str(tmp / "nowhere"), DRY_RUN="1"))
    assert p.returncode == 1 and "tracefs is not mounted" in p.stderr
    p = run_script(repo_dir, dict(env, MODINFO="false", DRY_RUN="1"))
    assert p.returncode == 1 and "test_vmalloc is not available" in p.stderr
    (tmp / "modules").write_text("test_vmalloc 16384 0 - Live 0x0\n")
    p = run_script(repo_dir, dict(env, DRY_RUN="1"))
    assert p.returncode == 1 and "already loaded" in p.stderr


def test_script_records_a_run_that_loads(repo_dir, fake):
    tmp, tf, env = fake
    out = tmp / "rec"
    p = run_script(repo_dir, env, "-o", str(out), "-n", "fix_size", "-t", "0", "-s", "0.05",
                   "run_test_mask=1", "nr_threads=2", "test_loop_count=300000", "test_repeat_count=1")
    assert p.returncode == 0, p.stderr
    assert (tmp / "modprobe_args").read_text().split() == ["test_vmalloc", "run_test_mask=1", "nr_threads=2",
                                                           "test_loop_count=300000", "test_repeat_count=1"]
    assert sorted(f.name for f in out.iterdir()) == ["env.txt", "fix_size_dmesg.txt", "fix_size_params.txt",
                                                     "fix_size_ringbuf_stats.txt", "fix_size_trace.txt.gz",
                                                     "kprobe_events.txt"]
    # only the new dmesg lines; the markers went to trace_marker; everything undone
    assert "boot" not in (out / "fix_size_dmesg.txt").read_text()
    markers = (tf / "trace_marker").read_text()
    assert markers.startswith("VMLAB start name=fix_size run_test_mask=1") and "VMLAB end name=fix_size rc=1" in markers
    added, removed = probes_added_and_removed(tf)
    assert added == removed == ["vmlab/purge_entry", "vmlab/purge_exit", "vmlab/drain_entry", "vmlab/drain_exit",
                                "vmlab/tick"]
    assert (tf / "tracing_on").read_text() == "1\n" and (tf / "events" / "vmlab" / "enable").read_text() == "0\n"
    assert (tf / "trace_clock").read_text() == "local\n" and (tf / "buffer_size_kb").read_text() == "1408\n"
    kr = load_kernel_run(out)
    assert kr.name == "fix_size" and kr.config.nr_threads == 2 and kr.config.test_loop_count == 300000
    assert kr.summary.purges == 129 and len(kr.tests) == 2 and kr.config.platform is None
    assert kr.config.ncpus == os.cpu_count()


@pytest.mark.parametrize("sig,code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_script_cleans_up_when_interrupted(repo_dir, fake, sig, code):
    tmp, tf, env = fake
    proc = subprocess.Popen(["bash", str(repo_dir / SCRIPT), "-o", str(tmp / "rec"), "-s", "0.05",
                             "run_test_mask=1"], env=dict(env, FAKE_SLEEP="30"), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    deadline = time.time() + 20
    while not (tmp / "modprobe_pid").exists() and time.time() < deadline:
        time.sleep(0.05)
    assert (tmp / "modprobe_pid").exists(), "the fake modprobe never started"
    time.sleep(0.3)
    added, removed = probes_added_and_removed(tf)
    assert len(added) == 5 and removed == [] and (tf / "events" / "vmlab" / "enable").read_text() == "1\n"
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=20)
    assert proc.returncode == code, err
    added, removed = probes_added_and_removed(tf)
    assert removed == added and len(added) == 5
    assert (tf / "events" / "vmlab" / "enable").read_text() == "0\n"
    assert (tf / "tracing_on").read_text() == "1\n" and (tf / "trace_clock").read_text() == "local\n"
    pid = int((tmp / "modprobe_pid").read_text())
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)                        # the loader it started is gone
    assert "cleaning up" in err


def test_kernel_preset():
    assert kernel_preset("6.1.0-56-amd64") == "6.1"
    assert kernel_preset("6.8.0") == "6.1" and kernel_preset("5.10.0-28") == "5.2"
    assert kernel_preset("5.11") == "5.11" and kernel_preset("4.4") is None and kernel_preset(None) is None
