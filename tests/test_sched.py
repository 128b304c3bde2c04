"""The event heap, the FIFO spinlock and the run queues on their own, as `run` allocates them.

`_heap_push` / `_heap_pop` against `heapq` on random sequences (order by (time, sequence));
`_lock_request` / `_lock_release`: immediate grant, FIFO queueing, the hand-off delay and the
LK_HOLDER states (task, -1 free, -2 grant reserved); `_wake` / `_switch_to_next`: an idle CPU runs
the woken task at once, a busy one queues it (FIFO) and asks for a switch.
"""
from __future__ import annotations

import heapq

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from vmlab import engine as E

E._compile_kernels()
i64 = np.int64


def _heap(ntask):
    return np.zeros((2 * ntask + 8, 3), i64)


def _pop(HP, hn):
    ev = (int(HP[0, 0]), int(HP[0, 1]), int(HP[0, 2]))
    return ev, E._heap_pop(HP, hn)


# ---------------------------------------------------------------------------- heap
@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.tuples(st.just("push"), st.integers(0, 20), st.integers(0, 9)),
                          st.just(("pop", 0, 0))), max_size=120))
def test_heap_matches_heapq(ops):
    HP = np.zeros((len(ops) + 1, 3), i64)
    hn, seq, ref = 0, 0, []
    for op, t, task in ops:
        if op == "push":
            hn = E._heap_push(HP, hn, t, seq, task)
            heapq.heappush(ref, (t, seq, task))
            seq += 1
        elif ref:
            ev, hn = _pop(HP, hn)
            assert ev == heapq.heappop(ref)
        assert hn == len(ref)
    while ref:
        ev, hn = _pop(HP, hn)
        assert ev == heapq.heappop(ref)
    assert hn == 0


def test_heap_ties_break_by_insertion_order():
    HP = _heap(8)
    hn = 0
    for seq, task in enumerate([5, 3, 7, 1]):
        hn = E._heap_push(HP, hn, 100, seq, task)
    hn = E._heap_push(HP, hn, 50, 4, 9)
    out = []
    while hn:
        ev, hn = _pop(HP, hn)
        out.append(ev[2])
    assert out == [9, 5, 3, 7, 1]


# ---------------------------------------------------------------------------- lock
def _lock_state(ntask):
    TK = np.zeros((E.N_TK, ntask), i64)
    LK = np.zeros((E.N_LK, 2), i64)
    LK[E.LK_HOLDER] = -1
    lq = np.zeros((2, ntask + 1), i64)
    return TK, LK, lq, _heap(ntask)


def test_lock_free_is_granted_at_once():
    TK, LK, lq, HP = _lock_state(4)
    got, hn, seq = E._lock_request(0, 2, 100, 30, TK, LK, lq, HP, 0, 0)
    assert got and (hn, seq) == (0, 0)
    assert LK[E.LK_HOLDER, 0] == 2 and TK[E.TK_REQ, 2] == 100 and TK[E.TK_WAIT, 2] == 0
    assert LK[E.LK_HOLDER, 1] == -1      # the other lock is untouched


def test_lock_not_yet_released_queues_and_schedules_the_grant():
    """Released at 200 (a costed critical section): a request at 150 waits for 200 + handoff."""
    TK, LK, lq, HP = _lock_state(4)
    LK[E.LK_REL, 0] = 200
    got, hn, seq = E._lock_request(0, 1, 150, 30, TK, LK, lq, HP, 0, 0)
    assert not got and TK[E.TK_WAIT, 1] == 1 and LK[E.LK_QN, 0] == 1
    assert LK[E.LK_HOLDER, 0] == -2 and hn == 1 and seq == 1
    assert tuple(HP[0]) == (230, 0, 1)
    # the grant event: the queue head takes the lock
    got, hn, seq = E._lock_request(0, 1, 230, 30, TK, LK, lq, HP, hn, seq)
    assert got and LK[E.LK_HOLDER, 0] == 1 and LK[E.LK_QN, 0] == 0 and TK[E.TK_WAIT, 1] == 0


