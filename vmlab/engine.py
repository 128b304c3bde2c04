"""The jitted discrete-event core: vmalloc allocation, lazy free and ``__purge_vmap_area_lazy``.

Everything jitted lives in this one module, so numba's on-disk cache (keyed on this file) can never
keep a stale helper. Input is flat: an int64 parameter vector (indices ``P_*`` below, enums as small
ints) and the per-worker test orders. Output is flat arrays that `vmlab.result` turns into
DataFrames. Times are int64 nanoseconds of simulated time, sizes are pages.

How it runs: `run`, plain Python, allocates every array with numpy and calls `_loop`, the jitted
event loop, which never allocates. When an array may fill up during the next event, `_loop` saves
its scalars in the ``K`` array and returns; `run` grows the array and calls it again (the run goes
on exactly as before). So `_loop` and the helpers are compiled without NRT reference counting (an
atomic increment and decrement around every array argument cost a third of the run time), and
each helper is compiled once, for one signature, on the first `run` (calls with constant
arguments would otherwise compile literal-typed copies). Per-task, per-CPU and per-lock state are
rows of the ``TK``, ``CP`` and ``LK`` arrays, and the event heap is one ``HP`` array, so helper
calls pass few arguments.

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
  waiters spin while the holder is descheduled (lock-holder preemption, ``S_LHP_MAX``), and a
  queued waiter whose vCPU is off when its grant comes keeps everyone behind it waiting (FIFO
  ticket/MCS hand-off to a preempted waiter). Spinning burns the spinner's host slice by
  construction. Simplified: no paravirtual spinlocks (pv_qspinlock's halt and kick), no
  pause-loop exiting (the host does not deschedule a spinning vCPU early), no steal-time
  accounting in the guest's scheduler (its slice check reads elapsed time), a fixed
  round-robin host schedule with no other host load and no host-side migration, wake-up and
  context-switch latencies only postponed (not stretched); ``host_slice_ns`` is an estimate
  (`vmlab.platforms.Platform.host_slice_ns`: a HZ=250 host's tick, CFS-like), not a measurement.
* **Randomness.** One xorshift64* stream per worker, seeded from all 63 bits of the config seed; ties in the event
  heap break by insertion order. Same inputs, same outputs.
* **Debug.** ``P_CHECK`` re-checks the address space after every operation (`_check_space`), and
  a run where every task waits with nothing scheduled reports ``ERR_STALL``.
"""
from __future__ import annotations

import threading

import numpy as np
from numba import njit
from numba import types as nbt
from numba.cpython.unsafe.numbers import leading_zeros

# ============================================================================ compilation
# Each helper is compiled for one signature, and then no more: a call with a constant argument
# converts it instead of compiling a literal-typed copy (that doubled the cold compile). This
# happens on the first `run`, in definition order (callees first), not at import. Helpers are
# compiled without NRT: nothing in the hot path allocates, and NRT would add an atomic reference
# count increment and decrement around every array passed or aliased.
I = nbt.int64
U1 = nbt.uint64[::1]
A1 = nbt.int64[::1]
A2 = nbt.int64[:, ::1]
A3 = nbt.int64[:, :, ::1]
_KERNELS: list = []        # (dispatcher, argument types), in definition order
_KERNELS_LOCK = threading.Lock()


def _kernel(*argtypes):
    """Decorator: a cached, NRT-free jitted helper with one signature (see above)."""
    def wrap(fn):
        disp = njit(cache=True, error_model="numpy", _nrt=False)(fn)
        _KERNELS.append((disp, argtypes))
        return disp
    return wrap


def _compile_kernels() -> None:
    """Compile (or load from numba's cache) every helper for its signature, once per process."""
    with _KERNELS_LOCK:
        while _KERNELS:
            disp, argtypes = _KERNELS[0]
            disp.compile(argtypes)
            disp.disable_compile()
            _KERNELS.pop(0)


# ----------------------------------------------------------------------------- parameter vector
P_NCPUS = 0
P_NWORK = 1
P_POLICY = 2
P_RESCHED_THRESH = 3
P_PURGE_MODE = 4
P_ALLOCATOR = 5
P_FLUSH = 6
P_PREEMPT = 7
P_LOCK_SPLIT = 8
P_LAZY_MAX = 9
P_DURATION = 10
P_SEED = 11
P_SAMPLE_NS = 12
P_VA_START = 13
P_VA_PAGES = 14
P_RAM = 15
P_BASE_MEM = 16
P_PAGE_SIZE = 17
P_VA_OBJ = 18
P_LOOPS = 19
P_REPEATS = 20
P_NR_PAGES = 21
P_JUNK = 22
P_THREAD_ALIGN = 23
P_CHECK = 24
P_HOLD_CAP = 25
P_PURGE_LOCK = 26     # PURGE_LOCK_*: vmap_purge_lock a mutex (4.10+) or a spinlock (4.9)
P_LAZY_DROP = 27      # LAZY_DROP_*: vmap_lazy_nr drops per purge-list entry (4.10+) or by batch (4.9)
P_LOCK_BREAK = 28     # 1: cond_resched_lock drops a contended lock (CONFIG_PREEMPTION's spin_needbreak)
P_TLB_IPI = 29        # 1: flush_tlb_kernel_range interrupts every CPU and waits (x86); 0: broadcast (arm64)
# costs (ns)
P_KMALLOC = 30
P_ALLOC_BASE = 31
P_LIST_WALK = 32
P_TREE_LEVEL = 33
P_LOOKUP = 34
P_MAP_PAGE = 35
P_UNMAP_PAGE = 36
P_LAZY_ADD = 37
P_HANDOFF = 38
P_STEAL = 39
P_FLUSH_WALK = 40
P_TLB_BASE = 41
P_TLB_CPU = 42
P_FREE_AREA = 43
P_CTXSW = 44
P_WAKEUP = 45
P_SLICE = 46
P_TOUCH = 47
P_PCPU_OP = 48
P_RCU_DELAY = 49
P_TLB_PAGE = 50
P_TLB_CEIL = 51
P_PCPU_OBJ = 52     # bytes of percpu backing per __alloc_percpu object and CPU (pcpu_alloc_test)
P_LOW_THRESH = 53   # hysteresis: yield again below this many lazy pages (the high mark is P_RESCHED_THRESH)
P_BATCH_N = 54      # batch: purge-list entries between two cond_resched_lock calls
P_HOLD_BUDGET = 55  # hold-budget: ns the free loop may hold the lock before cond_resched_lock
P_HOST_CPUS = 56    # overcommitted guest: host cores the vCPUs share (0: each vCPU has its own core)
P_HOST_SLICE = 57   # ... and the host's time slice per vCPU thread (ns)
N_PARAMS = 58

POLICY_NO_RESCHED = 0
POLICY_ALWAYS = 1
POLICY_THRESHOLD = 2
POLICY_HYSTERESIS = 3
POLICY_BATCH = 4
POLICY_HOLD_BUDGET = 5
POLICY_ADAPTIVE = 6
POLICY_CUSTOM = 7       # a user function (vmlab.purge_policy), passed to _loop as a C callback
#: The callback's signature: (lazy_nr pages, lazy_max pages, entries done, entries left,
#: tasks spinning on the lock, ns the lock has been held, online CPUs) -> call cond_resched_lock now.
POLICY_SIG = nbt.boolean(I, I, I, I, I, I, I)
POLICY_FN = nbt.FunctionType(POLICY_SIG)
MODE_SYNC = 0
MODE_DEFERRED = 1
ALLOC_LIST = 0
ALLOC_TREE = 1
FLUSH_WALK = 0
FLUSH_AT_INSERT = 1
PREEMPT_VOLUNTARY = 0
PREEMPT_FULL = 1
PURGE_LOCK_MUTEX = 0
PURGE_LOCK_SPIN = 1
LAZY_DROP_ENTRY = 0
LAZY_DROP_BATCH = 1

TRIGGER_FREE = 0
TRIGGER_ALLOC_FAIL = 1
TRIGGER_DRAIN = 2

# ----------------------------------------------------------------------------- output layouts
# time series columns
TS_LAZY = 0
TS_LAZY_AREAS = 1
TS_BUSY_AREAS = 2
TS_LIVE_PAGES = 3
TS_HIGHWATER = 4
TS_MEM = 5
TS_PURGE_ACTIVE = 6
TS_LOCK_WAITERS = 7
# memory by component (bytes; they add up to TS_MEM)
TS_MEM_BASE = 8         # the platform's memory in use before the test
TS_MEM_DATA = 9         # data pages of the areas the test program holds (busy areas)
TS_MEM_PCPU = 10        # percpu backing of pcpu_alloc_test's outstanding objects
TS_MEM_VA_OBJ = 11      # struct vmap_area objects: busy, lazy, and purged ones waiting for RCU
TS_MEM_PT = 12          # kernel page-table pages of the VA ever mapped
TS_STEAL = 13           # steal time summed over vCPUs up to the sample (ns; 0 without host_cpus)
N_TS = 14
# purge record columns
PR_START = 0
PR_END = 1
PR_WALK = 2
PR_FLUSH = 3
PR_FREE = 4
PR_AREAS = 5
PR_PAGES = 6
PR_YIELDS = 7
PR_MAX_HOLD = 8
PR_CPU = 9
PR_TRIGGER = 10
PR_LAZY_START = 11
PR_ENTRIES = 12
PR_WORK = 13    # the purge's own CPU time: steal, walk, flush, free loop (no lock waits, no time off-CPU)
N_PR = 14
# histogram kinds
H_ALLOC = 0
H_FREE = 1
H_LOCK_WAIT = 2
H_LOCK_HOLD = 3
H_PURGE = 4
N_HIST = 5
HIST_PER_OCTAVE = 8
N_BUCKETS = HIST_PER_OCTAVE * 50 + 2
# per worker x test stats
TT_LOOPS = 0
TT_TIME = 1
TT_FAILED = 2
TT_PASSED = 3
TT_REPS = 4
N_TT = 5
# scalar outputs
S_OPS = 0
S_ALLOCS = 1
S_FREES = 2
S_ALLOC_FAIL = 3
S_OOM = 4
S_OOM_T = 5
S_SIM_NS = 6
S_EVENTS = 7
S_PEAK_LAZY = 8
S_NPURGE = 9
S_NSAMPLES = 10
S_ERROR = 11
S_PEAK_MEM = 12
S_LOCK_ACQ = 13
S_WORKERS_DONE = 14
S_IPI_STALL = 15    # ns the TLB-flush IPIs took from the other CPUs' running tasks (x86)
S_LIST_WALK = 16    # list era: busy + lazy areas the allocation walks stepped over
S_LIST_DESCENT = 17 # list era: searches without a usable free_vmap_cache (descent, walk from vstart)
S_LHP_MAX = 18      # overcommitted guest: longest stretch of a spinlock hold by its vCPU's descheduling (ns)
N_S = 19

ERR_NONE = 0
ERR_OVERLAP = 1
ERR_PARTITION = 2
ERR_LAZY = 3
ERR_AUGMENT = 4
ERR_COUNTS = 5
ERR_MERGE = 6
ERR_STALL = 8

# ----------------------------------------------------------------------------- tree and area layout
NIL = -1
F_KEY = 0       # first page of a free segment (absolute page number)
F_SIZE = 1      # pages
F_PRIO = 2      # treap priority
F_LEFT = 3
F_RIGHT = 4     # must be F_LEFT + 1
F_MAXFREE = 5   # largest free segment in the subtree (pages)
F_SUM = 6       # free pages in the subtree
F_MAXAL = 7     # largest (end - start rounded up to AL) in the subtree: room for an AL-aligned start
N_F = 8         # one 64-byte row per node
T_HEADER = 0    # row 0 of the tree is no node: T[T_HEADER, F_KEY] holds AL (pages, a power of two),
                # T[T_HEADER, F_SUM] is 1 when F_SUM is kept (the list era's walk count needs it)
PATH_OK = 256   # _lowest_fit keeps a flag per depth d at path[PATH_OK + d]
A_START = 0     # area table: first page
A_SIZE = 1      # pages, guard included
A_GUARD = 2     # 1 if a guard page is included (0 for vmap blocks)
A_STATE = 3     # ST_*
N_A = 4
ST_FREE = 0     # an unused area-table slot
ST_BUSY = 1
ST_LAZY = 2

# task program counters
W_OP = 0            # next vmalloc/vfree call (a preemption point)
W_ALLOC_LOCK = 1    # request / grant of the search lock, then the search
W_INSERT_LOCK = 2   # lock_split: vmap_area_lock for the busy-tree insert
W_FREE_LOCK = 3     # vfree: find_vmap_area under vmap_area_lock, then the lazy add
W_ALLOC_FAILED = 4  # search failed: purge_vmap_area_lazy() once, then retry
W_DONE = 5
W_EXIT = 6          # the worker's last call has ended: exit at this time
K_START = 10        # drain_vmap_area_work: mutex_lock, purge
K_AFTER = 11        # loop while vmap_lazy_nr > lazy_max_pages
K_IDLE = 12
PU_START = 20       # purge phases, run by the task holding vmap_purge_lock
PU_FLUSH = 21
PU_RELOCK = 22      # (re)take the lock for the free loop
PU_LOOP = 23
PU_DONE = 24        # the free loop ended (ahead of time): record it, release the mutex

# worker ops
OP_NONE = 0
OP_ALLOC = 1
OP_FREE = 2
OP_CPU = 3
OP_EXIT = 4

# run-wide scalars shared with the address-space helpers (the G array)
G_ROOT = 0
G_NPOOL = 1
G_TN = 2          # tree rows used so far (the header included: free segments = G_TN - 1 - G_NPOOL)
G_NAPOOL = 3
G_AN = 4
G_LAZY_NR = 5
G_LAZY_AREAS = 6
G_AREA_PAGES = 7
G_BUSY_N = 8
G_LIVE_PAGES = 9
G_HIGHWATER = 10
G_PEAK_LAZY = 11
G_PEAK_MEM = 12
G_CACHE_VALID = 13
G_CACHE_END = 14
G_CACHED_HOLE = 15
G_CACHED_ALIGN = 16
G_PT_PAGES = 17
G_PCPU_OBJS = 18  # pcpu_alloc_test objects outstanding, all workers
G_RCU_OBJS = 19   # vmap_area objects of purged areas not yet freed by kfree_rcu
G_RC_H = 20       # ring of (due time, objects) of those, head and length
G_RC_N = 21
N_G = 22

# worker state columns (the W array)
WS_POS = 0
WS_REP = 1
WS_PHASE = 2
WS_I = 3
WS_SUB = 4
WS_FAIL = 5
WS_T0 = 6
WS_P1 = 7
WS_P2 = 8
WS_ARR1 = 9
WS_ARR2 = 10
WS_BLK = 11
WS_BLK_USED = 12
WS_RING_H = 13
WS_RING_N = 14
WS_HN = 15
WS_SPARE = 16      # unused (the op kind is _next_call's return value)
WS_OP_SIZE = 17
WS_OP_GUARD = 18
WS_OP_ALIGN = 19
WS_OP_DST = 20
WS_OP_KEY = 21
WS_PCPU = 22      # pcpu_alloc_test objects this worker holds
WS_PCPU_SEEN = 23 # ... as last added to G_PCPU_OBJS
N_WS = 24

