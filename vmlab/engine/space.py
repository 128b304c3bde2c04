"""Address-space operations: the allocation search (list or tree era), carving an area, freeing
a purged run; memory accounting (page tables, kfree_rcu of vmap_area objects)."""
from __future__ import annotations

import numpy as np
from numba import njit
from .layout import *  # noqa: F403 (index constants)
from .jit import A1, A2, I, U1, _align_up, _ilog2, _kernel, _rng_next, _step
from .tree import (_check_space, _delete, _fix, _fix_delta, _free_below, _free_below_path, _free_between,
                   _insert_at, _lowest_fit, _max_hole_between, _neighbours, _path_to)


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


@_kernel(A1, A2, A1, U1, A1, A1, I, I)
def _va_carve(G, T, pool, prio_st, path, out, node, size):
    """Take [out[0], out[0] + size) from free segment `node` (found by _va_search, path in out[2]).

    The kernel's FL (remove the segment), LE/RE (trim it in place) and NE (split it) cases.
    The caller has made room for one tree node.
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


@_kernel(A1, A2, A1, I, I, I)
def _area_new(G, A, apool, a, size, guard):
    """A busy area [a, a + size) in the area table (guard: 1 if its last page is a guard page).
    Returns its id. The caller has made room for one area."""
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


@_kernel(A1, I, I, I, I)
def _mem_bytes(G, base_mem, page_size, va_obj, pcpu_unit):
    """Memory model (bytes): base + data pages + percpu backing + vmap_area objects (busy, lazy,
    waiting for RCU) + page-table pages. The TS_MEM_* columns are the same terms."""
    return (base_mem + G[G_LIVE_PAGES] * page_size + G[G_PCPU_OBJS] * pcpu_unit
            + (G[G_BUSY_N] + G[G_LAZY_AREAS] + G[G_RCU_OBJS]) * va_obj + G[G_PT_PAGES] * page_size)


@_kernel(A1, A2, I, I, I)
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


@_step
def _account_memory(X, t):
    """Memory after an allocation at t (ns): kfree_rcu what is due, the peak; above ram_bytes the
    run stops (OOM)."""
    P, G, S, K = X.P, X.space.G, X.out.S, X.K
    _rcu_drain(G, X.out.PR, K[LS_NPR], t, P[P_RCU_DELAY])
    mem = _mem_bytes(G, P[P_BASE_MEM], P[P_PAGE_SIZE], P[P_VA_OBJ], P[P_PCPU_OBJ] * P[P_NCPUS])
    if mem > G[G_PEAK_MEM]:
        G[G_PEAK_MEM] = mem
    if mem > P[P_RAM]:
        S[S_OOM] = 1
        S[S_OOM_T] = t
        K[LS_STOP] = 1


@_step
def _check(X):
    """With P_CHECK: re-check the address space (`_check_space`); an error stops the run (LS_ERR).
    Returns True when it did. (4.9: the batch a purge has not freed yet is lazy but already off
    vmap_lazy_nr.)"""
    P = X.P
    if P[P_CHECK] == 0:
        return False
    Sp, K = X.space, X.K
    lazy = Sp.G[G_LAZY_NR]
    if P[P_LAZY_DROP] == LAZY_DROP_BATCH:
        lazy += K[LS_PU_BATCH] - K[LS_PU_PAGES]
    e = _check_space(Sp.T, Sp.A, Sp.G, P[P_VA_START], P[P_VA_PAGES], lazy, Sp.stack, Sp.CK)
    if e == 0:
        return False
    K[LS_ERR] = e
    K[LS_STOP] = 1
    return True
