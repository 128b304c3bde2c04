"""``__purge_vmap_area_lazy`` and what starts it: vmap_purge_lock, the drain work, the purge's
phases (steal, flush-range walk, TLB flush, the free loop under the lock) and the purge policy,
the one decision a policy makes (`_policy_wants`).

Each ``_purge_*``/``_drain_*`` step handler runs one phase of the task at pc PU_*/K_* at time t
and returns when the task's next step is due (ns), or NT_WAIT / NT_BLOCK. The running purge's
counters are K's LS_PU_* slots (one purge runs at a time: the mutex).
"""
from __future__ import annotations

from numba import njit

from .layout import *  # noqa: F403 (index constants)
from .jit import _hist_add, _ilog2, _inline, _rare, _step
from .sched import _acquire, _cost, _drop, _free_lock, _push, _wake_on
from .host import _vcpu_delay, _vcpu_next_run
from .space import _check, _va_free
from .tree import _radix_sort_by_start


# ============================================================================ the policy (the seam)
@_inline
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


@_step
def _policy_asks(X, tt):
    """`_policy_wants` for the running purge at tt (ns), on the free loop's lock."""
    K, LK = X.K, X.sched.LK
    lk = _free_lock(X.P)
    return _policy_wants(X.P, K, X.space.G[G_LAZY_NR], LK[LK_QN, lk], tt - LK[LK_GRANT, lk],
                         K[LS_PU_ENTRIES] - K[LS_PU_DONE], K[LS_PU_LAZY0], K[LS_PU_PAGES], X.policy_fn)


# ============================================================================ lists and the mutex
@_inline
def _lazy_list(X):
    """The lazy (purge) list vfree adds to; K[LS_NLZ] entries, in free order."""
    return X.space.lz1 if X.K[LS_LZ_SWAP] else X.space.lz0


@_inline
def _stolen_list(X):
    """The list the running purge stole; K[LS_NSTEAL] entries."""
    return X.space.lz0 if X.K[LS_LZ_SWAP] else X.space.lz1


@_step
def _purge_lock(X, task, trigger, ret, t, spins):
    """purge_vmap_area_lazy() from `task` at t: mutex_lock(&vmap_purge_lock), the purge (trigger:
    TRIGGER_*), then back to pc `ret`. Returns t when the mutex is free, else the task waits in
    its queue: it spins (`spins`: 4.9's spinlock) or sleeps."""
    K, TK, mq = X.K, X.sched.TK, X.sched.mq
    TK[TK_TRIG, task] = trigger
    TK[TK_RET, task] = ret
    TK[TK_PC, task] = PU_START
    if K[LS_M_HOLDER] == -1:
        K[LS_M_HOLDER] = task
        return t
    mq[(K[LS_MQ_H] + K[LS_MQ_N]) % mq.shape[0]] = task
    K[LS_MQ_N] += 1
    return NT_WAIT if spins else NT_BLOCK


@_rare
def _mutex_unlock(X, t):
    """mutex_unlock(&vmap_purge_lock) at t: the first waiter gets it (a sleeper is woken; 4.9's
    spinner takes it a cache-line hand-off later)."""
    P, K, TK, mq = X.P, X.K, X.sched.TK, X.sched.mq
    K[LS_M_HOLDER] = -1
    if K[LS_MQ_N] > 0:
        nxt = mq[K[LS_MQ_H]]
        K[LS_MQ_H] = (K[LS_MQ_H] + 1) % mq.shape[0]
        K[LS_MQ_N] -= 1
        K[LS_M_HOLDER] = nxt
        if P[P_PURGE_LOCK] == PURGE_LOCK_SPIN:
            _push(X, t + P[P_HANDOFF], nxt)
        else:
            _wake_on(X, nxt, TK[TK_CPU, nxt], t, P[P_WAKEUP])


@_step
def _purge_kick(X, w, cpu, t):
    """A vfree by worker w on `cpu` left vmap_lazy_nr above lazy_max_pages at t: sync mode
    try_purge_vmap_area_lazy() (mutex_trylock; the purge runs in w after its call), deferred
    mode schedule_work(&drain_vmap_work) on this CPU."""
    P, K, TK = X.P, X.K, X.sched.TK
    if P[P_PURGE_MODE] == MODE_SYNC:
        if K[LS_M_HOLDER] == -1:
            K[LS_M_HOLDER] = w
            TK[TK_TRIG, w] = TRIGGER_FREE
            TK[TK_RET, w] = W_OP
            TK[TK_PC, w] = PU_START
    elif K[LS_KW_PENDING] == 0:
        K[LS_KW_PENDING] = 1
        if K[LS_KW_ACTIVE] == 0:
            kw = P[P_NWORK]
            K[LS_KW_ACTIVE] = 1
            TK[TK_CPU, kw] = cpu
            TK[TK_PC, kw] = K_START
            _wake_on(X, kw, cpu, t, P[P_WAKEUP])


