"""A worker's vmalloc and vfree calls, as step handlers: the call's start (the program's next call,
`programs._next_call`), the allocation search under the lock and its insert (5.5+), the
allocation-failure path, and vfree's lookup and lazy add.

Each handler runs the step of worker w at pc W_* at time t (ns) and returns when the worker's
next step is due (ns), or NT_WAIT (it spins in a lock's queue) / NT_BLOCK (it sleeps or exits).
"""
from __future__ import annotations

from .layout import *  # noqa: F403 (index constants)
from .jit import _hist_add, _ilog2, _rare, _step
from .sched import _acquire, _cost, _free_lock, _hold
from .space import _account_memory, _area_new, _check, _map_tables, _va_carve, _va_search
from .programs import _next_call
from .purge import _lazy_list, _purge_kick, _purge_lock


@_step
def _worker_done(X, w):
    """Worker w has made its last call: it exits."""
    X.sched.TK[TK_PC, w] = W_DONE
    X.K[LS_WORKERS_LEFT] -= 1
    return NT_BLOCK


@_step
def _call_start(X, w, t, ahead):
    """W_OP: worker w's program makes its next call at t. ahead: the caller generates it as of
    the previous call's end, before that end is an event (an exit then waits for its own time)."""
    P, TK, W, G = X.P, X.sched.TK, X.progs.W, X.space.G
    kind = _next_call(X.progs, P, w, t)
    if W[w, WS_PCPU] != W[w, WS_PCPU_SEEN]:
        # percpu objects allocated or freed by the program (pcpu_alloc_test)
        G[G_PCPU_OBJS] += W[w, WS_PCPU] - W[w, WS_PCPU_SEEN]
        W[w, WS_PCPU_SEEN] = W[w, WS_PCPU]
    TK[TK_OP0, w] = t
    if kind == OP_EXIT:
        if ahead:
            TK[TK_PC, w] = W_EXIT       # exit at its own time, not now
            return t
        return _worker_done(X, w)
    if kind == OP_CPU:
        return _cost(X, TK[TK_CPU, w], t, W[w, WS_OP_SIZE])
    TK[TK_FRESH, w] = 1
    if kind == OP_ALLOC:
        # kmalloc the vmap_area, then take the lock for the search
        TK[TK_RETRY, w] = 0
        TK[TK_PC, w] = W_ALLOC_LOCK
        return _cost(X, TK[TK_CPU, w], t, P[P_KMALLOC])
    TK[TK_PC, w] = W_FREE_LOCK
    return t


# ============================================================================ vmalloc
@_step
def _alloc_search(X, w, t):
    """W_ALLOC_LOCK: alloc_vmap_area's search under the lock (free_vmap_area_lock with lock_split,
    else vmap_area_lock), costed by the list walk (<= 5.1) or the tree depth; then the area is
    carved out, or the search failed (W_ALLOC_FAILED)."""
    P, TK, W, Sp, S = X.P, X.sched.TK, X.progs.W, X.space, X.out.S
    G = Sp.G
    lk = _free_lock(P)
    if not _acquire(X, lk, w, t):
        return NT_WAIT
    size = W[w, WS_OP_SIZE] + W[w, WS_OP_GUARD]
    node, walked, levels = _va_search(G, Sp.T, Sp.path, Sp.fit_out, Sp.stack, size, W[w, WS_OP_ALIGN],
                                      P[P_ALLOCATOR], P[P_VA_START], P[P_VA_START] + P[P_VA_PAGES])
    if P[P_ALLOCATOR] == ALLOC_LIST:
        hold = P[P_ALLOC_BASE] + walked * P[P_LIST_WALK] + levels * P[P_TREE_LEVEL]
        S[S_LIST_WALK] += walked
        if levels > 0:
            S[S_LIST_DESCENT] += 1
    else:
        hold = P[P_ALLOC_BASE] + _ilog2(G[G_TN] - 1 - G[G_NPOOL]) * P[P_TREE_LEVEL]
    # lock-holder preemption: the critical section stops while the vCPU is off
    rel = _hold(X, lk, TK[TK_CPU, w], t, hold)
    if node == NIL:
        TK[TK_PC, w] = W_ALLOC_FAILED
        return rel
    _alloc_place(X, w, t, node, size)
    if P[P_LOCK_SPLIT]:
        TK[TK_PC, w] = W_INSERT_LOCK
        return rel
    return _alloc_done(X, w, rel)


@_step
def _alloc_place(X, w, t, node, size):
    """The search found free segment `node`: carve [fit, fit + size) (pages, guard included) out of
    it, map its data pages' page tables, account for memory (OOM) and hand the area to the program."""
    P, W, Sp, S = X.P, X.progs.W, X.space, X.out.S
    G = Sp.G
    a = Sp.fit_out[0]
    guard = W[w, WS_OP_GUARD]
    _va_carve(G, Sp.T, Sp.pool, Sp.prio_st, Sp.path, Sp.fit_out, node, size)
    aid = _area_new(G, Sp.A, Sp.apool, a, size, guard)
    if guard:
        G[G_LIVE_PAGES] += W[w, WS_OP_SIZE]
    if a + size > G[G_HIGHWATER]:
        G[G_HIGHWATER] = a + size
    if P[P_ALLOCATOR] == ALLOC_LIST:
        G[G_CACHE_VALID] = 1
        G[G_CACHE_END] = a + size
    S[S_ALLOCS] += 1
    S[S_OPS] += 1
    if guard:
        # map the data pages (vmap blocks are mapped page by page: not modelled)
        off0 = a - P[P_VA_START]
        off1 = a + size - 2 - P[P_VA_START]
        if off1 >= off0:
            G[G_PT_PAGES] += _map_tables(Sp.pte_bits, off0 >> 9, off1 >> 9)
            G[G_PT_PAGES] += _map_tables(Sp.pmd_bits, off0 >> 18, off1 >> 18)
    _account_memory(X, t)
    _check(X)
    _store_area(X, w, aid, t)


