"""The event loop: take the next event, let the host or the guest's scheduler defer it, dispatch
the task's step to its handler (`calls`, `purge`), and schedule what comes next; the sampler.

`_loop` works on one `Sim` tuple and keeps every scalar in its loop state K (LS_*), so it can
return after any event (LOOP_GROW: `driver.run` grows an array) and be called again as if
nothing happened.
"""
from __future__ import annotations

from numba import njit

from .layout import *  # noqa: F403 (index constants)
from .jit import _step, _wrap
from .host import _vcpu_next_run, _vcpu_off
from .sched import _cost, _heap_pop, _push, _switch_cpu, _wake_on
from .space import _rcu_drain
from .calls import _alloc_failed, _alloc_insert, _alloc_search, _call_start, _vfree, _worker_done
from .purge import (_drain_after, _drain_start, _purge_finish, _purge_flush, _purge_free_loop,
                    _purge_relock, _purge_start)


@_step
def _sample(X, i, t):
    """Row i of the time series (TS_*) at time t (ns); also frees the vmap_area objects whose RCU
    grace period has ended."""
    P, G, TS, LK = X.P, X.space.G, X.out.TS, X.sched.LK
    ncpus = P[P_NCPUS]
    page_size = P[P_PAGE_SIZE]
    host = P[P_HOST_CPUS]
    TS[i, TS_LAZY] = G[G_LAZY_NR]
    TS[i, TS_LAZY_AREAS] = G[G_LAZY_AREAS]
    TS[i, TS_BUSY_AREAS] = G[G_BUSY_N]
    TS[i, TS_LIVE_PAGES] = G[G_LIVE_PAGES]
    TS[i, TS_HIGHWATER] = G[G_HIGHWATER] - P[P_VA_START]
    _rcu_drain(G, X.out.PR, X.K[LS_NPR], t, P[P_RCU_DELAY])
    TS[i, TS_MEM_BASE] = P[P_BASE_MEM]
    TS[i, TS_MEM_DATA] = G[G_LIVE_PAGES] * page_size
    TS[i, TS_MEM_PCPU] = G[G_PCPU_OBJS] * P[P_PCPU_OBJ] * ncpus
    TS[i, TS_MEM_VA_OBJ] = (G[G_BUSY_N] + G[G_LAZY_AREAS] + G[G_RCU_OBJS]) * P[P_VA_OBJ]
    TS[i, TS_MEM_PT] = G[G_PT_PAGES] * page_size
    TS[i, TS_MEM] = (TS[i, TS_MEM_BASE] + TS[i, TS_MEM_DATA] + TS[i, TS_MEM_PCPU] + TS[i, TS_MEM_VA_OBJ]
                     + TS[i, TS_MEM_PT])       # (= _mem_bytes, term by term)
    TS[i, TS_PURGE_ACTIVE] = 1 if X.K[LS_PU_TASK] >= 0 else 0
    TS[i, TS_LOCK_WAITERS] = LK[LK_QN, 0] + (LK[LK_QN, 1] if P[P_LOCK_SPLIT] else 0)
    if host != 0:
        st_ns = 0
        for c in range(ncpus):
            st_ns += _vcpu_off(c, t, ncpus, host, P[P_HOST_SLICE])
        TS[i, TS_STEAL] = st_ns


@_step
def _on_sample(X, t):
    """The sampler's event at t: a row of the time series, and the next sample's event."""
    K, P = X.K, X.P
    if K[LS_ISAMPLE] < X.out.TS.shape[0]:
        _sample(X, K[LS_ISAMPLE], t)
        K[LS_ISAMPLE] += 1
    K[LS_NEXT_SAMPLE] += P[P_SAMPLE_NS]
    if K[LS_NEXT_SAMPLE] <= P[P_DURATION]:
        _push(X, K[LS_NEXT_SAMPLE], P[P_NWORK] + 1)


@_step
def _start(X):
    """The first call: the workers wake on their CPUs at the current time, the sampler starts."""
    K, TK, CP = X.K, X.sched.TK, X.sched.CP
    t = K[LS_T]
    K[LS_STARTED] = 1
    for w in range(X.P[P_NWORK]):
        _wake_on(X, w, TK[TK_CPU, w], t, t)
    for c in range(X.P[P_NCPUS]):
        CP[CP_WAKEP, c] = 0
    _push(X, t, X.P[P_NWORK] + 1)


@_step
def _nearly_full(X):
    """True when an array may fill up during the next event: at most one new area, lazy-list entry
    and purge record per event; the tree has at most one free segment more than there are areas,
    and T is kept larger than A."""
    Sp, K = X.space, X.K
    G = Sp.G
    return (G[G_AN] + 2 >= Sp.A.shape[0] or G[G_TN] + 4 >= Sp.T.shape[0]
            or K[LS_NLZ] + 2 >= Sp.lz0.shape[0] or K[LS_NPR] + 2 >= X.out.PR.shape[1])


@_step
def _next_event(X):
    """Take the next event into K[LS_T], K[LS_TASK]: the running task's own next step when it comes
    before everything in the heap (LS_INLINE), else the heap's root. False when there is none
    (K[LS_T] stays) or it lies past the run's end (K[LS_T] is then the end)."""
    K, HP = X.K, X.sched.HP
    if K[LS_INLINE]:
        K[LS_INLINE] = 0
        K[LS_T] = K[LS_INLINE_T]
        return True
    if K[LS_HN] == 0:
        return False
    K[LS_TASK] = HP[0, 2]
    if HP[0, 0] > X.P[P_DURATION]:
        K[LS_T] = X.P[P_DURATION]
        return False
    K[LS_T] = HP[0, 0]
    K[LS_HN] = _heap_pop(HP, K[LS_HN])
    return True