# _next_call's phases of a test repetition (W[w, WS_PHASE]); the order matters: a failed
# allocation before PH_LOOP (in the set-up) jumps to PH_TEARDOWN
PH_START = 0       # a repetition starts (pointer array of full_fit, long_busy, pcpu)
PH_ARRAYS = 1      # full_fit: the junk pointer array
PH_SETUP = 2       # set-up holds: long_busy's one-page areas, full_fit's ptr[i] / junk_ptr[i]
PH_HOLES = 3       # full_fit: vfree(junk_ptr[i]) makes the holes
PH_LOOP = 4        # the measured loop
PH_TEARDOWN = 8    # pending kvfree, pcpu frees, held areas, arrays

# per-task rows of TK
TK_CPU = 0      # the CPU the task is pinned to
TK_PC = 1       # program counter (W_*, K_*, PU_*)
TK_REQ = 2      # time of its pending lock request (ns)
TK_WAIT = 3     # 1 while it spins in a lock's queue
TK_OP0 = 4      # start of its current vmalloc/vfree call (ns)
TK_RETRY = 5    # 1 after the purge-and-retry of a failed search
TK_RET = 6      # where a purge returns to
TK_TRIG = 7     # TRIGGER_* of the purge it runs
TK_FRESH = 8    # 1 while a call's preemption point is still ahead
N_TK = 9
# per-CPU rows of CP
CP_CUR = 0      # running task, -1 idle
CP_SLICE0 = 1   # start of the running task's slice (ns)
CP_WAKEP = 2    # 1 when a woken task asks for the CPU
CP_RQ_H = 3     # run-queue ring head
CP_RQ_N = 4     # run-queue length
CP_STALL = 5    # ns of TLB-flush IPI handling its running task still owes (added to its next step)
N_CP = 6
# per-lock rows of LK
LK_HOLDER = 0   # task, -1 free (from LK_REL on), -2 reserved for the queue head's grant event
LK_REL = 1      # release time (ns)
LK_GRANT = 2    # when the holder got it (ns)
LK_QH = 3       # waiter ring head
LK_QN = 4       # waiters
N_LK = 5

# test bit indices (workloads.TEST_CASES order)
T_FIX_SIZE = 0
T_FULL_FIT = 1
T_LONG_BUSY = 2
T_RANDOM_SIZE = 3
T_FIX_ALIGN = 4
T_RANDOM_ALIGN = 5
T_ALIGN_SHIFT = 6
T_PCPU = 7
T_KVFREE1 = 8
T_KVFREE2 = 9
T_VM_MAP_RAM = 10
T_KVFREE1_SLAB = 11
T_KVFREE2_SLAB = 12
SLAB_LOOPS_PER_STEP = 1000

LONG_BUSY_HELD = 15000
PCPU_ALLOCS = 35000
PCPU_PER_CHUNK = 1000
VMAP_BLOCK = 1024

# where an alloc's result goes
DST_P1 = 0
DST_P2 = 1
DST_ARR1 = 2
DST_ARR2 = 3
DST_HOLD = 4
DST_BLOCK = 5
DST_RING = 6


# ============================================================================ small helpers
@njit(cache=True, error_model="numpy", _nrt=False, inline="always")
def _rng_next(st, i):
    x = st[i]
    x ^= x >> np.uint64(12)
    x ^= x << np.uint64(25)
    x ^= x >> np.uint64(27)
    st[i] = x
    return x * np.uint64(2685821657736338717)


@njit(cache=True, error_model="numpy", _nrt=False, inline="always")
def _rand_below(st, i, n):
    """Uniform integer in [0, n)."""
    return np.int64((_rng_next(st, i) >> np.uint64(11)) % np.uint64(n))


@njit(cache=True, error_model="numpy", _nrt=False, inline="always")
def _wrap(i, cap):
    """i mod cap for 0 <= i < 2 cap: a ring index without an integer division."""
    return i - cap if i >= cap else i


@njit(cache=True, error_model="numpy", _nrt=False, inline="always")
def _align_up(x, a):
    """Round x up to a multiple of a, a power of two (alloc_vmap_area BUG_ONs otherwise)."""
    return (x + a - 1) & -a


@njit(cache=True, error_model="numpy", _nrt=False, inline="always")
def _ilog2(n):
    """Levels of a balanced tree of n nodes: 1 + floor(log2 n) (1 for n <= 1); one ctlz."""
    if n <= 1:
        return 1
    return 64 - np.int64(leading_zeros(np.uint64(n)))


# ----------------------------------------------------------------------------- host schedule of vCPUs
# host_cpus = H > 0: vCPU c runs on host core c % H, which runs its n vCPUs round-robin for S ns
# each: vCPU c (index j = c // H on its core) runs in [k n S + j S, k n S + j S + S), k = 0, 1, ...
@njit(cache=True, error_model="numpy", _nrt=False, inline="always")
def _vcpu_n(c, ncpus, H):
    """vCPUs on vCPU c's host core."""
    return ncpus // H + (1 if c % H < ncpus % H else 0)


