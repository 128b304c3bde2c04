"""A recorded run: `KernelRun` (the attributes of `vmlab.result.Result`), its `TraceConfig`, and
`kernel_preset` (the `vmlab.config.KERNELS` preset of a kernel release)."""
from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, field
from typing import Any

import pandas as pd


def kernel_preset(release: str | None) -> str | None:
    """The `vmlab.config.KERNELS` preset whose purge logic a kernel release has: the newest preset
    not newer than it ('6.1.0-56-amd64' -> '6.1', '5.10.0' -> '5.2', '6.8' -> '6.1')."""
    from ..config import KERNELS

    if not release:
        return None
    m = re.match(r"\s*(\d+)\.(\d+)", str(release))
    if not m:
        return None
    v = (int(m.group(1)), int(m.group(2)))
    best = None
    for k in KERNELS:
        if not re.fullmatch(r"\d+\.\d+", k):
            continue          # "5.0+threshold" is a patched kernel, never a release
        kv = tuple(int(x) for x in k.split("."))
        if kv <= v and (best is None or kv > tuple(int(x) for x in best.split("."))):
            best = k
    return best


@dataclass(frozen=True)
class TraceConfig:
    """What a recording was: the test_vmalloc parameters, the CPU count, the kernel, where it came from.

    ``to_dict()`` gives the keys the plots and email text read (``kernel`` is e.g. "6.1 trace", so a
    trace is never taken for a model run). `sim_config` builds the model run "like this one".
    """

    name: str
    kernel_release: str | None
    kernel_preset: str | None
    platform: str | None
    ncpus: int | None
    workload: str | tuple | None
    run_test_mask: int | None
    nr_threads: int | None
    test_loop_count: int | None
    test_repeat_count: int | None
    sequential_test_order: bool | None
    nr_pages: int | None
    page_size: int
    duration_s: float | None
    source: str = "trace"
    path: str | None = None
    #: the host's cores the guest's vCPU threads ran on (None: unknown, or a core per vCPU). The
    #: files do not say it; `load_kernel_run` takes it as ``host_cpus`` and gives the shipped
    #: recordings `vmlab.trace.shipped.SHIPPED_HOST_CORES` (data/kernel/README.md: "host | 2 cores")
    host_cpus: int | None = None

    def to_dict(self) -> dict:
        d = asdict(self)
        d["kernel"] = f"{self.kernel_preset or self.kernel_release or '?'} trace"
        if isinstance(self.workload, tuple):
            d["workload"] = list(self.workload)
        return d

    def sim_config(self, platform=None, kernel: str | None = None, duration_s: float | None = None, **overrides):
        """The model run configured like this recording (`SimConfig.for_kernel` of the nearest preset).

        A guest with more vCPUs than its host had cores (``host_cpus``, e.g. smp8: 8 vCPUs on the 2
        host cores) is modelled overcommitted: ``SimConfig.host_cpus`` = the host's cores; with a
        core per vCPU it stays None (the model's CPUs always run)."""
        from ..config import SimConfig

        k = kernel or self.kernel_preset
        if k is None:
            raise ValueError(f"{self.name}: the kernel version is unknown; pass kernel='6.1' (or another "
                             f"vmlab.config.KERNELS key)")
        plat = platform if platform is not None else self.platform
        if plat is None:
            raise ValueError(f"{self.name}: the platform is unknown; pass platform='qemu-tcg' or a Platform")
        if self.ncpus is None:
            raise ValueError(f"{self.name}: the CPU count is unknown (no params, header or env)")
        kw: dict[str, Any] = dict(platform=plat, ncpus=int(self.ncpus))
        if self.workload is not None:
            kw["workload"] = self.workload
        for f in ("nr_threads", "test_loop_count", "test_repeat_count", "nr_pages"):
            v = getattr(self, f)
            if v is not None:
                kw[f] = int(v)
        if self.sequential_test_order is not None:
            kw["sequential_test_order"] = bool(self.sequential_test_order)
        if self.host_cpus and self.ncpus > self.host_cpus:
            kw["host_cpus"] = int(self.host_cpus)
        if duration_s is None:
            # the model stops when the tests are done; give it room (3x the recording, at least 2 s)
            duration_s = float(max(2, math.ceil(3.0 * (self.duration_s or 0.0))))
        kw["duration_s"] = float(duration_s)
        kw.update(overrides)
        return SimConfig.for_kernel(k, **kw)