def test_lock_fifo_grants_with_handoff():
    ntask, handoff = 5, 30
    TK, LK, lq, HP = _lock_state(ntask)
    hn = seq = 0
    got, hn, seq = E._lock_request(0, 0, 10, handoff, TK, LK, lq, HP, hn, seq)
    assert got
    for task, t in ((3, 20), (1, 25), (4, 40)):
        got, hn, seq = E._lock_request(0, task, t, handoff, TK, LK, lq, HP, hn, seq)
        assert not got and TK[E.TK_WAIT, task] == 1
    assert LK[E.LK_QN, 0] == 3 and LK[E.LK_HOLDER, 0] == 0 and hn == 0   # held: no grant event yet
    holder, rel, order = 0, 100, []
    while True:
        hn, seq = E._lock_release(0, rel, handoff, LK, lq, HP, hn, seq)
        assert LK[E.LK_REL, 0] == rel
        if hn == 0:
            assert LK[E.LK_HOLDER, 0] == -1
            break
        assert LK[E.LK_HOLDER, 0] == -2 and hn == 1
        (t, _, nxt), hn = _pop(HP, hn)
        assert t == rel + handoff
        got, hn, seq = E._lock_request(0, nxt, t, handoff, TK, LK, lq, HP, hn, seq)
        assert got and LK[E.LK_HOLDER, 0] == nxt
        order.append(nxt)
        rel = t + 50
    assert order == [3, 1, 4]
    # free from LK_REL on: a request before it queues, one at or after it is granted
    got, hn, seq = E._lock_request(0, 2, rel, handoff, TK, LK, lq, HP, hn, seq)
    assert got


def test_lock_queue_wraps_around():
    ntask = 3
    TK, LK, lq, HP = _lock_state(ntask)
    hn = seq = 0
    E._lock_request(0, 0, 0, 1, TK, LK, lq, HP, hn, seq)
    holder, t = 0, 0
    for _ in range(10):              # many more grants than the ring has slots
        waiter = (holder + 1) % ntask
        got, hn, seq = E._lock_request(0, waiter, t, 1, TK, LK, lq, HP, hn, seq)
        assert not got
        hn, seq = E._lock_release(0, t + 5, 1, LK, lq, HP, hn, seq)
        (t2, _, nxt), hn = _pop(HP, hn)
        assert nxt == waiter and t2 == t + 6
        t = t2
        got, hn, seq = E._lock_request(0, nxt, t, 1, TK, LK, lq, HP, hn, seq)
        assert got
        holder = nxt


# ---------------------------------------------------------------------------- scheduler
def _cpus(ncpus, ntask):
    CP = np.zeros((E.N_CP, ncpus), i64)
    CP[E.CP_CUR] = -1
    rq = np.zeros((ncpus, ntask + 1), i64)
    return CP, rq, _heap(ntask)


def test_wake_on_idle_cpu_runs_at_once():
    CP, rq, HP = _cpus(2, 4)
    hn, seq = E._wake(3, 1, 100, 7, CP, rq, HP, 0, 0)
    assert CP[E.CP_CUR, 1] == 3 and CP[E.CP_SLICE0, 1] == 107 and CP[E.CP_WAKEP, 1] == 0
    assert (hn, seq) == (1, 1) and tuple(HP[0]) == (107, 0, 3)
    assert CP[E.CP_CUR, 0] == -1 and CP[E.CP_RQ_N, 1] == 0


def test_wake_on_busy_cpu_queues_and_asks_for_a_switch():
    CP, rq, HP = _cpus(1, 4)
    hn, seq = E._wake(0, 0, 0, 0, CP, rq, HP, 0, 0)
    hn, seq = E._wake(2, 0, 10, 5, CP, rq, HP, hn, seq)
    hn, seq = E._wake(1, 0, 20, 5, CP, rq, HP, hn, seq)
    assert CP[E.CP_CUR, 0] == 0 and CP[E.CP_WAKEP, 0] == 1 and CP[E.CP_RQ_N, 0] == 2
    assert hn == 1                    # queued tasks have no event
    # switches run the queue in FIFO order, then the CPU idles
    order = []
    for t in (30, 40):
        hn, seq = E._switch_to_next(0, t, 3, CP, rq, HP, hn, seq)
        order.append(int(CP[E.CP_CUR, 0]))
        assert CP[E.CP_SLICE0, 0] == t and CP[E.CP_WAKEP, 0] == 0
    assert order == [2, 1]
    evs = []
    while hn:
        ev, hn = _pop(HP, hn)
        evs.append(ev)
    assert evs == [(0, 0, 0), (33, 1, 2), (43, 2, 1)]
    hn, seq = E._switch_to_next(0, 50, 3, CP, rq, HP, hn, seq)
    assert CP[E.CP_CUR, 0] == -1 and hn == 0 and CP[E.CP_RQ_N, 0] == 0


