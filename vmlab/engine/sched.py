"""The event heap, the CPUs' run queues and the FIFO spinlocks (tests/test_sched.py)."""
from __future__ import annotations

import numpy as np
from numba import njit
from .layout import *  # noqa: F403 (index constants)
from .jit import A1, A2, I, _hist_add, _inline, _kernel, _step, _wrap
from .host import _held_until, _note_lhp, _vcpu_next_run, _vd


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


@_kernel(A2, A2, A2, I, I)
def _grant_head(TK, LK, lq, lk, task):
    """The grant event of `task`, the head of lock lk's waiter ring: it leaves the ring and holds
    the lock."""
    LK[LK_QH, lk] = _wrap(LK[LK_QH, lk] + 1, lq.shape[1])
    LK[LK_QN, lk] -= 1
    TK[TK_WAIT, task] = 0
    LK[LK_HOLDER, lk] = task


@_kernel(A2, A2, I, I)
def _to_head(LK, lq, lk, k):
    """Move the waiter at position k of lock lk's waiter ring to its head; the others keep their
    order."""
    cap, h = lq.shape[1], LK[LK_QH, lk]
    chosen = lq[lk, _wrap(h + k, cap)]
    for j in range(k, 0, -1):
        lq[lk, _wrap(h + j, cap)] = lq[lk, _wrap(h + j - 1, cap)]
    lq[lk, h] = chosen


@_kernel(I, I, I, I, A2, A2, A2, A2, I, I)
def _lock_request(lk, task, t, handoff, TK, LK, lq, HP, hn, seq):
    """FIFO spinlock. Returns (granted, hn, seq).

    LK[LK_HOLDER]: task id (held, release time not yet known), -1 (free from LK_REL on),
    -2 (reserved: the queue head's grant event is in the heap). A queued task spins: it keeps its
    CPU and has no event until its grant.
    """
    cap = lq.shape[1]
    if TK[TK_WAIT, task]:
        _grant_head(TK, LK, lq, lk, task)       # our grant event: we are the queue head
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


@_kernel(A2, A2, A2, I, I, I, I, I)
def _runner_first(TK, LK, lq, lk, t, ncpus, H, S):
    """Test-and-set spinlock (virt_spin_lock) on an overcommitted guest, free for waiters from t
    (ns): the waiter whose vCPU runs first from t takes the lock (ties: the longest waiting, so
    with every vCPU running it is the queue head, as in the FIFO lock). Moves it to the head of
    lk's waiter ring (the others keep their order) and returns when it runs (ns)."""
    cap = lq.shape[1]
    h = LK[LK_QH, lk]
    best = 0
    best_t = _vcpu_next_run(TK[TK_CPU, lq[lk, h]], t, ncpus, H, S)
    for k in range(1, LK[LK_QN, lk]):
        if best_t == t:
            break
        tr = _vcpu_next_run(TK[TK_CPU, lq[lk, _wrap(h + k, cap)]], t, ncpus, H, S)
        if tr < best_t:
            best, best_t = k, tr
    if best > 0:
        _to_head(LK, lq, lk, best)
    return best_t


@_kernel(A2, I, I)
def _heap_remove(HP, n, task):
    """Remove `task`'s event from the heap (a task has at most one). Returns the new size."""
    i = 0
    while i < n and HP[i, 2] != task:
        i += 1
    if i == n:
        return n
    n -= 1
    if i == n:
        return n
    t, sq, tk = HP[n, 0], HP[n, 1], HP[n, 2]
    # the last event fills the hole: up while it is earlier than its parent, else down
    while i > 0:
        p = (i - 1) >> 1
        if HP[p, 0] < t or (HP[p, 0] == t and HP[p, 1] < sq):
            break
        HP[i, 0], HP[i, 1], HP[i, 2] = HP[p, 0], HP[p, 1], HP[p, 2]
        i = p
    while True:
        c = 2 * i + 1
        if c >= n:
            break
        if c + 1 < n and (HP[c + 1, 0] < HP[c, 0] or (HP[c + 1, 0] == HP[c, 0] and HP[c + 1, 1] < HP[c, 1])):
            c += 1
        if t < HP[c, 0] or (t == HP[c, 0] and sq < HP[c, 1]):
            break
        HP[i, 0], HP[i, 1], HP[i, 2] = HP[c, 0], HP[c, 1], HP[c, 2]
        i = c
    HP[i, 0], HP[i, 1], HP[i, 2] = t, sq, tk
    return n


