"""`load_kernel_run`: a recording (trace, dmesg, params, env) -> a `KernelRun`, and its helpers
(finding the files, pairing entries with exits, triggers, quantiles).

``load_kernel_run(dir_or_files)`` turns a recording (trace, dmesg with test_vmalloc's ``Summary:``
lines, the module parameters) into a `KernelRun` with the attributes of `vmlab.result.Result`:
``timeseries``, ``purges``, ``latency``, ``tests``, ``summary`` and ``config``. Every column of the
"""
from __future__ import annotations

import math
import os
import re
import warnings
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pandas as pd

from ..result import LATENCY_KINDS, PURGE_COLUMNS, SUMMARY_KEYS, TIMESERIES_COLUMNS, oom_eta_s
from .errors import TraceWarning
from .events import _CALLER_TRIGGER, PURGE_TRIGGERS, _base_func
from .ftrace import read_ftrace
from .kernel_run import KernelRun, TraceConfig, _kernels, kernel_preset
from .summary import _empty_tests, _marker_params, read_params, read_test_summary


def _find_files(src, run: str | None) -> tuple[str, dict[str, Path]]:
    """(run name, {"trace": path, "dmesg": path, "params": path, "env": path, ...}) of a recording."""
    if isinstance(src, (str, os.PathLike)) and Path(src).is_dir():
        d = Path(src)
        traces = sorted(p for p in d.iterdir() if p.is_file() and re.search(r"trace\.(txt|dat)(\.gz)?$|\.trace(\.gz)?$", p.name))
        if not traces:
            raise FileNotFoundError(f"{d}: no trace file (expected <run>_trace.txt[.gz] or trace.txt[.gz])")
        runs = {re.sub(r"_?trace\.(txt|dat)(\.gz)?$|\.trace(\.gz)?$", "", p.name): p for p in traces}
        if run is None:
            if len(runs) > 1:
                raise ValueError(f"{d} holds several runs {sorted(runs)}; pass run=<one of them>")
            run = next(iter(runs))
        if run not in runs:
            raise ValueError(f"{d}: no run {run!r}; the directory holds {sorted(runs)}")
        pre = f"{run}_" if run else ""
        files = {"trace": runs[run]}
        for kind in ("dmesg", "params", "env", "qemu_cmdline", "kprobe_events", "ringbuf_stats"):
            for cand in (d / f"{pre}{kind}.txt", d / f"{kind}.txt"):
                if cand.exists():
                    files[kind] = cand
                    break
        return run or d.name, files
    paths = [Path(src)] if isinstance(src, (str, os.PathLike)) else [Path(p) for p in src]
    files = {}
    for p in paths:
        n = p.name.lower()
        kind = next((k for k in ("dmesg", "params", "env", "qemu_cmdline", "kprobe_events", "ringbuf_stats")
                     if k in n), "trace")
        if kind in files:
            raise ValueError(f"two {kind} files given: {files[kind]} and {p}")
        files[kind] = p
    if "trace" not in files:
        raise ValueError(f"no trace file among {[str(p) for p in paths]}")
    name = re.sub(r"_?trace\.(txt|dat)(\.gz)?$", "", files["trace"].name) or files["trace"].parent.name
    return name, files


def _env_info(files: dict[str, Path]) -> dict:
    info: dict[str, Any] = {}
    if "env" in files:
        text = files["env"].read_text(errors="replace")
        m = re.search(r"^uname:\s*\S+\s+\S+\s+(\S+)", text, re.M)
        if m:
            info["kernel_release"] = m.group(1)
        m = re.search(r"^(?:kernel|release|uname -r):\s*(\S+)", text, re.M)
        if m and "kernel_release" not in info:
            info["kernel_release"] = m.group(1)
        m = re.search(r"^nproc:\s*(\d+)", text, re.M)
        if m:
            info["ncpus"] = int(m.group(1))
        m = re.search(r"MemTotal:\s*(\d+)\s*kB", text)
        if m:
            info["memtotal_kb"] = int(m.group(1))
        m = re.search(r"^model name\s*:\s*(.+)$", text, re.M)
        if m:
            info["cpu_model"] = m.group(1).strip()
    if "qemu_cmdline" in files:
        text = files["qemu_cmdline"].read_text(errors="replace")
        if re.search(r"-accel\s+tcg|accel=tcg", text):
            info["platform"] = "qemu-tcg"
        m = re.search(r"-smp\s+(\d+)", text)
        if m and "ncpus" not in info:
            info["ncpus"] = int(m.group(1))
    return info