@_step
def _store_area(X, w, aid, t):
    """The program keeps area `aid` where its call said (WS_OP_DST): a pointer, an array, the held
    list, the vmap block, or the kvfree_rcu ring (due rcu_delay_ns after t)."""
    W, H = X.progs.W, X.progs.H
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
        j = (W[w, WS_RING_H] + W[w, WS_RING_N]) % X.P[P_HOLD_CAP]
        H[w, j] = aid
        X.progs.HD[w, j] = t + X.P[P_RCU_DELAY]
        W[w, WS_RING_N] += 1


@_step
def _alloc_insert(X, w, t):
    """W_INSERT_LOCK (5.5+): insert the area into the busy tree under vmap_area_lock."""
    P, G = X.P, X.space.G
    if not _acquire(X, 0, w, t):
        return NT_WAIT
    hold = P[P_TREE_LEVEL] * _ilog2(G[G_BUSY_N] + 1) + P[P_ALLOC_BASE] // 2
    rel = _hold(X, 0, X.sched.TK[TK_CPU, w], t, hold)
    return _alloc_done(X, w, rel)


@_step
def _alloc_done(X, w, t_end):
    """Worker w's vmalloc leaves its last lock at t_end (ns): map and touch the data pages (not for
    vmap blocks), record the call's latency. Returns when its next call starts (ns)."""
    P, W, TK = X.P, X.progs.W, X.sched.TK
    post = W[w, WS_OP_SIZE] * P[P_MAP_PAGE] + P[P_TOUCH] if W[w, WS_OP_GUARD] else 0
    t1 = _cost(X, TK[TK_CPU, w], t_end, post)
    _hist_add(X.out.hist, X.out.hmax, H_ALLOC, t1 - TK[TK_OP0, w])
    TK[TK_PC, w] = W_OP
    return t1


@_rare
def _alloc_failed(X, w, t):
    """W_ALLOC_FAILED: the first failure runs purge_vmap_area_lazy() (mutex_lock, purge) and
    retries the search once; the second makes the test see NULL (its loop ends, or its set-up is
    torn down)."""
    TK, W = X.sched.TK, X.progs.W
    if TK[TK_RETRY, w] == 0:
        TK[TK_RETRY, w] = 1
        # a mutex sleeps; 4.9's spin_lock(&purge_lock) spins, keeping the CPU
        return _purge_lock(X, w, TRIGGER_ALLOC_FAIL, W_ALLOC_LOCK, t, X.P[P_PURGE_LOCK] == PURGE_LOCK_SPIN)
    X.out.S[S_ALLOC_FAIL] += 1
    W[w, WS_FAIL] = 1
    W[w, WS_SUB] = 0
    if W[w, WS_PHASE] < PH_LOOP:
        W[w, WS_PHASE] = PH_TEARDOWN
        W[w, WS_I] = 0
    TK[TK_PC, w] = W_OP
    return t


# ============================================================================ vfree
@_step
def _vfree(X, w, t):
    """W_FREE_LOCK: find_vmap_area under vmap_area_lock (an rb-tree lookup, costed by depth; the
    worker already knows its area id), unmap, and the lazy add; above lazy_max_pages a purge is
    started or the drain work queued (`_purge_kick`)."""
    P, TK, W, A, G = X.P, X.sched.TK, X.progs.W, X.space.A, X.space.G
    if not _acquire(X, 0, w, t):
        return NT_WAIT
    cpu = TK[TK_CPU, w]
    x = W[w, WS_OP_KEY]
    hold = P[P_LOOKUP] + _ilog2(G[G_BUSY_N] + G[G_LAZY_AREAS] + 1) * P[P_TREE_LEVEL]
    rel = _hold(X, 0, cpu, t, hold)
    npg = 0
    if x >= 0 and A[x, A_STATE] == ST_BUSY:
        npg = _lazy_add(X, x)
        X.out.S[S_FREES] += 1
        X.out.S[S_OPS] += 1
        _check(X)
    nt = _cost(X, cpu, rel, npg * P[P_UNMAP_PAGE] + P[P_LAZY_ADD])
    _hist_add(X.out.hist, X.out.hmax, H_FREE, nt - TK[TK_OP0, w])
    TK[TK_PC, w] = W_OP
    if G[G_LAZY_NR] > P[P_LAZY_MAX]:
        _purge_kick(X, w, cpu, t)
    return nt


@_step
def _lazy_add(X, x):
    """Busy area x becomes lazy: on the lazy list, its pages (guard included) on vmap_lazy_nr.
    Returns its data pages (unmapped by the caller)."""
    A, G, K = X.space.A, X.space.G, X.K
    size, guard = A[x, A_SIZE], A[x, A_GUARD]
    npg = 0
    if guard:
        npg = size - guard
        G[G_LIVE_PAGES] -= npg
    A[x, A_STATE] = ST_LAZY
    G[G_BUSY_N] -= 1
    G[G_LAZY_AREAS] += 1
    G[G_LAZY_NR] += size
    if G[G_LAZY_NR] > G[G_PEAK_LAZY]:
        G[G_PEAK_LAZY] = G[G_LAZY_NR]
    _lazy_list(X)[K[LS_NLZ]] = x
    K[LS_NLZ] += 1
    return npg
