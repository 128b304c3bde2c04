"""`SimConfig`: one validated model configuration, with kernel-era and workload presets.

A `SimConfig` holds what the user chose (``None`` meaning "the kernel's or the platform's
default"); `SimConfig.resolved` turns it into concrete numbers, and `SimConfig.engine_inputs`
packs those into the engine's flat int64 vector.
"""
from __future__ import annotations

import math
import warnings
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

import numpy as np

from . import engine as E
from .platforms import PLATFORMS, Platform, get_platform
from .workloads import (
    ALL_TESTS_MASK,
    MODES,
    MODULE_DEFAULTS,
    TEST_IDS,
    TEST_SET_CASES,
    VMALLOC_MODULES,
    WorkloadParams,
    canonical_test,
    hold_capacity,
    test_orders,
    workload_names,
)

from .policies import CUSTOM_PREFIX, POLICY_NAMES, PurgePolicy, from_code, purge_policy  # noqa: E402

#: The built-in purge policies (`vmlab.policies`); a `PurgePolicy` (from `purge_policy`) also works.
POLICIES = POLICY_NAMES
# the choices of the other fields live in the one table of the fields (`vmlab.fields`)
from .fields import ALLOCATORS, FLUSH_RANGES, LAZY_DROPS, PREEMPTS, PURGE_LOCKS, PURGE_MODES, SPINLOCKS  # noqa: E402,F401

#: Each kernel era's purge logic, one setting per row of the table in ``docs/eras.md``, where every
#: cell cites the kernel line it comes from. ``lock_break=None`` means "CONFIG_PREEMPTION iff the
#: platform's preemption model is full"; 6.1 sets it because Debian builds PREEMPT_DYNAMIC, which
#: selects PREEMPTION whatever the boot mode (v6.1.192/kernel/Kconfig.preempt:11,96-101).
#: ``test_set`` is the era's lib/test_vmalloc.c (see `TEST_SETS`).
#:
#: "5.0+threshold" is the seed's experiment: the January 2019 threshold patch on the 5.0 list
#: allocator. It never shipped: 5.1 still yields on every area (v5.1.15/mm/vmalloc.c:688); mainline
#: got the threshold in 5.2, together with the augmented free tree (v5.2.1/mm/vmalloc.c:1179-1238).
_ERA_DEFAULTS = dict(policy="always-resched", threshold_factor=2.0, allocator="list", flush_range="walk",
                     purge_mode="sync", lock_split=False, purge_lock="mutex", lazy_drop="per-entry",
                     lock_break=None, test_set="v5.1")
KERNELS: dict[str, dict[str, Any]] = {
    "4.9": dict(_ERA_DEFAULTS, policy="no-resched", purge_lock="spinlock", lazy_drop="batch",
                test_set="v5.0"),
    "5.0": dict(_ERA_DEFAULTS, test_set="v5.0"),
    "5.0+threshold": dict(_ERA_DEFAULTS, policy="threshold", test_set="v5.0"),
    "5.1": dict(_ERA_DEFAULTS),
    "5.2": dict(_ERA_DEFAULTS, policy="threshold", allocator="augmented-tree"),
    "5.11": dict(_ERA_DEFAULTS, policy="threshold", allocator="augmented-tree", flush_range="at-insert",
                 lock_split=True, test_set="v5.11"),
    "6.1": dict(_ERA_DEFAULTS, policy="threshold", allocator="augmented-tree", flush_range="at-insert",
                purge_mode="deferred", lock_split=True, lock_break=True, test_set="v6.1"),
}
#: The seed's comparison, truthfully named: 5.0 against 5.0 with the threshold patch.
SEED_KERNELS = ("5.0", "5.0+threshold")
#: The era a kernel label of an older vmlab meant (one release of deprecation warnings).
_RENAMED = {"5.1": "5.0+threshold"}
_warned: set[str] = set()

#: (run_test_mask, fix_size pages) of each era's module (derived from workloads.VMALLOC_MODULES).
TEST_SET_PARAMS: dict[str, tuple[int, int]] = {k: (m.mask, m.fix_size_pages) for k, m in VMALLOC_MODULES.items()}
TEST_SETS = tuple(TEST_SET_PARAMS)


