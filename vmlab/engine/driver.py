"""`run`: allocate the arrays, seed the streams, call the event loop until the run ends (growing
the arrays when it asks), and collect the outputs."""
from __future__ import annotations

import numba
import numpy as np

from .layout import *  # noqa: F403 (index constants, state structures)
from .jit import A1, A2, U1, _compile_kernels, _kernel, _rng_next
from .loop import _loop


# ============================================================================ the run
@_kernel(A1, A2, U1, U1)
def _seed_streams(P, T, prio_st, rng):
    """The random streams, from the config seed: treap priorities (prio_st) and one xorshift64*
    state per worker (rng); also draws the first tree node's priority."""
    prio_st[0] = np.uint64(P[P_SEED]) * np.uint64(0x9E3779B97F4A7C15) + np.uint64(0x1234567)
    T[1, F_PRIO] = np.int64(_rng_next(prio_st, 0) >> np.uint64(2))
    for w in range(rng.shape[0]):
        rng[w] = ((np.uint64(P[P_SEED]) + np.uint64(1)) * np.uint64(0x9E3779B97F4A7C15)
                  ^ (np.uint64(w) * np.uint64(0xBF58476D1CE4E5B9) + np.uint64(1)))
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


_LOOP_ENTRY: dict = {}     # key of the Sim's array types -> `_loop`'s compiled entry point


def _call_loop(X):
    """`_loop(X)`, without numba's typeof of the whole Sim tuple at every call (~0.3 ms, as long
    as a short run): the entry point compiled for X's type is looked up by a cheap key of its
    arrays' dtypes, dimensions and layouts."""
    key = tuple((a.dtype.num, a.ndim, a.flags.c_contiguous)
                for part in X[2:6] for a in part) + (X.P.dtype.num, X.K.dtype.num)
    entry = _LOOP_ENTRY.get(key)
    if entry is None:
        status = _loop(X)          # compiles (or loads from the cache) for X's type
        _LOOP_ENTRY[key] = _loop.overloads[(numba.typeof(X),)].entry_point
        return status
    return entry(X)


def _grow(X, more):
    """X with its nearly full arrays replaced by larger copies (`more(n)` rows instead of n)."""
    Sp, K = X.space, X.K
    G, A, apool, T, pool, CK = Sp.G, Sp.A, Sp.apool, Sp.T, Sp.pool, Sp.CK
    lz0, lz1, RS, PR = Sp.lz0, Sp.lz1, Sp.RS, X.out.PR
    if G[G_AN] + 2 >= A.shape[0]:
        A = _grown(A, more(A.shape[0]))
        apool = _grown(apool, A.shape[0])
    if G[G_TN] + 4 >= T.shape[0] or T.shape[0] < A.shape[0] + 8:
        T = _grown(T, max(more(T.shape[0]), A.shape[0] + 8))
        pool = _grown(pool, T.shape[0])
        if X.P[P_CHECK]:
            CK = _grown(CK, max(T.shape[0], CK.shape[1]), axis=1)
    if K[LS_NLZ] + 2 >= lz0.shape[0]:
        lz0 = _grown(lz0, more(lz0.shape[0]))
        lz1 = _grown(lz1, lz0.shape[0])
        if RS.shape[1] < lz0.shape[0]:
            RS = _grown(RS, lz0.shape[0], axis=1)
    if K[LS_NPR] + 2 >= PR.shape[1]:
        PR = _grown(PR, more(PR.shape[1]), axis=1)
    return X._replace(space=Sp._replace(A=A, apool=apool, T=T, pool=pool, CK=CK, lz0=lz0, lz1=lz1, RS=RS),
                      out=X.out._replace(PR=PR))


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
    X = Sim(P, K, Sched(TK, CP, rq, LK, lq, mq, HP),
            Space(G, T, pool, A, apool, lz0, lz1, path, stack, fit_out, prio_st, pte_bits, pmd_bits, CK, RS),
            Progs(orders, W, H, HD, TT, rng), Out(S, TS, PR, hist, hmax), policy_fn)
    while _call_loop(X) == LOOP_GROW:
        X = _grow(X, more)
    PR = X.out.PR

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