@dataclass
class KernelRun:
    """A recorded run of test_vmalloc, with the attributes of `vmlab.result.Result`.

    Times are ns relative to the run's start marker (``GTRUN start`` / ``VMLAB start`` written to
    trace_marker before the module is loaded; the first event when there is none).

    ``timeseries`` (index ``time_ns``, one row per vmap_lazy_nr sample: scheduler-tick kprobe,
        purge/drain entry and exit, or the free_vmap_area_noflush tracepoint; irregular, and two
        samples may share a time): ``vmap_lazy_nr``, ``purge_active`` (a purge of this trace runs at
        that time), ``mem_bytes`` (MemTotal - MemFree from the meminfo markers, forward-filled, when
        the recording has them and MemTotal), the other model columns as NaN, and ``source``,
        ``cpu`` and the meminfo columns (``MemFree_kB``, ...) as extras.
    ``purges``: the model's purge columns (``walk_ns``, ``flush_ns``, ``free_ns``, ``entries``,
        ``pages``, ``yields`` and ``max_lock_hold_ns`` are NaN: a kprobe trace cannot see them;
        ``areas`` is the tracepoint's num_purged when recorded) plus ``lazy_nr_end``,
        ``lazy_nr_delta`` (entry - exit of the global counter: pages purged minus pages freed
        meanwhile), ``purged`` (the function's return value), ``caller``, ``task``, ``pid``,
        ``exit_cpu`` and ``timestamp_ns`` (absolute). ``trigger`` adds ``unmap_aliases`` and
        ``other`` to the model's categories.
    ``drains``: one row per drain_vmap_area_work() execution.
    ``latency``: the ``purge`` row from the non-empty purges (exact quantiles); the others have
        count 0 (a trace of these events does not time vmalloc or the locks).
    ``tests``: `read_test_summary` of the dmesg.
    ``summary``: every key of `SUMMARY_KEYS`, NaN where the trace cannot give it; see `load_kernel_run`.
    ``events``: the tidy frame of `read_ftrace` (absolute times).
    """

    config: TraceConfig
    summary: pd.Series
    timeseries: pd.DataFrame
    purges: pd.DataFrame
    latency: pd.DataFrame
    tests: pd.DataFrame
    drains: pd.DataFrame
    events: pd.DataFrame
    t0_ns: int
    model_version: str = "kernel trace"
    extra: dict = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.config.name

    def sim_config(self, platform=None, **kw):
        """`TraceConfig.sim_config`: the model run like this recording."""
        return self.config.sim_config(platform, **kw)

    def __repr__(self) -> str:
        s = self.summary
        def f(v, fmt):
            return "nan" if v is None or (isinstance(v, float) and math.isnan(v)) else format(v, fmt)
        return (f"<KernelRun {self.name}: {self.config.ncpus} CPUs, peak_lazy={f(s.peak_lazy_pages, '.0f')} pages "
                f"({f(s.peak_lazy_ratio, '.2f')}x lazy_max) purges={f(s.purges, '.0f')} "
                f"purge_p50={f(s.purge_p50_ns / 1e6 if s.purge_p50_ns == s.purge_p50_ns else math.nan, '.3f')} ms "
                f"run={f(s.sim_ns / 1e9 if s.sim_ns == s.sim_ns else math.nan, '.2f')} s>")


def _kernels():
    from ..config import KERNELS
    return KERNELS