@_step
def _host_defers(X, task, t):
    """Overcommitted guest: True (and the event is moved) when task's vCPU is descheduled by the
    host at t: nothing happens on it until it runs again."""
    P = X.P
    if P[P_HOST_CPUS] == 0 or task == P[P_NWORK] + 1:
        return False
    tr = _vcpu_next_run(X.sched.TK[TK_CPU, task], t, P[P_NCPUS], P[P_HOST_CPUS], P[P_HOST_SLICE])
    if tr > t:
        _push(X, tr, task)
        return True
    return False


@_step
def _preempted(X, task, t):
    """A preemption point: when `task` is at one and its CPU has a task to switch to (woken there,
    or its slice is used up), it goes to the back of the run queue and True is returned. Not on a
    lock grant (a task spinning in the queue keeps its CPU), and not inside 4.9's purge (it runs
    under a spinlock)."""
    P, TK, CP, rq = X.P, X.sched.TK, X.sched.CP, X.sched.rq
    cpu, pc = TK[TK_CPU, task], TK[TK_PC, task]
    in_purge = pc == PU_RELOCK or (pc == PU_FLUSH and P[P_PREEMPT] == PREEMPT_FULL)
    at_point = TK[TK_WAIT, task] == 0 and (
        pc == W_OP or TK[TK_FRESH, task] == 1 or pc == K_AFTER
        or (P[P_PURGE_LOCK] != PURGE_LOCK_SPIN and in_purge))
    if at_point and CP[CP_RQ_N, cpu] > 0 and (CP[CP_WAKEP, cpu] == 1 or t - CP[CP_SLICE0, cpu] >= P[P_SLICE]):
        rq[cpu, _wrap(CP[CP_RQ_H, cpu] + CP[CP_RQ_N, cpu], rq.shape[1])] = task
        CP[CP_RQ_N, cpu] += 1
        _switch_cpu(X, cpu, t)
        return True
    return False


@_step
def _schedule(X, task, cpu, nt):
    """`task`'s next step is due at nt (ns): later by the TLB-flush IPIs its CPU handled meanwhile;
    run inline when it comes before everything in the heap, else an event."""
    P, K, CP, HP = X.P, X.K, X.sched.CP, X.sched.HP
    if CP[CP_STALL, cpu] > 0:
        nt = _cost(X, cpu, nt, CP[CP_STALL, cpu])
        CP[CP_STALL, cpu] = 0
    if nt <= P[P_DURATION] and (K[LS_HN] == 0 or nt < HP[0, 0]):
        K[LS_INLINE] = 1
        K[LS_INLINE_T] = nt
    else:
        _push(X, nt, task)


@njit(cache=True, error_model="numpy", _nrt=False)
def _loop(X):
    """The event loop on Sim X, from its state in X.K, until the run ends (LOOP_DONE) or an array
    may fill up during the next event (LOOP_GROW: `run` grows it and calls again, through
    `driver._call_loop`). docs/engine.md walks through it.

    Compiled without NRT reference counting (it never allocates): array reference counts would
    otherwise cost an atomic increment and decrement per array use in the hot loop.
    """
    K, TK = X.K, X.sched.TK
    if K[LS_STARTED] == 0:
        _start(X)
    nw = X.P[P_NWORK]
    sampler = nw + 1
    while K[LS_STOP] == 0:
        if _nearly_full(X):
            return LOOP_GROW
        if not _next_event(X):
            break
        t, task = K[LS_T], K[LS_TASK]
        if _host_defers(X, task, t):
            continue
        K[LS_EVENTS] += 1
        if task == sampler:
            _on_sample(X, t)
            continue
        if _preempted(X, task, t):
            continue
        # the task's step, then its next event (or its CPU's next task). A worker whose call ends
        # at nt makes its next call right away, as of nt (`_call_start` touches only its own
        # program), so its preemption point sits at that call's first lock request: one event per
        # call. (The dispatch is written out here rather than in a function of its own: numba's
        # inliner copies a callee's code once per level of nesting, and one more level made the
        # cold compile three times longer.)
        cpu = TK[TK_CPU, task]
        TK[TK_FRESH, task] = 0
        pc = TK[TK_PC, task]
        if pc == W_OP:
            nt = _call_start(X, task, t, False)
        elif pc == W_ALLOC_LOCK:
            nt = _alloc_search(X, task, t)
        elif pc == W_FREE_LOCK:
            nt = _vfree(X, task, t)
        elif pc == PU_LOOP:
            nt = _purge_free_loop(X, task, t)
        elif pc == PU_RELOCK:
            nt = _purge_relock(X, task, t)
        elif pc == PU_START:
            nt = _purge_start(X, task, t)
        elif pc == PU_FLUSH:
            nt = _purge_flush(X, task, t)
        elif pc == W_INSERT_LOCK:
            nt = _alloc_insert(X, task, t)
        elif pc == W_ALLOC_FAILED:
            nt = _alloc_failed(X, task, t)
        elif pc == K_START:
            nt = _drain_start(X, t)
        elif pc == K_AFTER:
            nt = _drain_after(X, t)
        elif pc == PU_DONE:
            nt = _purge_finish(X, task, t)
        elif pc == W_EXIT:
            nt = _worker_done(X, task)
        else:
            nt = NT_WAIT
        if task < nw and TK[TK_PC, task] == W_OP and nt >= 0 and K[LS_STOP] == 0:
            nt = _call_start(X, task, nt, True)
        if nt >= 0:
            _schedule(X, task, cpu, nt)
        elif nt == NT_BLOCK:
            _switch_cpu(X, cpu, t)
        if K[LS_WORKERS_LEFT] == 0 and K[LS_KW_ACTIVE] == 0 and K[LS_PU_TASK] < 0:
            K[LS_STOP] = 1
    return LOOP_DONE