def _workload_of(mask: int | None):
    from ..workloads import TEST_CASES

    if mask is None:
        return None
    names = tuple(n for i, n in enumerate(TEST_CASES) if mask >> i & 1)
    if not names:
        return None
    return names[0] if len(names) == 1 else names


def _quantiles(d: np.ndarray) -> dict:
    if not len(d):
        return dict(count=0, mean=np.nan, p50=np.nan, p99=np.nan, p999=np.nan, max=np.nan)
    return dict(count=int(len(d)), mean=float(d.mean()), p50=float(np.percentile(d, 50)),
                p99=float(np.percentile(d, 99)), p999=float(np.percentile(d, 99.9)), max=float(d.max()))


def _pair(ev: pd.DataFrame, entry_role: str, exit_role: str) -> tuple[list[dict], dict]:
    """Entry/exit rows of one function paired per pid (kprobe + kretprobe), or function_graph returns."""
    rows: list[dict] = []
    open_: dict[int, list[dict]] = {}
    unpaired_exit = 0
    sel = ev[ev["role"].isin([entry_role, exit_role, "purge_done"] if entry_role == "purge_entry"
                             else [entry_role, exit_role])]
    cols = sel.columns
    has = {c: c in cols for c in ("lazy", "ret", "caller", "duration_ns", "parent", "num_purged", "vmap_lazy_nr")}
    recs = sel.to_dict("records")
    for r in recs:
        role = r["role"]
        pid = r["pid"]
        t = r["time_ns"]
        t = None if t is pd.NA or t is None else int(t)
        lazy = r.get("vmap_lazy_nr") if has["vmap_lazy_nr"] else None
        lazy = None if lazy is None or lazy is pd.NA or (isinstance(lazy, float) and math.isnan(lazy)) else int(lazy)
        if role == "purge_done":
            stack = open_.get(pid)
            if stack:
                stack[-1]["areas"] = r.get("num_purged")
            else:   # a tracepoint-only purge: its end is known, not its start
                rows.append(dict(start=None, end=t, cpu=r["cpu"], exit_cpu=r["cpu"], pid=pid, task=r["task"],
                                 lazy_start=None, lazy_end=None, ret=(1 if (r.get("num_purged") or 0) > 0 else 0),
                                 caller=None, areas=r.get("num_purged"), duration=None))
            continue
        dur = r.get("duration_ns") if has["duration_ns"] else None
        if role == exit_role and dur is not None and dur is not pd.NA and not (isinstance(dur, float) and math.isnan(dur)):
            # function_graph: the return line carries the duration
            leaf = r.get("leaf") == 1
            start = (t if leaf else (t - int(dur))) if t is not None else None
            end = (t + int(dur) if leaf else t) if t is not None else None
            if open_.get(pid):
                open_[pid].pop()
            rows.append(dict(start=start, end=end, cpu=r["cpu"], exit_cpu=r["cpu"], pid=pid, task=r["task"],
                             lazy_start=None, lazy_end=None, ret=None,
                             caller=r.get("parent") if has["parent"] else None, areas=None, duration=int(dur)))
            continue
        if role == entry_role:
            open_.setdefault(pid, []).append(dict(start=t, cpu=r["cpu"], pid=pid, task=r["task"], lazy_start=lazy,
                                                  areas=None, parent=r.get("parent") if has["parent"] else None))
            continue
        # an exit (kretprobe)
        stack = open_.get(pid)
        if not stack:
            unpaired_exit += 1
            continue
        e = stack.pop()
        ret = r.get("ret") if has["ret"] else None
        ret = None if ret is None or ret is pd.NA else int(ret)
        caller = r.get("caller") if has["caller"] else None
        if caller is None or caller is pd.NA or (isinstance(caller, float) and math.isnan(caller)):
            caller = e.get("parent")
        rows.append(dict(start=e["start"], end=t, cpu=e["cpu"], exit_cpu=r["cpu"], pid=pid, task=e["task"],
                         lazy_start=e["lazy_start"], lazy_end=lazy, ret=ret, caller=caller, areas=e.get("areas"),
                         duration=(t - e["start"]) if (t is not None and e["start"] is not None) else None))
    unpaired_entry = sum(len(v) for v in open_.values())
    return rows, dict(unpaired_exit=unpaired_exit, unpaired_entry=unpaired_entry)


