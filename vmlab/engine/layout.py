"""Index layout of the engine's flat arrays and its enums: the parameter vector (P_*), the outputs
(TS_*, PR_*, H_*, TT_*, S_*), the address space (G_*, F_*, A_*), tasks, CPUs, locks (TK_*, CP_*,
LK_*), worker programs (WS_*, PH_*, T_*, DST_*) and the loop state (LS_*). Plain ints: numba
freezes them as constants."""
from __future__ import annotations

from collections import namedtuple

from numba import types as nbt

_I = nbt.int64


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
P_SPINLOCK = 58     # SPINLOCK_*: the lock in effect (test-and-set only with P_HOST_CPUS; else the same runs)
N_PARAMS = 59

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
POLICY_SIG = nbt.boolean(_I, _I, _I, _I, _I, _I, _I)
POLICY_FN = nbt.FunctionType(POLICY_SIG)
SPINLOCK_QUEUED = 0     # qspinlock: FIFO hand-off to the queue head, running or not
SPINLOCK_TAS = 1        # virt_spin_lock: test-and-set, the first waiter to run takes it
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
LK_GT = 5       # test-and-set: when the reserved waiter takes it (ns); its grant event is valid only then
N_LK = 6

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


# ----------------------------------------------------------------------------- loop state (K)
# Every scalar of the event loop lives in the int64 array K, read and written where it is used:
# no handler keeps a copy across an event, so `_loop` may return (LOOP_GROW) after any event and
# resume where it left off (tests/test_loop_state.py, tests/test_grow.py).
LS_HN = 0           # events in the heap
LS_SEQ = 1          # next event sequence number (ties in the heap break by it)
LS_NLZ = 2          # entries of the lazy (purge) list
LS_NSTEAL = 3       # entries of the list the running purge stole
LS_NPR = 4          # purge records written
LS_KW_PENDING = 5   # drain_vmap_work queued
LS_KW_ACTIVE = 6    # ... and running (its kworker is awake)
LS_M_HOLDER = 7     # task holding vmap_purge_lock, -1 none
LS_MQ_H = 8         # its waiters' ring: head
LS_MQ_N = 9         # ... and length
LS_PU_TASK = 10     # task running the purge, -1 none
LS_PU_I = 11        # purge: stolen entries done so far
LS_PU_START = 12    # purge: start time (ns)
LS_PU_WALK = 13     # purge: flush-range walk (ns)
LS_PU_FREE0 = 14    # purge: first time it took the lock for the free loop (ns), -1 not yet
LS_PU_YIELDS = 15   # purge: times it dropped the lock
LS_PU_MAXHOLD = 16  # purge: longest lock hold (ns)
LS_PU_PAGES = 17    # purge: pages freed so far
LS_PU_ENTRIES = 18  # purge: purge-list entries (merged runs at insert)
LS_PU_LAZY0 = 19    # purge: vmap_lazy_nr at its start (pages)
LS_PU_DECIDE = 20   # purge: cond_resched_lock is due after the previous entry
LS_NEXT_SAMPLE = 21 # time of the next sample (ns)
LS_ISAMPLE = 22     # samples written
LS_EVENTS = 23      # events handled
LS_WORKERS_LEFT = 24
LS_T = 25           # time of the current event (ns)
LS_STOP = 26        # 1: the run ends (OOM, invariant error, everyone done)
LS_ERR = 27         # ERR_*
LS_INLINE_T = 28    # the running task's next event, when it comes before everything in the heap
LS_TASK = 29        # the current event's task
LS_INLINE = 30      # 1: the next event is (LS_INLINE_T, LS_TASK), not the heap's root
LS_LZ_SWAP = 31     # 0: lz0 is the lazy list and lz1 the stolen one; 1: the reverse
LS_STARTED = 32     # 1 after the first call set the tasks going
LS_PU_FLUSH = 33    # purge: TLB flush (ns)
LS_PU_WORK = 34     # purge: its own CPU time so far (ns)
LS_PU_BATCH = 35    # purge (4.9): pages taken off vmap_lazy_nr by batch
LS_PU_HYST = 36     # hysteresis: 1 while above the high mark and not yet back below the low one
LS_PU_SINCE = 37    # purge-list entries freed since the last time the lock was dropped
LS_PU_DONE = 38     # purge-list entries freed by the running purge
N_LS = 39

LOOP_DONE = 0   # _loop: the run has ended
LOOP_GROW = 1   # _loop: an array is nearly full; grow it and call again

# what a step handler returns besides a time (ns) >= 0 at which the task's next step is due
NT_WAIT = -1    # it spins in a lock's queue: it keeps its CPU, its grant is its next event
NT_BLOCK = -2   # it sleeps or exits: its CPU goes to the next runnable task


# ----------------------------------------------------------------------------- state structures
# The state the jitted loop works on: named tuples of the flat arrays (numba passes them as one
# argument; attribute access costs nothing). `driver.run` builds them; a field's array may be
# replaced by a larger copy between two `_loop` calls (LOOP_GROW).
Sched = namedtuple("Sched", [
    "TK",   # int64[N_TK, tasks]: per task (workers, then the drain kworker)
    "CP",   # int64[N_CP, ncpus]: per CPU
    "rq",   # int64[ncpus, tasks + 1]: run-queue rings
    "LK",   # int64[N_LK, 2]: vmap_area_lock, free_vmap_area_lock
    "lq",   # int64[2, tasks + 1]: their waiter rings
    "mq",   # int64[tasks + 1]: vmap_purge_lock's waiter ring
    "HP",   # int64[rows, 3]: the event heap (time, sequence, task)
])
Space = namedtuple("Space", [
    "G",        # int64[N_G]: run-wide counters (G_*)
    "T",        # int64[rows, N_F]: the free-segment treap (row 0 a header)
    "pool",     # int64[rows]: recycled treap rows
    "A",        # int64[rows, N_A]: the area table
    "apool",    # int64[rows]: recycled area ids
    "lz0",      # int64[rows]: the lazy list / the stolen purge list (they swap, LS_LZ_SWAP)
    "lz1",
    "path",     # int64[2 PATH_OK]: tree-walk scratch
    "stack",    # int64[512]: tree-walk scratch
    "fit_out",  # int64[3]: the search's result
    "prio_st",  # uint64[1]: the treap's priority stream
    "pte_bits", # uint64[]: 2 MiB regions with a PTE page
    "pmd_bits", # uint64[]: 1 GiB regions with a PMD page
    "CK",       # int64[7, rows]: _check_space scratch
    "RS",       # int64[4, rows]: purge-list sort scratch
])
Progs = namedtuple("Progs", [
    "orders",   # int64[workers, tests]: test bit indices, -1 padded
    "W",        # int64[workers, N_WS]: program state
    "H",        # int64[workers, hold_cap]: held areas / kvfree_rcu ring
    "HD",       # int64[workers, hold_cap]: the ring's due times (ns)
    "TT",       # int64[workers, tests, N_TT]: per-test results
    "rng",      # uint64[workers]: random streams
])
Out = namedtuple("Out", [
    "S",        # int64[N_S]: run scalars
    "TS",       # float64[samples, N_TS]: the time series
    "PR",       # int64[N_PR, purges]: one column per purge
    "hist",     # int64[N_HIST, N_BUCKETS]: latency histograms
    "hmax",     # int64[N_HIST]: their maxima
])
Sim = namedtuple("Sim", [
    "P",            # int64[N_PARAMS]
    "K",            # int64[N_LS]: the loop state
    "sched", "space", "progs", "out",
    "policy_fn",    # the custom policy's C callback (POLICY_SIG)
])