@njit(cache=True, error_model="numpy", _nrt=False, inline="always")
def _vcpu_off(c, t, ncpus, H, S):
    """ns vCPU c was descheduled in [0, t) (its steal time)."""
    n = _vcpu_n(c, ncpus, H)
    if n <= 1 or t <= 0:
        return 0
    per = n * S
    k = t // per
    r = t - k * per
    on_r = min(max(r - (c // H) * S, 0), S)
    return k * (per - S) + r - on_r


@njit(cache=True, error_model="numpy", _nrt=False, inline="always")
def _vcpu_next_run(c, t, ncpus, H, S):
    """The first time >= t at which vCPU c runs."""
    n = _vcpu_n(c, ncpus, H)
    if n <= 1:
        return t
    per = n * S
    k = t // per
    lo = (c // H) * S
    r = t - k * per
    if r < lo:
        return k * per + lo
    if r < lo + S:
        return t
    return (k + 1) * per + lo


@njit(cache=True, error_model="numpy", _nrt=False, inline="always")
def _vcpu_delay(c, t0, work, ncpus, H, S):
    """When `work` ns of guest work on vCPU c started at t0 completes (descheduled time stops it)."""
    n = _vcpu_n(c, ncpus, H)
    if n <= 1 or work <= 0:
        return t0 + work
    tot = t0 - _vcpu_off(c, t0, ncpus, H, S) + work      # the vCPU's running time at completion
    k = (tot - 1) // S
    return k * n * S + (c // H) * S + tot - k * S


@njit(cache=True, error_model="numpy", _nrt=False, inline="always")
def _vd(H, c, t0, work, ncpus, S):
    """t0 + work without host overcommit (H == 0); `_vcpu_delay` with it."""
    if H == 0:
        return t0 + work
    return _vcpu_delay(c, t0, work, ncpus, H, S)


@njit(cache=True, error_model="numpy", _nrt=False, inline="always")
def _held_until(S, c, t, hold, ncpus, H, HS):
    """When a lock taken at t (ns) for `hold` ns of work on vCPU c is released: later by the time
    the vCPU is descheduled meanwhile (lock-holder preemption, recorded in S_LHP_MAX)."""
    if H == 0:
        return t + hold
    rel = _vcpu_delay(c, t, hold, ncpus, H, HS)
    if rel - t - hold > S[S_LHP_MAX]:
        S[S_LHP_MAX] = rel - t - hold
    return rel


@njit(cache=True, error_model="numpy", _nrt=False, inline="always")
def _note_lhp(S, c, t0, t1, ncpus, H, HS):
    """Record in S_LHP_MAX the time vCPU c was descheduled while holding a lock from t0 to t1 (ns)."""
    if H != 0:
        lhp = _vcpu_off(c, t1, ncpus, H, HS) - _vcpu_off(c, t0, ncpus, H, HS)
        if lhp > S[S_LHP_MAX]:
            S[S_LHP_MAX] = lhp


@_kernel(A2, A1, I, I)
def _hist_add(hist, hmax, kind, v):
    """Log histogram: bucket 1 + 8*floor(log2 v) + the next 3 bits of v (v >= 1 ns)."""
    if v < 1:
        b = 0
    else:
        lg = _ilog2(v) - 1                       # floor(log2 v)
        if lg >= 3:
            b = 1 + HIST_PER_OCTAVE * lg + (v >> (lg - 3)) - 8
        else:
            b = 1 + HIST_PER_OCTAVE * lg + ((v - (1 << lg)) << (3 - lg))
        if b >= N_BUCKETS:
            b = N_BUCKETS - 1
    hist[kind, b] += 1
    if v > hmax[kind]:
        hmax[kind] = v


# ============================================================================ event heap
@_kernel(A2, I, I, I, I)
def _heap_push(HP, n, t, seq, task):
    """Event heap HP: one row (time ns, sequence number, task) per event, ordered by (time,
    sequence) so that ties break by insertion order. Returns the new size."""
    i = n
    while i > 0:
        p = (i - 1) >> 1
        if HP[p, 0] < t or (HP[p, 0] == t and HP[p, 1] < seq):
            break
        HP[i, 0] = HP[p, 0]
        HP[i, 1] = HP[p, 1]
        HP[i, 2] = HP[p, 2]
        i = p
    HP[i, 0] = t
    HP[i, 1] = seq
    HP[i, 2] = task
    return n + 1


@_kernel(A2, I)
def _heap_pop(HP, n):
    """Remove the root; the caller has read it. Returns the new size."""
    n -= 1
    t = HP[n, 0]
    sq = HP[n, 1]
    tk = HP[n, 2]
    i = 0
    while True:
        l = 2 * i + 1
        if l >= n:
            break
        c = l
        r = l + 1
        if r < n and (HP[r, 0] < HP[l, 0] or (HP[r, 0] == HP[l, 0] and HP[r, 1] < HP[l, 1])):
            c = r
        if t < HP[c, 0] or (t == HP[c, 0] and sq < HP[c, 1]):
            break
        HP[i, 0] = HP[c, 0]
        HP[i, 1] = HP[c, 1]
        HP[i, 2] = HP[c, 2]
        i = c
    HP[i, 0] = t
    HP[i, 1] = sq
    HP[i, 2] = tk
    return n


# ============================================================================ free-block tree
# A treap of the *free* segments of the VMALLOC range (what the kernel keeps in
# free_vmap_area_root since 5.2), keyed by first page, augmented with the largest free segment
# (MAXFREE, for lowest fit in O(log n)) and the free pages (SUM) of each subtree. Busy and lazy
# areas live in a flat area table instead, so a vfree touches no tree at all.
@njit(cache=True, error_model="numpy", _nrt=False, inline="always")
def _upd_max(T, x):
    """Recompute node x's MAXFREE and MAXAL (not SUM) from its children; True if one changed."""
    l = T[x, F_LEFT]
    r = T[x, F_RIGHT]
    m = T[x, F_SIZE]
    al = T[T_HEADER, F_KEY]
    k = T[x, F_KEY]
    ma = k + m - ((k + al - 1) & -al)
    if l != NIL:
        if T[l, F_MAXFREE] > m:
            m = T[l, F_MAXFREE]
        if T[l, F_MAXAL] > ma:
            ma = T[l, F_MAXAL]
    if r != NIL:
        if T[r, F_MAXFREE] > m:
            m = T[r, F_MAXFREE]
        if T[r, F_MAXAL] > ma:
            ma = T[r, F_MAXAL]
    changed = m != T[x, F_MAXFREE] or ma != T[x, F_MAXAL]
    T[x, F_MAXFREE] = m
    T[x, F_MAXAL] = ma
    return changed


@njit(cache=True, error_model="numpy", _nrt=False, inline="always")
def _upd(T, x):
    """Recompute node x's augments from its children; True if one of them changed."""
    changed = _upd_max(T, x)
    if T[T_HEADER, F_SUM]:
        l = T[x, F_LEFT]
        r = T[x, F_RIGHT]
        sm = T[x, F_SIZE]
        if l != NIL:
            sm += T[l, F_SUM]
        if r != NIL:
            sm += T[r, F_SUM]
        changed = changed or sm != T[x, F_SUM]
        T[x, F_SUM] = sm
    return changed


@_kernel(A2, A1, I)
def _fix(T, path, d):
    """Recompute augments along path[0..d) (root first), bottom up, after a change at or below
    path[d - 1] that kept the tree's shape above it: where a node's augments come out the same,
    its ancestors' do too, so the walk stops (in the tree era, where F_SUM is not kept, most
    updates stop within a few levels)."""
    for i in range(d - 1, -1, -1):
        if not _upd(T, path[i]):
            break


@_kernel(A2, A1, I)
def _fix_all(T, path, d):
    """Recompute augments along path[0..d) bottom up, every node (after rotations)."""
    for i in range(d - 1, -1, -1):
        _upd(T, path[i])


@_kernel(A2, A1, I, I)
def _fix_delta(T, path, d, delta):
    """Augments along path[0..d) (root first) after node path[d - 1] itself changed (its key or
    size; the tree's shape is the same) and its subtree's free pages changed by `delta`: SUM
    takes the delta on every node of the path, without reading the siblings (the list era keeps
    it), and the maxima are recomputed bottom up until they come out the same."""
    for i in range(d - 1, -1, -1):
        if not _upd_max(T, path[i]):
            break
    if T[T_HEADER, F_SUM]:
        for i in range(d):
            T[path[i], F_SUM] += delta


@_kernel(A2, I, I, A1)
def _path_to(T, root, key, path):
    """Fill path[0..d) with the root-to-node path of the node with `key`; returns d."""
    d = 0
    cur = root
    while cur != NIL:
        path[d] = cur
        d += 1
        k = T[cur, F_KEY]
        if key == k:
            break
        cur = T[cur, F_LEFT + (key > k)]      # branch-free descent (F_RIGHT = F_LEFT + 1)
    return d


@_kernel(A2, I, I, A1, I)
def _insert_at(T, root, x, path, d):
    """Insert node x (key, size, prio set) as a leaf below path[d - 1], then rotate it up by
    priority; path[0..d) must be the search path of x's key from the root (d = 0: empty tree).
    Returns the new root."""
    key = T[x, F_KEY]
    T[x, F_LEFT] = NIL
    T[x, F_RIGHT] = NIL
    _upd(T, x)
    if d == 0:
        return x
    p = path[d - 1]
    T[p, F_LEFT + (key >= T[p, F_KEY])] = x
    while d > 0 and T[x, F_PRIO] > T[path[d - 1], F_PRIO]:
        p = path[d - 1]
        if T[p, F_LEFT] == x:
            T[p, F_LEFT] = T[x, F_RIGHT]
            T[x, F_RIGHT] = p
        else:
            T[p, F_RIGHT] = T[x, F_LEFT]
            T[x, F_LEFT] = p
        _upd(T, p)
        _upd(T, x)
        d -= 1
        if d == 0:
            root = x
        else:
            g = path[d - 1]
            if T[g, F_LEFT] == p:
                T[g, F_LEFT] = x
            else:
                T[g, F_RIGHT] = x
    _fix_delta(T, path, d, T[x, F_SIZE])
    return root


@_kernel(A2, I, I, A1)
def _insert(T, root, x, path):
    """Insert node x (key, size, prio set); returns the new root."""
    key = T[x, F_KEY]
    d = 0
    cur = root
    while cur != NIL:
        path[d] = cur
        d += 1
        cur = T[cur, F_LEFT + (key >= T[cur, F_KEY])]
    return _insert_at(T, root, x, path, d)


@_kernel(A2, I, I, A1)
def _delete(T, root, x, path):
    """Remove node x from the tree; returns the new root. x is not recycled here."""
    d = _path_to(T, root, T[x, F_KEY], path) - 1      # x's ancestors: path[0..d)
    while True:
        l = T[x, F_LEFT]
        r = T[x, F_RIGHT]
        if l == NIL and r == NIL:
            break
        if r == NIL or (l != NIL and T[l, F_PRIO] > T[r, F_PRIO]):
            T[x, F_LEFT] = T[l, F_RIGHT]
            T[l, F_RIGHT] = x
            c = l
        else:
            T[x, F_RIGHT] = T[r, F_LEFT]
            T[r, F_LEFT] = x
            c = r
        if d == 0:
            root = c
        else:
            p = path[d - 1]
            if T[p, F_LEFT] == x:
                T[p, F_LEFT] = c
            else:
                T[p, F_RIGHT] = c
        path[d] = c
        d += 1
    if d == 0:
        root = NIL
    else:
        p = path[d - 1]
        if T[p, F_LEFT] == x:
            T[p, F_LEFT] = NIL
        else:
            T[p, F_RIGHT] = NIL
    _fix_all(T, path, d)
    return root


@_kernel(A2, I, I)
def _free_below(T, root, a):
    """Free pages below page a (a segment straddling a counts in part)."""
    c = 0
    cur = root
    while cur != NIL:
        k = T[cur, F_KEY]
        if k < a:
            l = T[cur, F_LEFT]
            if l != NIL:
                c += T[l, F_SUM]
            sz = T[cur, F_SIZE]
            c += sz if k + sz <= a else a - k
            cur = T[cur, F_RIGHT]
        else:
            cur = T[cur, F_LEFT]
    return c


@_kernel(A2, A1, I, I)
def _free_below_path(T, path, d, a):
    """Free pages below page a, where a lies in node path[d - 1] and path[0..d) is its
    root-to-node path: _free_below without a descent (the path's nodes are in cache)."""
    x = path[d - 1]
    l = T[x, F_LEFT]
    c = a - T[x, F_KEY]
    if l != NIL:
        c += T[l, F_SUM]
    for i in range(d - 1):
        p = path[i]
        if T[p, F_RIGHT] == path[i + 1]:
            l = T[p, F_LEFT]
            c += T[p, F_SIZE]
            if l != NIL:
                c += T[l, F_SUM]
    return c


@njit(cache=True, error_model="numpy", _nrt=False, inline="always")
def _fits(T, x, size, align, lo, out):
    k = T[x, F_KEY]
    end = k + T[x, F_SIZE]
    if end > lo:
        s = k if k > lo else lo
        a = _align_up(s, align)
        if a + size <= end:
            out[0] = a
            return True
    return False


@_kernel(A2, I, I, I)
def _free_between(T, root, lo, hi):
    """Free pages in [lo, hi), lo < hi: _free_below(hi) - _free_below(lo) in one descent until
    the two paths part."""
    d = 0
    cur = root
    while cur != NIL:
        k = T[cur, F_KEY]
        sz = T[cur, F_SIZE]
        if k < lo:                 # both go right: only the clipped node differs
            d += (sz if k + sz <= hi else hi - k) - (sz if k + sz <= lo else lo - k)
            cur = T[cur, F_RIGHT]
        elif k >= hi:              # both go left
            cur = T[cur, F_LEFT]
        else:                      # lo <= k < hi: the paths part here
            l = T[cur, F_LEFT]
            if l != NIL:
                d += T[l, F_SUM] - _free_below(T, l, lo)
            d += sz if k + sz <= hi else hi - k
            return d + _free_below(T, T[cur, F_RIGHT], hi)
    return d


@_kernel(A2, I, I, I, I, I, A1, A1)
def _lowest_fit(T, root, size, align, lo, length, path, out):
    """Lowest free segment holding `size` pages aligned to `align` at or above page `lo`.

    The kernel's find_vmap_lowest_match: descend left while the left subtree's largest free
    segment is >= `length` (and it can lie above lo), else check the node, else go right, else
    climb back. Returns the node (or NIL); path[0..out[2]) is the root-to-node path, out[0] the
    aligned start.

    A subtree that lies wholly at or above lo and whose F_MAXAL is below `size` has no fit when
    `align` >= AL (an aligned start is at or past the AL-aligned one), so it is skipped: the
    result is the walk's, without visiting the misaligned segments one by one
    (fix_align_alloc_test leaves thousands).
    """
    out[2] = 0
    if root == NIL or T[root, F_MAXFREE] < length:
        return NIL
    prune = align >= T[T_HEADER, F_KEY]
    d = 0
    cur = root
    cur_ok = 0             # 1: the subtree at cur lies wholly at or above lo
    while True:
        while True:
            path[d] = cur
            path[PATH_OK + d] = cur_ok
            d += 1
            l = T[cur, F_LEFT]
            if T[cur, F_KEY] > lo and l != NIL and T[l, F_MAXFREE] >= length:
                if cur_ok and prune and T[l, F_MAXAL] < size:
                    break
                cur = l
            else:
                break
        while True:
            if _fits(T, cur, size, align, lo, out):
                out[2] = d
                return cur
            r = T[cur, F_RIGHT]
            if r != NIL and T[r, F_MAXFREE] >= length:
                r_ok = 1 if T[cur, F_KEY] >= lo else 0
                if not (r_ok and prune and T[r, F_MAXAL] < size):
                    cur = r
                    cur_ok = r_ok
                    break
            found = False
            while d > 1:
                child = path[d - 1]
                d -= 1
                parent = path[d - 1]
                if T[parent, F_LEFT] == child:
                    cur = parent
                    cur_ok = path[PATH_OK + d - 1]
                    found = True
                    break
            if not found:
                return NIL


HOLE_VISITS = 512   # _max_hole_between: nodes examined before it settles for an upper bound


@_kernel(A2, I, I, I, I, A1)
def _max_hole_between(T, root, lo, hi, align, stack):
    """The largest hole the list era's walk steps over between page lo and the fit at page hi.

    alloc_vmap_area (v5.0.1/mm/vmalloc.c:486-498) walks the busy list from its start point, and
    for every busy area it has to step over (the request did not fit in the hole before it) it
    raises cached_hole_size to that hole, measured from the aligned start it tried. Those holes
    are the free segments between lo and hi: this is the largest ``end - ALIGN(max(start, lo),
    align)`` among them (0 if none), found by branch and bound on the subtree maxima (F_MAXAL
    bounds an aligned hole when align >= AL, F_MAXFREE otherwise). The segment holding hi (the
    fit) is not stepped over. After HOLE_VISITS nodes (or when `stack` is full) the subtrees not
    yet examined count with their bound, an overestimate (never reached in the test cases
    measured, where equal holes prune each other).
    """
    if root == NIL or lo >= hi:
        return 0
    use_al = align >= T[T_HEADER, F_KEY]
    best = 0
    sp = 1
    stack[0] = root
    cap = stack.shape[0] - 2
    visits = 0
    while sp > 0:
        sp -= 1
        x = stack[sp]
        bound = T[x, F_MAXAL] if use_al else T[x, F_MAXFREE]
        if bound <= best:
            continue
        visits += 1
        if visits > HOLE_VISITS or sp >= cap:
            best = bound
            continue
        k = T[x, F_KEY]
        e = k + T[x, F_SIZE]
        l = T[x, F_LEFT]
        r = T[x, F_RIGHT]
        if k >= hi:
            if l != NIL:                 # x and its right subtree lie at or above the fit
                stack[sp] = l
                sp += 1
            continue
        if e > lo:
            h = e - _align_up(k if k > lo else lo, align)
            if h > best:
                best = h
        if r != NIL:
            stack[sp] = r
            sp += 1
        if k > lo and l != NIL:          # (a left subtree of a node below lo lies below lo)
            stack[sp] = l
            sp += 1
    return best


@_kernel(A2, I, I, A1)
def _neighbours(T, root, s, path):
    """(pred, succ, dp, ds): the free segments just below and just above page s (NIL if none).
    Both lie on the descent, which path[] records: path[0..dp) is the root-to-pred path,
    path[0..ds) the root-to-succ one."""
    pred = NIL
    succ = NIL
    dp = 0
    ds = 0
    d = 0
    cur = root
    while cur != NIL:
        path[d] = cur
        d += 1
        if T[cur, F_KEY] < s:
            pred = cur
            dp = d
            cur = T[cur, F_RIGHT]
        else:
            succ = cur
            ds = d
            cur = T[cur, F_LEFT]
    return pred, succ, dp, ds


# ============================================================================ sorting
@_kernel(A1, I, A2, A2)
def _radix_sort_by_start(ids, n, A, RS):
    """Sort area ids ids[0..n) by first page, in place: LSD radix sort, 11 bits per pass.

    RS: int64[4, >= max(n, 2048)] scratch (keys, keys', ids', digit counts). O(n) per pass and
    ~2 passes for a purge batch, where a comparison sort through A would miss the cache n log n
    times.
    """
    if n < 2:
        return
    keys = RS[0]
    kt = RS[1]
    it = RS[2]
    cnt = RS[3]
    lo = A[ids[0], A_START]
    hi = lo
    for q in range(n):
        k = A[ids[q], A_START]
        keys[q] = k
        if k < lo:
            lo = k
        if k > hi:
            hi = k
    for q in range(n):
        keys[q] -= lo
    span = hi - lo
    sk = keys
    si = ids
    dk = kt
    di = it
    moved = False
    shift = 0
    while (span >> shift) > 0:
        for d in range(2048):
            cnt[d] = 0
        for q in range(n):
            cnt[(sk[q] >> shift) & 2047] += 1
        pos = 0
        for d in range(2048):
            c = cnt[d]
            cnt[d] = pos
            pos += c
        for q in range(n):
            d = (sk[q] >> shift) & 2047
            j = cnt[d]
            cnt[d] = j + 1
            dk[j] = sk[q]
            di[j] = si[q]
        sk, dk = dk, sk
        si, di = di, si
        moved = not moved
        shift += 11
    if moved:
        for q in range(n):
            ids[q] = si[q]


# ============================================================================ invariants
@_kernel(A2, I, A2, I, I, I, I, I, I, A1, A2)
def _check_space(T, root, A, n_area, va_start, va_pages, lazy_nr, busy_n, lazy_n, stack, CK):
    """O(n log n) check of the address-space invariants. Returns ERR_* (0 = fine).

    Free segments sorted, disjoint and never adjacent (merged), augments exact; busy and lazy
    areas disjoint from each other and from free space; free + areas = the whole range;
    vmap_lazy_nr = pages of lazy areas; the busy and lazy counts match the table.
    CK: int64[7, >= max(rows of T, 2048)] scratch: free starts, ends, area ids, and the radix
    sort's four rows (T is kept larger than A).
    """
    va_end = va_start + va_pages
    fs = CK[0]
    fe = CK[1]
    ids = CK[2]
    # free segments, in order
    nf = 0
    sp = 0
    cur = root
    prev_end = -1
    total_free = 0
    while True:
        while cur != NIL:
            stack[sp] = cur
            sp += 1
            cur = T[cur, F_LEFT]
        if sp == 0:
            break
        sp -= 1
        cur = stack[sp]
        k = T[cur, F_KEY]
        sz = T[cur, F_SIZE]
        if sz <= 0 or k < va_start or k + sz > va_end:
            return ERR_PARTITION
        if k < prev_end:
            return ERR_OVERLAP
        if k == prev_end:
            return ERR_MERGE
        l = T[cur, F_LEFT]
        r = T[cur, F_RIGHT]
        m = sz
        sm = sz
        al = T[T_HEADER, F_KEY]
        ma = k + sz - ((k + al - 1) & -al)
        if l != NIL:
            m = max(m, T[l, F_MAXFREE])
            ma = max(ma, T[l, F_MAXAL])
            sm += T[l, F_SUM]
        if r != NIL:
            m = max(m, T[r, F_MAXFREE])
            ma = max(ma, T[r, F_MAXAL])
            sm += T[r, F_SUM]
        if m != T[cur, F_MAXFREE] or ma != T[cur, F_MAXAL] or (T[T_HEADER, F_SUM] and sm != T[cur, F_SUM]):
            return ERR_AUGMENT
        fs[nf] = k
        fe[nf] = k + sz
        nf += 1
        total_free += sz
        prev_end = k + sz
        cur = r
    # areas
    na = 0
    nb = 0
    nl = 0
    lazy_pages = 0
    area_pages = 0
    for i in range(n_area):
        st = A[i, A_STATE]
        if st == ST_BUSY or st == ST_LAZY:
            ids[na] = i
            area_pages += A[i, A_SIZE]
            na += 1
            if st == ST_BUSY:
                nb += 1
            else:
                nl += 1
                lazy_pages += A[i, A_SIZE]
    _radix_sort_by_start(ids, na, A, CK[3:])
    j = 0
    prev = va_start
    for q in range(na):
        s = A[ids[q], A_START]
        e = s + A[ids[q], A_SIZE]
        if s < prev or s < va_start or e > va_end:
            return ERR_OVERLAP
        while j < nf and fe[j] <= s:
            j += 1
        if j < nf and fs[j] < e:
            return ERR_OVERLAP
        prev = e
    if total_free + area_pages != va_pages:
        return ERR_PARTITION
    if lazy_pages != lazy_nr or lazy_nr < 0:
        return ERR_LAZY
    if nb != busy_n or nl != lazy_n:
        return ERR_COUNTS
    return ERR_NONE


# ============================================================================ address-space operations
@_kernel(A1, A1, I, I)
def _take_id(pool, G, n_pooled, n_used):
    """A tree-node or area id: a recycled one from `pool` if any, else the next never used."""
    if G[n_pooled] > 0:
        G[n_pooled] -= 1
        return pool[G[n_pooled]]
    G[n_used] += 1
    return G[n_used] - 1


@_kernel(A1, A2, A1, A1, A1, I, I, I, I, I)
def _va_search(G, T, path, out, stack, size, align, allocator, va_start, va_end):
    """alloc_vmap_area's search under the lock. Returns (node or NIL, busy areas walked, levels
    descended in the busy rb-tree).

    List era (<= 5.1, v5.0.1/mm/vmalloc.c:441-498): the free_vmap_cache hint is dropped when the
    request is smaller than cached_hole_size or less aligned than cached_align (vstart is always
    VMALLOC_START here); with the hint the walk starts at its end, without it the busy rb-tree is
    descended (levels: its depth) to the lowest area and the walk starts at VMALLOC_START. The fit
    is the lowest hole at or above the start; cached_hole_size grows to the largest hole stepped
    over on the way (`_max_hole_between`, exact), and the walk count is the busy + lazy areas
    between start and fit, estimated as their pages over the mean area size (exact when the
    areas are of one size; the hint's own node is read in alloc_base_ns). Tree era (5.2+): lowest
    fit from VMALLOC_START, pruned with size + align - 1 as the kernel does.
    """
    levels = 0
    if allocator == ALLOC_LIST:
        if G[G_CACHE_VALID] == 0 or size < G[G_CACHED_HOLE] or align < G[G_CACHED_ALIGN]:
            G[G_CACHE_VALID] = 0
            G[G_CACHED_HOLE] = 0
        G[G_CACHED_ALIGN] = align
        lo = _align_up(G[G_CACHE_END] if G[G_CACHE_VALID] else va_start, align)
        length = size
    else:
        lo = va_start
        length = size + align - 1 if align > 1 else size
    node = NIL
    if lo < va_end:
        node = _lowest_fit(T, G[G_ROOT], size, align, lo, length, path, out)
    walked = 0
    if allocator == ALLOC_LIST:
        nareas = G[G_BUSY_N] + G[G_LAZY_AREAS]
        if G[G_CACHE_VALID] == 0:
            levels = _ilog2(nareas)
        a_end = out[0] if node != NIL else va_end
        # a fit in the segment that holds lo walked nothing: [lo, fit) is all free
        if a_end > lo and nareas > 0 and (node == NIL or T[node, F_KEY] > lo):
            hole = _max_hole_between(T, G[G_ROOT], lo, T[node, F_KEY] if node != NIL else va_end, align, stack)
            if hole > G[G_CACHED_HOLE]:
                G[G_CACHED_HOLE] = hole
            if node == NIL:
                free = _free_between(T, G[G_ROOT], lo, a_end)
            else:
                free = _free_below_path(T, path, out[2], a_end)
                if lo > va_start:
                    free -= _free_below(T, G[G_ROOT], lo)
            busy_pg = (a_end - lo) - free
            walked = (busy_pg * nareas + G[G_AREA_PAGES] // 2) // G[G_AREA_PAGES]
    return node, walked, levels


@_kernel(A1, A2, A1, A2, A1, U1, A1, A1, I, I, I)
def _va_carve(G, T, pool, A, apool, prio_st, path, out, node, size, guard):
    """Take [out[0], out[0] + size) from free segment `node` (found by _va_search, path in out[2]).

    The kernel's FL (remove the segment), LE/RE (trim it in place) and NE (split it) cases.
    Returns the new busy area's id. The caller has made room for one tree node and one area.
    """
    a = out[0]
    k = T[node, F_KEY]
    fend = k + T[node, F_SIZE]
    if a == k and a + size == fend:
        G[G_ROOT] = _delete(T, G[G_ROOT], node, path)
        pool[G[G_NPOOL]] = node
        G[G_NPOOL] += 1
    elif a == k:
        T[node, F_KEY] = a + size      # same order: no other key lies inside the segment
        T[node, F_SIZE] = fend - a - size
        _fix_delta(T, path, out[2], -size)
    else:
        T[node, F_SIZE] = a - k
        _fix_delta(T, path, out[2], a - fend)
        if a + size < fend:
            rx = _take_id(pool, G, G_NPOOL, G_TN)
            T[rx, F_KEY] = a + size
            T[rx, F_SIZE] = fend - a - size
            T[rx, F_PRIO] = np.int64(_rng_next(prio_st, 0) >> np.uint64(2))
            # rx's search path: node's, then right and down to the left end
            d = out[2]
            cur = T[node, F_RIGHT]
            while cur != NIL:
                path[d] = cur
                d += 1
                cur = T[cur, F_LEFT]
            G[G_ROOT] = _insert_at(T, G[G_ROOT], rx, path, d)
    aid = _take_id(apool, G, G_NAPOOL, G_AN)
    A[aid, A_START] = a
    A[aid, A_SIZE] = size
    A[aid, A_GUARD] = guard
    A[aid, A_STATE] = ST_BUSY
    G[G_AREA_PAGES] += size
    G[G_BUSY_N] += 1
    return aid


@_kernel(A1, A2, A1, U1, A1, I, I, I, I)
def _va_free(G, T, pool, prio_st, path, rs, npages, allocator, va_start):
    """Return [rs, rs + npages) to the free tree, merging with free neighbours (purge free loop).

    List era: __free_vmap_area moves free_vmap_cache back to rb_prev(va) when the freed area lies
    below it, i.e. to the end of the busy area where the merged hole starts.
    The caller has made room for one tree node.
    """
    pv, sx, dp, ds = _neighbours(T, G[G_ROOT], rs, path)
    mp = pv != NIL and T[pv, F_KEY] + T[pv, F_SIZE] == rs
    ms = sx != NIL and T[sx, F_KEY] == rs + npages
    if mp and ms:
        T[pv, F_SIZE] += npages + T[sx, F_SIZE]
        G[G_ROOT] = _delete(T, G[G_ROOT], sx, path)
        pool[G[G_NPOOL]] = sx
        G[G_NPOOL] += 1
        fk = T[pv, F_KEY]
    elif mp:
        T[pv, F_SIZE] += npages
        fk = T[pv, F_KEY]
    elif ms:
        T[sx, F_KEY] = rs           # same order: no other key lies in between
        T[sx, F_SIZE] += npages
        fk = rs
    else:
        nx = _take_id(pool, G, G_NPOOL, G_TN)
        T[nx, F_KEY] = rs
        T[nx, F_SIZE] = npages
        T[nx, F_PRIO] = np.int64(_rng_next(prio_st, 0) >> np.uint64(2))
        # the neighbours' descent was rs's search path, to its end
        G[G_ROOT] = _insert_at(T, G[G_ROOT], nx, path, max(dp, ds))
        fk = rs
    if mp and ms:
        # sx is gone (its ancestors recomputed, the path overwritten): recompute from pv up
        _fix(T, path, _path_to(T, G[G_ROOT], fk, path))
    elif mp:
        _fix_delta(T, path, dp, npages)    # pv's path is a prefix of the descent's
    elif ms:
        _fix_delta(T, path, ds, npages)
    if allocator == ALLOC_LIST and G[G_CACHE_VALID] and rs < G[G_CACHE_END]:
        G[G_CACHE_END] = fk
        if fk <= va_start:
            G[G_CACHE_VALID] = 0


# ============================================================================ the test programs
@_kernel(I, I, A1, A2, A2, A2, A2, A3, U1)
def _next_call(w, t, P, orders, W, H, HD, TT, rng):
    """Advance worker w's test_vmalloc program to its next vmalloc/vfree call at time t (ns).

    Mirrors lib/test_vmalloc.c: each test in the worker's order runs test_repeat_count times;
    set-up allocations (pointer arrays, long_busy's 15 000 one-page areas, full_fit's junk),
    the measured loop, and a tear-down that frees what the test holds (also after a failed
    allocation, as the tests' ``goto leave`` does). Writes the call into W[w, WS_OP_*] and returns
    its kind: OP_ALLOC (size, guard, align, destination), OP_FREE (area id), OP_CPU (ns of work
    that touches no vmap area: percpu allocations, vm_map_ram inside a block) or OP_EXIT.
    Only worker w's own state changes, so the caller may run it ahead of other tasks' events.
    """
    ntests = orders.shape[1]
    ncpus = P[P_NCPUS]
    loops = P[P_LOOPS]
    repeats = P[P_REPEATS]
    nr_pages = P[P_NR_PAGES] if P[P_NR_PAGES] > 0 else 1
    junk = P[P_JUNK]
    thread_align = P[P_THREAD_ALIGN]
    hold_cap = P[P_HOLD_CAP]
    page_size = P[P_PAGE_SIZE]
    c_map_page = P[P_MAP_PAGE]
    c_unmap_page = P[P_UNMAP_PAGE]
    c_lookup = P[P_LOOKUP]
    c_pcpu = P[P_PCPU_OP]
    kind = OP_NONE
    while kind == OP_NONE:
        tpos = W[w, WS_POS]
        if tpos >= ntests or orders[w, tpos] < 0:
            kind = OP_EXIT
            break
        tb = orders[w, tpos]
        ph = W[w, WS_PHASE]
        i = W[w, WS_I]
        # kvfree_rcu: pending vfree's run once due (and all of them at teardown)
        if W[w, WS_RING_N] > 0 and (HD[w, W[w, WS_RING_H]] <= t or ph == PH_TEARDOWN):
            kind = OP_FREE
            W[w, WS_OP_KEY] = H[w, W[w, WS_RING_H]]
            W[w, WS_RING_H] = (W[w, WS_RING_H] + 1) % hold_cap
            W[w, WS_RING_N] -= 1
            break
        W[w, WS_OP_GUARD] = 1
        W[w, WS_OP_ALIGN] = 1
        if ph == PH_START:
            # a repetition starts
            if W[w, WS_REP] == 0:
                W[w, WS_T0] = t
            TT[w, tpos, TT_REPS] += 1
            W[w, WS_FAIL] = 0
            W[w, WS_I] = 0
            W[w, WS_SUB] = 0
            W[w, WS_HN] = 0
            W[w, WS_PHASE] = PH_SETUP
            if tb == T_FULL_FIT or tb == T_LONG_BUSY or tb == T_PCPU:
                # ptr = vmalloc(sizeof(void *) * n)
                n = junk if tb == T_FULL_FIT else (LONG_BUSY_HELD if tb == T_LONG_BUSY else PCPU_ALLOCS)
                kind = OP_ALLOC
                W[w, WS_OP_SIZE] = (n * 8 + page_size - 1) // page_size
                W[w, WS_OP_DST] = DST_ARR1
                W[w, WS_PHASE] = PH_ARRAYS
                if tb == T_FULL_FIT:
                    for j in range(2 * junk):
                        H[w, j] = -1
            continue_ = kind == OP_NONE
            if continue_:
                continue
            break
        if ph == PH_ARRAYS:
            # full_fit: junk_ptr = vmalloc(...)
            W[w, WS_PHASE] = PH_SETUP
            if tb == T_FULL_FIT:
                kind = OP_ALLOC
                W[w, WS_OP_SIZE] = (junk * 8 + page_size - 1) // page_size
                W[w, WS_OP_DST] = DST_ARR2
                break
            continue
        if ph == PH_SETUP:
            # set-up holds: long_busy 15000 one-page areas; full_fit ptr[i], junk_ptr[i]
            if tb == T_LONG_BUSY and i < LONG_BUSY_HELD:
                kind = OP_ALLOC
                W[w, WS_OP_SIZE] = 1
                W[w, WS_OP_DST] = DST_HOLD
                W[w, WS_I] = i + 1
                break
            if tb == T_FULL_FIT and i < 2 * junk:
                kind = OP_ALLOC
                W[w, WS_OP_SIZE] = 1
                W[w, WS_OP_DST] = DST_HOLD
                W[w, WS_I] = i + 1
                break
            W[w, WS_I] = 0
            W[w, WS_PHASE] = PH_HOLES
            continue
        if ph == PH_HOLES:
            # full_fit: vfree(junk_ptr[i]) makes the holes
            if tb == T_FULL_FIT and i < junk:
                W[w, WS_I] = i + 1
                if H[w, 2 * i + 1] >= 0:
                    kind = OP_FREE
                    W[w, WS_OP_KEY] = H[w, 2 * i + 1]
                    H[w, 2 * i + 1] = -1
                    break
                continue
            W[w, WS_I] = 0
            W[w, WS_PHASE] = PH_LOOP
            continue
        if ph == PH_LOOP:
            # the measured loop
            n_iter = loops
            if tb == T_ALIGN_SHIFT:
                n_iter = 64
            elif tb == T_PCPU:
                n_iter = PCPU_ALLOCS // PCPU_PER_CHUNK
            if W[w, WS_FAIL] or i >= n_iter:
                W[w, WS_I] = 0
                W[w, WS_SUB] = 0
                W[w, WS_PHASE] = PH_TEARDOWN
                continue
            sub = W[w, WS_SUB]
            if tb == T_LONG_BUSY:
                if sub == 0:
                    kind = OP_ALLOC
                    W[w, WS_OP_SIZE] = 100
                    W[w, WS_OP_DST] = DST_P1
                elif sub == 1:
                    kind = OP_ALLOC
                    W[w, WS_OP_SIZE] = 1
                    W[w, WS_OP_DST] = DST_P2
                elif sub == 2:
                    kind = OP_FREE
                    W[w, WS_OP_KEY] = W[w, WS_P1]
                    W[w, WS_P1] = -1
                else:
                    kind = OP_FREE
                    W[w, WS_OP_KEY] = W[w, WS_P2]
                    W[w, WS_P2] = -1
                if sub == 3:
                    W[w, WS_SUB] = 0
                    W[w, WS_I] = i + 1
                    TT[w, tpos, TT_LOOPS] += 1
                else:
                    W[w, WS_SUB] = sub + 1
                break
            if tb == T_PCPU:
                # PCPU_PER_CHUNK __alloc_percpu calls, then a new chunk area
                if sub == 0:
                    kind = OP_CPU
                    W[w, WS_OP_SIZE] = PCPU_PER_CHUNK * c_pcpu
                    W[w, WS_SUB] = 1
                else:
                    kind = OP_ALLOC
                    W[w, WS_OP_SIZE] = 8 * ncpus
                    W[w, WS_OP_DST] = DST_HOLD
                    W[w, WS_SUB] = 0
                    W[w, WS_I] = i + 1
                    W[w, WS_PCPU] += PCPU_PER_CHUNK
                    TT[w, tpos, TT_LOOPS] += PCPU_PER_CHUNK
                break
            if tb == T_KVFREE1 or tb == T_KVFREE2:
                if W[w, WS_RING_N] >= hold_cap:
                    kind = OP_FREE
                    W[w, WS_OP_KEY] = H[w, W[w, WS_RING_H]]
                    W[w, WS_RING_H] = (W[w, WS_RING_H] + 1) % hold_cap
                    W[w, WS_RING_N] -= 1
                    break
                kind = OP_ALLOC
                W[w, WS_OP_SIZE] = 1
                W[w, WS_OP_DST] = DST_RING
                W[w, WS_I] = i + 1
                TT[w, tpos, TT_LOOPS] += 1
                break
            if tb == T_KVFREE1_SLAB or tb == T_KVFREE2_SLAB:
                # kmalloc + kvfree_rcu of a small object: no vmap area, CPU time only
                n = loops - i if loops - i < SLAB_LOOPS_PER_STEP else SLAB_LOOPS_PER_STEP
                kind = OP_CPU
                W[w, WS_OP_SIZE] = n * 2 * P[P_KMALLOC]
                W[w, WS_I] = i + n
                TT[w, tpos, TT_LOOPS] += n
                break
            if tb == T_VM_MAP_RAM:
                if W[w, WS_BLK] < 0 or W[w, WS_BLK_USED] + nr_pages > VMAP_BLOCK:
                    if W[w, WS_BLK] >= 0:
                        kind = OP_FREE
                        W[w, WS_OP_KEY] = W[w, WS_BLK]
                        W[w, WS_BLK] = -1
                        break
                    kind = OP_ALLOC
                    W[w, WS_OP_SIZE] = VMAP_BLOCK
                    W[w, WS_OP_GUARD] = 0
                    W[w, WS_OP_DST] = DST_BLOCK
                    break
                W[w, WS_BLK_USED] += nr_pages
                kind = OP_CPU
                W[w, WS_OP_SIZE] = nr_pages * (c_map_page + c_unmap_page) + c_lookup
                W[w, WS_I] = i + 1
                TT[w, tpos, TT_LOOPS] += 1
                break
            # the alloc-then-free loops
            if sub == 0:
                kind = OP_ALLOC
                W[w, WS_OP_DST] = DST_P1
                if tb == T_FIX_SIZE:
                    W[w, WS_OP_SIZE] = nr_pages
                elif tb == T_RANDOM_SIZE:
                    W[w, WS_OP_SIZE] = _rand_below(rng, w, 100) + 1
                elif tb == T_FIX_ALIGN:
                    W[w, WS_OP_SIZE] = 5
                    W[w, WS_OP_ALIGN] = thread_align
                elif tb == T_RANDOM_ALIGN:
                    rnd = _rand_below(rng, w, 256)
                    sh = rnd % 23 - 12
                    W[w, WS_OP_ALIGN] = (1 << sh) if sh > 0 else 1
                    W[w, WS_OP_SIZE] = rnd % 10 + 1
                elif tb == T_ALIGN_SHIFT:
                    sh = i - 12
                    W[w, WS_OP_ALIGN] = (1 << sh) if sh > 0 else 1
                    W[w, WS_OP_SIZE] = 1
                else:
                    W[w, WS_OP_SIZE] = 1   # full_fit
                W[w, WS_SUB] = 1
                break
            kind = OP_FREE
            W[w, WS_OP_KEY] = W[w, WS_P1]
            W[w, WS_P1] = -1
            W[w, WS_SUB] = 0
            W[w, WS_I] = i + 1
            TT[w, tpos, TT_LOOPS] += 1
            break
        if ph == PH_TEARDOWN:
            # tear-down: pending kvfree (above), pcpu frees, held areas, arrays
            if tb == T_PCPU and i == 0:
                W[w, WS_I] = 1
                W[w, WS_PCPU] = 0          # free_percpu of every object
                kind = OP_CPU
                W[w, WS_OP_SIZE] = PCPU_ALLOCS * c_pcpu
                break
            for col in (WS_P1, WS_P2, WS_BLK):
                if W[w, col] >= 0:
                    kind = OP_FREE
                    W[w, WS_OP_KEY] = W[w, col]
                    W[w, col] = -1
                    break
            if kind != OP_NONE:
                break
            # held areas in allocation order, as the tests' "for (i = 0; ...) vfree(ptr[i])"
            # (v5.1.15/lib/test_vmalloc.c:216-217, :265-266); WS_SUB is the cursor
            j = W[w, WS_SUB]
            if j < W[w, WS_HN]:
                W[w, WS_SUB] = j + 1
                k = H[w, j]
                if k >= 0:
                    H[w, j] = -1
                    kind = OP_FREE
                    W[w, WS_OP_KEY] = k
                    break
                continue
            for col in (WS_ARR1, WS_ARR2):
                if W[w, col] >= 0:
                    kind = OP_FREE
                    W[w, WS_OP_KEY] = W[w, col]
                    W[w, col] = -1
                    break
            if kind != OP_NONE:
                break
            # the repetition is over
            if W[w, WS_FAIL]:
                TT[w, tpos, TT_FAILED] += 1
            else:
                TT[w, tpos, TT_PASSED] += 1
            W[w, WS_PHASE] = PH_START
            W[w, WS_REP] += 1
            if W[w, WS_REP] >= repeats:
                TT[w, tpos, TT_TIME] += t - W[w, WS_T0]
                W[w, WS_REP] = 0
                W[w, WS_POS] = tpos + 1
            continue
        kind = OP_EXIT
    return kind


# ============================================================================ scheduler and locks
@_kernel(I, I, I, I, A2, A2, A2, I, I)
def _wake(task, c, t, delay, CP, rq, HP, hn, seq):
    """Make `task` runnable on CPU c: run it if the CPU idles, else queue it and ask for a switch."""
    if CP[CP_CUR, c] == -1:
        CP[CP_CUR, c] = task
        CP[CP_SLICE0, c] = t + delay
        CP[CP_WAKEP, c] = 0
        hn = _heap_push(HP, hn, t + delay, seq, task)
        seq += 1
    else:
        cap = rq.shape[1]
        rq[c, _wrap(CP[CP_RQ_H, c] + CP[CP_RQ_N, c], cap)] = task
        CP[CP_RQ_N, c] += 1
        CP[CP_WAKEP, c] = 1
    return hn, seq


@_kernel(I, I, I, A2, A2, A2, I, I)
def _switch_to_next(c, t, delay, CP, rq, HP, hn, seq):
    """CPU c gives itself to the next runnable task, or idles."""
    if CP[CP_RQ_N, c] > 0:
        cap = rq.shape[1]
        nxt = rq[c, CP[CP_RQ_H, c]]
        CP[CP_RQ_H, c] = _wrap(CP[CP_RQ_H, c] + 1, cap)
        CP[CP_RQ_N, c] -= 1
        CP[CP_CUR, c] = nxt
        CP[CP_SLICE0, c] = t
        CP[CP_WAKEP, c] = 0
        hn = _heap_push(HP, hn, t + delay, seq, nxt)
        seq += 1
    else:
        CP[CP_CUR, c] = -1
    return hn, seq


@_kernel(I, I, I, I, A2, A2, A2, A2, I, I)
def _lock_request(lk, task, t, handoff, TK, LK, lq, HP, hn, seq):
    """FIFO spinlock. Returns (granted, hn, seq).

    LK[LK_HOLDER]: task id (held, release time not yet known), -1 (free from LK_REL on),
    -2 (reserved: the queue head's grant event is in the heap). A queued task spins: it keeps its
    CPU and has no event until its grant.
    """
    cap = lq.shape[1]
    if TK[TK_WAIT, task]:
        # our grant event: we are the queue head
        LK[LK_QH, lk] = _wrap(LK[LK_QH, lk] + 1, cap)
        LK[LK_QN, lk] -= 1
        TK[TK_WAIT, task] = 0
        LK[LK_HOLDER, lk] = task
        return True, hn, seq
    TK[TK_REQ, task] = t
    if LK[LK_QN, lk] == 0 and LK[LK_HOLDER, lk] == -1 and LK[LK_REL, lk] <= t:
        LK[LK_HOLDER, lk] = task
        return True, hn, seq
    lq[lk, _wrap(LK[LK_QH, lk] + LK[LK_QN, lk], cap)] = task
    LK[LK_QN, lk] += 1
    TK[TK_WAIT, task] = 1
    if LK[LK_QN, lk] == 1 and LK[LK_HOLDER, lk] == -1:
        gt = LK[LK_REL, lk] + handoff
        LK[LK_HOLDER, lk] = -2
        hn = _heap_push(HP, hn, gt if gt > t else t, seq, task)
        seq += 1
    return False, hn, seq


@_kernel(I, I, I, A2, A2, A2, I, I)
def _lock_release(lk, rel, handoff, LK, lq, HP, hn, seq):
    """Release at time `rel` (may be in the future: the holder's critical section is costed)."""
    LK[LK_REL, lk] = rel
    if LK[LK_QN, lk] > 0:
        LK[LK_HOLDER, lk] = -2
        hn = _heap_push(HP, hn, rel + handoff, seq, lq[lk, LK[LK_QH, lk]])
        seq += 1
    else:
        LK[LK_HOLDER, lk] = -1
    return hn, seq


@njit(cache=True, error_model="numpy", _nrt=False, inline="always")
def _alloc_done(w, t_end, W, TK, hist, hmax, c_map_page, c_touch, host, cpu, ncpus, host_slice):
    """The vmalloc of worker w leaves its last lock at t_end (ns): map and touch the data pages
    (not for vmap blocks), record the call's latency, and return when the worker's next call
    starts (ns)."""
    post = W[w, WS_OP_SIZE] * c_map_page + c_touch if W[w, WS_OP_GUARD] else 0
    t1 = _vd(host, cpu, t_end, post, ncpus, host_slice)
    _hist_add(hist, hmax, H_ALLOC, t1 - TK[TK_OP0, w])
    TK[TK_PC, w] = W_OP
    return t1


@njit(cache=True, error_model="numpy", _nrt=False, inline="always")
def _mem_bytes(G, base_mem, page_size, va_obj, pcpu_unit):
    """Memory model (bytes): base + data pages + percpu backing + vmap_area objects (busy, lazy,
    waiting for RCU) + page-table pages. The TS_MEM_* columns are the same terms."""
    return (base_mem + G[G_LIVE_PAGES] * page_size + G[G_PCPU_OBJS] * pcpu_unit
            + (G[G_BUSY_N] + G[G_LAZY_AREAS] + G[G_RCU_OBJS]) * va_obj + G[G_PT_PAGES] * page_size)


@njit(cache=True, error_model="numpy", _nrt=False, inline="always")
def _rcu_drain(G, PR, npr, t, c_rcu):
    """kfree_rcu of the vmap_area objects of purges that ended at least c_rcu ns before t: the
    purge records (in end order) double as the queue; G_RC_H is the first one still pending."""
    h = G[G_RC_H]
    while h < npr and PR[PR_END, h] + c_rcu <= t:
        G[G_RCU_OBJS] -= PR[PR_AREAS, h]
        h += 1
    G[G_RC_H] = h


@_kernel(U1, I, I)
def _map_tables(bits, first, last):
    """Mark table blocks first..last (inclusive) as allocated; returns how many were new."""
    new = 0
    for b in range(first, last + 1):
        w = b >> 6
        m = np.uint64(1) << np.uint64(b & 63)
        if bits[w] & m == np.uint64(0):
            bits[w] |= m
            new += 1
    return new


@njit(cache=True, error_model="numpy", _nrt=False, inline="always")
def _sample(P, TS, i, t, G, PR, npr, LK, purging):
    """The sampler's event: row i of the time series (TS_*) at time t; also frees the vmap_area
    objects whose RCU grace period has ended. purging: a purge is running."""
    ncpus = P[P_NCPUS]
    va_obj = P[P_VA_OBJ]
    page_size = P[P_PAGE_SIZE]
    base_mem = P[P_BASE_MEM]
    pcpu_unit = P[P_PCPU_OBJ] * ncpus
    host = P[P_HOST_CPUS]
    TS[i, TS_LAZY] = G[G_LAZY_NR]
    TS[i, TS_LAZY_AREAS] = G[G_LAZY_AREAS]
    TS[i, TS_BUSY_AREAS] = G[G_BUSY_N]
    TS[i, TS_LIVE_PAGES] = G[G_LIVE_PAGES]
    TS[i, TS_HIGHWATER] = G[G_HIGHWATER] - P[P_VA_START]
    _rcu_drain(G, PR, npr, t, P[P_RCU_DELAY])
    TS[i, TS_MEM_BASE] = base_mem
    TS[i, TS_MEM_DATA] = G[G_LIVE_PAGES] * page_size
    TS[i, TS_MEM_PCPU] = G[G_PCPU_OBJS] * pcpu_unit
    TS[i, TS_MEM_VA_OBJ] = (G[G_BUSY_N] + G[G_LAZY_AREAS] + G[G_RCU_OBJS]) * va_obj
    TS[i, TS_MEM_PT] = G[G_PT_PAGES] * page_size
    TS[i, TS_MEM] = (TS[i, TS_MEM_BASE] + TS[i, TS_MEM_DATA] + TS[i, TS_MEM_PCPU] + TS[i, TS_MEM_VA_OBJ]
                     + TS[i, TS_MEM_PT])       # (= _mem_bytes, term by term)
    TS[i, TS_PURGE_ACTIVE] = 1 if purging else 0
    TS[i, TS_LOCK_WAITERS] = LK[LK_QN, 0] + (LK[LK_QN, 1] if P[P_LOCK_SPLIT] else 0)
    if host != 0:
        st_ns = 0
        for c in range(ncpus):
            st_ns += _vcpu_off(c, t, ncpus, host, P[P_HOST_SLICE])
        TS[i, TS_STEAL] = st_ns


# loop state kept in the K array between _loop calls (LS_*; see LOOP_CACHED below)
LS_HN = 0
LS_SEQ = 1
LS_NLZ = 2
LS_NSTEAL = 3
LS_NPR = 4
LS_KW_PENDING = 5
LS_KW_ACTIVE = 6
LS_M_HOLDER = 7
LS_MQ_H = 8
LS_MQ_N = 9
LS_PU_TASK = 10
LS_PU_I = 11
LS_PU_START = 12
LS_PU_WALK = 13
LS_PU_FREE0 = 14
LS_PU_YIELDS = 15
LS_PU_MAXHOLD = 16
LS_PU_PAGES = 17
LS_PU_ENTRIES = 18
LS_PU_LAZY0 = 19
LS_PU_DECIDE = 20
LS_NEXT_SAMPLE = 21
LS_ISAMPLE = 22
LS_EVENTS = 23
LS_WORKERS_LEFT = 24
LS_T = 25
LS_STOP = 26
LS_ERR = 27
LS_INLINE_T = 28
LS_TASK = 29
LS_INLINE = 30
LS_LZ_SWAP = 31
LS_STARTED = 32
LS_PU_FLUSH = 33
LS_PU_WORK = 34
LS_PU_BATCH = 35
LS_PU_HYST = 36     # hysteresis: 1 while above the high mark and not yet back below the low one
LS_PU_SINCE = 37    # purge-list entries freed since the last time the lock was dropped
LS_PU_DONE = 38     # purge-list entries freed by the running purge
N_LS = 39

# How each LS_ slot lives in `_loop`. Cached slots are copied into a local of the given name at
# the top of `_loop` (``name = K[LS_X]``, or ``K[LS_X] != 0`` for a flag) and written back at its
# single exit (``K[LS_X] = name``, or ``1 if name else 0``); the hot scalars. K-resident slots are
# never copied: the loop and its helpers read and write ``K[LS_X]`` where they use it.
# tests/test_loop_state.py parses `_loop` and checks it against these two lists, so a slot read
# at the top and not saved at the exit (or the reverse), or an LS_ constant in neither, fails.
LOOP_CACHED = (
    (LS_HN, "hn"), (LS_SEQ, "seq"), (LS_NLZ, "nlz"), (LS_NSTEAL, "nsteal"), (LS_NPR, "npr"),
    (LS_KW_PENDING, "kw_pending"), (LS_KW_ACTIVE, "kw_active"), (LS_M_HOLDER, "m_holder"),
    (LS_MQ_H, "mq_h"), (LS_MQ_N, "mq_n"), (LS_PU_TASK, "pu_task"), (LS_PU_I, "pu_i"),
    (LS_PU_START, "pu_start"), (LS_PU_WALK, "pu_walk"), (LS_PU_FREE0, "pu_free0"),
    (LS_PU_YIELDS, "pu_yields"), (LS_PU_MAXHOLD, "pu_maxhold"), (LS_PU_PAGES, "pu_pages"),
    (LS_PU_ENTRIES, "pu_entries"), (LS_PU_LAZY0, "pu_lazy0"), (LS_PU_DECIDE, "pu_decide"),
    (LS_PU_FLUSH, "pu_flush"), (LS_PU_WORK, "pu_work"), (LS_PU_BATCH, "pu_batch"),
    (LS_NEXT_SAMPLE, "next_sample"), (LS_ISAMPLE, "isample"), (LS_EVENTS, "events"),
    (LS_WORKERS_LEFT, "workers_left"), (LS_T, "t"), (LS_STOP, "stop"), (LS_ERR, "err"),
    (LS_INLINE_T, "inline_t"), (LS_TASK, "task"), (LS_INLINE, "inline"),
)
LOOP_K_RESIDENT = (LS_LZ_SWAP, LS_STARTED, LS_PU_HYST, LS_PU_SINCE, LS_PU_DONE)

LOOP_DONE = 0   # _loop: the run has ended
LOOP_GROW = 1   # _loop: an array is nearly full; grow it and call again


@njit(cache=True, error_model="numpy", _nrt=False, inline="always")
def _policy_wants(P, K, lazy, waiters, hold, left, lazy0, pages_done, fn):
    """The purge policy's one decision (the seam): after a purge-list entry, call
    cond_resched_lock() now? (It still drops the lock only when contended under lock_break, or
    when a reschedule is due.) lazy, lazy0: vmap_lazy_nr now and at the purge's start (pages);
    waiters: tasks spinning on the lock; hold: ns the lock has been held; left: entries left;
    pages_done: pages this purge freed so far. Hysteresis and batch keep their state in K."""
    policy = P[P_POLICY]
    if policy == POLICY_ALWAYS:
        return True
    if policy == POLICY_THRESHOLD:
        return lazy < P[P_RESCHED_THRESH]
    if policy == POLICY_HYSTERESIS:
        if lazy >= P[P_RESCHED_THRESH]:
            K[LS_PU_HYST] = 1
        elif lazy < P[P_LOW_THRESH]:
            K[LS_PU_HYST] = 0
        return K[LS_PU_HYST] == 0
    if policy == POLICY_BATCH:
        return K[LS_PU_SINCE] >= P[P_BATCH_N]
    if policy == POLICY_HOLD_BUDGET:
        return hold >= P[P_HOLD_BUDGET]
    if policy == POLICY_ADAPTIVE:
        # keep yielding while the backlog is under lazy_max_pages, or while this purge is winning:
        # vmap_lazy_nr fell by at least half of what the purge freed (others free more slowly)
        return lazy < P[P_LAZY_MAX] or 2 * (lazy0 - lazy) >= pages_done
    if policy == POLICY_CUSTOM:
        return fn(lazy, P[P_LAZY_MAX], K[LS_PU_DONE], left, waiters, hold, P[P_NCPUS])
    return False


@njit(cache=True, error_model="numpy", _nrt=False, inline="always")
def _policy_static(policy):
    """True when others' events cannot turn the policy's "no" into a "yes" before the free loop's
    next entry (they only raise vmap_lazy_nr or queue on the lock), so the loop may run ahead."""
    return policy != POLICY_CUSTOM


@njit(cache=True, error_model="numpy", _nrt=False)
def _loop(P, orders, K, S, TS, PR, hist, hmax, TT, G, T, pool, A, apool, path, stack, fit_out, prio_st, pte_bits, pmd_bits, lz0, lz1, TK, CP, rq, LK, lq, mq, W, H, HD, rng, HP, CK, RS, policy_fn):
    """The event loop, from the state in K and the arrays, until the run ends (LOOP_DONE) or
    an array may fill up during the next event (LOOP_GROW: the state is saved in K, `run`
    grows the arrays and calls again, and the run goes on exactly as if nothing happened).

    Compiled without NRT reference counting (it never allocates): array reference counts
    would otherwise cost an atomic increment and decrement per array use in the hot loop.
    """
    ncpus = P[P_NCPUS]
    nw = P[P_NWORK]
    policy = P[P_POLICY]
    mode = P[P_PURGE_MODE]
    allocator = P[P_ALLOCATOR]
    flush_mode = P[P_FLUSH]
    preempt = P[P_PREEMPT]
    lock_split = P[P_LOCK_SPLIT]
    lazy_max = P[P_LAZY_MAX]
    duration = P[P_DURATION]
    sample_ns = P[P_SAMPLE_NS]
    va_start = P[P_VA_START]
    va_pages = P[P_VA_PAGES]
    va_end = va_start + va_pages
    ram = P[P_RAM]
    base_mem = P[P_BASE_MEM]
    page_size = P[P_PAGE_SIZE]
    va_obj = P[P_VA_OBJ]
    check = P[P_CHECK]
    hold_cap = P[P_HOLD_CAP]
    c_kmalloc = P[P_KMALLOC]
    c_alloc_base = P[P_ALLOC_BASE]
    c_list_walk = P[P_LIST_WALK]
    c_tree_level = P[P_TREE_LEVEL]
    c_lookup = P[P_LOOKUP]
    c_map_page = P[P_MAP_PAGE]
    c_unmap_page = P[P_UNMAP_PAGE]
    c_lazy_add = P[P_LAZY_ADD]
    c_handoff = P[P_HANDOFF]
    c_steal = P[P_STEAL]
    c_flush_walk = P[P_FLUSH_WALK]
    purge_spin = P[P_PURGE_LOCK] == PURGE_LOCK_SPIN
    lazy_batch = P[P_LAZY_DROP] == LAZY_DROP_BATCH
    lock_break = P[P_LOCK_BREAK] != 0
    tlb_ipi = P[P_TLB_IPI] != 0
    # x86 sends an IPI to every CPU and waits for all of them; arm64 broadcasts TLBI and waits once
    c_tlb_ipi = P[P_TLB_CPU] * ncpus if tlb_ipi else P[P_TLB_CPU]
    c_tlb_full = P[P_TLB_BASE]
    c_tlb_page = P[P_TLB_PAGE]
    tlb_ceil = P[P_TLB_CEIL]
    c_free_area = P[P_FREE_AREA]
    c_ctxsw = P[P_CTXSW]
    c_wakeup = P[P_WAKEUP]
    c_slice = P[P_SLICE]
    c_touch = P[P_TOUCH]
    c_rcu = P[P_RCU_DELAY]
    host = P[P_HOST_CPUS]        # 0: no host overcommit, every new code path below is skipped
    host_slice = P[P_HOST_SLICE]
    pcpu_unit = P[P_PCPU_OBJ] * ncpus
    n_samples = TS.shape[0]
    ntask = nw + 1
    KW = nw                      # the drain_vmap_work kworker
    SAMPLER = ntask
    L_AREA = 0
    L_FREE = 1 if lock_split else 0
    if K[LS_LZ_SWAP] == 0:
        lz = lz0
        steal = lz1
    else:
        lz = lz1
        steal = lz0
    hn = K[LS_HN]
    seq = K[LS_SEQ]
    nlz = K[LS_NLZ]
    nsteal = K[LS_NSTEAL]
    npr = K[LS_NPR]
    kw_pending = K[LS_KW_PENDING]
    kw_active = K[LS_KW_ACTIVE]
    m_holder = K[LS_M_HOLDER]
    mq_h = K[LS_MQ_H]
    mq_n = K[LS_MQ_N]
    pu_task = K[LS_PU_TASK]
    pu_i = K[LS_PU_I]
    pu_start = K[LS_PU_START]
    pu_walk = K[LS_PU_WALK]
    pu_free0 = K[LS_PU_FREE0]
    pu_yields = K[LS_PU_YIELDS]
    pu_maxhold = K[LS_PU_MAXHOLD]
    pu_pages = K[LS_PU_PAGES]
    pu_entries = K[LS_PU_ENTRIES]
    pu_lazy0 = K[LS_PU_LAZY0]
    pu_decide = K[LS_PU_DECIDE]
    pu_flush = K[LS_PU_FLUSH]
    pu_work = K[LS_PU_WORK]
    pu_batch = K[LS_PU_BATCH]
    next_sample = K[LS_NEXT_SAMPLE]
    isample = K[LS_ISAMPLE]
    events = K[LS_EVENTS]
    workers_left = K[LS_WORKERS_LEFT]
    t = K[LS_T]
    stop = K[LS_STOP] != 0
    err = K[LS_ERR]
    inline_t = K[LS_INLINE_T]
    task = K[LS_TASK]
    inline = K[LS_INLINE] != 0
    if K[LS_STARTED] == 0:
        # first call: the workers wake on their CPUs at t = 0 and the sampler starts
        K[LS_STARTED] = 1
        for w in range(nw):
            hn, seq = _wake(w, TK[TK_CPU, w], t, t, CP, rq, HP, hn, seq)
        for c in range(ncpus):
            CP[CP_WAKEP, c] = 0
        hn = _heap_push(HP, hn, t, seq, SAMPLER)
        seq += 1
    status = LOOP_DONE
    while not stop:
        # at most one new area, lazy-list entry and purge record per event; the tree has at most
        # one free segment more than there are areas, and T is kept larger than A
        if G[G_AN] + 2 >= A.shape[0] or G[G_TN] + 4 >= T.shape[0] or nlz + 2 >= lz.shape[0] or npr + 2 >= PR.shape[1]:
            status = LOOP_GROW
            break
        if inline:
            inline = False
            t = inline_t
        else:
            if hn == 0:
                break
            t = HP[0, 0]
            task = HP[0, 2]
            if t > duration:
                t = duration
                break
            hn = _heap_pop(HP, hn)
        if host != 0 and task != SAMPLER:
            # the task's vCPU is descheduled by the host: nothing happens on it until it runs again
            tr = _vcpu_next_run(TK[TK_CPU, task], t, ncpus, host, host_slice)
            if tr > t:
                hn = _heap_push(HP, hn, tr, seq, task)
                seq += 1
                continue
        events += 1

        # ---------------------------------------------------------------- sampler
        if task == SAMPLER:
            if isample < n_samples:
                _sample(P, TS, isample, t, G, PR, npr, LK, pu_task >= 0)
                isample += 1
            next_sample += sample_ns
            if next_sample <= duration:
                hn = _heap_push(HP, hn, next_sample, seq, SAMPLER)
                seq += 1
            continue

        cpu = TK[TK_CPU, task]
        pc = TK[TK_PC, task]

        # ---------------------------------------------------------------- preemption points
        # (not on a lock grant: a task spinning in the queue does not give its CPU away)
        # (4.9's purge runs under a spinlock: no preemption point inside it)
        if TK[TK_WAIT, task] == 0 and (pc == W_OP or TK[TK_FRESH, task] == 1 or pc == K_AFTER or (not purge_spin and (pc == PU_RELOCK or (pc == PU_FLUSH and preempt == PREEMPT_FULL)))):
            if CP[CP_RQ_N, cpu] > 0 and (CP[CP_WAKEP, cpu] == 1 or t - CP[CP_SLICE0, cpu] >= c_slice):
                rq[cpu, _wrap(CP[CP_RQ_H, cpu] + CP[CP_RQ_N, cpu], rq.shape[1])] = task
                CP[CP_RQ_N, cpu] += 1
                hn, seq = _switch_to_next(cpu, t, c_ctxsw, CP, rq, HP, hn, seq)
                continue

        TK[TK_FRESH, task] = 0
        # A worker whose call ends at nt generates its next call right away (pass 2), as of
        # time nt: the generator only reads and writes the worker's own state. The preemption
        # point then sits at the call's first lock request (t_fresh), so one event per call.
        spec = False
        t_saved = t
        for _pass in range(2):
            nt = -1           # >= 0: the task's next event time
            block = False     # the task sleeps or exits: its CPU goes to the next task
            finish_purge = False
            tt = t

            # ================================================================ worker: next call
            if pc == W_OP:
                w = task
                kind = _next_call(w, t, P, orders, W, H, HD, TT, rng)
                if W[w, WS_PCPU] != W[w, WS_PCPU_SEEN]:
                    # percpu objects allocated or freed by the program (pcpu_alloc_test)
                    G[G_PCPU_OBJS] += W[w, WS_PCPU] - W[w, WS_PCPU_SEEN]
                    W[w, WS_PCPU_SEEN] = W[w, WS_PCPU]
                # ---- start the call
                TK[TK_OP0, w] = t
                if kind == OP_EXIT:
                    if spec:
                        TK[TK_PC, w] = W_EXIT       # exit at its own time, not now
                        nt = t
                    else:
                        TK[TK_PC, w] = W_DONE
                        workers_left -= 1
                        block = True
                elif kind == OP_CPU:
                    nt = _vd(host, cpu, t, W[w, WS_OP_SIZE], ncpus, host_slice)
                elif kind == OP_ALLOC:
                    # kmalloc the vmap_area, then take the lock for the search
                    TK[TK_RETRY, w] = 0
                    TK[TK_FRESH, w] = 1
                    TK[TK_PC, w] = W_ALLOC_LOCK
                    nt = _vd(host, cpu, t, c_kmalloc, ncpus, host_slice)
                else:
                    TK[TK_FRESH, w] = 1
                    TK[TK_PC, w] = W_FREE_LOCK
                    nt = t

            elif pc == W_EXIT:
                TK[TK_PC, task] = W_DONE
                workers_left -= 1
                block = True

            # ================================================================ alloc: search (+ insert)
            elif pc == W_ALLOC_LOCK:
                w = task
                lk = L_FREE
                got, hn, seq = _lock_request(lk, w, t, c_handoff, TK, LK, lq, HP, hn, seq)
                if got:
                    _hist_add(hist, hmax, H_LOCK_WAIT, t - TK[TK_REQ, w])
                    S[S_LOCK_ACQ] += 1
                    size = W[w, WS_OP_SIZE] + W[w, WS_OP_GUARD]
                    align = W[w, WS_OP_ALIGN]
                    node, walked, levels = _va_search(G, T, path, fit_out, stack, size, align, allocator, va_start, va_end)
                    if allocator == ALLOC_LIST:
                        hold = c_alloc_base + walked * c_list_walk + levels * c_tree_level
                        S[S_LIST_WALK] += walked
                        if levels > 0:
                            S[S_LIST_DESCENT] += 1
                    else:
                        hold = c_alloc_base + _ilog2(G[G_TN] - 1 - G[G_NPOOL]) * c_tree_level
                    # lock-holder preemption: the critical section stops while the vCPU is off
                    rel = _held_until(S, cpu, t, hold, ncpus, host, host_slice)
                    hn, seq = _lock_release(lk, rel, c_handoff, LK, lq, HP, hn, seq)
                    _hist_add(hist, hmax, H_LOCK_HOLD, rel - t)
                    if node == NIL:
                        TK[TK_PC, w] = W_ALLOC_FAILED
                        nt = rel
                    else:
                        a = fit_out[0]
                        aid = _va_carve(G, T, pool, A, apool, prio_st, path, fit_out, node, size, W[w, WS_OP_GUARD])
                        if W[w, WS_OP_GUARD]:
                            G[G_LIVE_PAGES] += W[w, WS_OP_SIZE]
                        if a + size > G[G_HIGHWATER]:
                            G[G_HIGHWATER] = a + size
                        if allocator == ALLOC_LIST:
                            G[G_CACHE_VALID] = 1
                            G[G_CACHE_END] = a + size
                        S[S_ALLOCS] += 1
                        S[S_OPS] += 1
                        if W[w, WS_OP_GUARD]:
                            # map the data pages (vmap blocks are mapped page by page: not modelled)
                            off0 = a - va_start
                            off1 = a + size - 2 - va_start
                            if off1 >= off0:
                                G[G_PT_PAGES] += _map_tables(pte_bits, off0 >> 9, off1 >> 9)
                                G[G_PT_PAGES] += _map_tables(pmd_bits, off0 >> 18, off1 >> 18)
                        _rcu_drain(G, PR, npr, t, c_rcu)
                        mem = _mem_bytes(G, base_mem, page_size, va_obj, pcpu_unit)
                        if mem > G[G_PEAK_MEM]:
                            G[G_PEAK_MEM] = mem
                        if mem > ram:
                            S[S_OOM] = 1
                            S[S_OOM_T] = t
                            stop = True
                        if check:
                            e = _check_space(T, G[G_ROOT], A, G[G_AN], va_start, va_pages, G[G_LAZY_NR] + (pu_batch - pu_pages if lazy_batch else 0), G[G_BUSY_N], G[G_LAZY_AREAS], stack, CK)
                            if e != 0:
                                err = e
                                stop = True
                        dst = W[w, WS_OP_DST]
                        if dst == DST_P1:
                            W[w, WS_P1] = aid
                        elif dst == DST_P2:
                            W[w, WS_P2] = aid
                        elif dst == DST_ARR1:
                            W[w, WS_ARR1] = aid
                        elif dst == DST_ARR2:
                            W[w, WS_ARR2] = aid
                        elif dst == DST_HOLD:
                            H[w, W[w, WS_HN]] = aid
                            W[w, WS_HN] += 1
                        elif dst == DST_BLOCK:
                            W[w, WS_BLK] = aid
                            W[w, WS_BLK_USED] = 0
                        else:
                            j = (W[w, WS_RING_H] + W[w, WS_RING_N]) % hold_cap
                            H[w, j] = aid
                            HD[w, j] = t + c_rcu
                            W[w, WS_RING_N] += 1
                        if lock_split:
                            TK[TK_PC, w] = W_INSERT_LOCK
                            nt = rel
                        else:
                            nt = _alloc_done(w, rel, W, TK, hist, hmax, c_map_page, c_touch, host, cpu, ncpus, host_slice)

            elif pc == W_INSERT_LOCK:
                # 5.5+: insert into the busy tree under vmap_area_lock
                w = task
                got, hn, seq = _lock_request(L_AREA, w, t, c_handoff, TK, LK, lq, HP, hn, seq)
                if got:
                    _hist_add(hist, hmax, H_LOCK_WAIT, t - TK[TK_REQ, w])
                    S[S_LOCK_ACQ] += 1
                    hold = c_tree_level * _ilog2(G[G_BUSY_N] + 1) + c_alloc_base // 2
                    rel = _held_until(S, cpu, t, hold, ncpus, host, host_slice)
                    hn, seq = _lock_release(L_AREA, rel, c_handoff, LK, lq, HP, hn, seq)
                    _hist_add(hist, hmax, H_LOCK_HOLD, rel - t)
                    nt = _alloc_done(w, rel, W, TK, hist, hmax, c_map_page, c_touch, host, cpu, ncpus, host_slice)

            elif pc == W_ALLOC_FAILED:
                w = task
                if TK[TK_RETRY, w] == 0:
                    # purge_vmap_area_lazy(): mutex_lock, purge, then retry the search once
                    TK[TK_RETRY, w] = 1
                    TK[TK_TRIG, w] = TRIGGER_ALLOC_FAIL
                    TK[TK_RET, w] = W_ALLOC_LOCK
                    if m_holder == -1:
                        m_holder = w
                        TK[TK_PC, w] = PU_START
                        nt = t
                    else:
                        mq[(mq_h + mq_n) % mq.shape[0]] = w
                        mq_n += 1
                        TK[TK_PC, w] = PU_START
                        # a mutex sleeps; 4.9's spin_lock(&purge_lock) spins, keeping the CPU
                        block = not purge_spin
                else:
                    # the retry failed too: the test sees NULL
                    S[S_ALLOC_FAIL] += 1
                    W[w, WS_FAIL] = 1
                    W[w, WS_SUB] = 0
                    if W[w, WS_PHASE] < PH_LOOP:
                        W[w, WS_PHASE] = PH_TEARDOWN
                        W[w, WS_I] = 0
                    TK[TK_PC, w] = W_OP
                    nt = t

            # ================================================================ vfree
            elif pc == W_FREE_LOCK:
                w = task
                got, hn, seq = _lock_request(L_AREA, w, t, c_handoff, TK, LK, lq, HP, hn, seq)
                if got:
                    _hist_add(hist, hmax, H_LOCK_WAIT, t - TK[TK_REQ, w])
                    S[S_LOCK_ACQ] += 1
                    # find_vmap_area (an rb-tree lookup; 5.11+ also unlinks from the busy tree):
                    # costed by depth; the worker already knows its area id
                    x = W[w, WS_OP_KEY]
                    hold = c_lookup + _ilog2(G[G_BUSY_N] + G[G_LAZY_AREAS] + 1) * c_tree_level
                    rel = _held_until(S, cpu, t, hold, ncpus, host, host_slice)
                    hn, seq = _lock_release(L_AREA, rel, c_handoff, LK, lq, HP, hn, seq)
                    _hist_add(hist, hmax, H_LOCK_HOLD, rel - t)
                    npg = 0
                    if x >= 0 and A[x, A_STATE] == ST_BUSY:
                        size = A[x, A_SIZE]
                        guard = A[x, A_GUARD]
                        if guard:
                            npg = size - guard
                            G[G_LIVE_PAGES] -= npg
                        A[x, A_STATE] = ST_LAZY
                        G[G_BUSY_N] -= 1
                        G[G_LAZY_AREAS] += 1
                        G[G_LAZY_NR] += size
                        if G[G_LAZY_NR] > G[G_PEAK_LAZY]:
                            G[G_PEAK_LAZY] = G[G_LAZY_NR]
                        lz[nlz] = x
                        nlz += 1
                        S[S_FREES] += 1
                        S[S_OPS] += 1
                        if check:
                            e = _check_space(T, G[G_ROOT], A, G[G_AN], va_start, va_pages, G[G_LAZY_NR] + (pu_batch - pu_pages if lazy_batch else 0), G[G_BUSY_N], G[G_LAZY_AREAS], stack, CK)
                            if e != 0:
                                err = e
                                stop = True
                    post = npg * c_unmap_page + c_lazy_add
                    nt = _vd(host, cpu, rel, post, ncpus, host_slice)
                    _hist_add(hist, hmax, H_FREE, nt - TK[TK_OP0, w])
                    TK[TK_PC, w] = W_OP
                    if G[G_LAZY_NR] > lazy_max:
                        if mode == MODE_SYNC:
                            # try_purge_vmap_area_lazy(): mutex_trylock, purge in this task
                            if m_holder == -1:
                                m_holder = w
                                TK[TK_TRIG, w] = TRIGGER_FREE
                                TK[TK_RET, w] = W_OP
                                TK[TK_PC, w] = PU_START
                        elif kw_pending == 0:
                            # schedule_work(&drain_vmap_work) on this CPU
                            kw_pending = 1
                            if kw_active == 0:
                                kw_active = 1
                                TK[TK_CPU, KW] = cpu
                                TK[TK_PC, KW] = K_START
                                hn, seq = _wake(KW, cpu, t, c_wakeup, CP, rq, HP, hn, seq)

            # ================================================================ drain_vmap_area_work
            elif pc == K_START:
                kw_pending = 0
                TK[TK_TRIG, KW] = TRIGGER_DRAIN
                TK[TK_RET, KW] = K_AFTER
                TK[TK_PC, KW] = PU_START
                if m_holder == -1:
                    m_holder = KW
                    nt = t
                else:
                    mq[(mq_h + mq_n) % mq.shape[0]] = KW
                    mq_n += 1
                    block = True
            elif pc == K_AFTER:
                if G[G_LAZY_NR] > lazy_max or kw_pending:
                    TK[TK_PC, KW] = K_START
                    nt = t
                else:
                    TK[TK_PC, KW] = K_IDLE
                    kw_active = 0
                    block = True

            # ================================================================ __purge_vmap_area_lazy
            elif pc == PU_START:
                # the mutex is ours; steal the list
                pu_task = task
                pu_start = t
                pu_lazy0 = G[G_LAZY_NR]
                pu_yields = 0
                pu_maxhold = 0
                pu_pages = 0
                pu_free0 = -1
                pu_decide = 0
                pu_walk = 0
                pu_flush = 0
                pu_work = c_steal
                pu_batch = 0
                K[LS_PU_DONE] = 0
                K[LS_PU_SINCE] = 0
                lz, steal = steal, lz
                K[LS_LZ_SWAP] ^= 1
                nsteal = nlz
                nlz = 0
                pu_entries = nsteal
                pu_i = 0
                if nsteal == 0:
                    finish_purge = True
                    tt = _vd(host, cpu, t, c_steal, ncpus, host_slice)
                else:
                    if flush_mode == FLUSH_AT_INSERT:
                        # 5.11+: the purge list is the address-ordered purge tree, in which
                        # adjacent lazy areas were merged at insert: sort, and count the runs
                        _radix_sort_by_start(steal, nsteal, A, RS)
                        pu_entries = 1
                        for q in range(1, nsteal):
                            if A[steal[q], A_START] != A[steal[q - 1], A_START] + A[steal[q - 1], A_SIZE]:
                                pu_entries += 1
                        lo_pg = A[steal[0], A_START]
                        hi_pg = A[steal[nsteal - 1], A_START] + A[steal[nsteal - 1], A_SIZE]
                    else:
                        # the flush-range loop: min va_start, max va_end of the list
                        pu_walk = nsteal * c_flush_walk
                        lo_pg = A[steal[0], A_START]
                        hi_pg = lo_pg
                        for q in range(nsteal):
                            x = steal[q]
                            if A[x, A_START] < lo_pg:
                                lo_pg = A[x, A_START]
                            if A[x, A_START] + A[x, A_SIZE] > hi_pg:
                                hi_pg = A[x, A_START] + A[x, A_SIZE]
                    # flush_tlb_kernel_range(start, end): one IPI round (x86; arm64 broadcasts),
                    # then per page up to the ceiling, else a flush of everything
                    if hi_pg - lo_pg > tlb_ceil:
                        pu_flush = c_tlb_ipi + c_tlb_full
                    else:
                        pu_flush = c_tlb_ipi + c_tlb_page * (hi_pg - lo_pg)
                    pu_work += pu_walk + pu_flush
                    TK[TK_PC, task] = PU_FLUSH
                    nt = _vd(host, cpu, t, c_steal + pu_walk, ncpus, host_slice)
            elif pc == PU_FLUSH:
                if lazy_batch:
                    # 4.9: atomic_sub of the whole batch after the range loop, before the flush
                    for q in range(nsteal):
                        pu_batch += A[steal[q], A_SIZE]
                    G[G_LAZY_NR] -= pu_batch
                if tlb_ipi:
                    # every other CPU runs the flush in its IPI handler while this one waits: the
                    # task running there loses that time (an idle CPU loses nothing)
                    stall = P[P_TLB_CPU] + pu_flush - c_tlb_ipi
                    for c in range(ncpus):
                        if c != cpu and CP[CP_CUR, c] >= 0:
                            CP[CP_STALL, c] += stall
                            S[S_IPI_STALL] += stall
                TK[TK_PC, task] = PU_RELOCK
                nt = _vd(host, cpu, t, pu_flush, ncpus, host_slice)
            elif pc == PU_RELOCK:
                # take the lock for the free loop (first time, or again after cond_resched_lock)
                got, hn, seq = _lock_request(L_FREE, task, t, c_handoff, TK, LK, lq, HP, hn, seq)
                if got:
                    _hist_add(hist, hmax, H_LOCK_WAIT, t - TK[TK_REQ, task])
                    S[S_LOCK_ACQ] += 1
                    LK[LK_GRANT, L_FREE] = t
                    if pu_free0 < 0:
                        pu_free0 = t
                    TK[TK_PC, task] = PU_LOOP
                    nt = t
            elif pc == PU_LOOP:
                lk = L_FREE
                yielded = False
                while True:
                    if pu_decide:
                        # cond_resched_lock() after the previous entry, decided at its end time
                        pu_decide = 0
                        contended = LK[LK_QN, lk] > 0
                        resched = CP[CP_RQ_N, cpu] > 0 and (CP[CP_WAKEP, cpu] == 1 or tt - CP[CP_SLICE0, cpu] >= c_slice)
                        may_yield = _policy_wants(P, K, G[G_LAZY_NR], LK[LK_QN, lk], tt - LK[LK_GRANT, lk],
                                                  pu_entries - K[LS_PU_DONE], pu_lazy0, pu_pages, policy_fn)
                        if may_yield and ((contended and lock_break) or resched):
                            pu_yields += 1
                            K[LS_PU_SINCE] = 0
                            hold = tt - LK[LK_GRANT, lk]
                            _note_lhp(S, cpu, LK[LK_GRANT, lk], tt, ncpus, host, host_slice)
                            if hold > pu_maxhold:
                                pu_maxhold = hold
                            _hist_add(hist, hmax, H_LOCK_HOLD, hold)
                            hn, seq = _lock_release(lk, tt, c_handoff, LK, lq, HP, hn, seq)
                            yielded = True
                            break
                    if pu_i >= nsteal:
                        break
                    # one purge-list entry: an area (llist, newest first) or a merged run (at insert)
                    if flush_mode == FLUSH_AT_INSERT:
                        first = pu_i
                        j = pu_i + 1
                        while j < nsteal and A[steal[j], A_START] == A[steal[j - 1], A_START] + A[steal[j - 1], A_SIZE]:
                            j += 1
                        n_in = j - pu_i
                        pu_i = j
                    else:
                        first = nsteal - 1 - pu_i
                        n_in = 1
                        pu_i += 1
                    rs = A[steal[first], A_START]
                    run_pages = 0
                    for q in range(n_in):
                        x = steal[first + q]
                        run_pages += A[x, A_SIZE]
                        A[x, A_STATE] = ST_FREE
                        apool[G[G_NAPOOL]] = x
                        G[G_NAPOOL] += 1
                    G[G_LAZY_AREAS] -= n_in
                    G[G_AREA_PAGES] -= run_pages
                    _va_free(G, T, pool, prio_st, path, rs, run_pages, allocator, va_start)
                    if not lazy_batch:
                        G[G_LAZY_NR] -= run_pages
                    pu_pages += run_pages
                    c_entry = c_free_area
                    if allocator == ALLOC_TREE:
                        c_entry += c_tree_level * _ilog2(G[G_TN] - 1 - G[G_NPOOL])
                    tt = _vd(host, cpu, tt, c_entry, ncpus, host_slice)
                    pu_work += c_entry
                    K[LS_PU_DONE] += 1
                    K[LS_PU_SINCE] += 1
                    if check:
                        # (4.9: the batch not yet freed is lazy but already off vmap_lazy_nr)
                        e = _check_space(T, G[G_ROOT], A, G[G_AN], va_start, va_pages, G[G_LAZY_NR] + (pu_batch - pu_pages if lazy_batch else 0), G[G_BUSY_N], G[G_LAZY_AREAS], stack, CK)
                        if e != 0:
                            err = e
                            stop = True
                            break
                    if pu_i < nsteal and policy != POLICY_NO_RESCHED and (not _policy_static(policy) or _policy_wants(
                            P, K, G[G_LAZY_NR], LK[LK_QN, lk], tt - LK[LK_GRANT, lk], pu_entries - K[LS_PU_DONE],
                            pu_lazy0, pu_pages, policy_fn)):
                        # a yield is possible: everything due before tt happens first, then we decide
                        pu_decide = 1
                        if hn > 0 and HP[0, 0] <= tt:
                            break
                    elif next_sample <= tt or (mode == MODE_DEFERRED and hn > 0 and HP[0, 0] <= tt):
                        # no yield possible, so nobody else can change what this loop does: it runs
                        # ahead of other tasks' events (they wait for this lock or touch only state the
                        # loop does not read; concurrent frees only raise vmap_lazy_nr, which keeps the
                        # no-yield condition true). It stops at each sample so the time series is exact,
                        # and with the drain work (deferred mode) at every event due, because a vfree
                        # then reads vmap_lazy_nr to decide whether to queue the drain work.
                        break
                if yielded:
                    # ... schedule() if due (a preemption point), then queue for the lock again
                    TK[TK_PC, task] = PU_RELOCK
                    nt = tt
                elif pu_i >= nsteal and pu_decide == 0 and not stop:
                    hold = tt - LK[LK_GRANT, lk]
                    _note_lhp(S, cpu, LK[LK_GRANT, lk], tt, ncpus, host, host_slice)
                    if hold > pu_maxhold:
                        pu_maxhold = hold
                    _hist_add(hist, hmax, H_LOCK_HOLD, hold)
                    hn, seq = _lock_release(lk, tt, c_handoff, LK, lq, HP, hn, seq)
                    if tt > t:
                        # the loop ran ahead: the purge (and the mutex) ends at tt, not now
                        TK[TK_PC, task] = PU_DONE
                        nt = tt
                    else:
                        finish_purge = True
                else:
                    nt = tt
            elif pc == PU_DONE:
                finish_purge = True

            if finish_purge:
                # record the purge, mutex_unlock (hand it to a sleeper), return to the caller
                PR[PR_START, npr] = pu_start
                PR[PR_END, npr] = tt
                PR[PR_WALK, npr] = pu_walk
                PR[PR_FLUSH, npr] = pu_flush
                PR[PR_FREE, npr] = tt - pu_free0 if pu_free0 >= 0 else 0
                PR[PR_AREAS, npr] = nsteal
                PR[PR_ENTRIES, npr] = pu_entries
                PR[PR_PAGES, npr] = pu_pages
                PR[PR_YIELDS, npr] = pu_yields
                PR[PR_MAX_HOLD, npr] = pu_maxhold
                PR[PR_CPU, npr] = cpu
                PR[PR_TRIGGER, npr] = TK[TK_TRIG, task]
                PR[PR_LAZY_START, npr] = pu_lazy0
                PR[PR_WORK, npr] = pu_work
                npr += 1
                G[G_RCU_OBJS] += nsteal     # __free_vmap_area -> kfree_rcu of each vmap_area
                if nsteal > 0:
                    _hist_add(hist, hmax, H_PURGE, tt - pu_start)
                nsteal = 0
                pu_i = 0
                pu_task = -1
                m_holder = -1
                if mq_n > 0:
                    nxt = mq[mq_h]
                    mq_h = (mq_h + 1) % mq.shape[0]
                    mq_n -= 1
                    m_holder = nxt
                    if purge_spin:
                        # it spins on its CPU: it takes the lock a cache-line hand-off later
                        hn = _heap_push(HP, hn, tt + c_handoff, seq, nxt)
                        seq += 1
                    else:
                        hn, seq = _wake(nxt, TK[TK_CPU, nxt], tt, c_wakeup, CP, rq, HP, hn, seq)
                TK[TK_PC, task] = TK[TK_RET, task]
                nt = tt
            if _pass == 0 and task < nw and TK[TK_PC, task] == W_OP and nt >= 0 and not block and not stop:
                spec = True
                t = nt
                pc = W_OP
            else:
                break
        if spec:
            t = t_saved

        if nt >= 0:
            if CP[CP_STALL, cpu] > 0:
                # TLB-flush IPIs this CPU handled while the task ran: its next step comes later
                nt = _vd(host, cpu, nt, CP[CP_STALL, cpu], ncpus, host_slice)
                CP[CP_STALL, cpu] = 0
            if not block and nt <= duration and (hn == 0 or nt < HP[0, 0]):
                inline = True
                inline_t = nt
            else:
                hn = _heap_push(HP, hn, nt, seq, task)
                seq += 1
        if block:
            hn, seq = _switch_to_next(cpu, t, c_ctxsw, CP, rq, HP, hn, seq)
        if workers_left == 0 and kw_active == 0 and pu_task < 0:
            stop = True

    K[LS_HN] = hn
    K[LS_SEQ] = seq
    K[LS_NLZ] = nlz
    K[LS_NSTEAL] = nsteal
    K[LS_NPR] = npr
    K[LS_KW_PENDING] = kw_pending
    K[LS_KW_ACTIVE] = kw_active
    K[LS_M_HOLDER] = m_holder
    K[LS_MQ_H] = mq_h
    K[LS_MQ_N] = mq_n
    K[LS_PU_TASK] = pu_task
    K[LS_PU_I] = pu_i
    K[LS_PU_START] = pu_start
    K[LS_PU_WALK] = pu_walk
    K[LS_PU_FREE0] = pu_free0
    K[LS_PU_YIELDS] = pu_yields
    K[LS_PU_MAXHOLD] = pu_maxhold
    K[LS_PU_PAGES] = pu_pages
    K[LS_PU_ENTRIES] = pu_entries
    K[LS_PU_LAZY0] = pu_lazy0
    K[LS_PU_DECIDE] = pu_decide
    K[LS_PU_FLUSH] = pu_flush
    K[LS_PU_WORK] = pu_work
    K[LS_PU_BATCH] = pu_batch
    K[LS_NEXT_SAMPLE] = next_sample
    K[LS_ISAMPLE] = isample
    K[LS_EVENTS] = events
    K[LS_WORKERS_LEFT] = workers_left
    K[LS_T] = t
    K[LS_STOP] = 1 if stop else 0
    K[LS_ERR] = err
    K[LS_INLINE_T] = inline_t
    K[LS_TASK] = task
    K[LS_INLINE] = 1 if inline else 0
    return status


# ============================================================================ the run
@_kernel(A1, A2, U1, U1)
def _seed_streams(P, T, prio_st, rng):
    """The random streams, from the config seed: treap priorities (prio_st) and one xorshift64*
    state per worker (rng); also draws the first tree node's priority."""
    prio_st[0] = np.uint64(P[P_SEED]) * np.uint64(0x9E3779B97F4A7C15) + np.uint64(0x1234567)
    T[1, F_PRIO] = np.int64(_rng_next(prio_st, 0) >> np.uint64(2))
    for w in range(rng.shape[0]):
        rng[w] = (np.uint64(P[P_SEED]) + np.uint64(1)) * np.uint64(0x9E3779B97F4A7C15) ^ (np.uint64(w) * np.uint64(0xBF58476D1CE4E5B9) + np.uint64(1))
        if rng[w] == np.uint64(0):
            rng[w] = np.uint64(1)
        for _ in range(4):
            _rng_next(rng, w)


def _grown(a: np.ndarray, n: int, axis: int = 0) -> np.ndarray:
    """A zero-padded copy of `a` with `n` entries along `axis`."""
    shape = list(a.shape)
    shape[axis] = n
    b = np.zeros(shape, dtype=a.dtype)
    b[tuple(slice(0, k) for k in a.shape)] = a
    return b


_NO_POLICY: list = []     # the callback passed when the policy is built in (compiled on first use)


def _no_policy():
    if not _NO_POLICY:
        from numba import cfunc

        def never(lazy_nr, lazy_max, done, left, waiters, hold_ns, ncpus):
            return False

        _NO_POLICY.append(cfunc(POLICY_SIG, cache=True)(never))
    return _NO_POLICY[0]


def run(P, orders, policy_fn=None, *, _grow_step=0):
    """Simulate one configuration. See the module docstring for what is modelled.

    P: int64[N_PARAMS] parameters; orders: int64[nworkers, ntests] test bit indices (-1 padded);
    policy_fn: for ``P[P_POLICY] == POLICY_CUSTOM``, a numba ``cfunc`` of `POLICY_SIG`
    (`vmlab.policies.purge_policy` makes one), else None.
    Returns (scalars, timeseries, purges, hist, hist_max, tests).

    The arrays are allocated here, by numpy: zeroed pages cost nothing until written (the stress
    mode's hold rings are 64k entries per worker, mostly unused). `_loop` runs the events and
    returns when an array may fill up; it is grown here and the loop goes on.
    ``_grow_step`` (tests only, tests/test_grow.py): > 0 starts the growable arrays (areas, tree,
    purge lists, purge records) nearly empty and grows them by that many rows at a time instead of
    doubling, so `_loop` returns LOOP_GROW every few events; the outputs must not change.
    """
    _compile_kernels()
    if policy_fn is None:
        if P[P_POLICY] == POLICY_CUSTOM:
            raise ValueError("policy: a custom policy needs its compiled function (policy_fn)")
        policy_fn = _no_policy()
    P = np.ascontiguousarray(P, dtype=np.int64)
    orders = np.ascontiguousarray(orders, dtype=np.int64)
    ncpus, nw = int(P[P_NCPUS]), int(P[P_NWORK])
    ntask, ntests = nw + 1, orders.shape[1]
    va_start, va_pages = int(P[P_VA_START]), int(P[P_VA_PAGES])
    i64 = np.int64

    # outputs
    S = np.zeros(N_S, i64)
    TS = np.zeros((int(P[P_DURATION] // P[P_SAMPLE_NS]) + 1, N_TS), np.float64)
    cap0 = 4 if _grow_step > 0 else 1024     # initial rows of the growable arrays

    def more(n):
        return n + _grow_step if _grow_step > 0 else 2 * n

    PR = np.zeros((N_PR, 256 if _grow_step <= 0 else cap0), i64)
    hist = np.zeros((N_HIST, N_BUCKETS), i64)
    hmax = np.zeros(N_HIST, i64)
    TT = np.zeros((nw, ntests, N_TT), i64)

    # address space: run-wide scalars (G_*), the free-segment treap (row 0 a header, node 1 the
    # whole range; kept larger than the area table), the area table, their recycled ids
    G = np.zeros(N_G, i64)
    T = np.zeros((cap0 + 8, N_F), i64)
    pool = np.zeros(T.shape[0], i64)
    A = np.zeros((cap0, N_A), i64)
    apool = np.zeros(A.shape[0], i64)
    al = int(P[P_THREAD_ALIGN])         # AL of F_MAXAL: fix_align_alloc_test's alignment
    T[T_HEADER, F_KEY] = al
    T[T_HEADER, F_SUM] = 1 if P[P_ALLOCATOR] == ALLOC_LIST else 0
    T[1, [F_KEY, F_SIZE, F_LEFT, F_RIGHT, F_MAXFREE, F_SUM]] = [va_start, va_pages, NIL, NIL, va_pages, va_pages]
    T[1, F_MAXAL] = va_start + va_pages - (va_start + al - 1) // al * al
    G[G_TN], G[G_ROOT] = 2, 1
    G[G_HIGHWATER] = va_start
    G[G_PEAK_MEM] = P[P_BASE_MEM]
    G[G_CACHE_END] = va_start           # free_vmap_cache (list era), not valid yet
    path = np.zeros(2 * PATH_OK, i64)
    stack = np.zeros(512, i64)
    fit_out = np.zeros(3, i64)
    prio_st = np.zeros(1, np.uint64)
    # page tables are allocated per 2 MiB (PTE page: 512 pages) and per 1 GiB (PMD page: 512
    # PTE pages) region the first time something is mapped there, and never freed (docs/facts.md §1.7)
    pte_bits = np.zeros(va_pages // (512 * 64) + 2, np.uint64)
    pmd_bits = np.zeros(va_pages // (262144 * 64) + 2, np.uint64)
    # lazy (purge) list in free order (an llist is LIFO) and the stolen batch: they swap roles
    lz0 = np.zeros(cap0, i64)
    lz1 = np.zeros(cap0, i64)

    # tasks (workers, then the drain_vmap_work kworker), CPUs, locks (0 = vmap_area_lock,
    # 1 = free_vmap_area_lock), the purge mutex's sleepers, the event heap
    TK = np.zeros((N_TK, ntask), i64)
    TK[TK_CPU, :nw] = np.arange(nw) % ncpus
    TK[TK_PC, :nw] = W_OP
    TK[TK_PC, nw] = K_IDLE
    CP = np.zeros((N_CP, ncpus), i64)
    CP[CP_CUR] = -1
    rq = np.zeros((ncpus, ntask + 1), i64)
    LK = np.zeros((N_LK, 2), i64)
    LK[LK_HOLDER] = -1
    lq = np.zeros((2, ntask + 1), i64)
    mq = np.zeros(ntask + 1, i64)
    HP = np.zeros((2 * ntask + 8, 3), i64)

    # worker programs (WS_* columns; area ids -1 when none), held areas / kvfree_rcu ring and
    # its due times, random streams
    W = np.zeros((nw, N_WS), i64)
    W[:, [WS_P1, WS_P2, WS_ARR1, WS_ARR2, WS_BLK]] = -1
    H = np.zeros((nw, int(P[P_HOLD_CAP])), i64)
    HD = np.zeros(H.shape, i64)                 # (np.zeros_like would write every page)
    rng = np.zeros(nw, np.uint64)
    _seed_streams(P, T, prio_st, rng)

    check = bool(P[P_CHECK])
    CK = np.zeros((7, max(T.shape[0], 2048)) if check else (7, 1), i64)   # _check_space scratch
    RS = np.zeros((4, max(lz0.shape[0], 2048)), i64)        # purge-list sort scratch
    K = np.zeros(N_LS, i64)                                 # loop state (LS_*)
    K[LS_M_HOLDER] = K[LS_PU_TASK] = K[LS_PU_FREE0] = -1
    K[LS_WORKERS_LEFT] = nw
    while _loop(P, orders, K, S, TS, PR, hist, hmax, TT, G, T, pool, A, apool, path, stack, fit_out,
                prio_st, pte_bits, pmd_bits, lz0, lz1, TK, CP, rq, LK, lq, mq, W, H, HD, rng, HP,
                CK, RS, policy_fn) == LOOP_GROW:
        if G[G_AN] + 2 >= A.shape[0]:
            A = _grown(A, more(A.shape[0]))
            apool = _grown(apool, A.shape[0])
        if G[G_TN] + 4 >= T.shape[0] or T.shape[0] < A.shape[0] + 8:
            T = _grown(T, max(more(T.shape[0]), A.shape[0] + 8))
            pool = _grown(pool, T.shape[0])
            if check:
                CK = _grown(CK, max(T.shape[0], CK.shape[1]), axis=1)
        if K[LS_NLZ] + 2 >= lz0.shape[0]:
            lz0 = _grown(lz0, more(lz0.shape[0]))
            lz1 = _grown(lz1, lz0.shape[0])
            if RS.shape[1] < lz0.shape[0]:
                RS = _grown(RS, lz0.shape[0], axis=1)
        if K[LS_NPR] + 2 >= PR.shape[1]:
            PR = _grown(PR, more(PR.shape[1]), axis=1)

    t, npr, isample = int(K[LS_T]), int(K[LS_NPR]), int(K[LS_ISAMPLE])
    workers_left, err = int(K[LS_WORKERS_LEFT]), int(K[LS_ERR])
    if K[LS_STOP] == 0 and K[LS_HN] == 0 and t < P[P_DURATION] and workers_left > 0:
        err = ERR_STALL   # everyone waits and nothing is scheduled: a model bug
    # tests still running at the end: count their time so far
    for w in range(nw):
        tpos = W[w, WS_POS]
        if tpos < ntests and orders[w, tpos] >= 0 and TT[w, tpos, TT_REPS] > 0:
            TT[w, tpos, TT_TIME] += t - W[w, WS_T0]
    S[S_SIM_NS] = t
    S[S_EVENTS] = K[LS_EVENTS]
    S[S_PEAK_LAZY] = G[G_PEAK_LAZY]
    S[S_NPURGE] = npr
    S[S_NSAMPLES] = isample
    S[S_ERROR] = err
    S[S_PEAK_MEM] = G[G_PEAK_MEM]
    S[S_WORKERS_DONE] = nw - workers_left
    return S, TS[:isample].copy(), PR[:, :npr].copy(), hist, hmax, TT