def _trigger(caller) -> str:
    if caller is None or caller is pd.NA or (isinstance(caller, float) and math.isnan(caller)):
        return "other"
    return _CALLER_TRIGGER.get(_base_func(str(caller)), "other")


def _nan_if_none(v):
    return np.nan if v is None or v is pd.NA else v


def _host_cpus(host_cpus, trace_path) -> int | None:
    if host_cpus is not None:
        return int(host_cpus)
    from .shipped import SHIPPED_DIR, SHIPPED_HOST_CORES

    try:
        if Path(trace_path).resolve().parent.parent == SHIPPED_DIR.resolve():
            return SHIPPED_HOST_CORES
    except OSError:
        pass
    return None


def load_kernel_run(src, run: str | None = None, platform: str | None = None, events: Mapping[str, str] | None = None,
                    lazy_field: str = "lazy", strict: bool = True, kernel: str | None = None,
                    host_cpus: int | None = None) -> KernelRun:
    """Load one recorded test_vmalloc run into a `KernelRun`.

    ``src`` is a directory (the shipped ``raw/<tag>/`` layout, ``<run>_trace.txt.gz``,
    ``<run>_dmesg.txt``, ``<run>_params.txt``, ``env.txt``, ...; or what
    ``tools/record-test-vmalloc.sh`` writes), a trace file, or a list of files (the dmesg and
    params files are told apart by name). ``run`` picks one run of a directory that holds several.
    ``platform`` names the machine (a `vmlab.platforms` preset) when the files do not say it
    (the shipped QEMU command line does); ``kernel`` overrides the release found in ``env.txt``.
    ``host_cpus``: the host cores the guest ran on, which no file records (`TraceConfig.host_cpus`;
    default: `vmlab.trace.shipped.SHIPPED_HOST_CORES` for a recording under ``data/kernel/raw``,
    else None).

    The run's window starts at its start marker (events before it, e.g. the sampler warming up,
    stay in ``events`` but not in the tables) and ends with the trace. The summary:

    * ``peak_lazy_pages``: the largest vmap_lazy_nr sample (the true peak between samples can be
      higher); ``lazy_max_pages``: the free_vmap_area_noflush tracepoint's ``nr_lazy_max`` when
      recorded, else the params file's, else the 6.1 formula ``fls(ncpus) * 32 MiB / PAGE_SIZE``;
    * ``purges``, ``purge_*_ns``: non-empty purges (return value 1, or num_purged > 0; every
      purge when neither is recorded), whatever their trigger; durations are wall time between
      entry and return, so they include time the purging task was preempted; ``purge_calls``:
      every call, empty ones included (``len(purges)``), as the model's summary;
    * ``purge_pages_p50``: the median vmap_lazy_nr drop (entry - exit) of the non-empty purges,
      the trace's estimate of pages per purge;
    * ``alloc_failures``: purges called from the allocation-failure path;
    * ``sim_ns``: start marker to end marker (or to the last event); ``tests_done``: the dmesg has
      test_vmalloc's ``Summary:`` line of every worker, complete (NaN without a dmesg);
    * ``oom``: an OOM-killer line in the dmesg; ``peak_mem_bytes``: MemTotal - min(MemFree);
    * NaN: ``alloc_p99_ns``, ``lock_wait_max_ns``, ``lock_hold_max_ns``, ``wall_s``,
      ``purge_walk_share``, ``oom_time_ns``; ``ops`` is the number of alloc/free tracepoint events
      (NaN without them); ``events`` the number of trace events in the window.
    """
    name, files = _find_files(src, run)
    ev = read_ftrace(files["trace"], events=events, lazy_field=lazy_field, strict=strict)
    params = read_params(files["params"]) if "params" in files else {}
    env = _env_info(files)

    # the run window: the start/end markers
    t_first = ev["time_ns"].dropna()
    t0 = int(t_first.min()) if len(t_first) else 0
    t_end_marker = None
    marker_params: dict = {}
    if "text" in ev.columns:
        mk = ev[ev["role"] == "marker"]
        for t, text in zip(mk["time_ns"], mk["text"].astype(str)):
            m = re.match(r"(GTRUN|VMLAB) (start|end)\b", text)
            if not m or t is pd.NA:
                continue
            if m.group(2) == "start":
                t0 = int(t)
                marker_params = _marker_params(text)
            else:
                t_end_marker = int(t)
    for k, v in marker_params.items():
        params.setdefault(k, v)
    hdr = ev.attrs.get("header", {})
    ncpus = params.get("ncpus") or env.get("ncpus") or hdr.get("ncpus")
    if ncpus is None and len(ev):
        ncpus = int(ev["cpu"].max()) + 1
    page_size = int(params.get("page_size", 4096))
    release = kernel or params.get("kernel") or params.get("kernel_release") or env.get("kernel_release")
    preset = kernel if kernel in _kernels() else kernel_preset(release)
    plat = platform or params.get("platform") or env.get("platform")
    mask = params.get("run_test_mask")

    # ------------------------------------------------------------------ tests (dmesg)
    tests = _empty_tests()
    dmesg_text = ""
    if "dmesg" in files:
        dmesg_text = files["dmesg"].read_text(errors="replace")
        tests = read_test_summary(files["dmesg"], strict=strict)
    else:
        warnings.warn(f"{name}: no dmesg file, so no test_vmalloc Summary lines (tests is empty)", TraceWarning,
                      stacklevel=2)
    if mask is None and len(tests):
        from ..workloads import TEST_IDS
        mask = 0
        for t in tests["test"].unique():
            mask |= TEST_IDS.get(t, 0)
        mask = mask or None
    if params.get("test_loop_count") is None and len(tests):
        params["test_loop_count"] = int(tests["loops"].iloc[0])
    if params.get("nr_threads") is None and len(tests):
        params["nr_threads"] = int(tests["worker"].nunique())

    # ------------------------------------------------------------------ window
    inwin = ev["time_ns"].fillna(t0).to_numpy(dtype=np.int64) >= t0 if len(ev) else np.zeros(0, bool)
    w = ev[inwin]

    # ------------------------------------------------------------------ purges and drains
    prow, pstat = _pair(w, "purge_entry", "purge_exit")
    drow, dstat = _pair(w, "drain_entry", "drain_exit")

    def rel(v):
        return np.nan if v is None else float(v - t0)

    purges = pd.DataFrame({
        "start_ns": [rel(r["start"]) for r in prow],
        "end_ns": [rel(r["end"]) for r in prow],
        "duration_ns": [_nan_if_none(r["duration"]) for r in prow],
        "walk_ns": np.nan, "flush_ns": np.nan, "free_ns": np.nan,
        "areas": [_nan_if_none(r.get("areas")) for r in prow],
        "entries": np.nan, "pages": np.nan, "yields": np.nan, "max_lock_hold_ns": np.nan,
        "cpu": [r["cpu"] for r in prow],
        "trigger": pd.Categorical([_trigger(r["caller"]) for r in prow], categories=list(PURGE_TRIGGERS)),
        "lazy_nr_start": [_nan_if_none(r["lazy_start"]) for r in prow],
        "work_ns": np.nan,
        "lazy_nr_end": [_nan_if_none(r["lazy_end"]) for r in prow],
        "purged": [_nan_if_none(r["ret"]) for r in prow],
        "caller": [None if r["caller"] is None else str(r["caller"]) for r in prow],
        "task": [str(r["task"]) for r in prow],
        "pid": [r["pid"] for r in prow],
        "exit_cpu": [r["exit_cpu"] for r in prow],
        "timestamp_ns": [_nan_if_none(r["start"]) for r in prow],
    }, index=pd.RangeIndex(len(prow), name="purge"))
    purges["lazy_nr_delta"] = purges["lazy_nr_start"] - purges["lazy_nr_end"]
    for c in ("start_ns", "end_ns", "duration_ns", "areas", "lazy_nr_start", "lazy_nr_end", "purged",
              "lazy_nr_delta", "timestamp_ns"):
        purges[c] = purges[c].astype(float)
    purges["cpu"] = purges["cpu"].astype(np.int64)
    purges = purges[list(PURGE_COLUMNS) + [c for c in purges.columns if c not in PURGE_COLUMNS]]
    purges = purges.sort_values("start_ns", kind="stable").reset_index(drop=True).rename_axis("purge")

    drains = pd.DataFrame({
        "start_ns": [rel(r["start"]) for r in drow],
        "end_ns": [rel(r["end"]) for r in drow],
        "duration_ns": [_nan_if_none(r["duration"]) for r in drow],
        "cpu": [r["cpu"] for r in drow],
        "exit_cpu": [r["exit_cpu"] for r in drow],
        "pid": [r["pid"] for r in drow],
        "task": [str(r["task"]) for r in drow],
        "lazy_nr_start": [_nan_if_none(r["lazy_start"]) for r in drow],
        "lazy_nr_end": [_nan_if_none(r["lazy_end"]) for r in drow],
    }).astype({"start_ns": float, "end_ns": float, "duration_ns": float, "lazy_nr_start": float,
               "lazy_nr_end": float})
    if len(drains) and len(purges):
        s = purges["start_ns"].to_numpy()
        drains["purges"] = [int(((s >= a) & (s <= b)).sum()) for a, b in zip(drains.start_ns, drains.end_ns)]
    else:
        drains["purges"] = 0

    if purges["purged"].notna().any():
        nonempty = purges[purges["purged"] == 1]
    elif purges["areas"].notna().any():
        nonempty = purges[purges["areas"] > 0]
    else:
        nonempty = purges
    d = nonempty["duration_ns"].dropna().to_numpy(dtype=float)

    # ------------------------------------------------------------------ time series
    lazy_rows = w[w["vmap_lazy_nr"].notna()] if "vmap_lazy_nr" in w.columns else w.iloc[0:0]
    t_rel = lazy_rows["time_ns"].to_numpy(dtype=np.int64) - t0 if len(lazy_rows) else np.empty(0, np.int64)
    ts = pd.DataFrame({"vmap_lazy_nr": lazy_rows["vmap_lazy_nr"].to_numpy(dtype=np.int64) if len(lazy_rows)
                       else np.empty(0, np.int64)}, index=pd.Index(t_rel, name="time_ns"))
    for c in TIMESERIES_COLUMNS:
        if c not in ts.columns:
            ts[c] = np.nan
    # purge_active: inside [start, end] of a purge
    if len(purges) and len(ts):
        st = purges["start_ns"].to_numpy()
        en = purges["end_ns"].to_numpy()
        ok = np.isfinite(st) & np.isfinite(en)
        st, en = np.sort(st[ok]), np.sort(en[ok])
        tt = ts.index.to_numpy(dtype=float)
        ts["purge_active"] = (np.searchsorted(st, tt, side="right") - np.searchsorted(en, tt, side="left") > 0
                              ).astype(np.int64)
    ts["source"] = pd.Categorical(lazy_rows["event"].astype(str).to_numpy()) if len(lazy_rows) else pd.Categorical([])
    ts["cpu"] = lazy_rows["cpu"].to_numpy(dtype=np.int64) if len(lazy_rows) else np.empty(0, np.int64)
    # meminfo markers (GTMEM / VMLABMEM k=v ...)
    mem = None
    if "text" in w.columns:
        mk = w[(w["role"] == "marker") & w["text"].astype(str).str.match(r"(GTMEM|VMLABMEM)\b")]
        if len(mk):
            recs = []
            for t, text in zip(mk["time_ns"], mk["text"].astype(str)):
                r = {"time_ns": int(t) - t0}
                for tok in text.split()[1:]:
                    k, eq, v = tok.partition("=")
                    if eq:
                        try:
                            r[f"{k}_kB"] = int(v)
                        except ValueError:
                            pass
                recs.append(r)
            mem = pd.DataFrame(recs).sort_values("time_ns")
    memtotal_kb = params.get("MemTotal") or env.get("memtotal_kb")
    if mem is not None and len(ts):
        merged = pd.merge_asof(pd.DataFrame({"time_ns": ts.index.to_numpy(dtype=np.int64)}),
                               mem.astype({"time_ns": np.int64}), on="time_ns", direction="backward")
        for c in mem.columns:
            if c != "time_ns":
                ts[c] = merged[c].to_numpy()
        if memtotal_kb and "MemFree_kB" in ts.columns:
            ts["mem_bytes"] = (memtotal_kb - ts["MemFree_kB"]) * 1024.0

    # ------------------------------------------------------------------ summary
    lmp = None
    if "nr_lazy_max" in w.columns and w["nr_lazy_max"].notna().any():
        lmp = int(pd.to_numeric(w["nr_lazy_max"], errors="coerce").max())
    lmp = lmp or params.get("lazy_max_pages")
    if lmp is None and ncpus:
        from ..config import kernel_formula_lazy_max_pages
        lmp = kernel_formula_lazy_max_pages(int(ncpus), page_size)
    peak = float(ts["vmap_lazy_nr"].max()) if len(ts) else np.nan
    t_end = t_end_marker if t_end_marker is not None else (int(t_first.max()) if len(t_first) else t0)
    oom = bool(re.search(r"Out of memory|oom-kill|invoked oom-killer", dmesg_text)) if dmesg_text else np.nan
    n_alloc_fail = int((purges["trigger"] == "alloc_fail").sum())
    if "failed" in w.columns:
        n_alloc_fail = max(n_alloc_fail, int((pd.to_numeric(w.loc[w["role"] == "alloc", "failed"],
                                                             errors="coerce") > 0).sum()))
    nops = int(w["role"].isin(["alloc", "lazy_free"]).sum())
    peak_mem = np.nan
    if mem is not None and memtotal_kb and "MemFree_kB" in mem.columns:
        peak_mem = float((memtotal_kb - mem["MemFree_kB"].min()) * 1024)
    summary = pd.Series({
        "peak_lazy_pages": peak,
        "lazy_max_pages": float(lmp) if lmp else np.nan,
        "peak_lazy_ratio": peak / lmp if lmp else np.nan,
        "purges": len(nonempty),
        "purge_p50_ns": float(np.percentile(d, 50)) if len(d) else np.nan,
        "purge_p99_ns": float(np.percentile(d, 99)) if len(d) else np.nan,
        "purge_max_ns": float(d.max()) if len(d) else np.nan,
        "alloc_p99_ns": np.nan,
        "lock_wait_max_ns": np.nan,
        "alloc_failures": n_alloc_fail,
        "oom": oom,
        "oom_time_ns": np.nan,
        "ops": nops if nops else np.nan,
        "sim_ns": float(t_end - t0),
        "wall_s": np.nan,
        "resched_threshold_pages": 2.0 * lmp if lmp else np.nan,
        "peak_mem_bytes": peak_mem,
        "lock_hold_max_ns": np.nan,
        "purge_pages_p50": float(nonempty["lazy_nr_delta"].median()) if nonempty["lazy_nr_delta"].notna().any() else np.nan,
        "purge_walk_share": np.nan,
        "events": int(len(w)),
        "ipi_stall_ns": np.nan,
        "lock_acquisitions": np.nan,
        "lock_holder_preempt_max_ns": np.nan,      # a trace does not see the host's schedule
        # the recording's own trend toward its MemTotal (meminfo samples), like the model's
        "oom_eta_s": oom_eta_s(ts, memtotal_kb * 1024.0 if memtotal_kb else np.nan, oom is True)
        if "mem_bytes" in ts and ts["mem_bytes"].notna().any() else np.nan,
        # test_vmalloc printed every worker's Summary line: the test program ran to its end
        "tests_done": bool(tests["complete"].all()) if len(tests) else np.nan,
        # beyond the model's keys
        "purge_calls": int(len(purges)),
        # beyond the model's keys
        "drains": int(len(drains)),
        "purges_entry_gt_lazy_max": int((nonempty["lazy_nr_start"] > lmp).sum()) if lmp else np.nan,
        "test_avg_usec": float(tests["avg_usec"].mean()) if len(tests) else np.nan,
    }, dtype=object)
    assert all(k in summary.index for k in SUMMARY_KEYS)

    latency = pd.DataFrame([dict(kind=k, **(_quantiles(d) if k == "purge" else _quantiles(np.empty(0))))
                            for k in LATENCY_KINDS]).set_index("kind")

    cfg = TraceConfig(
        name=name, kernel_release=release, kernel_preset=preset, platform=plat,
        ncpus=int(ncpus) if ncpus else None, workload=_workload_of(mask), run_test_mask=mask,
        nr_threads=params.get("nr_threads"), test_loop_count=params.get("test_loop_count"),
        test_repeat_count=params.get("test_repeat_count"),
        sequential_test_order=(bool(params["sequential_test_order"]) if "sequential_test_order" in params else None),
        nr_pages=params.get("nr_pages"), page_size=page_size,
        duration_s=(t_end - t0) / 1e9 if t_end > t0 else None,
        path=str(files["trace"]),
        host_cpus=_host_cpus(host_cpus, files["trace"]),
    )
    extra = dict(files={k: str(v) for k, v in files.items()}, params=params, env=env, **pstat,
                 drain_unpaired_exit=dstat["unpaired_exit"], drain_unpaired_entry=dstat["unpaired_entry"],
                 memtotal_kb=memtotal_kb)
    if pstat["unpaired_exit"]:
        warnings.warn(f"{name}: {pstat['unpaired_exit']} purge exit(s) without an entry (probes armed "
                      f"mid-purge, or lost events)", TraceWarning, stacklevel=2)
    return KernelRun(config=cfg, summary=summary, timeseries=ts, purges=purges, latency=latency, tests=tests,
                     drains=drains, events=ev, t0_ns=t0, extra=extra)