def test_run_queue_wraps_around():
    ntask = 3
    CP, rq, HP = _cpus(1, ntask)
    hn, seq = E._wake(0, 0, 0, 0, CP, rq, HP, 0, 0)
    cur, order = 0, []
    for k in range(12):
        nxt = (cur + 1) % ntask
        hn, seq = E._wake(nxt, 0, k, 0, CP, rq, HP, hn, seq)
        hn, seq = E._switch_to_next(0, k, 0, CP, rq, HP, hn, seq)
        cur = int(CP[E.CP_CUR, 0])
        order.append(cur)
        assert CP[E.CP_RQ_N, 0] == 0
    assert order == [(k + 1) % ntask for k in range(12)]


# ---------------------------------------------------------------------------- test-and-set (virt_spin_lock)
def _tas_case(cpus_of_waiters, t, ncpus, H, S, head=0):
    """A lock queue of tasks 0..n-1 (task k on vCPU cpus_of_waiters[k]) starting at ring slot `head`;
    returns the queue after `_runner_first` at hand-off time t, and the time it says the head runs."""
    n = len(cpus_of_waiters)
    TK = np.zeros((E.N_TK, n), i64)
    TK[E.TK_CPU] = cpus_of_waiters
    LK = np.zeros((E.N_LK, 2), i64)
    lq = np.zeros((2, n + 1), i64)
    for k in range(n):
        lq[0, (head + k) % (n + 1)] = k
    LK[E.LK_QH, 0], LK[E.LK_QN, 0] = head, n
    t_run = E._runner_first(TK, LK, lq, 0, t, ncpus, H, S)
    return [int(lq[0, (head + k) % (n + 1)]) for k in range(n)], int(t_run)


@settings(max_examples=200, deadline=None)
@given(st.integers(2, 8), st.integers(1, 4), st.integers(1, 50), st.integers(0, 400), st.data())
def test_test_and_set_goes_to_the_first_waiter_to_run(ncpus, H, S, t, data):
    H = min(H, ncpus)
    n = data.draw(st.integers(1, 6))
    cpus = data.draw(st.lists(st.integers(0, ncpus - 1), min_size=n, max_size=n))
    head = data.draw(st.integers(0, n))
    q, t_run = _tas_case(cpus, t, ncpus, H, S, head)
    # when each waiter's vCPU runs next (the helper is checked against a brute-force schedule in
    # tests/test_guests.py)
    runs = [int(E._vcpu_next_run(c, t, ncpus, H, S)) for c in cpus]
    first = min(range(n), key=lambda k: (runs[k], k))       # ties: the longest waiting
    assert q[0] == first and t_run == runs[first]
    assert q[1:] == [k for k in range(n) if k != first]      # the others keep their order


def test_test_and_set_with_every_vcpu_running_is_fifo():
    # H == ncpus: one vCPU per core, all run all the time
    assert _tas_case([3, 1, 2, 0], t=12345, ncpus=4, H=4, S=100) == ([0, 1, 2, 3], 12345)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 30), min_size=1, max_size=40), st.data())
def test_heap_remove_keeps_the_heap_order(events, data):
    """`_heap_remove` takes one task's event out (a task has at most one) and the rest still pops in
    (time, sequence) order; removing a task with no event changes nothing."""
    n_ev = len(events)
    HP = np.zeros((n_ev + 1, 3), i64)
    hn = 0
    for seq, t in enumerate(events):
        hn = E._heap_push(HP, hn, t, seq, seq)          # task = seq: one event per task
    gone = data.draw(st.sets(st.integers(0, n_ev + 3), max_size=n_ev))
    for task in sorted(gone):
        hn = E._heap_remove(HP, hn, task)
    want = sorted((t, seq, seq) for seq, t in enumerate(events) if seq not in gone)
    got = []
    while hn:
        ev, hn = _pop(HP, hn)
        got.append(ev)
    assert got == want