def kernel_formula_lazy_max_pages(ncpus: int, page_size: int = 4096) -> int:
    """lazy_max_pages() = fls(num_online_cpus()) * 32 MiB / PAGE_SIZE, in pages."""
    return int(ncpus).bit_length() * ((32 << 20) // page_size)


def _allowed(name, value, allowed):
    if value not in allowed:
        raise ValueError(f"{name}={value!r} is not allowed; choose one of {list(allowed)}")


def _int_in(name, value, lo, hi, none_ok=False):
    if value is None and none_ok:
        return
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name}={value!r} must be an integer in {lo}..{hi}")
    if not lo <= value <= hi:
        raise ValueError(f"{name}={value!r} is out of range; allowed {lo}..{hi}")


def _float_in(name, value, lo, hi, lo_open=False):
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name}={value!r} must be a number") from None
    if math.isnan(v) or (v <= lo if lo_open else v < lo) or v > hi:
        op = ">" if lo_open else ">="
        raise ValueError(f"{name}={value!r} is out of range; allowed {op} {lo} and <= {hi}")


@dataclass(frozen=True)
class Resolved:
    """Concrete values of a `SimConfig` (what the engine runs)."""

    platform: Platform
    ncpus: int
    preempt: str
    lock_break: bool            #: cond_resched_lock drops a contended lock
    lazy_max_pages: int
    resched_threshold_pages: int
    ram_bytes: int
    workload: WorkloadParams


