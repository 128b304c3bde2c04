"""The jitted discrete-event core: vmalloc allocation, lazy free and ``__purge_vmap_area_lazy``.

Input is flat: an int64 parameter vector (indices ``P_*``, enums as small ints, all in
``layout``) and the per-worker test orders. Output is flat arrays that `vmlab.result` turns into
DataFrames. Times are int64 nanoseconds of simulated time, sizes are pages.

The package, in the order a reader meets it (each module imports only those above it):

* ``layout``: the index constants of every flat array, the enums, the loop state's slots (LS_*)
  and the state structures (`Sim` of `Sched`, `Space`, `Progs`, `Out`: named tuples of arrays).
* ``jit``: how functions are compiled (``_kernel``, ``_step``, ``_inline``); small integer helpers.
* ``host``: vCPUs on overcommitted host cores. ``sched``: the event heap, run queues and FIFO
  spinlocks, and their forms on the Sim (``_acquire``, ``_hold``, ``_push``, ``_cost``, ...).
* ``tree``: the free-space treap. ``space``: the allocation search, carve and free; memory.
* ``programs``: the test_vmalloc programs (one function per phase and per measured loop).
* ``purge``: vmap_purge_lock, the drain work, the purge's phases and the policy seam
  (`_policy_wants`). ``calls``: vmalloc and vfree.
* ``loop``: `_loop`, which takes the next event and dispatches the task's step (its pc: W_*,
  K_*, PU_*) to one handler per step. ``driver``: `run`.

How it runs: `run`, plain Python, allocates every array with numpy and calls `_loop`, the jitted
event loop, which never allocates. Every scalar of the loop lives in its state array K (LS_*),
read and written where it is used, so when an array may fill up during the next event `_loop`
just returns (LOOP_GROW); `run` grows the array and calls it again, and the run goes on exactly as
before. So everything is compiled without NRT reference counting (an atomic increment and
decrement around every array use cost a third of the run time). Step handlers (``_step``) are
inlined into `_loop` by numba: one compiled function, no call overhead, the Sim tuple free to hand
down; the few that run about once per purge (``_rare``) are compiled apart and called, which
keeps the cold compile shorter. Leaf helpers (``_kernel``: the tree, the programs, the
scheduler's primitives) are compiled once each, for one signature, on the first `run`, and
called. numba caches each function against
its own file only, so ``__init__`` drops the package's whole cache when any of its files changes
(`vmlab.jitcache`, tests/test_jitcache.py). No engine function is longer than 150 lines or takes
more than 10 parameters (tests/test_loop_state.py). docs/engine.md: how to change it.

What is modelled (and how it simplifies the kernel). ``docs/eras.md`` has, per kernel era, every
setting with the kernel line it comes from, and the simplifications below in one list.

* **CPUs and tasks.** ``nr_threads`` test_vmalloc workers, pinned round-robin to ``ncpus`` CPUs
  (5.1-5.11 pin one kthread per CPU; 6.1's ``nr_threads`` kthreads are unpinned: simplified),
  plus one kworker for ``drain_vmap_work`` (deferred purge). Each CPU has a FIFO run queue. A task
  switches only at preemption points: the start of each vmalloc/vfree call (``might_sleep``; it
  is checked at the call's first lock request), ``cond_resched_lock`` in the purge free loop, the
  drain work's loop, and under ``preempt="full"`` also between the purge's flush-range walk and
  its TLB flush. A switch happens when a task was woken on the CPU (CFS wake-up preemption,
  simplified to "always") or the running task used up ``slice_ns`` while another is runnable.
  Timer-interrupt preemption inside a step is not modelled.
* **Locks.** ``vmap_area_lock`` is a FIFO ticket spinlock: waiters queue and spin on their CPU; the
  head gets it ``lock_handoff_ns`` after the release. With ``lock_split`` (5.5+) the free tree and
  the purge free loop use ``free_vmap_area_lock`` instead, and allocation takes both in turn. The
  kernel's ``purge_vmap_area_lock`` (5.11+) is not modelled: its O(log n) purge-tree insert is
  inside vfree's ``lazy_add_ns`` and the purge's O(1) splice inside ``purge_steal_ns``. vfree takes
  ``vmap_area_lock`` once (the lookup); the kernel takes it three times (docs/eras.md, 3(b)).
  ``vmap_purge_lock`` is a mutex: trylock from the free path, lock (sleeping) from the
  allocation-failure path and the drain work. With ``purge_lock="spinlock"`` (4.9's ``purge_lock``)
  the allocation-failure path spins on its CPU instead, and the purge has no preemption point.
  Every acquisition's wait and hold go to histograms.
* **Address space.** As in the kernel since 5.2, free space is a tree of free segments (a treap
  keyed by first page, augmented with each subtree's largest free segment and free pages), so the
  lowest fit with alignment, splitting and merging with neighbours are O(log n). Pages are
  absolute (VMALLOC_START is real), so large alignments fail as they do in the kernel. Busy and
  lazy areas (guard page included) live in a flat area table; the workers and the purge list hold
  area ids, so a vfree touches no tree. The search is ``find_vmap_lowest_match`` (subtrees pruned
  with ``size + align - 1``). A lazy area stays allocated until the purge returns it.
* **List era (<= 5.1).** alloc_vmap_area (v5.0.1/mm/vmalloc.c:441-498) as the kernel does it,
  on the same address space: the ``free_vmap_cache`` hint (kept as its end page), reset when the
  request is smaller than ``cached_hole_size`` or less aligned than ``cached_align`` (``vstart``
  is always VMALLOC_START here, so the kernel's third condition never fires). With the hint the
  walk starts at its end; without it, the busy rb-tree is descended (``tree_level_ns`` per level
  of a balanced tree of the busy + lazy areas) and the walk starts at VMALLOC_START. The fit is
  the lowest hole at or above the start (the same hole the kernel's walk stops at).
  ``cached_hole_size`` grows to the largest hole the walk stepped over (exact, by a branch and
  bound search of the free segments between start and fit; aligned as the kernel measures it).
  ``__free_vmap_area`` moves the hint back to the area below a freed one when the freed one lies
  at or below it (v5.0.1/mm/vmalloc.c:557-571) and, like the kernel, leaves ``cached_hole_size``
  alone. The search costs ``alloc_base_ns + list_walk_area_ns * walked`` plus the descent, where
  ``walked`` is the busy (lazy included) areas stepped over between start and fit. Simplification:
  ``walked`` is estimated as their pages over the mean area size (exact when the areas have one
  size; against an exact reimplementation on fix_size, full_fit and long_busy it is within 1 %,
  tests/test_list_allocator.py). Simplification: the range starts empty (no modules, stacks or
  ioremaps), so the holes that make the kernel walk come only from the tests themselves: a
  long_busy_list_alloc_test run alone walks nothing in its first repetition, and its later ones
  (and the performance mode, after full_fit) walk thousands of areas per call. The tree era
  charges ``tree_level_ns`` per level.
* **Lazy accounting.** ``vmap_lazy_nr`` grows by the area's pages, guard page included. Crossing
  ``lazy_max_pages`` triggers a purge: sync trylock in the freeing task, or ``schedule_work`` of the
  single drain work item on the freeing CPU (the kworker loops while ``vmap_lazy_nr >
  lazy_max_pages``, as in 6.1; a re-queue while it runs makes it run again). The purge list is
  an ``llist`` (newest first); with ``flush_range="at-insert"`` (5.11+) it is the address-ordered
  purge tree, where adjacent lazy areas of one batch are merged into one entry (as
  ``merge_or_add_vmap_area`` does); the entry count sets the free-loop cost. The vmap_area objects
  merged away are still counted in memory until the purge (a few bytes per area).
* **The purge.** Phases: list steal, flush-range walk (``flush_walk_area_ns`` per entry, or O(1)
  at insert), TLB flush (``flush_tlb_kernel_range`` over the list's span: an IPI round, per
  CPU, plus a per-page flush up to the architecture's ceiling (x86 33 pages, arm64 512), above it
  a flush of everything. On x86 (``tlb_flush_ipi``) the IPI round is per CPU and every other CPU
  that runs a task loses its IPI handler and local flush: the time is added to that task's next
  step (a lock it holds then is not held longer: simplified); arm64 broadcasts TLBI, so the wait
  is charged once and nobody else stalls), free loop under the lock (``free_area_ns`` per entry,
  plus a tree descent in the tree era). ``vmap_lazy_nr`` drops per entry in the free loop, or
  (``lazy_drop="batch"``, 4.9) by the whole batch between the walk and the flush. The purge's own
  CPU time is recorded as ``work_ns`` (steal, walk, flush, free loop). After each entry
  the policy decides: ``no-resched`` never yields; ``always-resched`` calls ``cond_resched_lock``;
  ``threshold`` calls it only while ``vmap_lazy_nr < resched_threshold``. ``cond_resched_lock``
  drops the lock when a reschedule is due, or (``lock_break``: CONFIG_PREEMPTION, which 6.1's
  PREEMPT_DYNAMIC selects whatever the boot mode) when another CPU spins on it;
  re-taking it queues behind every waiter. While no yield is possible the loop runs ahead of the
  other tasks' events up to the next sample (they can only queue on its lock or raise
  ``vmap_lazy_nr``), which changes nothing they can observe; in deferred mode it does not, since
  a vfree there reads ``vmap_lazy_nr`` to queue the drain work. The policy decision itself is
  `_policy_wants` (the seam); a user policy is a C callback and is asked after every entry. A purge still running when the run
  ends is not in the purge table (the time series shows it as ``purge_active``).
* **Memory.** By component (the ``TS_MEM_*`` columns): base + data pages of busy areas + percpu
  backing of ``pcpu_alloc_test``'s outstanding objects (``pcpu_obj_bytes`` per object and CPU; the
  chunk vmap areas' own 8 pages per CPU stay in the data term) + ``struct vmap_area`` objects of
  busy and lazy areas and of purged ones until ``rcu_delay_ns`` after their purge (kfree_rcu;
  the purge records are the queue) + page-table pages: a PTE page for each 2 MiB and a PMD page for
  each 1 GiB region that ever had a page mapped (the kernel never frees them; lazy areas keep new
  allocations moving to fresh regions). Above ``ram_bytes`` the run stops: OOM (checked at each
  allocation).
* **Overcommitted guests** (``host_cpus`` H > 0, ``P_HOST_CPUS``; 0 takes none of these paths).
  The CPUs are vCPUs of a VM whose threads share H host cores: vCPU c runs on host core c % H,
  and each host core runs its n vCPUs round-robin, ``host_slice_ns`` (S) each, so vCPU c (index
  j = c // H on its core) runs in [k n S + j S, k n S + j S + S). While it is descheduled, guest
  time on it stops: an event of a task on it that falls in a descheduled window waits for its
  next run window (`_vcpu_next_run`), and the work the engine costs (a step, a critical section,
  the purge's phases and free-loop entries, the drain work, the IPI stall) completes when that
  many ns of the vCPU's running time have passed (`_vcpu_delay`), both O(1). A spinlock's
  release time, computed when it is taken, is the completion of its hold on the holder's vCPU:
  waiters spin while the holder is descheduled (lock-holder preemption, ``S_LHP_MAX``). With the
  queued lock (``P_SPINLOCK``: qspinlock) a queued waiter whose vCPU is off when its grant comes
  keeps everyone behind it waiting (FIFO hand-off to a preempted waiter); with the test-and-set
  lock (x86 ``virt_spin_lock``, docs/facts.md §6) whoever runs first once the lock word is free
  takes it: a waiter whose vCPU runs first (`_runner_first`), or a task that asks meanwhile
  (`_tas_request`). An x86 TLB flush (``on_each_cpu(..., wait=1)``) ends only when every other
  vCPU has run its IPI handler, each at its next run window. Spinning burns the spinner's host
  slice by construction. Simplified: no paravirtual spinlocks (pv_qspinlock's halt and kick), no
  pause-loop exiting (the host does not deschedule a spinning vCPU early), no steal-time
  accounting in the guest's scheduler (its slice check reads elapsed time), a fixed
  round-robin host schedule with no other host load and no host-side migration, wake-up and
  context-switch latencies only postponed (not stretched); ``host_slice_ns`` is an estimate
  (`vmlab.platforms.Platform.host_slice_ns`: a HZ=250 host's tick, CFS-like), which the fit of
  qemu-tcg on the smp8 recording lands on (4 ms, docs/calibration.md).
* **Randomness.** One xorshift64* stream per worker, seeded from all 63 bits of the config seed; ties in the event
  heap break by insertion order. Same inputs, same outputs.
* **Debug.** ``P_CHECK`` re-checks the address space after every operation (`_check_space`), and
  a run where every task waits with nothing scheduled reports ``ERR_STALL``.
"""
from __future__ import annotations

from ..jitcache import guard_package as _guard_package

# before any submodule loads a cached function: a change in any file of the package drops the
# whole package's numba cache (numba checks each function against its own file only)
_guard_package(__path__[0])

from .layout import *  # noqa: E402,F403 (index constants, the public vocabulary of the engine)
from .jit import _compile_kernels  # noqa: E402
from .host import _vcpu_delay, _vcpu_n, _vcpu_next_run, _vcpu_off  # noqa: E402
from .sched import (_heap_pop, _heap_push, _heap_remove, _lock_release, _lock_request,  # noqa: E402
                    _runner_first, _switch_to_next, _wake)
from .tree import (_check_space, _delete, _fix_delta, _free_below, _free_below_path,  # noqa: E402
                   _free_between, _insert, _lowest_fit, _max_hole_between, _path_to)
from .purge import _policy_wants  # noqa: E402
from .loop import _loop  # noqa: E402
from . import driver  # noqa: E402,F401 (tests patch driver._loop)
from .driver import _no_policy, run  # noqa: E402
