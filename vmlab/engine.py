"""The jitted discrete-event core: vmalloc allocation, lazy free and ``__purge_vmap_area_lazy``.

Everything jitted lives in this one module, so numba's on-disk cache (keyed on this file) can never
keep a stale helper. Input is flat: an int64 parameter vector (indices ``P_*`` below, enums as small
ints), the per-worker test orders and nothing else. Output is flat arrays that `vmlab.result` turns
into DataFrames. Times are int64 nanoseconds of simulated time, sizes are pages.

What is modelled (and how it simplifies the kernel):

* **CPUs and tasks.** ``nr_threads`` test_vmalloc workers, pinned round-robin to ``ncpus`` CPUs,
  plus one kworker for ``drain_vmap_work`` (deferred purge). Each CPU has a FIFO run queue. A task
  switches only at preemption points: the start of each vmalloc/vfree call (``might_sleep``), and
  ``cond_resched_lock`` in the purge free loop; under ``preempt="full"`` also between the purge's
  flush-range walk and its TLB flush. A switch happens when a task was woken on the CPU (CFS
  wake-up preemption, simplified to "always") or the running task used up ``slice_ns`` while another
  is runnable. Timer-interrupt preemption inside a step is not modelled.
* **Locks.** ``vmap_area_lock`` is a FIFO ticket spinlock: waiters queue and spin on their CPU; the
  head gets it ``lock_handoff_ns`` after the release. With ``lock_split`` (5.5+) the free tree and
  the purge free loop use ``free_vmap_area_lock`` instead, and allocation takes both in turn. The
  kernel's ``purge_vmap_area_lock`` (5.11+) is charged as time, not modelled as a lock.
  ``vmap_purge_lock`` is a mutex: trylock from the free path, lock (sleeping) from the
  allocation-failure path and the drain work. Every acquisition's wait and hold go to histograms.
* **Address space.** One treap partitions the VMALLOC range into free, busy and lazy segments
  (absolute page numbers, so alignments behave as in the kernel). Each node keeps the largest free
  segment and the number of busy+lazy segments in its subtree, so lowest-fit with alignment, rank
  queries and neighbour merges are O(log n). Allocation takes the lowest fit at or above the start
  point; the augmented-tree era prunes subtrees with ``size + align - 1`` as
  ``find_vmap_lowest_match`` does. Lazy areas stay allocated until the purge frees them.
* **List era (<= 5.1).** The search cost is ``alloc_base_ns + list_walk_area_ns * walked``, where
  ``walked`` is the number of busy (lazy included) areas between the start point and the fit,
  counted with the treap. The ``free_vmap_cache`` hint is kept: cache end, ``cached_hole_size``
  (approximated by the largest too-small hole the search visited), ``cached_align``; the purge moves
  it back to the area below a freed one. The tree era charges ``tree_level_ns`` per level instead.
* **Lazy accounting.** ``vmap_lazy_nr`` grows by the area's pages, guard page included. Crossing
  ``lazy_max_pages`` triggers a purge: sync trylock in the freeing task, or ``schedule_work`` of the
  single drain work item on the freeing CPU (the kworker loops while ``vmap_lazy_nr >
  lazy_max_pages``, as in 6.1). The ``llist`` is LIFO; with ``flush_range="at-insert"`` (5.11+)
  adjacent lazy areas of the same batch merge into one purge-list entry, as
  ``merge_or_add_vmap_area`` does, and the entry count sets the free-loop cost.
* **The purge.** Phases: list steal, flush-range walk (``flush_walk_area_ns`` per entry, or O(1)
  at insert), TLB flush (fixed plus per-CPU; the IPI cost to the other CPUs is not charged to
  them), free loop under the lock (``free_area_ns`` per entry plus a tree descent). After each entry
  the policy decides: ``no-resched`` never yields; ``always-resched`` calls ``cond_resched_lock``;
  ``threshold`` calls it only while ``vmap_lazy_nr < resched_threshold``. ``cond_resched_lock``
  drops the lock when a reschedule is due, or (``preempt="full"``) when another CPU spins on it;
  re-taking it queues behind every waiter.
* **Memory.** base + live data pages + (busy + lazy) vmap_area objects + page-table pages for the
  VA high-water mark (PTE and PMD tables are never freed). Above ``ram_bytes`` the run stops: OOM.
* **Randomness.** One xorshift64* stream per worker, seeded from the config seed; ties in the event
  heap break by insertion order. Same inputs, same outputs.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

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
N_PARAMS = 50

POLICY_NO_RESCHED = 0
POLICY_ALWAYS = 1
POLICY_THRESHOLD = 2
MODE_SYNC = 0
MODE_DEFERRED = 1
ALLOC_LIST = 0
ALLOC_TREE = 1
FLUSH_WALK = 0
FLUSH_AT_INSERT = 1
PREEMPT_VOLUNTARY = 0
PREEMPT_FULL = 1

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
N_TS = 8
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
N_PR = 13
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
N_S = 16

ERR_NONE = 0
ERR_OVERLAP = 1
ERR_PARTITION = 2
ERR_LAZY = 3
ERR_AUGMENT = 4
ERR_COUNTS = 5
ERR_MERGE = 6
ERR_LOCK = 7
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
N_F = 8         # one 64-byte row per node
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

# worker ops
OP_NONE = 0
OP_ALLOC = 1
OP_FREE = 2
OP_CPU = 3
OP_EXIT = 4

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
@njit(cache=True, error_model="numpy", inline="always")
def _rng_next(st, i):
    x = st[i]
    x ^= x >> np.uint64(12)
    x ^= x << np.uint64(25)
    x ^= x >> np.uint64(27)
    st[i] = x
    return x * np.uint64(2685821657736338717)


@njit(cache=True, error_model="numpy", inline="always")
def _rand_below(st, i, n):
    """Uniform integer in [0, n)."""
    return np.int64((_rng_next(st, i) >> np.uint64(11)) % np.uint64(n))


@njit(cache=True, error_model="numpy", inline="always")
def _align_up(x, a):
    return ((x + a - 1) // a) * a


@njit(cache=True, error_model="numpy", inline="always")
def _hist_add(hist, hmax, kind, v):
    """Log histogram: bucket 1 + 8*floor(log2 v) + the next 3 bits of v (v >= 1 ns)."""
    if v < 1:
        b = 0
    else:
        e = 0
        x = v
        while x >= 16:
            x >>= 1
            e += 1
        # now 1 <= x < 16: x carries the leading bit and up to 3 more
        if x >= 8:
            b = 1 + HIST_PER_OCTAVE * (e + 3) + (x - 8)
        elif x >= 4:
            b = 1 + HIST_PER_OCTAVE * (e + 2) + (x - 4) * 2
        elif x >= 2:
            b = 1 + HIST_PER_OCTAVE * (e + 1) + (x - 2) * 4
        else:
            b = 1 + HIST_PER_OCTAVE * e
        if b >= N_BUCKETS:
            b = N_BUCKETS - 1
    hist[kind, b] += 1
    if v > hmax[kind]:
        hmax[kind] = v


@njit(cache=True, error_model="numpy")
def _ilog2(n):
    d = 1
    while n > 1:
        n >>= 1
        d += 1
    return d


# ============================================================================ event heap
@njit(cache=True, error_model="numpy", inline="always")
def _heap_push(ht, hs, hk, n, t, seq, task):
    i = n
    ht[i] = t
    hs[i] = seq
    hk[i] = task
    while i > 0:
        p = (i - 1) >> 1
        if ht[p] < ht[i] or (ht[p] == ht[i] and hs[p] < hs[i]):
            break
        ht[p], ht[i] = ht[i], ht[p]
        hs[p], hs[i] = hs[i], hs[p]
        hk[p], hk[i] = hk[i], hk[p]
        i = p
    return n + 1


@njit(cache=True, error_model="numpy", inline="always")
def _heap_pop(ht, hs, hk, n):
    """Remove the root; the caller has read it. Returns the new size."""
    n -= 1
    ht[0] = ht[n]
    hs[0] = hs[n]
    hk[0] = hk[n]
    i = 0
    while True:
        l = 2 * i + 1
        if l >= n:
            break
        c = l
        r = l + 1
        if r < n and (ht[r] < ht[l] or (ht[r] == ht[l] and hs[r] < hs[l])):
            c = r
        if ht[i] < ht[c] or (ht[i] == ht[c] and hs[i] < hs[c]):
            break
        ht[c], ht[i] = ht[i], ht[c]
        hs[c], hs[i] = hs[i], hs[c]
        hk[c], hk[i] = hk[i], hk[c]
        i = c
    return n


# ============================================================================ free-block tree
# A treap of the *free* segments of the VMALLOC range (what the kernel keeps in
# free_vmap_area_root since 5.2), keyed by first page, augmented with the largest free segment
# (MAXFREE, for lowest fit in O(log n)) and the free pages (SUM) of each subtree. Busy and lazy
# areas live in a flat area table instead, so a vfree touches no tree at all.
@njit(cache=True, error_model="numpy", inline="always")
def _upd(T, x):
    l = T[x, F_LEFT]
    r = T[x, F_RIGHT]
    m = T[x, F_SIZE]
    sm = m
    if l != NIL:
        if T[l, F_MAXFREE] > m:
            m = T[l, F_MAXFREE]
        sm += T[l, F_SUM]
    if r != NIL:
        if T[r, F_MAXFREE] > m:
            m = T[r, F_MAXFREE]
        sm += T[r, F_SUM]
    T[x, F_MAXFREE] = m
    T[x, F_SUM] = sm


@njit(cache=True, error_model="numpy", inline="always")
def _fix(T, path, d):
    """Recompute augments along path[0..d) (root first), bottom up."""
    for i in range(d - 1, -1, -1):
        _upd(T, path[i])


@njit(cache=True, error_model="numpy")
def _fix_key(T, root, key, path):
    """Recompute augments from the node with `key` up to the root."""
    d = 0
    cur = root
    while cur != NIL:
        path[d] = cur
        d += 1
        k = T[cur, F_KEY]
        if key == k:
            break
        cur = T[cur, F_LEFT + (key > k)]      # branch-free descent (F_RIGHT = F_LEFT + 1)
    _fix(T, path, d)


@njit(cache=True, error_model="numpy")
def _insert(T, root, x, path):
    """Insert node x (key, size, prio set); returns the new root."""
    key = T[x, F_KEY]
    T[x, F_LEFT] = NIL
    T[x, F_RIGHT] = NIL
    _upd(T, x)
    if root == NIL:
        return x
    d = 0
    cur = root
    while True:
        path[d] = cur
        d += 1
        side = F_LEFT + (key >= T[cur, F_KEY])
        nxt = T[cur, side]
        if nxt == NIL:
            T[cur, side] = x
            break
        cur = nxt
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
    _fix(T, path, d)
    return root


@njit(cache=True, error_model="numpy")
def _delete(T, root, x, path):
    """Remove node x from the tree; returns the new root. x is not recycled here."""
    key = T[x, F_KEY]
    d = 0
    cur = root
    while cur != x:
        path[d] = cur
        d += 1
        cur = T[cur, F_LEFT + (key >= T[cur, F_KEY])]
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
    _fix(T, path, d)
    return root


@njit(cache=True, error_model="numpy")
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


@njit(cache=True, error_model="numpy", inline="always")
def _fits(T, x, size, align, lo, out):
    k = T[x, F_KEY]
    end = k + T[x, F_SIZE]
    if end > lo:
        s = k if k > lo else lo
        a = _align_up(s, align)
        if a + size <= end:
            out[0] = a
            return True
        if T[x, F_SIZE] > out[1]:
            out[1] = T[x, F_SIZE]
    return False


@njit(cache=True, error_model="numpy")
def _lowest_fit(T, root, size, align, lo, length, path, out):
    """Lowest free segment holding `size` pages aligned to `align` at or above page `lo`.

    The kernel's find_vmap_lowest_match: descend left while the left subtree's largest free
    segment is >= `length` (and it can lie above lo), else check the node, else go right, else
    climb back. Returns the node (or NIL); path[0..out[2]) is the root-to-node path, out[0] the
    aligned start, out[1] the largest too-small free segment checked (for cached_hole_size).
    """
    out[1] = 0
    out[2] = 0
    if root == NIL or T[root, F_MAXFREE] < length:
        return NIL
    d = 0
    cur = root
    while True:
        while True:
            path[d] = cur
            d += 1
            l = T[cur, F_LEFT]
            if l != NIL and T[l, F_MAXFREE] >= length and T[cur, F_KEY] > lo:
                cur = l
            else:
                break
        while True:
            if _fits(T, cur, size, align, lo, out):
                out[2] = d
                return cur
            r = T[cur, F_RIGHT]
            if r != NIL and T[r, F_MAXFREE] >= length:
                cur = r
                break
            found = False
            while d > 1:
                child = path[d - 1]
                d -= 1
                parent = path[d - 1]
                if T[parent, F_LEFT] == child:
                    cur = parent
                    found = True
                    break
            if not found:
                return NIL


@njit(cache=True, error_model="numpy")
def _neighbours(T, root, s):
    """(pred, succ): the free segments just below and just above page s (NIL if none)."""
    pred = NIL
    succ = NIL
    cur = root
    while cur != NIL:
        if T[cur, F_KEY] < s:
            pred = cur
            cur = T[cur, F_RIGHT]
        else:
            succ = cur
            cur = T[cur, F_LEFT]
    return pred, succ


# ============================================================================ invariants
@njit(cache=True, error_model="numpy")
def _check_space(T, root, A, n_area, va_start, va_pages, lazy_nr, busy_n, lazy_n, stack):
    """O(n log n) check of the address-space invariants. Returns ERR_* (0 = fine).

    Free segments sorted, disjoint and never adjacent (merged), augments exact; busy and lazy
    areas disjoint from each other and from free space; free + areas = the whole range;
    vmap_lazy_nr = pages of lazy areas; the busy and lazy counts match the table.
    """
    va_end = va_start + va_pages
    # free segments, in order
    nf = 0
    fs = np.empty(T.shape[0], dtype=np.int64)
    fe = np.empty(T.shape[0], dtype=np.int64)
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
        if l != NIL:
            m = max(m, T[l, F_MAXFREE])
            sm += T[l, F_SUM]
        if r != NIL:
            m = max(m, T[r, F_MAXFREE])
            sm += T[r, F_SUM]
        if m != T[cur, F_MAXFREE] or sm != T[cur, F_SUM]:
            return ERR_AUGMENT
        fs[nf] = k
        fe[nf] = k + sz
        nf += 1
        total_free += sz
        prev_end = k + sz
        cur = r
    # areas
    starts = np.empty(n_area, dtype=np.int64)
    ends = np.empty(n_area, dtype=np.int64)
    na = 0
    nb = 0
    nl = 0
    lazy_pages = 0
    area_pages = 0
    for i in range(n_area):
        st = A[i, A_STATE]
        if st == ST_BUSY or st == ST_LAZY:
            starts[na] = A[i, A_START]
            ends[na] = A[i, A_START] + A[i, A_SIZE]
            area_pages += A[i, A_SIZE]
            na += 1
            if st == ST_BUSY:
                nb += 1
            else:
                nl += 1
                lazy_pages += A[i, A_SIZE]
    order = np.argsort(starts[:na])
    j = 0
    prev = va_start
    for q in range(na):
        s = starts[order[q]]
        e = ends[order[q]]
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


# ============================================================================ growable arrays
@njit(cache=True, error_model="numpy")
def _grow2(a, newcap):
    b = np.zeros((a.shape[0], newcap), dtype=a.dtype)
    b[:, : a.shape[1]] = a
    return b


@njit(cache=True, error_model="numpy")
def _grow_rows(a, newcap):
    b = np.zeros((newcap, a.shape[1]), dtype=a.dtype)
    b[: a.shape[0]] = a
    return b


@njit(cache=True, error_model="numpy")
def _grow1(a, newcap):
    b = np.zeros(newcap, dtype=a.dtype)
    b[: a.shape[0]] = a
    return b


# ============================================================================ scheduler and locks
@njit(cache=True, error_model="numpy", inline="always")
def _wake(task, c, t, delay, c_cur, c_slice0, c_wakep, rq, rq_h, rq_n, ht, hs, hk, hn, seq):
    """Make `task` runnable on CPU c: run it if the CPU idles, else queue it and ask for a switch."""
    if c_cur[c] == -1:
        c_cur[c] = task
        c_slice0[c] = t + delay
        c_wakep[c] = 0
        hn = _heap_push(ht, hs, hk, hn, t + delay, seq, task)
        seq += 1
    else:
        cap = rq.shape[1]
        rq[c, (rq_h[c] + rq_n[c]) % cap] = task
        rq_n[c] += 1
        c_wakep[c] = 1
    return hn, seq


@njit(cache=True, error_model="numpy", inline="always")
def _switch_to_next(c, t, delay, c_cur, c_slice0, c_wakep, rq, rq_h, rq_n, ht, hs, hk, hn, seq):
    """CPU c gives itself to the next runnable task, or idles."""
    if rq_n[c] > 0:
        cap = rq.shape[1]
        nxt = rq[c, rq_h[c]]
        rq_h[c] = (rq_h[c] + 1) % cap
        rq_n[c] -= 1
        c_cur[c] = nxt
        c_slice0[c] = t
        c_wakep[c] = 0
        hn = _heap_push(ht, hs, hk, hn, t + delay, seq, nxt)
        seq += 1
    else:
        c_cur[c] = -1
    return hn, seq


@njit(cache=True, error_model="numpy", inline="always")
def _lock_request(lk, task, t, handoff, t_wait, t_req, l_holder, l_rel, lq, lq_h, lq_n, ht, hs, hk, hn, seq):
    """FIFO spinlock. Returns (granted, hn, seq).

    l_holder: task id (held, release time not yet known), -1 (free from l_rel on),
    -2 (reserved: the queue head's grant event is in the heap). A queued task spins: it keeps its
    CPU and has no event until its grant.
    """
    cap = lq.shape[1]
    if t_wait[task]:
        # our grant event: we are the queue head
        lq_h[lk] = (lq_h[lk] + 1) % cap
        lq_n[lk] -= 1
        t_wait[task] = 0
        l_holder[lk] = task
        return True, hn, seq
    t_req[task] = t
    if lq_n[lk] == 0 and l_holder[lk] == -1 and l_rel[lk] <= t:
        l_holder[lk] = task
        return True, hn, seq
    lq[lk, (lq_h[lk] + lq_n[lk]) % cap] = task
    lq_n[lk] += 1
    t_wait[task] = 1
    if lq_n[lk] == 1 and l_holder[lk] == -1:
        gt = l_rel[lk] + handoff
        l_holder[lk] = -2
        hn = _heap_push(ht, hs, hk, hn, gt if gt > t else t, seq, task)
        seq += 1
    return False, hn, seq


@njit(cache=True, error_model="numpy", inline="always")
def _lock_release(lk, rel, handoff, l_holder, l_rel, lq, lq_h, lq_n, ht, hs, hk, hn, seq):
    """Release at time `rel` (may be in the future: the holder's critical section is costed)."""
    l_rel[lk] = rel
    if lq_n[lk] > 0:
        l_holder[lk] = -2
        hn = _heap_push(ht, hs, hk, hn, rel + handoff, seq, lq[lk, lq_h[lk]])
        seq += 1
    else:
        l_holder[lk] = -1
    return hn, seq


@njit(cache=True, error_model="numpy", inline="always")
def _mem_bytes(base_mem, live_pages, page_size, areas, va_obj, hw_pages):
    """Memory model (bytes): base + data pages + vmap_area objects + PTE/PMD pages for the VA high-water."""
    pt = (hw_pages + 511) // 512 + (hw_pages + 262143) // 262144
    return base_mem + live_pages * page_size + areas * va_obj + pt * page_size


# ============================================================================ the run
@njit(cache=True, error_model="numpy")
def run(P, orders):
    """Simulate one configuration. See the module docstring for what is modelled.

    P: int64[N_PARAMS] parameters; orders: int64[nworkers, ntests] test bit indices (-1 padded).
    Returns (scalars, timeseries, purges, hist, hist_max, tests).
    """
    ncpus = P[P_NCPUS]
    nw = P[P_NWORK]
    policy = P[P_POLICY]
    resched_thresh = P[P_RESCHED_THRESH]
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
    loops = P[P_LOOPS]
    repeats = P[P_REPEATS]
    nr_pages = P[P_NR_PAGES] if P[P_NR_PAGES] > 0 else 1
    junk = P[P_JUNK]
    thread_align = P[P_THREAD_ALIGN]
    check = P[P_CHECK]
    hold_cap = P[P_HOLD_CAP]
    ntests = orders.shape[1]
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
    c_tlb = P[P_TLB_BASE] + P[P_TLB_CPU] * ncpus
    c_free_area = P[P_FREE_AREA]
    c_ctxsw = P[P_CTXSW]
    c_wakeup = P[P_WAKEUP]
    c_slice = P[P_SLICE]
    c_touch = P[P_TOUCH]
    c_pcpu = P[P_PCPU_OP]
    c_rcu = P[P_RCU_DELAY]

    # ------------------------------------------------------------------ outputs
    S = np.zeros(N_S, dtype=np.int64)
    n_samples = duration // sample_ns + 1
    TS = np.zeros((n_samples, N_TS), dtype=np.float64)
    PR = np.zeros((N_PR, 256), dtype=np.int64)
    npr = 0
    hist = np.zeros((N_HIST, N_BUCKETS), dtype=np.int64)
    hmax = np.zeros(N_HIST, dtype=np.int64)
    TT = np.zeros((nw, ntests, N_TT), dtype=np.int64)

    # ------------------------------------------------------------------ address space
    T = np.zeros((1024, N_F), dtype=np.int64)     # free-segment treap
    pool = np.zeros(1024, dtype=np.int64)          # recycled tree nodes
    npool = 0
    A = np.zeros((1024, N_A), dtype=np.int64)      # area table (busy and lazy vmap areas)
    apool = np.zeros(1024, dtype=np.int64)         # recycled area ids
    napool = 0
    an = 0                                         # area ids used so far
    path = np.zeros(512, dtype=np.int64)
    stack = np.zeros(512, dtype=np.int64)
    fit_out = np.zeros(3, dtype=np.int64)
    prio_st = np.zeros(1, dtype=np.uint64)
    prio_st[0] = np.uint64(P[P_SEED] & 0xFFFFFFFF) * np.uint64(0x9E3779B97F4A7C15) + np.uint64(0x1234567)
    T[0, F_KEY] = va_start
    T[0, F_SIZE] = va_pages
    T[0, F_PRIO] = np.int64(_rng_next(prio_st, 0) >> np.uint64(2))
    tn = 1
    root = _insert(T, NIL, 0, path)

    lazy_nr = 0          # vmap_lazy_nr, pages
    area_pages = 0       # pages of busy + lazy areas, guards included
    lazy_areas = 0
    busy_n = 0           # allocated, not lazily freed
    live_pages = 0       # data pages held by the tests
    highwater = va_start
    peak_lazy = 0
    peak_mem = _mem_bytes(base_mem, 0, page_size, 0, va_obj, 0)

    # lazy (purge) list: keys in free order (an llist is LIFO), and the stolen batch
    lz = np.zeros(1024, dtype=np.int64)
    nlz = 0
    gen = 1              # batch generation of the list being filled
    steal = np.zeros(1024, dtype=np.int64)
    nsteal = 0

    # free_vmap_cache (list era): end of the cached area, cached_hole_size, cached_align
    cache_valid = 0
    cache_end = va_start
    cached_hole = 0
    cached_align = 0

    # ------------------------------------------------------------------ tasks and CPUs
    ntask = nw + 1
    KW = nw                      # the drain_vmap_work kworker
    SAMPLER = ntask
    t_cpu = np.zeros(ntask, dtype=np.int64)
    t_pc = np.zeros(ntask, dtype=np.int64)
    t_req = np.zeros(ntask, dtype=np.int64)
    t_wait = np.zeros(ntask, dtype=np.int64)
    t_op0 = np.zeros(ntask, dtype=np.int64)
    t_retry = np.zeros(ntask, dtype=np.int64)
    t_ret = np.zeros(ntask, dtype=np.int64)
    t_trig = np.zeros(ntask, dtype=np.int64)
    t_fresh = np.zeros(ntask, dtype=np.int64)    # a call's preemption point is still ahead
    for w in range(nw):
        t_cpu[w] = w % ncpus
        t_pc[w] = W_OP
    t_pc[KW] = K_IDLE
    kw_pending = 0
    kw_active = 0

    c_cur = np.full(ncpus, -1, dtype=np.int64)
    c_slice0 = np.zeros(ncpus, dtype=np.int64)
    c_wakep = np.zeros(ncpus, dtype=np.int64)
    rq = np.zeros((ncpus, ntask + 1), dtype=np.int64)
    rq_h = np.zeros(ncpus, dtype=np.int64)
    rq_n = np.zeros(ncpus, dtype=np.int64)

    # locks: 0 = vmap_area_lock, 1 = free_vmap_area_lock (the same lock without lock_split)
    L_AREA = 0
    L_FREE = 1 if lock_split else 0
    l_holder = np.full(2, -1, dtype=np.int64)
    l_rel = np.zeros(2, dtype=np.int64)
    l_grant = np.zeros(2, dtype=np.int64)
    lq = np.zeros((2, ntask + 1), dtype=np.int64)
    lq_h = np.zeros(2, dtype=np.int64)
    lq_n = np.zeros(2, dtype=np.int64)
    # mutex vmap_purge_lock: holder and FIFO of sleepers
    m_holder = -1
    mq = np.zeros(ntask + 1, dtype=np.int64)
    mq_h = 0
    mq_n = 0

    # the purge in progress (the mutex makes it unique)
    pu_task = -1
    pu_i = 0
    pu_start = 0
    pu_walk = 0
    pu_free0 = -1
    pu_yields = 0
    pu_maxhold = 0
    pu_pages = 0
    pu_entries = 0
    pu_lazy0 = 0
    pu_decide = 0

    # worker program state
    w_pos = np.zeros(nw, dtype=np.int64)        # index into orders[w]
    w_rep = np.zeros(nw, dtype=np.int64)        # repetition of the current test
    w_phase = np.zeros(nw, dtype=np.int64)
    w_i = np.zeros(nw, dtype=np.int64)
    w_sub = np.zeros(nw, dtype=np.int64)        # step inside one loop iteration
    w_fail = np.zeros(nw, dtype=np.int64)
    w_t0 = np.zeros(nw, dtype=np.int64)         # ktime at the test's start
    # the worker's areas, as area ids (-1 = none)
    w_p1 = np.full(nw, -1, dtype=np.int64)      # ptr / ptr_1
    w_p2 = np.full(nw, -1, dtype=np.int64)      # ptr_2
    w_arr1 = np.full(nw, -1, dtype=np.int64)    # the tests' pointer arrays
    w_arr2 = np.full(nw, -1, dtype=np.int64)
    w_blk = np.full(nw, -1, dtype=np.int64)     # vm_map_ram block
    w_blk_used = np.zeros(nw, dtype=np.int64)
    w_ring_h = np.zeros(nw, dtype=np.int64)     # kvfree_rcu pending ring in H
    w_ring_n = np.zeros(nw, dtype=np.int64)
    w_hn = np.zeros(nw, dtype=np.int64)         # held areas in H
    H = np.zeros((nw, hold_cap), dtype=np.int64)
    HD = np.zeros((nw, hold_cap), dtype=np.int64)
    op_kind = np.zeros(nw, dtype=np.int64)
    op_size = np.zeros(nw, dtype=np.int64)      # data pages (or ns for OP_CPU)
    op_guard = np.zeros(nw, dtype=np.int64)
    op_align = np.zeros(nw, dtype=np.int64)     # pages
    op_dst = np.zeros(nw, dtype=np.int64)
    op_key = np.zeros(nw, dtype=np.int64)
    rng = np.zeros(nw, dtype=np.uint64)
    for w in range(nw):
        rng[w] = (np.uint64(P[P_SEED] & 0xFFFFFFFF) + np.uint64(1)) * np.uint64(0x9E3779B97F4A7C15) ^ (np.uint64(w) * np.uint64(0xBF58476D1CE4E5B9) + np.uint64(1))
        if rng[w] == np.uint64(0):
            rng[w] = np.uint64(1)
        for _ in range(4):
            _rng_next(rng, w)

    # ------------------------------------------------------------------ event heap
    hcap = 2 * ntask + 8
    ht = np.zeros(hcap, dtype=np.int64)
    hs = np.zeros(hcap, dtype=np.int64)
    hk = np.zeros(hcap, dtype=np.int64)
    hn = 0
    seq = 0
    for w in range(nw):
        hn, seq = _wake(w, t_cpu[w], 0, 0, c_cur, c_slice0, c_wakep, rq, rq_h, rq_n, ht, hs, hk, hn, seq)
    c_wakep[:] = 0
    hn = _heap_push(ht, hs, hk, hn, 0, seq, SAMPLER)
    seq += 1
    next_sample = 0
    isample = 0
    events = 0
    workers_left = nw
    t = 0
    stop = False
    err = 0

    inline_t = 0
    task = 0
    inline = False        # the task's next step is earlier than every queued event: run it now
    while not stop:
        if inline:
            inline = False
            t = inline_t
        else:
            if hn == 0:
                break
            t = ht[0]
            task = hk[0]
            if t > duration:
                t = duration
                break
            hn = _heap_pop(ht, hs, hk, hn)
        events += 1

        # ---------------------------------------------------------------- sampler
        if task == SAMPLER:
            if isample < n_samples:
                hwp = highwater - va_start
                TS[isample, TS_LAZY] = lazy_nr
                TS[isample, TS_LAZY_AREAS] = lazy_areas
                TS[isample, TS_BUSY_AREAS] = busy_n
                TS[isample, TS_LIVE_PAGES] = live_pages
                TS[isample, TS_HIGHWATER] = hwp
                TS[isample, TS_MEM] = _mem_bytes(base_mem, live_pages, page_size, busy_n + lazy_areas, va_obj, hwp)
                TS[isample, TS_PURGE_ACTIVE] = 1 if pu_task >= 0 else 0
                TS[isample, TS_LOCK_WAITERS] = lq_n[0] + (lq_n[1] if lock_split else 0)
                isample += 1
            next_sample += sample_ns
            if next_sample <= duration:
                hn = _heap_push(ht, hs, hk, hn, next_sample, seq, SAMPLER)
                seq += 1
            continue

        cpu = t_cpu[task]
        pc = t_pc[task]

        # ---------------------------------------------------------------- preemption points
        # (not on a lock grant: a task spinning in the queue does not give its CPU away)
        if t_wait[task] == 0 and (pc == W_OP or t_fresh[task] == 1 or pc == PU_RELOCK or pc == K_AFTER or (pc == PU_FLUSH and preempt == PREEMPT_FULL)):
            if rq_n[cpu] > 0 and (c_wakep[cpu] == 1 or t - c_slice0[cpu] >= c_slice):
                rq[cpu, (rq_h[cpu] + rq_n[cpu]) % rq.shape[1]] = task
                rq_n[cpu] += 1
                hn, seq = _switch_to_next(cpu, t, c_ctxsw, c_cur, c_slice0, c_wakep, rq, rq_h, rq_n, ht, hs, hk, hn, seq)
                continue

        t_fresh[task] = 0
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
                kind = OP_NONE
                while kind == OP_NONE:
                    tpos = w_pos[w]
                    if tpos >= ntests or orders[w, tpos] < 0:
                        kind = OP_EXIT
                        break
                    tb = orders[w, tpos]
                    ph = w_phase[w]
                    i = w_i[w]
                    # kvfree_rcu: pending vfree's run once due (and all of them at teardown)
                    if w_ring_n[w] > 0 and (HD[w, w_ring_h[w]] <= t or ph == 8):
                        kind = OP_FREE
                        op_key[w] = H[w, w_ring_h[w]]
                        w_ring_h[w] = (w_ring_h[w] + 1) % hold_cap
                        w_ring_n[w] -= 1
                        break
                    op_guard[w] = 1
                    op_align[w] = 1
                    if ph == 0:
                        # a repetition starts
                        if w_rep[w] == 0:
                            w_t0[w] = t
                        TT[w, tpos, TT_REPS] += 1
                        w_fail[w] = 0
                        w_i[w] = 0
                        w_sub[w] = 0
                        w_hn[w] = 0
                        w_phase[w] = 2
                        if tb == T_FULL_FIT or tb == T_LONG_BUSY or tb == T_PCPU:
                            # ptr = vmalloc(sizeof(void *) * n)
                            n = junk if tb == T_FULL_FIT else (LONG_BUSY_HELD if tb == T_LONG_BUSY else PCPU_ALLOCS)
                            kind = OP_ALLOC
                            op_size[w] = (n * 8 + page_size - 1) // page_size
                            op_dst[w] = DST_ARR1
                            w_phase[w] = 1
                            if tb == T_FULL_FIT:
                                for j in range(2 * junk):
                                    H[w, j] = -1
                        continue_ = kind == OP_NONE
                        if continue_:
                            continue
                        break
                    if ph == 1:
                        # full_fit: junk_ptr = vmalloc(...)
                        w_phase[w] = 2
                        if tb == T_FULL_FIT:
                            kind = OP_ALLOC
                            op_size[w] = (junk * 8 + page_size - 1) // page_size
                            op_dst[w] = DST_ARR2
                            break
                        continue
                    if ph == 2:
                        # set-up holds: long_busy 15000 one-page areas; full_fit ptr[i], junk_ptr[i]
                        if tb == T_LONG_BUSY and i < LONG_BUSY_HELD:
                            kind = OP_ALLOC
                            op_size[w] = 1
                            op_dst[w] = DST_HOLD
                            w_i[w] = i + 1
                            break
                        if tb == T_FULL_FIT and i < 2 * junk:
                            kind = OP_ALLOC
                            op_size[w] = 1
                            op_dst[w] = DST_HOLD
                            w_i[w] = i + 1
                            break
                        w_i[w] = 0
                        w_phase[w] = 3
                        continue
                    if ph == 3:
                        # full_fit: vfree(junk_ptr[i]) makes the holes
                        if tb == T_FULL_FIT and i < junk:
                            w_i[w] = i + 1
                            if H[w, 2 * i + 1] >= 0:
                                kind = OP_FREE
                                op_key[w] = H[w, 2 * i + 1]
                                H[w, 2 * i + 1] = -1
                                break
                            continue
                        w_i[w] = 0
                        w_phase[w] = 4
                        continue
                    if ph == 4:
                        # the measured loop
                        n_iter = loops
                        if tb == T_ALIGN_SHIFT:
                            n_iter = 64
                        elif tb == T_PCPU:
                            n_iter = PCPU_ALLOCS // PCPU_PER_CHUNK
                        if w_fail[w] or i >= n_iter:
                            w_i[w] = 0
                            w_sub[w] = 0
                            w_phase[w] = 8
                            continue
                        sub = w_sub[w]
                        if tb == T_LONG_BUSY:
                            if sub == 0:
                                kind = OP_ALLOC
                                op_size[w] = 100
                                op_dst[w] = DST_P1
                            elif sub == 1:
                                kind = OP_ALLOC
                                op_size[w] = 1
                                op_dst[w] = DST_P2
                            elif sub == 2:
                                kind = OP_FREE
                                op_key[w] = w_p1[w]
                                w_p1[w] = -1
                            else:
                                kind = OP_FREE
                                op_key[w] = w_p2[w]
                                w_p2[w] = -1
                            if sub == 3:
                                w_sub[w] = 0
                                w_i[w] = i + 1
                                TT[w, tpos, TT_LOOPS] += 1
                            else:
                                w_sub[w] = sub + 1
                            break
                        if tb == T_PCPU:
                            # PCPU_PER_CHUNK __alloc_percpu calls, then a new chunk area
                            if sub == 0:
                                kind = OP_CPU
                                op_size[w] = PCPU_PER_CHUNK * c_pcpu
                                w_sub[w] = 1
                            else:
                                kind = OP_ALLOC
                                op_size[w] = 8 * ncpus
                                op_dst[w] = DST_HOLD
                                w_sub[w] = 0
                                w_i[w] = i + 1
                                TT[w, tpos, TT_LOOPS] += PCPU_PER_CHUNK
                            break
                        if tb == T_KVFREE1 or tb == T_KVFREE2:
                            if w_ring_n[w] >= hold_cap:
                                kind = OP_FREE
                                op_key[w] = H[w, w_ring_h[w]]
                                w_ring_h[w] = (w_ring_h[w] + 1) % hold_cap
                                w_ring_n[w] -= 1
                                break
                            kind = OP_ALLOC
                            op_size[w] = 1
                            op_dst[w] = DST_RING
                            w_i[w] = i + 1
                            TT[w, tpos, TT_LOOPS] += 1
                            break
                        if tb == T_VM_MAP_RAM:
                            if w_blk[w] < 0 or w_blk_used[w] + nr_pages > VMAP_BLOCK:
                                if w_blk[w] >= 0:
                                    kind = OP_FREE
                                    op_key[w] = w_blk[w]
                                    w_blk[w] = -1
                                    break
                                kind = OP_ALLOC
                                op_size[w] = VMAP_BLOCK
                                op_guard[w] = 0
                                op_dst[w] = DST_BLOCK
                                break
                            w_blk_used[w] += nr_pages
                            kind = OP_CPU
                            op_size[w] = nr_pages * (c_map_page + c_unmap_page) + c_lookup
                            w_i[w] = i + 1
                            TT[w, tpos, TT_LOOPS] += 1
                            break
                        # the alloc-then-free loops
                        if sub == 0:
                            kind = OP_ALLOC
                            op_dst[w] = DST_P1
                            if tb == T_FIX_SIZE:
                                op_size[w] = nr_pages
                            elif tb == T_RANDOM_SIZE:
                                op_size[w] = _rand_below(rng, w, 100) + 1
                            elif tb == T_FIX_ALIGN:
                                op_size[w] = 5
                                op_align[w] = thread_align
                            elif tb == T_RANDOM_ALIGN:
                                rnd = _rand_below(rng, w, 256)
                                sh = rnd % 23 - 12
                                op_align[w] = (1 << sh) if sh > 0 else 1
                                op_size[w] = rnd % 10 + 1
                            elif tb == T_ALIGN_SHIFT:
                                sh = i - 12
                                op_align[w] = (1 << sh) if sh > 0 else 1
                                op_size[w] = 1
                            else:
                                op_size[w] = 1   # full_fit
                            w_sub[w] = 1
                            break
                        kind = OP_FREE
                        op_key[w] = w_p1[w]
                        w_p1[w] = -1
                        w_sub[w] = 0
                        w_i[w] = i + 1
                        TT[w, tpos, TT_LOOPS] += 1
                        break
                    if ph == 8:
                        # tear-down: pending kvfree (above), pcpu frees, held areas, arrays
                        if tb == T_PCPU and i == 0:
                            w_i[w] = 1
                            kind = OP_CPU
                            op_size[w] = PCPU_ALLOCS * c_pcpu
                            break
                        if w_p1[w] >= 0:
                            kind = OP_FREE
                            op_key[w] = w_p1[w]
                            w_p1[w] = -1
                            break
                        if w_p2[w] >= 0:
                            kind = OP_FREE
                            op_key[w] = w_p2[w]
                            w_p2[w] = -1
                            break
                        if w_blk[w] >= 0:
                            kind = OP_FREE
                            op_key[w] = w_blk[w]
                            w_blk[w] = -1
                            break
                        if w_hn[w] > 0:
                            w_hn[w] -= 1
                            k = H[w, w_hn[w]]
                            if k >= 0:
                                H[w, w_hn[w]] = -1
                                kind = OP_FREE
                                op_key[w] = k
                                break
                            continue
                        if w_arr1[w] >= 0:
                            kind = OP_FREE
                            op_key[w] = w_arr1[w]
                            w_arr1[w] = -1
                            break
                        if w_arr2[w] >= 0:
                            kind = OP_FREE
                            op_key[w] = w_arr2[w]
                            w_arr2[w] = -1
                            break
                        # the repetition is over
                        if w_fail[w]:
                            TT[w, tpos, TT_FAILED] += 1
                        else:
                            TT[w, tpos, TT_PASSED] += 1
                        w_phase[w] = 0
                        w_rep[w] += 1
                        if w_rep[w] >= repeats:
                            TT[w, tpos, TT_TIME] += t - w_t0[w]
                            w_rep[w] = 0
                            w_pos[w] = tpos + 1
                        continue
                    kind = OP_EXIT
                # ---- start the call
                op_kind[w] = kind
                t_op0[w] = t
                if kind == OP_EXIT:
                    if spec:
                        t_pc[w] = W_EXIT       # exit at its own time, not now
                        nt = t
                    else:
                        t_pc[w] = W_DONE
                        workers_left -= 1
                        block = True
                elif kind == OP_CPU:
                    nt = t + op_size[w]
                elif kind == OP_ALLOC:
                    # kmalloc the vmap_area, then take the lock for the search
                    t_retry[w] = 0
                    t_fresh[w] = 1
                    t_pc[w] = W_ALLOC_LOCK
                    nt = t + c_kmalloc
                else:
                    t_fresh[w] = 1
                    t_pc[w] = W_FREE_LOCK
                    nt = t

            elif pc == W_EXIT:
                t_pc[task] = W_DONE
                workers_left -= 1
                block = True

            # ================================================================ alloc: search (+ insert)
            elif pc == W_ALLOC_LOCK:
                w = task
                lk = L_FREE
                got, hn, seq = _lock_request(lk, w, t, c_handoff, t_wait, t_req, l_holder, l_rel, lq, lq_h, lq_n, ht, hs, hk, hn, seq)
                if got:
                    _hist_add(hist, hmax, H_LOCK_WAIT, t - t_req[w])
                    S[S_LOCK_ACQ] += 1
                    size = op_size[w] + op_guard[w]
                    align = op_align[w]
                    if allocator == ALLOC_LIST:
                        if cache_valid == 0 or size < cached_hole or align < cached_align:
                            cache_valid = 0
                            cached_hole = 0
                        cached_align = align
                        lo = _align_up(cache_end if cache_valid else va_start, align)
                        length = size
                    else:
                        lo = va_start
                        length = size + align - 1 if align > 1 else size
                    node = NIL
                    if lo < va_end:
                        node = _lowest_fit(T, root, size, align, lo, length, path, fit_out)
                    if allocator == ALLOC_LIST:
                        if fit_out[1] > cached_hole:
                            cached_hole = fit_out[1]
                        # the busy-list walk from lo to the fit: busy + lazy areas in between,
                        # estimated as their pages over the mean area size (see module docstring)
                        a_end = fit_out[0] if node != NIL else va_end
                        walked = 0
                        if a_end > lo and busy_n + lazy_areas > 0:
                            busy_pg = (a_end - lo) - (_free_below(T, root, a_end) - _free_below(T, root, lo))
                            walked = (busy_pg * (busy_n + lazy_areas) + area_pages // 2) // area_pages
                        hold = c_alloc_base + walked * c_list_walk
                    else:
                        hold = c_alloc_base + _ilog2(tn - npool) * c_tree_level
                    hn, seq = _lock_release(lk, t + hold, c_handoff, l_holder, l_rel, lq, lq_h, lq_n, ht, hs, hk, hn, seq)
                    _hist_add(hist, hmax, H_LOCK_HOLD, hold)
                    if node == NIL:
                        t_pc[w] = W_ALLOC_FAILED
                        nt = t + hold
                    else:
                        a = fit_out[0]
                        k = T[node, F_KEY]
                        fend = k + T[node, F_SIZE]
                        # carve [a, a + size) out of the free segment [k, fend): the kernel's
                        # FL (remove), LE/RE (trim in place) and NE (split) cases
                        if a == k and a + size == fend:
                            root = _delete(T, root, node, path)
                            pool[npool] = node
                            npool += 1
                        elif a == k:
                            T[node, F_KEY] = a + size      # same order: no other key lies inside
                            T[node, F_SIZE] = fend - a - size
                            _fix(T, path, fit_out[2])
                        else:
                            T[node, F_SIZE] = a - k
                            _fix(T, path, fit_out[2])
                            if a + size < fend:
                                if tn + 2 >= T.shape[0]:
                                    T = _grow_rows(T, T.shape[0] * 2)
                                    pool = _grow1(pool, T.shape[0])
                                if npool > 0:
                                    npool -= 1
                                    rx = pool[npool]
                                else:
                                    rx = tn
                                    tn += 1
                                T[rx, F_KEY] = a + size
                                T[rx, F_SIZE] = fend - a - size
                                T[rx, F_PRIO] = np.int64(_rng_next(prio_st, 0) >> np.uint64(2))
                                root = _insert(T, root, rx, path)
                        # the new area
                        if napool > 0:
                            napool -= 1
                            aid = apool[napool]
                        else:
                            if an >= A.shape[0]:
                                A = _grow_rows(A, A.shape[0] * 2)
                                apool = _grow1(apool, A.shape[0])
                            aid = an
                            an += 1
                        A[aid, A_START] = a
                        A[aid, A_SIZE] = size
                        A[aid, A_GUARD] = op_guard[w]
                        A[aid, A_STATE] = ST_BUSY
                        area_pages += size
                        busy_n += 1
                        if op_guard[w]:
                            live_pages += op_size[w]
                        if a + size > highwater:
                            highwater = a + size
                        if allocator == ALLOC_LIST:
                            cache_valid = 1
                            cache_end = a + size
                        S[S_ALLOCS] += 1
                        S[S_OPS] += 1
                        mem = _mem_bytes(base_mem, live_pages, page_size, busy_n + lazy_areas, va_obj, highwater - va_start)
                        if mem > peak_mem:
                            peak_mem = mem
                        if mem > ram:
                            S[S_OOM] = 1
                            S[S_OOM_T] = t + hold
                            stop = True
                        if check:
                            e = _check_space(T, root, A, an, va_start, va_pages, lazy_nr, busy_n, lazy_areas, stack)
                            if e != 0:
                                err = e
                                stop = True
                        dst = op_dst[w]
                        if dst == DST_P1:
                            w_p1[w] = aid
                        elif dst == DST_P2:
                            w_p2[w] = aid
                        elif dst == DST_ARR1:
                            w_arr1[w] = aid
                        elif dst == DST_ARR2:
                            w_arr2[w] = aid
                        elif dst == DST_HOLD:
                            H[w, w_hn[w]] = aid
                            w_hn[w] += 1
                        elif dst == DST_BLOCK:
                            w_blk[w] = aid
                            w_blk_used[w] = 0
                        else:
                            j = (w_ring_h[w] + w_ring_n[w]) % hold_cap
                            H[w, j] = aid
                            HD[w, j] = t + c_rcu
                            w_ring_n[w] += 1
                        if lock_split:
                            t_pc[w] = W_INSERT_LOCK
                            nt = t + hold
                        else:
                            post = op_size[w] * c_map_page + c_touch if op_guard[w] else 0
                            _hist_add(hist, hmax, H_ALLOC, t + hold + post - t_op0[w])
                            t_pc[w] = W_OP
                            nt = t + hold + post

            elif pc == W_INSERT_LOCK:
                # 5.5+: insert into the busy tree under vmap_area_lock
                w = task
                got, hn, seq = _lock_request(L_AREA, w, t, c_handoff, t_wait, t_req, l_holder, l_rel, lq, lq_h, lq_n, ht, hs, hk, hn, seq)
                if got:
                    _hist_add(hist, hmax, H_LOCK_WAIT, t - t_req[w])
                    S[S_LOCK_ACQ] += 1
                    hold = c_tree_level * _ilog2(busy_n + 1) + c_alloc_base // 2
                    hn, seq = _lock_release(L_AREA, t + hold, c_handoff, l_holder, l_rel, lq, lq_h, lq_n, ht, hs, hk, hn, seq)
                    _hist_add(hist, hmax, H_LOCK_HOLD, hold)
                    post = op_size[w] * c_map_page + c_touch if op_guard[w] else 0
                    _hist_add(hist, hmax, H_ALLOC, t + hold + post - t_op0[w])
                    t_pc[w] = W_OP
                    nt = t + hold + post

            elif pc == W_ALLOC_FAILED:
                w = task
                if t_retry[w] == 0:
                    # purge_vmap_area_lazy(): mutex_lock, purge, then retry the search once
                    t_retry[w] = 1
                    t_trig[w] = TRIGGER_ALLOC_FAIL
                    t_ret[w] = W_ALLOC_LOCK
                    if m_holder == -1:
                        m_holder = w
                        t_pc[w] = PU_START
                        nt = t
                    else:
                        mq[(mq_h + mq_n) % mq.shape[0]] = w
                        mq_n += 1
                        t_pc[w] = PU_START
                        block = True
                else:
                    # the retry failed too: the test sees NULL
                    S[S_ALLOC_FAIL] += 1
                    w_fail[w] = 1
                    w_sub[w] = 0
                    if w_phase[w] < 4:
                        w_phase[w] = 8
                        w_i[w] = 0
                    t_pc[w] = W_OP
                    nt = t

            # ================================================================ vfree
            elif pc == W_FREE_LOCK:
                w = task
                got, hn, seq = _lock_request(L_AREA, w, t, c_handoff, t_wait, t_req, l_holder, l_rel, lq, lq_h, lq_n, ht, hs, hk, hn, seq)
                if got:
                    _hist_add(hist, hmax, H_LOCK_WAIT, t - t_req[w])
                    S[S_LOCK_ACQ] += 1
                    # find_vmap_area (an rb-tree lookup; 5.11+ also unlinks from the busy tree):
                    # costed by depth; the worker already knows its area id
                    x = op_key[w]
                    hold = c_lookup + _ilog2(busy_n + lazy_areas + 1) * c_tree_level
                    hn, seq = _lock_release(L_AREA, t + hold, c_handoff, l_holder, l_rel, lq, lq_h, lq_n, ht, hs, hk, hn, seq)
                    _hist_add(hist, hmax, H_LOCK_HOLD, hold)
                    npg = 0
                    if x >= 0 and A[x, A_STATE] == ST_BUSY:
                        size = A[x, A_SIZE]
                        guard = A[x, A_GUARD]
                        if guard:
                            npg = size - guard
                            live_pages -= npg
                        A[x, A_STATE] = ST_LAZY
                        busy_n -= 1
                        lazy_areas += 1
                        lazy_nr += size
                        if lazy_nr > peak_lazy:
                            peak_lazy = lazy_nr
                        if nlz >= lz.shape[0]:
                            lz = _grow1(lz, lz.shape[0] * 2)
                        lz[nlz] = x
                        nlz += 1
                        S[S_FREES] += 1
                        S[S_OPS] += 1
                        if check:
                            e = _check_space(T, root, A, an, va_start, va_pages, lazy_nr, busy_n, lazy_areas, stack)
                            if e != 0:
                                err = e
                                stop = True
                    post = npg * c_unmap_page + c_lazy_add
                    _hist_add(hist, hmax, H_FREE, t + hold + post - t_op0[w])
                    t_pc[w] = W_OP
                    nt = t + hold + post
                    if lazy_nr > lazy_max:
                        if mode == MODE_SYNC:
                            # try_purge_vmap_area_lazy(): mutex_trylock, purge in this task
                            if m_holder == -1:
                                m_holder = w
                                t_trig[w] = TRIGGER_FREE
                                t_ret[w] = W_OP
                                t_pc[w] = PU_START
                        elif kw_pending == 0:
                            # schedule_work(&drain_vmap_work) on this CPU
                            kw_pending = 1
                            if kw_active == 0:
                                kw_active = 1
                                t_cpu[KW] = cpu
                                t_pc[KW] = K_START
                                hn, seq = _wake(KW, cpu, t, c_wakeup, c_cur, c_slice0, c_wakep, rq, rq_h, rq_n, ht, hs, hk, hn, seq)

            # ================================================================ drain_vmap_area_work
            elif pc == K_START:
                kw_pending = 0
                t_trig[KW] = TRIGGER_DRAIN
                t_ret[KW] = K_AFTER
                t_pc[KW] = PU_START
                if m_holder == -1:
                    m_holder = KW
                    nt = t
                else:
                    mq[(mq_h + mq_n) % mq.shape[0]] = KW
                    mq_n += 1
                    block = True
            elif pc == K_AFTER:
                if lazy_nr > lazy_max or kw_pending:
                    t_pc[KW] = K_START
                    nt = t
                else:
                    t_pc[KW] = K_IDLE
                    kw_active = 0
                    block = True

            # ================================================================ __purge_vmap_area_lazy
            elif pc == PU_START:
                # the mutex is ours; steal the list
                pu_task = task
                pu_start = t
                pu_lazy0 = lazy_nr
                pu_yields = 0
                pu_maxhold = 0
                pu_pages = 0
                pu_free0 = -1
                pu_decide = 0
                pu_walk = 0
                lz, steal = steal, lz
                nsteal = nlz
                nlz = 0
                pu_entries = nsteal
                pu_i = 0
                if nsteal == 0:
                    finish_purge = True
                    tt = t + c_steal
                else:
                    if flush_mode == FLUSH_AT_INSERT:
                        # 5.11+: the purge list is the address-ordered purge tree, in which
                        # adjacent lazy areas were merged at insert: sort, and count the runs
                        order = np.argsort(A[steal[:nsteal], A_START])
                        steal[:nsteal] = steal[:nsteal][order]
                        pu_entries = 1
                        for q in range(1, nsteal):
                            if A[steal[q], A_START] != A[steal[q - 1], A_START] + A[steal[q - 1], A_SIZE]:
                                pu_entries += 1
                    else:
                        pu_walk = nsteal * c_flush_walk
                    t_pc[task] = PU_FLUSH
                    nt = t + c_steal + pu_walk
            elif pc == PU_FLUSH:
                t_pc[task] = PU_RELOCK
                nt = t + c_tlb
            elif pc == PU_RELOCK:
                # take the lock for the free loop (first time, or again after cond_resched_lock)
                got, hn, seq = _lock_request(L_FREE, task, t, c_handoff, t_wait, t_req, l_holder, l_rel, lq, lq_h, lq_n, ht, hs, hk, hn, seq)
                if got:
                    _hist_add(hist, hmax, H_LOCK_WAIT, t - t_req[task])
                    S[S_LOCK_ACQ] += 1
                    l_grant[L_FREE] = t
                    if pu_free0 < 0:
                        pu_free0 = t
                    t_pc[task] = PU_LOOP
                    nt = t
            elif pc == PU_LOOP:
                lk = L_FREE
                yielded = False
                while True:
                    if pu_decide:
                        # cond_resched_lock() after the previous entry, decided at its end time
                        pu_decide = 0
                        contended = lq_n[lk] > 0
                        resched = rq_n[cpu] > 0 and (c_wakep[cpu] == 1 or tt - c_slice0[cpu] >= c_slice)
                        may_yield = policy == POLICY_ALWAYS or (policy == POLICY_THRESHOLD and lazy_nr < resched_thresh)
                        if may_yield and ((contended and preempt == PREEMPT_FULL) or resched):
                            pu_yields += 1
                            hold = tt - l_grant[lk]
                            if hold > pu_maxhold:
                                pu_maxhold = hold
                            _hist_add(hist, hmax, H_LOCK_HOLD, hold)
                            hn, seq = _lock_release(lk, tt, c_handoff, l_holder, l_rel, lq, lq_h, lq_n, ht, hs, hk, hn, seq)
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
                        apool[napool] = x
                        napool += 1
                    lazy_areas -= n_in
                    area_pages -= run_pages
                    # return [rs, rs + run_pages) to the free tree, merging with its neighbours
                    pv, sx = _neighbours(T, root, rs)
                    mp = pv != NIL and T[pv, F_KEY] + T[pv, F_SIZE] == rs
                    ms = sx != NIL and T[sx, F_KEY] == rs + run_pages
                    if mp and ms:
                        T[pv, F_SIZE] += run_pages + T[sx, F_SIZE]
                        root = _delete(T, root, sx, path)
                        pool[npool] = sx
                        npool += 1
                        fk = T[pv, F_KEY]
                    elif mp:
                        T[pv, F_SIZE] += run_pages
                        fk = T[pv, F_KEY]
                    elif ms:
                        T[sx, F_KEY] = rs           # same order: no other key lies in between
                        T[sx, F_SIZE] += run_pages
                        fk = rs
                    else:
                        if tn + 2 >= T.shape[0]:
                            T = _grow_rows(T, T.shape[0] * 2)
                            pool = _grow1(pool, T.shape[0])
                        if npool > 0:
                            npool -= 1
                            nx = pool[npool]
                        else:
                            nx = tn
                            tn += 1
                        T[nx, F_KEY] = rs
                        T[nx, F_SIZE] = run_pages
                        T[nx, F_PRIO] = np.int64(_rng_next(prio_st, 0) >> np.uint64(2))
                        root = _insert(T, root, nx, path)
                        fk = rs
                    if mp or ms:
                        _fix_key(T, root, fk, path)
                    if allocator == ALLOC_LIST and cache_valid and rs < cache_end:
                        # free_vmap_cache = rb_prev(va): the busy area that ends where the hole starts
                        cache_end = fk
                        if fk <= va_start:
                            cache_valid = 0
                    lazy_nr -= run_pages
                    pu_pages += run_pages
                    tt += c_free_area
                    if allocator == ALLOC_TREE:
                        tt += c_tree_level * _ilog2(tn - npool)
                    if check:
                        e = _check_space(T, root, A, an, va_start, va_pages, lazy_nr, busy_n, lazy_areas, stack)
                        if e != 0:
                            err = e
                            stop = True
                            break
                    if pu_i < nsteal and (policy == POLICY_ALWAYS or (policy == POLICY_THRESHOLD and lazy_nr < resched_thresh)):
                        # a yield is possible: everything due before tt happens first, then we decide
                        pu_decide = 1
                        if hn > 0 and ht[0] <= tt:
                            break
                    elif next_sample <= tt:
                        # no yield possible, so nobody else can change what this loop does: it runs
                        # ahead of other tasks' events (they wait for this lock or touch only state the
                        # loop does not read; concurrent frees only raise vmap_lazy_nr, which keeps the
                        # no-yield condition true). It stops at each sample so the time series is exact.
                        break
                if yielded:
                    # ... schedule() if due (a preemption point), then queue for the lock again
                    t_pc[task] = PU_RELOCK
                    nt = tt
                elif pu_i >= nsteal and pu_decide == 0 and not stop:
                    hold = tt - l_grant[lk]
                    if hold > pu_maxhold:
                        pu_maxhold = hold
                    _hist_add(hist, hmax, H_LOCK_HOLD, hold)
                    hn, seq = _lock_release(lk, tt, c_handoff, l_holder, l_rel, lq, lq_h, lq_n, ht, hs, hk, hn, seq)
                    finish_purge = True
                else:
                    nt = tt

            if finish_purge:
                # record the purge, mutex_unlock (hand it to a sleeper), return to the caller
                if npr >= PR.shape[1]:
                    PR = _grow2(PR, PR.shape[1] * 2)
                PR[PR_START, npr] = pu_start
                PR[PR_END, npr] = tt
                PR[PR_WALK, npr] = pu_walk
                PR[PR_FLUSH, npr] = c_tlb if nsteal > 0 else 0
                PR[PR_FREE, npr] = tt - pu_free0 if pu_free0 >= 0 else 0
                PR[PR_AREAS, npr] = nsteal
                PR[PR_ENTRIES, npr] = pu_entries
                PR[PR_PAGES, npr] = pu_pages
                PR[PR_YIELDS, npr] = pu_yields
                PR[PR_MAX_HOLD, npr] = pu_maxhold
                PR[PR_CPU, npr] = cpu
                PR[PR_TRIGGER, npr] = t_trig[task]
                PR[PR_LAZY_START, npr] = pu_lazy0
                npr += 1
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
                    hn, seq = _wake(nxt, t_cpu[nxt], tt, c_wakeup, c_cur, c_slice0, c_wakep, rq, rq_h, rq_n, ht, hs, hk, hn, seq)
                t_pc[task] = t_ret[task]
                nt = tt
            if _pass == 0 and task < nw and t_pc[task] == W_OP and nt >= 0 and not block and not stop:
                spec = True
                t = nt
                pc = W_OP
            else:
                break
        if spec:
            t = t_saved

        if nt >= 0:
            if not block and nt <= duration and (hn == 0 or nt < ht[0]):
                inline = True
                inline_t = nt
            else:
                hn = _heap_push(ht, hs, hk, hn, nt, seq, task)
                seq += 1
        if block:
            hn, seq = _switch_to_next(cpu, t, c_ctxsw, c_cur, c_slice0, c_wakep, rq, rq_h, rq_n, ht, hs, hk, hn, seq)
        if workers_left == 0 and kw_active == 0 and pu_task < 0:
            stop = True

    if not stop and hn == 0 and t < duration and workers_left > 0:
        err = ERR_STALL   # everyone waits and nothing is scheduled: a model bug
    # tests still running at the end: count their time so far
    for w in range(nw):
        tpos = w_pos[w]
        if tpos < ntests and orders[w, tpos] >= 0 and TT[w, tpos, TT_REPS] > 0:
            TT[w, tpos, TT_TIME] += t - w_t0[w]
    S[S_SIM_NS] = t
    S[S_EVENTS] = events
    S[S_PEAK_LAZY] = peak_lazy
    S[S_NPURGE] = npr
    S[S_NSAMPLES] = isample
    S[S_ERROR] = err
    S[S_PEAK_MEM] = peak_mem
    S[S_WORKERS_DONE] = nw - workers_left
    return S, TS[:isample].copy(), PR[:, :npr].copy(), hist, hmax, TT
