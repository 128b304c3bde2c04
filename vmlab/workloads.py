"""test_vmalloc workloads: the test cases, the script's modes, and the per-worker programs.

The test cases follow ``lib/test_vmalloc.c`` (docs/facts.md §3). The engine runs each case's
real sequence of vmalloc/vfree calls; this module only names them, resolves the module parameters
(``run_test_mask``, ``nr_threads``, ``test_loop_count``, ``test_repeat_count``,
``sequential_test_order``, ``nr_pages``) from a mode or test names, and builds each worker's test
order the way ``test_func()`` does (``shuffle_array`` unless ``sequential_test_order``).

Approximations (the engine's docstring repeats them where they are coded):

* ``pcpu_alloc_test`` does not model the percpu allocator. Its 35 000 ``__alloc_percpu`` calls are
  charged as CPU time (``pcpu_op_ns`` each), and every 1 000 allocations the test maps one new
  percpu chunk as a vmap area of ``8 * ncpus`` pages, held until the test frees everything. Their
  memory is ``pcpu_obj_bytes`` per object and CPU (the ``mem_pcpu_bytes`` component).
* ``kvfree_rcu_1_arg_vmalloc_test`` / ``kvfree_rcu_2_arg_vmalloc_test``: the vfree happens
  ``rcu_delay_ns`` after the call (grace period plus kfree_rcu batching), executed by the same
  worker at its next operation rather than by an RCU kworker. Areas still pending when the test
  ends are vfree'd then.
* ``kvfree_rcu_1_arg_slab_test`` / ``kvfree_rcu_2_arg_slab_test`` (5.11 only) touch no vmap area:
  each loop is a kmalloc and a kvfree_rcu of a small object, charged as CPU time
  (``2 * kmalloc_va_ns`` per loop, an estimate), 1 000 loops per step.
* ``vm_map_ram_test`` maps through a per-worker vmap block of 1024 pages (VMAP_BBMAP_BITS_MAX, no
  guard page); a block is lazily freed when the worker moves on to a new one.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: (bit index, name). The bit is the test's position in test_case_array; id = 1 << bit.
TEST_CASES: tuple[str, ...] = (
    "fix_size_alloc_test",            # 1
    "full_fit_alloc_test",            # 2
    "long_busy_list_alloc_test",      # 4
    "random_size_alloc_test",         # 8
    "fix_align_alloc_test",           # 16
    "random_size_align_alloc_test",   # 32
    "align_shift_alloc_test",         # 64
    "pcpu_alloc_test",                # 128
    "kvfree_rcu_1_arg_vmalloc_test",  # 256
    "kvfree_rcu_2_arg_vmalloc_test",  # 512
    "vm_map_ram_test",                # 1024
    # 5.11's two slab cases (v5.11.14/lib/test_vmalloc.c:367-402; kernel ids 1024 and 2048 there,
    # removed before 6.1). vmlab numbers them after the current cases: 2048 and 4096.
    "kvfree_rcu_1_arg_slab_test",     # 2048 (vmlab), 1024 (5.11)
    "kvfree_rcu_2_arg_slab_test",     # 4096 (vmlab), 2048 (5.11)
)
TEST_IDS: dict[str, int] = {name: 1 << i for i, name in enumerate(TEST_CASES)}
#: Short names accepted as well: "fix_size" for "fix_size_alloc_test", and so on.
TEST_ALIASES: dict[str, str] = {
    name.replace("_alloc_test", "").replace("_vmalloc_test", "").replace("_test", ""): name
    for name in TEST_CASES
}
ALL_TESTS_MASK = (1 << len(TEST_CASES)) - 1
#: The eight cases of the v5.1 module (ids 1..128, v5.1.15/lib/test_vmalloc.c:337-344).
V51_TESTS_MASK = (1 << 8) - 1
#: The v5.1 module as a 5.0 kernel can run it: without align_shift_alloc_test, whose huge
#: alignments wrap ``ALIGN(vstart, align)`` and hit ``BUG_ON(va->va_start < vstart)`` in 5.0's
#: alloc_vmap_area (v5.0.1/mm/vmalloc.c:501-513; 5.1 checks for the wrap). docs/eras.md.
V50_TESTS_MASK = V51_TESTS_MASK & ~(1 << 6)
#: The twelve cases of the 5.11 module (v5.11.14/lib/test_vmalloc.c:408-419): v5.1's, the two
#: kvfree_rcu vmalloc cases and the two kvfree_rcu slab cases.
V511_TESTS_MASK = (1 << 10) - 1 | (1 << 11) | (1 << 12)
#: The ten cases of the 6.1 module (the shipped recordings, v6.1.192/lib/test_vmalloc.c:361-370).
V61_TESTS_MASK = (1 << 10) - 1
#: The current module: 6.1's plus vm_map_ram_test (no slab cases).
CURRENT_TESTS_MASK = (1 << 11) - 1

@dataclass(frozen=True)
class VmallocModule:
    """One era's lib/test_vmalloc.c: its ``test_case_array`` (vmlab's bit indices, in the module's
    order: what ``shuffle_array`` shuffles), the cases a default run selects (run_test_mask) and
    fix_size_alloc_test's size (pages; 0: the module's ``nr_pages`` parameter, default 1 page)."""

    cases: tuple[int, ...]
    mask: int
    fix_size_pages: int


#: lib/test_vmalloc.c by era, the one table of test sets. "v5.0" is the v5.1 module without
#: align_shift_alloc_test, which a 5.0 kernel cannot survive (its wrapped alignment hits
#: BUG_ON(va->va_start < vstart), v5.0.1/mm/vmalloc.c:501-513); "v5.1" has the eight original cases
#: and a 3-page fix_size (v5.1.15/lib/test_vmalloc.c:280, 337-344; 5.2 is the same); "v5.11" adds
#: the two kvfree_rcu vmalloc and two slab cases, still with 3 pages
#: (v5.11.14/lib/test_vmalloc.c:274,408-419); "v6.1" drops the slab cases and has nr_pages
#: (v6.1.192/lib/test_vmalloc.c:38,267); "current" adds vm_map_ram_test.
VMALLOC_MODULES: dict[str, VmallocModule] = {
    "current": VmallocModule(tuple(range(11)), CURRENT_TESTS_MASK, 0),
    "v6.1": VmallocModule(tuple(range(10)), V61_TESTS_MASK, 0),
    "v5.11": VmallocModule(tuple(range(10)) + (11, 12), V511_TESTS_MASK, 3),
    "v5.1": VmallocModule(tuple(range(8)), V51_TESTS_MASK, 3),
    "v5.0": VmallocModule(tuple(range(8)), V50_TESTS_MASK, 3),
}
#: Each era's test_case_array (derived from VMALLOC_MODULES).
TEST_SET_CASES: dict[str, tuple[int, ...]] = {k: m.cases for k, m in VMALLOC_MODULES.items()}

#: What ``test_vmalloc.sh <mode>`` passes to modprobe (current script; docs/facts.md §3).
#: ``nr_threads=None`` means one thread per CPU. performance and smoke run one thread.
MODES: dict[str, dict] = {
    "performance": dict(sequential_test_order=True, test_repeat_count=3, nr_threads=1),
    "stress": dict(test_repeat_count=20, nr_threads=None),
    "smoke": dict(test_loop_count=10_000, test_repeat_count=10, nr_threads=1),
}

#: Module parameter defaults of lib/test_vmalloc.c.
MODULE_DEFAULTS = dict(
    run_test_mask=CURRENT_TESTS_MASK,
    test_loop_count=1_000_000,
    test_repeat_count=1,
    sequential_test_order=False,
    nr_pages=0,
)

#: Fixed sizes inside the test cases.
LONG_BUSY_HELD = 15_000            # long_busy_list_alloc_test: one-page areas held
PCPU_ALLOCS = 35_000               # pcpu_alloc_test: __alloc_percpu calls
PCPU_ALLOCS_PER_CHUNK = 1_000      # approximation: a new chunk area every so many allocations
VMAP_BLOCK_PAGES = 1024            # VMAP_BBMAP_BITS_MAX
KVFREE_PENDING_MAX = 16_384        # kvfree_rcu tests: pending areas kept per worker


def canonical_test(name: str) -> str | None:
    """The full test name for a full or short name, or None."""
    if name in TEST_IDS:
        return name
    return TEST_ALIASES.get(name)


def workload_names() -> list[str]:
    """Everything `SimConfig.workload` accepts as a single string."""
    return sorted(MODES) + list(TEST_CASES)


@dataclass(frozen=True)
class WorkloadParams:
    """The resolved test_vmalloc module parameters of one run."""

    run_test_mask: int
    nr_threads: int
    test_loop_count: int
    test_repeat_count: int
    sequential_test_order: bool
    nr_pages: int
    test_array: tuple[int, ...] = TEST_SET_CASES["current"]   #: the module's test_case_array (bits)

    @property
    def tests(self) -> list[str]:
        return [n for i, n in enumerate(TEST_CASES) if self.run_test_mask >> i & 1]


def test_orders(params: WorkloadParams, seed: int) -> np.ndarray:
    """Each worker's test order, as bit indices, -1 padded: int64[nr_threads, len(TEST_CASES)].

    Mirrors test_func(): the era's case array (``params.test_array``) is shuffled per worker
    (``shuffle_array``: j = random in [0, i)), then cases outside ``run_test_mask`` are skipped.
    """
    arr = list(params.test_array)
    for extra in range(len(TEST_CASES)):       # a mask may name cases of another era's module
        if params.run_test_mask >> extra & 1 and extra not in arr:
            arr.append(extra)
    n = len(arr)
    out = np.full((params.nr_threads, len(TEST_CASES)), -1, dtype=np.int64)
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0x7E57]))
    for w in range(params.nr_threads):
        order = list(arr)
        if not params.sequential_test_order:
            for i in range(n - 1, 0, -1):
                j = int(rng.integers(0, i))
                order[i], order[j] = order[j], order[i]
        kept = [b for b in order if params.run_test_mask >> b & 1]
        out[w, : len(kept)] = kept
    return out


def hold_capacity(params: WorkloadParams, lazy_max_formula_pages: int) -> int:
    """Slots each worker needs to hold areas (long_busy, full_fit, pcpu chunks, kvfree pending)."""
    cap = 8
    mask = params.run_test_mask
    if mask & TEST_IDS["long_busy_list_alloc_test"]:
        cap = max(cap, LONG_BUSY_HELD + 4)
    if mask & TEST_IDS["full_fit_alloc_test"]:
        cap = max(cap, 2 * lazy_max_formula_pages + 4)
    if mask & TEST_IDS["pcpu_alloc_test"]:
        cap = max(cap, PCPU_ALLOCS // PCPU_ALLOCS_PER_CHUNK + 4)
    if mask & (TEST_IDS["kvfree_rcu_1_arg_vmalloc_test"] | TEST_IDS["kvfree_rcu_2_arg_vmalloc_test"]):
        cap = max(cap, KVFREE_PENDING_MAX)
    return cap