@_kernel(A2, A2, A1, I, I, I)
def _reserve(LK, HP, K, lk, task, g):
    """Test-and-set lock lk is reserved for `task`, its waiter ring's head, whose grant event is at
    g (ns). The heap's size and sequence number are K[LS_HN], K[LS_SEQ]."""
    LK[LK_HOLDER, lk] = -2
    LK[LK_GT, lk] = g
    K[LS_HN] = _heap_push(HP, K[LS_HN], g, K[LS_SEQ], task)
    K[LS_SEQ] += 1


@_kernel(A1, I, I, I, A2, A2, A2, A2, A1)
def _tas_request(P, lk, task, t, TK, LK, lq, HP, K):
    """Test-and-set spinlock (x86 virt_spin_lock) on an overcommitted guest: `task` asks for lock
    lk at t, or its grant event comes. Returns True when it has the lock now.

    A free lock is reserved (LK_HOLDER -2) for the waiter whose vCPU runs first once the lock word
    is free, at LK_GT (its grant event); but a task that runs earlier takes it: one asking after
    the lock word is free takes it at once, and one asking before, whose vCPU runs sooner than
    LK_GT from then on, takes the reservation. The waiter it was reserved for loses its grant
    event (`_heap_remove`) and keeps spinning in the queue. The heap's size and sequence number
    are K[LS_HN], K[LS_SEQ]."""
    cap = lq.shape[1]
    ncpus, H, S = P[P_NCPUS], P[P_HOST_CPUS], P[P_HOST_SLICE]
    if TK[TK_WAIT, task]:
        _grant_head(TK, LK, lq, lk, task)       # the reserved waiter's grant event
        return True
    TK[TK_REQ, task] = t
    reserved = LK[LK_HOLDER, lk] == -2
    free_at = LK[LK_REL, lk] + P[P_HANDOFF]          # for a waiter spinning on it, as in the FIFO lock
    if LK[LK_HOLDER, lk] < 0 and (free_at if reserved else LK[LK_REL, lk]) <= t and (
            not reserved or LK[LK_GT, lk] > t):
        # the lock word is 0 and this task runs: it takes the lock before the reserved waiter
        # (with every vCPU running the reserved grant is due at free_at, and the two locks agree)
        if reserved:
            K[LS_HN] = _heap_remove(HP, K[LS_HN], lq[lk, LK[LK_QH, lk]])
        LK[LK_HOLDER, lk] = task
        return True
    # spin: queue, and take the reservation if this vCPU runs before the reserved waiter's
    lq[lk, _wrap(LK[LK_QH, lk] + LK[LK_QN, lk], cap)] = task
    LK[LK_QN, lk] += 1
    TK[TK_WAIT, task] = 1
    if LK[LK_HOLDER, lk] >= 0:
        return False                       # held: its release chooses (`_tas_release`)
    g = _vcpu_next_run(TK[TK_CPU, task], max(free_at, t), ncpus, H, S)
    if reserved and g >= LK[LK_GT, lk]:
        return False
    if reserved:
        K[LS_HN] = _heap_remove(HP, K[LS_HN], lq[lk, LK[LK_QH, lk]])
    _to_head(LK, lq, lk, LK[LK_QN, lk] - 1)
    _reserve(LK, HP, K, lk, task, g)
    return False


@_kernel(A1, I, I, A2, A2, A2, A2, A1)
def _tas_release(P, lk, rel, TK, LK, lq, HP, K):
    """Test-and-set spinlock on an overcommitted guest, released at `rel` (ns): reserved for the
    waiter whose vCPU runs first once the lock word is free (`_runner_first`), its grant at that
    time (LK_GT); free if nobody waits."""
    LK[LK_REL, lk] = rel
    if LK[LK_QN, lk] == 0:
        LK[LK_HOLDER, lk] = -1
        return
    g = _runner_first(TK, LK, lq, lk, rel + P[P_HANDOFF], P[P_NCPUS], P[P_HOST_CPUS], P[P_HOST_SLICE])
    _reserve(LK, HP, K, lk, lq[lk, LK[LK_QH, lk]], g)


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


# ============================================================================ the forms the steps use
@_inline
def _free_lock(P):
    """The lock of the free tree and the purge's free loop: free_vmap_area_lock (1) with lock_split
    (5.5+), else vmap_area_lock (0)."""
    return 1 if P[P_LOCK_SPLIT] else 0