@dataclass(frozen=True)
class SimConfig:
    """One model run. Units: seconds for durations, pages for sizes, ns for sample intervals.

    ``None`` means the default of the kernel formula, the platform, or the workload mode.
    """

    platform: str = "hikey960"            #: a preset name (see `vmlab.platforms.PLATFORMS`)
    ncpus: int | None = None              #: online CPUs, 1..1024 (None: the platform's)
    policy: str = "threshold"             #: a built-in (vmlab.policies.POLICY_NAMES) or a PurgePolicy
    threshold_factor: float = 2.0         #: threshold/hysteresis: resched while lazy < factor x lazy_max
    purge_mode: str = "sync"              #: sync (4.10-5.17) | deferred (drain work, 5.18+)
    allocator: str = "list"               #: list (<= 5.1) | augmented-tree (5.2+)
    flush_range: str = "walk"             #: walk (<= 5.10) | at-insert (5.11+; also merges
                                          #: adjacent lazy areas into one purge-list entry)
    lock_split: bool = False              #: free_vmap_area_lock split from vmap_area_lock (5.5+)
    purge_lock: str = "mutex"             #: vmap_purge_lock: mutex (4.10+) | spinlock (4.9: the whole
                                          #: purge runs with preemption off; the alloc-failure path spins)
    lazy_drop: str = "per-entry"          #: vmap_lazy_nr drops per purge-list entry in the free loop
                                          #: (4.10+) | batch: by the whole batch before the flush (4.9)
    lock_break: bool | None = None        #: cond_resched_lock drops a *contended* lock (CONFIG_PREEMPTION);
                                          #: None: only under preempt="full"; 6.1 (PREEMPT_DYNAMIC): True
    preempt: str | None = None            #: full | voluntary (None: the platform's)
    lazy_max_pages: int | None = None     #: pages (None: the kernel formula)
    workload: str | tuple = "stress"      #: a test_vmalloc.sh mode, a test name, or a tuple of names
    run_test_mask: int | None = None      #: test_vmalloc module parameters (None: mode/default)
    nr_threads: int | None = None         #: worker threads (None: the mode's, or ncpus)
    test_loop_count: int | None = None
    test_repeat_count: int | None = None
    sequential_test_order: bool | None = None
    nr_pages: int | None = None           #: fix_size / vm_map_ram pages (None: era default)
    test_set: str = "current"             #: lib/test_vmalloc.c of an era: v5.0 | v5.1 | v5.11 | v6.1 | current
    duration_s: float = 2.0               #: simulated seconds
    seed: int = 1
    ram_bytes: int | None = None          #: OOM limit in bytes (None: the platform's RAM)
    sample_interval_ns: int = 1_000_000   #: time-series sampling period, ns of simulated time
    check_invariants: bool = False        #: re-check the address space after every operation (slow)
    low_factor: float = 1.0               #: hysteresis: yield again below low_factor x lazy_max_pages
    batch_entries: int = 64               #: batch: purge-list entries between cond_resched_lock calls
    hold_budget_us: float = 100.0         #: hold-budget: µs the free loop holds the lock before yielding
    policy_code: str | None = None        #: a custom policy's code (set from `policy`; travels in to_dict)
    host_cpus: int | None = None          #: overcommitted guest: host cores the vCPUs share, 1..ncpus
                                          #: (vCPU c on core c % host_cpus, each run for the platform's
                                          #: host_slice_ns in turn); None: each vCPU has its own core
    spinlock: str | None = None           #: the guest's spinlock under host_cpus: queued | test-and-set
                                          #: (None: the platform's guest_spinlock); without host_cpus
                                          #: every waiter runs and both give the same run

    def __post_init__(self):
        if isinstance(self.workload, list):
            object.__setattr__(self, "workload", tuple(self.workload))
        # 1 and 1.0 are one config (and one sweep cache key)
        for name in ("threshold_factor", "duration_s"):
            v = getattr(self, name)
            if isinstance(v, (int, np.integer)) and not isinstance(v, bool):
                object.__setattr__(self, name, float(v))
        if not isinstance(self.platform, Platform):
            if self.platform not in PLATFORMS:
                raise ValueError(
                    f"platform={self.platform!r} is not known; allowed: {sorted(PLATFORMS)}"
                )
        _int_in("ncpus", self.ncpus, 1, 1024, none_ok=True)
        if isinstance(self.policy, str) and self.policy.startswith(CUSTOM_PREFIX):
            if not self.policy_code:
                raise ValueError(f"policy={self.policy!r}: a custom policy needs its policy_code "
                                 "(pass the PurgePolicy object, or a dict from SimConfig.to_dict())")
            object.__setattr__(self, "policy", from_code(self.policy, self.policy_code))
        elif callable(self.policy) and not isinstance(self.policy, PurgePolicy):
            object.__setattr__(self, "policy", purge_policy(self.policy))
        if isinstance(self.policy, PurgePolicy):
            object.__setattr__(self, "policy_code", self.policy.code)
        else:
            _allowed("policy", self.policy, POLICIES)
            if self.policy_code is not None:
                raise ValueError("policy_code is only for a custom policy; policy="
                                 f"{self.policy!r} is built in")
        for name in ("low_factor", "hold_budget_us"):
            v = getattr(self, name)
            if isinstance(v, (int, np.integer)) and not isinstance(v, bool):
                object.__setattr__(self, name, float(v))
        _float_in("low_factor", self.low_factor, 0.0, 1e6)
        if self.policy == "hysteresis" and self.low_factor > self.threshold_factor:
            raise ValueError(f"low_factor={self.low_factor!r} must be <= threshold_factor="
                             f"{self.threshold_factor!r} (the hysteresis' low mark is below its high mark)")
        _int_in("batch_entries", self.batch_entries, 1, 10**9)
        _float_in("hold_budget_us", self.hold_budget_us, 0.0, 1e9)
        _float_in("threshold_factor", self.threshold_factor, 0.0, 1e6)
        _allowed("purge_mode", self.purge_mode, PURGE_MODES)
        _allowed("allocator", self.allocator, ALLOCATORS)
        _allowed("flush_range", self.flush_range, FLUSH_RANGES)
        if not isinstance(self.lock_split, (bool, np.bool_)):
            raise ValueError(f"lock_split={self.lock_split!r} must be True or False")
        _allowed("purge_lock", self.purge_lock, PURGE_LOCKS)
        _allowed("lazy_drop", self.lazy_drop, LAZY_DROPS)
        if self.lock_break is not None and not isinstance(self.lock_break, (bool, np.bool_)):
            raise ValueError(f"lock_break={self.lock_break!r} must be True, False or None")
        if self.preempt is not None:
            _allowed("preempt", self.preempt, PREEMPTS)
        _int_in("lazy_max_pages", self.lazy_max_pages, 1, 1 << 40, none_ok=True)
        names = (self.workload,) if isinstance(self.workload, str) else self.workload
        if not isinstance(names, tuple) or not names:
            raise ValueError(f"workload={self.workload!r} must be a mode or test name(s): {workload_names()}")
        for n in names:
            if not isinstance(n, str) or (n not in MODES and canonical_test(n) is None):
                raise ValueError(
                    f"workload={self.workload!r}: {n!r} is not a test_vmalloc test or mode; "
                    f"allowed: {workload_names()}"
                )
        if len(names) > 1 and any(n in MODES for n in names):
            raise ValueError(f"workload={self.workload!r}: a mode cannot be combined with other names")
        _int_in("run_test_mask", self.run_test_mask, 1, ALL_TESTS_MASK, none_ok=True)
        _int_in("nr_threads", self.nr_threads, 1, 65535, none_ok=True)
        _int_in("test_loop_count", self.test_loop_count, 1, 10**12, none_ok=True)
        _int_in("test_repeat_count", self.test_repeat_count, 1, 10**9, none_ok=True)
        if self.sequential_test_order is not None and not isinstance(self.sequential_test_order, (bool, np.bool_)):
            raise ValueError(f"sequential_test_order={self.sequential_test_order!r} must be True, False or None")
        _int_in("nr_pages", self.nr_pages, 0, 1 << 20, none_ok=True)
        _allowed("test_set", self.test_set, TEST_SETS)
        if self.test_set == "v5.0":
            mask = self.run_test_mask or 0
            for n in names:
                if n not in MODES:
                    mask |= TEST_IDS[canonical_test(n)]
            if mask & TEST_IDS["align_shift_alloc_test"]:
                raise ValueError(
                    "workload/run_test_mask: align_shift_alloc_test is not in test_set='v5.0': on a 5.0 "
                    "kernel its wrapped alignment hits BUG_ON(va->va_start < vstart) "
                    "(v5.0.1/mm/vmalloc.c:501-513, docs/eras.md); use test_set='v5.1' to run it anyway")
        _float_in("duration_s", self.duration_s, 0.0, 86_400.0, lo_open=True)
        _int_in("seed", self.seed, 0, 2**63 - 1)
        _int_in("ram_bytes", self.ram_bytes, 1, 1 << 60, none_ok=True)
        _int_in("sample_interval_ns", self.sample_interval_ns, 1_000, 10**12)
        if self.duration_s * 1e9 / self.sample_interval_ns > 5_000_000:
            raise ValueError(
                f"sample_interval_ns={self.sample_interval_ns} gives more than 5 000 000 samples "
                f"over duration_s={self.duration_s}; use a larger interval"
            )
        if self.host_cpus is not None:
            n = self.ncpus if self.ncpus is not None else get_platform(self.platform).ncpus
            _int_in("host_cpus", self.host_cpus, 1, n)
        if self.spinlock is not None:
            _allowed("spinlock", self.spinlock, SPINLOCKS)
        if not isinstance(self.check_invariants, (bool, np.bool_)):
            raise ValueError(f"check_invariants={self.check_invariants!r} must be True or False")

    # ------------------------------------------------------------------ presets
    @classmethod
    def for_kernel(cls, version: str, **overrides) -> "SimConfig":
        """The purge logic of a kernel era (`KERNELS`, ``docs/eras.md``); any field may follow.

        ``for_kernel("5.0", policy="threshold")`` is the seed's experiment, the same config as
        ``for_kernel("5.0+threshold")``. ``"5.1"`` is the real 5.1 (it still yields on every area);
        older vmlab releases used that label for the seed's experiment, so it warns once.
        """
        version = str(version)
        if version not in KERNELS:
            raise ValueError(f"kernel={version!r} is not known; allowed: {list(KERNELS)}")
        if version in _RENAMED and version not in _warned:
            _warned.add(version)
            warnings.warn(
                f'for_kernel("{version}") is now the real {version}, which has no purge threshold '
                f'(it yields vmap_area_lock on every area); the seed\'s experiment that earlier vmlab '
                f'releases called "{version}" is "{_RENAMED[version]}" (or "5.2" for mainline\'s first '
                f'kernel with the threshold). This warning goes away in the next release.',
                FutureWarning, stacklevel=2)
        kw = dict(KERNELS[version])
        kw.update(overrides)
        return cls(**kw)

    def replace(self, **changes) -> "SimConfig":
        return replace(self, **changes)

    def to_dict(self) -> dict:
        d = asdict(self)
        if isinstance(self.policy, PurgePolicy):
            d["policy"] = self.policy.token
        if isinstance(self.platform, Platform):
            d["platform"] = self.platform.name
        if isinstance(self.workload, tuple):
            d["workload"] = list(self.workload)
        return d

    @classmethod
    def field_names(cls) -> list[str]:
        return [f.name for f in fields(cls)]

    # ------------------------------------------------------------------ resolution
    def resolved(self) -> Resolved:
        plat = get_platform(self.platform)
        ncpus = self.ncpus if self.ncpus is not None else plat.ncpus
        preempt = self.preempt or plat.preempt
        lock_break = self.lock_break if self.lock_break is not None else preempt == "full"
        lmp = self.lazy_max_pages or kernel_formula_lazy_max_pages(ncpus, plat.page_size)
        thresh = int(self.threshold_factor * lmp)
        wl = self._workload_params(ncpus)
        return Resolved(
            platform=plat,
            ncpus=ncpus,
            preempt=preempt,
            lock_break=bool(lock_break),
            lazy_max_pages=lmp,
            resched_threshold_pages=thresh,
            ram_bytes=self.ram_bytes or plat.ram_bytes,
            workload=wl,
        )

    def _workload_params(self, ncpus: int) -> WorkloadParams:
        names = (self.workload,) if isinstance(self.workload, str) else self.workload
        p = dict(MODULE_DEFAULTS)
        p["nr_threads"] = None
        p["run_test_mask"], p["nr_pages"] = TEST_SET_PARAMS[self.test_set]
        if names[0] in MODES:
            p.update(MODES[names[0]])
        else:
            mask = 0
            for n in names:
                mask |= TEST_IDS[canonical_test(n)]
            p["run_test_mask"] = mask
        for k in ("run_test_mask", "nr_threads", "test_loop_count", "test_repeat_count",
                  "sequential_test_order", "nr_pages"):
            v = getattr(self, k)
            if v is not None:
                p[k] = v
        if p["nr_threads"] is None:
            p["nr_threads"] = ncpus
        return WorkloadParams(
            run_test_mask=int(p["run_test_mask"]),
            nr_threads=int(p["nr_threads"]),
            test_loop_count=int(p["test_loop_count"]),
            test_repeat_count=int(p["test_repeat_count"]),
            sequential_test_order=bool(p["sequential_test_order"]),
            nr_pages=int(p["nr_pages"]),
            test_array=TEST_SET_CASES[self.test_set],
        )

    def engine_inputs(self) -> tuple[np.ndarray, np.ndarray, Resolved]:
        """The engine's flat inputs: (int64 parameter vector, per-worker test orders, resolved)."""
        r = self.resolved()
        pl = r.platform
        wl = r.workload
        P = np.zeros(E.N_PARAMS, dtype=np.int64)
        P[E.P_NCPUS] = r.ncpus
        P[E.P_NWORK] = wl.nr_threads
        P[E.P_POLICY] = (E.POLICY_CUSTOM if isinstance(self.policy, PurgePolicy)
                         else POLICIES.index(self.policy))
        P[E.P_LOW_THRESH] = int(self.low_factor * r.lazy_max_pages)
        P[E.P_BATCH_N] = self.batch_entries
        P[E.P_HOLD_BUDGET] = int(round(self.hold_budget_us * 1000))
        P[E.P_RESCHED_THRESH] = r.resched_threshold_pages
        P[E.P_PURGE_MODE] = PURGE_MODES.index(self.purge_mode)
        P[E.P_ALLOCATOR] = ALLOCATORS.index(self.allocator)
        P[E.P_FLUSH] = FLUSH_RANGES.index(self.flush_range)
        P[E.P_PREEMPT] = E.PREEMPT_FULL if r.preempt == "full" else E.PREEMPT_VOLUNTARY
        P[E.P_LOCK_SPLIT] = int(bool(self.lock_split))
        P[E.P_PURGE_LOCK] = E.PURGE_LOCK_SPIN if self.purge_lock == "spinlock" else E.PURGE_LOCK_MUTEX
        P[E.P_LAZY_DROP] = E.LAZY_DROP_BATCH if self.lazy_drop == "batch" else E.LAZY_DROP_ENTRY
        P[E.P_LOCK_BREAK] = int(r.lock_break)
        P[E.P_TLB_IPI] = int(bool(pl.tlb_flush_ipi))
        P[E.P_LAZY_MAX] = r.lazy_max_pages
        P[E.P_DURATION] = int(round(self.duration_s * 1e9))
        P[E.P_SEED] = self.seed
        P[E.P_SAMPLE_NS] = self.sample_interval_ns
        P[E.P_VA_START] = pl.vmalloc_start // pl.page_size
        P[E.P_VA_PAGES] = pl.vmalloc_bytes // pl.page_size
        P[E.P_RAM] = r.ram_bytes
        P[E.P_BASE_MEM] = pl.base_mem_bytes
        P[E.P_PAGE_SIZE] = pl.page_size
        P[E.P_VA_OBJ] = pl.va_obj_bytes
        P[E.P_LOOPS] = wl.test_loop_count
        P[E.P_REPEATS] = wl.test_repeat_count
        P[E.P_NR_PAGES] = wl.nr_pages
        formula = kernel_formula_lazy_max_pages(r.ncpus, pl.page_size)
        P[E.P_JUNK] = formula
        P[E.P_THREAD_ALIGN] = pl.thread_align_pages
        P[E.P_CHECK] = int(bool(self.check_invariants))
        P[E.P_HOLD_CAP] = hold_capacity(wl, formula)
        P[E.P_HOST_CPUS] = self.host_cpus or 0
        P[E.P_HOST_SLICE] = pl.host_slice_ns
        spin = self.spinlock or pl.guest_spinlock
        _allowed(f"platform {pl.name!r} guest_spinlock", spin, SPINLOCKS)
        # without host_cpus every vCPU runs and both kinds give the same run: the engine takes the
        # test-and-set path only on an overcommitted guest
        P[E.P_SPINLOCK] = E.SPINLOCK_TAS if spin == "test-and-set" and self.host_cpus else E.SPINLOCK_QUEUED
        costs = {
            E.P_KMALLOC: pl.kmalloc_va_ns, E.P_ALLOC_BASE: pl.alloc_base_ns,
            E.P_LIST_WALK: pl.list_walk_area_ns, E.P_TREE_LEVEL: pl.tree_level_ns,
            E.P_LOOKUP: pl.lookup_ns, E.P_MAP_PAGE: pl.map_page_ns, E.P_UNMAP_PAGE: pl.unmap_page_ns,
            E.P_LAZY_ADD: pl.lazy_add_ns, E.P_HANDOFF: pl.lock_handoff_ns, E.P_STEAL: pl.purge_steal_ns,
            E.P_FLUSH_WALK: pl.flush_walk_area_ns, E.P_TLB_BASE: pl.tlb_flush_base_ns,
            E.P_TLB_CPU: pl.tlb_flush_cpu_ns, E.P_FREE_AREA: pl.free_area_ns, E.P_CTXSW: pl.ctxsw_ns,
            E.P_WAKEUP: pl.wakeup_ns, E.P_SLICE: pl.slice_ns, E.P_TOUCH: pl.touch_ns,
            E.P_PCPU_OP: pl.pcpu_op_ns, E.P_RCU_DELAY: pl.rcu_delay_ns,
            E.P_TLB_PAGE: pl.tlb_flush_page_ns, E.P_TLB_CEIL: pl.tlb_ceiling_pages,
            E.P_PCPU_OBJ: pl.pcpu_obj_bytes,
        }
        for k, v in costs.items():
            P[k] = int(v)
        orders = test_orders(wl, self.seed)
        return P, orders, r