# ============================================================================ drain_vmap_area_work
@_step
def _drain_start(X, t):
    """K_START: the drain work runs: mutex_lock, purge, then K_AFTER."""
    X.K[LS_KW_PENDING] = 0
    return _purge_lock(X, X.P[P_NWORK], TRIGGER_DRAIN, K_AFTER, t, False)


@_step
def _drain_after(X, t):
    """K_AFTER: purge again while vmap_lazy_nr > lazy_max_pages (or the work was queued again),
    else the kworker sleeps."""
    K, TK, kw = X.K, X.sched.TK, X.P[P_NWORK]
    if X.space.G[G_LAZY_NR] > X.P[P_LAZY_MAX] or K[LS_KW_PENDING]:
        TK[TK_PC, kw] = K_START
        return t
    TK[TK_PC, kw] = K_IDLE
    K[LS_KW_ACTIVE] = 0
    return NT_BLOCK


# ============================================================================ the purge's phases
@_rare
def _purge_start(X, task, t):
    """PU_START: the mutex is ours. Steal the lazy list, cost its flush-range walk and the TLB
    flush of its span (PU_FLUSH next)."""
    P, K, TK = X.P, X.K, X.sched.TK
    cpu = TK[TK_CPU, task]
    K[LS_PU_TASK] = task
    K[LS_PU_START] = t
    K[LS_PU_LAZY0] = X.space.G[G_LAZY_NR]
    K[LS_PU_YIELDS] = 0
    K[LS_PU_MAXHOLD] = 0
    K[LS_PU_PAGES] = 0
    K[LS_PU_FREE0] = -1
    K[LS_PU_DECIDE] = 0
    K[LS_PU_WALK] = 0
    K[LS_PU_FLUSH] = 0
    K[LS_PU_WORK] = P[P_STEAL]
    K[LS_PU_BATCH] = 0
    K[LS_PU_DONE] = 0
    K[LS_PU_SINCE] = 0
    K[LS_LZ_SWAP] ^= 1            # the lazy list becomes the stolen one, and the other list empty
    K[LS_NSTEAL] = K[LS_NLZ]
    K[LS_NLZ] = 0
    K[LS_PU_ENTRIES] = K[LS_NSTEAL]
    K[LS_PU_I] = 0
    if K[LS_NSTEAL] == 0:
        return _purge_finish(X, task, _cost(X, cpu, t, P[P_STEAL]))
    span = _purge_span(X)
    # flush_tlb_kernel_range(start, end): one IPI round (x86; arm64 broadcasts), then per page up
    # to the ceiling, else a flush of everything
    if span > P[P_TLB_CEIL]:
        K[LS_PU_FLUSH] = _tlb_ipi_ns(P) + P[P_TLB_BASE]
    else:
        K[LS_PU_FLUSH] = _tlb_ipi_ns(P) + P[P_TLB_PAGE] * span
    K[LS_PU_WORK] += K[LS_PU_WALK] + K[LS_PU_FLUSH]
    TK[TK_PC, task] = PU_FLUSH
    return _cost(X, cpu, t, P[P_STEAL] + K[LS_PU_WALK])


@_step
def _tlb_ipi_ns(P):
    """The flush's IPI round (ns): x86 interrupts every CPU and waits for all; arm64 broadcasts
    TLBI and waits once."""
    return P[P_TLB_CPU] * P[P_NCPUS] if P[P_TLB_IPI] != 0 else P[P_TLB_CPU]


@_step
def _purge_span(X):
    """Pages from the stolen list's lowest start to its highest end. Sets the walk's cost
    (LS_PU_WALK: the llist's min/max loop) or, at insert (5.11+: an address-ordered purge tree
    whose adjacent areas merged), sorts the list and counts its runs (LS_PU_ENTRIES)."""
    K, A = X.K, X.space.A
    steal = _stolen_list(X)
    n = K[LS_NSTEAL]
    if X.P[P_FLUSH] == FLUSH_AT_INSERT:
        _radix_sort_by_start(steal, n, A, X.space.RS)
        runs = 1
        for q in range(1, n):
            if A[steal[q], A_START] != A[steal[q - 1], A_START] + A[steal[q - 1], A_SIZE]:
                runs += 1
        K[LS_PU_ENTRIES] = runs
        return A[steal[n - 1], A_START] + A[steal[n - 1], A_SIZE] - A[steal[0], A_START]
    K[LS_PU_WALK] = n * X.P[P_FLUSH_WALK]
    lo = A[steal[0], A_START]
    hi = lo
    for q in range(n):
        x = steal[q]
        if A[x, A_START] < lo:
            lo = A[x, A_START]
        if A[x, A_START] + A[x, A_SIZE] > hi:
            hi = A[x, A_START] + A[x, A_SIZE]
    return hi - lo