# The step handlers keep the heap's size and sequence number in the loop state (K[LS_HN],
# K[LS_SEQ]) and pass the state as one Sim tuple; these wrap the functions above for them.
@_step
def _cost(X, cpu, t0, work):
    """When `work` ns of CPU time started on `cpu` at t0 complete (ns): t0 + work, later while an
    overcommitted guest's vCPU is descheduled."""
    P = X.P
    return _vd(P[P_HOST_CPUS], cpu, t0, work, P[P_NCPUS], P[P_HOST_SLICE])


@_step
def _push(X, t, task):
    """An event for `task` at t (ns)."""
    K = X.K
    K[LS_HN] = _heap_push(X.sched.HP, K[LS_HN], t, K[LS_SEQ], task)
    K[LS_SEQ] += 1


@_step
def _wake_on(X, task, cpu, t, delay):
    """`task` becomes runnable on `cpu` at t, running `delay` ns later if the CPU idles."""
    K, Q = X.K, X.sched
    K[LS_HN], K[LS_SEQ] = _wake(task, cpu, t, delay, Q.CP, Q.rq, Q.HP, K[LS_HN], K[LS_SEQ])


@_step
def _switch_cpu(X, cpu, t):
    """`cpu` switches to its next runnable task at t (a context switch later), or idles."""
    K, Q = X.K, X.sched
    K[LS_HN], K[LS_SEQ] = _switch_to_next(cpu, t, X.P[P_CTXSW], Q.CP, Q.rq, Q.HP, K[LS_HN], K[LS_SEQ])


@_step
def _acquire(X, lk, task, t):
    """`task` asks for spinlock lk at t: True when it has it now (its wait is recorded), False when
    it spins in the queue (its grant is its next event)."""
    K, Q, P = X.K, X.sched, X.P
    if P[P_SPINLOCK] == SPINLOCK_TAS:
        got = _tas_request(P, lk, task, t, Q.TK, Q.LK, Q.lq, Q.HP, K)
    else:
        got, K[LS_HN], K[LS_SEQ] = _lock_request(lk, task, t, P[P_HANDOFF], Q.TK, Q.LK, Q.lq, Q.HP,
                                                 K[LS_HN], K[LS_SEQ])
    if got:
        _hist_add(X.out.hist, X.out.hmax, H_LOCK_WAIT, t - Q.TK[TK_REQ, task])
        X.out.S[S_LOCK_ACQ] += 1
    return got


@_step
def _release(X, lk, rel):
    """Spinlock lk is released at `rel` (ns; may be ahead: the holder's critical section is costed).
    The FIFO queue's head gets it; an overcommitted guest's test-and-set lock goes to the task that
    runs first (`_tas_release`, `_tas_request`)."""
    K, Q, P = X.K, X.sched, X.P
    if P[P_SPINLOCK] == SPINLOCK_TAS:
        _tas_release(P, lk, rel, Q.TK, Q.LK, Q.lq, Q.HP, K)
    else:
        K[LS_HN], K[LS_SEQ] = _lock_release(lk, rel, P[P_HANDOFF], Q.LK, Q.lq, Q.HP, K[LS_HN], K[LS_SEQ])


@_step
def _hold(X, lk, cpu, t, work):
    """Lock lk, taken at t on `cpu`, is held for `work` ns of critical section and released
    (later when the holder's vCPU is descheduled meanwhile). Returns the release time (ns)."""
    P = X.P
    rel = _held_until(X.out.S, cpu, t, work, P[P_NCPUS], P[P_HOST_CPUS], P[P_HOST_SLICE])
    _release(X, lk, rel)
    _hist_add(X.out.hist, X.out.hmax, H_LOCK_HOLD, rel - t)
    return rel


@_step
def _drop(X, lk, cpu, t1):
    """Lock lk, held on `cpu` since its grant (LK_GRANT), is released at t1. Returns the hold (ns)."""
    P, LK = X.P, X.sched.LK
    t0 = LK[LK_GRANT, lk]
    _note_lhp(X.out.S, cpu, t0, t1, P[P_NCPUS], P[P_HOST_CPUS], P[P_HOST_SLICE])
    _hist_add(X.out.hist, X.out.hmax, H_LOCK_HOLD, t1 - t0)
    _release(X, lk, t1)
    return t1 - t0
