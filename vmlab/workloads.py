"""test_vmalloc workloads: the test cases, the script's modes, and the per-worker programs.

The test cases follow ``lib/test_vmalloc.c`` (facts doc section 3). The engine runs each case's
real sequence of vmalloc/vfree calls; this module only names them, resolves the module parameters
(``run_test_mask``, ``nr_threads``, ``test_loop_count``, ``test_repeat_count``,
``sequential_test_order``, ``nr_pages``) from a mode or test names, and builds each worker's test
order the way ``test_func()`` does (``shuffle_array`` unless ``sequential_test_order``).

Approximations (the engine's docstring repeats them where they are coded):

* ``pcpu_alloc_test`` does not model the percpu allocator. Its 35 000 ``__alloc_percpu`` calls are
  charged as CPU time (``pcpu_op_ns`` each), and every 1 000 allocations the test maps one new
  percpu chunk as a vmap area of ``8 * ncpus`` pages, held until the test frees everything.
* ``kvfree_rcu_1_arg_vmalloc_test`` / ``kvfree_rcu_2_arg_vmalloc_test``: the vfree happens
  ``rcu_delay_ns`` after the call (grace period plus kfree_rcu batching), executed by the same
  worker at its next operation rather than by an RCU kworker. Areas still pending when the test
  ends are vfree'd then.
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
)
TEST_IDS: dict[str, int] = {name: 1 << i for i, name in enumerate(TEST_CASES)}
#: Short names accepted as well: "fix_size" for "fix_size_alloc_test", and so on.
TEST_ALIASES: dict[str, str] = {
    name.replace("_alloc_test", "").replace("_vmalloc_test", "").replace("_test", ""): name
    for name in TEST_CASES
}
ALL_TESTS_MASK = (1 << len(TEST_CASES)) - 1
#: The eight cases of the v5.1 module (ids 1..128): the test set of the seed's era.
V51_TESTS_MASK = (1 << 8) - 1
#: The ten cases of the 6.1 module (the shipped recordings): v5.1's plus the two kvfree_rcu tests.
V61_TESTS_MASK = (1 << 10) - 1

#: What ``test_vmalloc.sh <mode>`` passes to modprobe (current script; facts doc section 3).
#: ``nr_threads=None`` means one thread per CPU. performance and smoke run one thread.
MODES: dict[str, dict] = {
    "performance": dict(sequential_test_order=True, test_repeat_count=3, nr_threads=1),
    "stress": dict(test_repeat_count=20, nr_threads=None),
    "smoke": dict(test_loop_count=10_000, test_repeat_count=10, nr_threads=1),
}

#: Module parameter defaults of lib/test_vmalloc.c.
MODULE_DEFAULTS = dict(
    run_test_mask=ALL_TESTS_MASK,
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

    @property
    def tests(self) -> list[str]:
        return [n for i, n in enumerate(TEST_CASES) if self.run_test_mask >> i & 1]


def test_orders(params: WorkloadParams, seed: int) -> np.ndarray:
    """Each worker's test order, as bit indices, -1 padded: int64[nr_threads, len(TEST_CASES)].

    Mirrors test_func(): the full case array is shuffled per worker (``shuffle_array``:
    j = random in [0, i)), then cases outside ``run_test_mask`` are skipped.
    """
    n = len(TEST_CASES)
    out = np.full((params.nr_threads, n), -1, dtype=np.int64)
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0x7E57]))
    for w in range(params.nr_threads):
        order = list(range(n))
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