@_rare
def _purge_flush(X, task, t):
    """PU_FLUSH: the TLB flush (4.9 first takes the whole batch off vmap_lazy_nr). On x86 every
    other CPU runs the flush in its IPI handler while this one waits: the task running there
    loses that time (CP_STALL; an idle CPU loses nothing), and on an overcommitted guest the flush
    ends only when every other vCPU has run it, each at its next run window. Then PU_RELOCK."""
    P, K, A, G = X.P, X.K, X.space.A, X.space.G
    CP, TK, S = X.sched.CP, X.sched.TK, X.out.S
    cpu = TK[TK_CPU, task]
    if P[P_LAZY_DROP] == LAZY_DROP_BATCH:
        steal = _stolen_list(X)
        for q in range(K[LS_NSTEAL]):
            K[LS_PU_BATCH] += A[steal[q], A_SIZE]
        G[G_LAZY_NR] -= K[LS_PU_BATCH]
    done = _cost(X, cpu, t, K[LS_PU_FLUSH])
    if P[P_TLB_IPI] != 0:
        stall = P[P_TLB_CPU] + K[LS_PU_FLUSH] - _tlb_ipi_ns(P)
        ncpus, H, HS = P[P_NCPUS], P[P_HOST_CPUS], P[P_HOST_SLICE]
        for c in range(ncpus):
            if c != cpu and CP[CP_CUR, c] >= 0:
                CP[CP_STALL, c] += stall
                S[S_IPI_STALL] += stall
            if c != cpu and H != 0:
                # on_each_cpu(..., wait=1): a descheduled vCPU runs the handler when it runs again,
                # and this one spins until the last has
                done = max(done, _vcpu_delay(c, _vcpu_next_run(c, t, ncpus, H, HS), stall, ncpus, H, HS))
    TK[TK_PC, task] = PU_RELOCK
    return done


@_step
def _purge_relock(X, task, t):
    """PU_RELOCK: take the free loop's lock (first time, or again after cond_resched_lock)."""
    lk = _free_lock(X.P)
    if not _acquire(X, lk, task, t):
        return NT_WAIT
    X.sched.LK[LK_GRANT, lk] = t
    if X.K[LS_PU_FREE0] < 0:
        X.K[LS_PU_FREE0] = t
    X.sched.TK[TK_PC, task] = PU_LOOP
    return t


@_step
def _free_entry(X, cpu, tt):
    """Free the running purge's next purge-list entry on `cpu` from tt (ns): an area (the llist,
    newest first) or a merged run (at insert) goes back into the free tree. Returns when done."""
    P, K, Sp = X.P, X.K, X.space
    A, G = Sp.A, Sp.G
    steal = _stolen_list(X)
    n, i = K[LS_NSTEAL], K[LS_PU_I]
    if P[P_FLUSH] == FLUSH_AT_INSERT:
        j = i + 1
        while j < n and A[steal[j], A_START] == A[steal[j - 1], A_START] + A[steal[j - 1], A_SIZE]:
            j += 1
        first, n_in = i, j - i
    else:
        first, n_in = n - 1 - i, 1
    K[LS_PU_I] = i + n_in
    rs = A[steal[first], A_START]
    run_pages = 0
    for q in range(n_in):
        x = steal[first + q]
        run_pages += A[x, A_SIZE]
        A[x, A_STATE] = ST_FREE
        Sp.apool[G[G_NAPOOL]] = x
        G[G_NAPOOL] += 1
    G[G_LAZY_AREAS] -= n_in
    G[G_AREA_PAGES] -= run_pages
    _va_free(G, Sp.T, Sp.pool, Sp.prio_st, Sp.path, rs, run_pages, P[P_ALLOCATOR], P[P_VA_START])
    if P[P_LAZY_DROP] != LAZY_DROP_BATCH:
        G[G_LAZY_NR] -= run_pages
    K[LS_PU_PAGES] += run_pages
    c_entry = P[P_FREE_AREA]
    if P[P_ALLOCATOR] == ALLOC_TREE:
        c_entry += P[P_TREE_LEVEL] * _ilog2(G[G_TN] - 1 - G[G_NPOOL])
    K[LS_PU_WORK] += c_entry
    K[LS_PU_DONE] += 1
    K[LS_PU_SINCE] += 1
    return _cost(X, cpu, tt, c_entry)


@_step
def _cond_resched_lock(X, cpu, tt):
    """cond_resched_lock() after an entry, decided at its end tt (ns): if the policy wants it, the
    lock drops when contended (lock_break) or a reschedule is due. True when it dropped."""
    P, K, LK, CP = X.P, X.K, X.sched.LK, X.sched.CP
    lk = _free_lock(P)
    contended = LK[LK_QN, lk] > 0
    resched = CP[CP_RQ_N, cpu] > 0 and (CP[CP_WAKEP, cpu] == 1 or tt - CP[CP_SLICE0, cpu] >= P[P_SLICE])
    may_yield = _policy_asks(X, tt)
    if may_yield and ((contended and P[P_LOCK_BREAK] != 0) or resched):
        K[LS_PU_YIELDS] += 1
        K[LS_PU_SINCE] = 0
        K[LS_PU_MAXHOLD] = max(K[LS_PU_MAXHOLD], _drop(X, lk, cpu, tt))
        return True
    return False


@_step
def _purge_free_loop(X, task, t):
    """PU_LOOP: free purge-list entries under the lock from t. After each, the policy may make the
    purge yield the lock (cond_resched_lock: then PU_RELOCK). While no yield is possible nobody
    else can change what the loop does, so it runs ahead of other tasks' events (they queue on
    its lock or only raise vmap_lazy_nr), up to the next sample, and in deferred mode up to the
    next event due (a vfree then reads vmap_lazy_nr to queue the drain work)."""
    P, K, HP, TK = X.P, X.K, X.sched.HP, X.sched.TK
    cpu = TK[TK_CPU, task]
    policy = P[P_POLICY]
    tt = t
    while True:
        if K[LS_PU_DECIDE]:
            K[LS_PU_DECIDE] = 0
            if _cond_resched_lock(X, cpu, tt):
                # ... schedule() if due (a preemption point), then queue for the lock again
                TK[TK_PC, task] = PU_RELOCK
                return tt
        if K[LS_PU_I] >= K[LS_NSTEAL]:
            break
        tt = _free_entry(X, cpu, tt)
        if _check(X):
            break
        if K[LS_PU_I] < K[LS_NSTEAL] and policy != POLICY_NO_RESCHED and (
                not _policy_static(policy) or _policy_asks(X, tt)):
            # a yield is possible: everything due before tt happens first, then we decide
            K[LS_PU_DECIDE] = 1
            if K[LS_HN] > 0 and HP[0, 0] <= tt:
                break
        elif K[LS_NEXT_SAMPLE] <= tt or (P[P_PURGE_MODE] == MODE_DEFERRED and K[LS_HN] > 0 and HP[0, 0] <= tt):
            break
    if K[LS_PU_I] < K[LS_NSTEAL] or K[LS_PU_DECIDE] != 0 or K[LS_STOP] != 0:
        return tt
    lk = _free_lock(P)
    K[LS_PU_MAXHOLD] = max(K[LS_PU_MAXHOLD], _drop(X, lk, cpu, tt))
    if tt > t:
        # the loop ran ahead: the purge (and the mutex) ends at tt, not now
        TK[TK_PC, task] = PU_DONE
        return tt
    return _purge_finish(X, task, tt)


@_rare
def _purge_finish(X, task, tt):
    """The purge ends at tt (ns): record it (PR_*), queue its vmap_area objects for kfree_rcu,
    mutex_unlock, and return to the caller's pc. Returns tt."""
    K, TK, PR, npr = X.K, X.sched.TK, X.out.PR, X.K[LS_NPR]
    PR[PR_START, npr] = K[LS_PU_START]
    PR[PR_END, npr] = tt
    PR[PR_WALK, npr] = K[LS_PU_WALK]
    PR[PR_FLUSH, npr] = K[LS_PU_FLUSH]
    PR[PR_FREE, npr] = tt - K[LS_PU_FREE0] if K[LS_PU_FREE0] >= 0 else 0
    PR[PR_AREAS, npr] = K[LS_NSTEAL]
    PR[PR_ENTRIES, npr] = K[LS_PU_ENTRIES]
    PR[PR_PAGES, npr] = K[LS_PU_PAGES]
    PR[PR_YIELDS, npr] = K[LS_PU_YIELDS]
    PR[PR_MAX_HOLD, npr] = K[LS_PU_MAXHOLD]
    PR[PR_CPU, npr] = TK[TK_CPU, task]
    PR[PR_TRIGGER, npr] = TK[TK_TRIG, task]
    PR[PR_LAZY_START, npr] = K[LS_PU_LAZY0]
    PR[PR_WORK, npr] = K[LS_PU_WORK]
    K[LS_NPR] = npr + 1
    X.space.G[G_RCU_OBJS] += K[LS_NSTEAL]     # __free_vmap_area -> kfree_rcu of each vmap_area
    if K[LS_NSTEAL] > 0:
        _hist_add(X.out.hist, X.out.hmax, H_PURGE, tt - K[LS_PU_START])
    K[LS_NSTEAL] = 0
    K[LS_PU_I] = 0
    K[LS_PU_TASK] = -1
    _mutex_unlock(X, tt)
    TK[TK_PC, task] = TK[TK_RET, task]
    return tt
