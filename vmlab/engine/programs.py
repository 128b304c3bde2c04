"""The test_vmalloc programs: each worker's next vmalloc/vfree call (lib/test_vmalloc.c).

`_next_call` runs worker w's program (a `Progs` tuple) to its next call; one function per phase
of a test repetition (PH_*) and one per measured loop. Each writes the call into W[w, WS_OP_*]
and returns its kind (OP_*), or OP_NONE when the program moved on without a call.
"""
from __future__ import annotations

from numba import types as nbt

from .layout import *  # noqa: F403 (index constants)
from .jit import A1, A2, A3, I, U1, _inline, _kernel, _rand_below

PROGS_TYPE = nbt.NamedTuple((A2, A2, A2, A2, A3, U1), Progs)    # numba's type of a Progs


@_kernel(PROGS_TYPE, A1, I, I)
def _next_call(Pg, P, w, t):
    """Advance worker w's test_vmalloc program to its next vmalloc/vfree call at time t (ns).

    Mirrors lib/test_vmalloc.c: each test in the worker's order runs test_repeat_count times;
    set-up allocations (pointer arrays, long_busy's 15 000 one-page areas, full_fit's junk),
    the measured loop, and a tear-down that frees what the test holds (also after a failed
    allocation, as the tests' ``goto leave`` does). Writes the call into W[w, WS_OP_*] and returns
    its kind: OP_ALLOC (size, guard, align, destination), OP_FREE (area id), OP_CPU (ns of work
    that touches no vmap area: percpu allocations, vm_map_ram inside a block) or OP_EXIT.
    Only worker w's own state changes, so the caller may run it ahead of other tasks' events.
    """
    W, orders = Pg.W, Pg.orders
    kind = OP_NONE
    while kind == OP_NONE:
        tpos = W[w, WS_POS]
        if tpos >= orders.shape[1] or orders[w, tpos] < 0:
            return OP_EXIT
        tb = orders[w, tpos]
        ph = W[w, WS_PHASE]
        # kvfree_rcu: pending vfree's run once due (and all of them at teardown)
        if W[w, WS_RING_N] > 0 and (Pg.HD[w, W[w, WS_RING_H]] <= t or ph == PH_TEARDOWN):
            return _ring_free(Pg, P, w)
        W[w, WS_OP_GUARD] = 1
        W[w, WS_OP_ALIGN] = 1
        if ph == PH_START:
            kind = _rep_start(Pg, P, w, t, tb, tpos)
        elif ph == PH_ARRAYS:
            # full_fit: junk_ptr = vmalloc(...)
            W[w, WS_PHASE] = PH_SETUP
            if tb == T_FULL_FIT:
                kind = _alloc(W, w, (P[P_JUNK] * 8 + P[P_PAGE_SIZE] - 1) // P[P_PAGE_SIZE], DST_ARR2)
        elif ph == PH_SETUP:
            kind = _setup(Pg, P, w, tb)
        elif ph == PH_HOLES:
            kind = _holes(Pg, P, w, tb)
        elif ph == PH_LOOP:
            kind = _measured(Pg, P, w, tb, tpos)
        elif ph == PH_TEARDOWN:
            kind = _teardown(Pg, P, w, t, tb, tpos)
        else:
            return OP_EXIT
    return kind


@_inline
def _alloc(W, w, pages, dst):
    """The call is vmalloc(pages) (data pages; the guard page is added), kept at `dst` (DST_*)."""
    W[w, WS_OP_SIZE] = pages
    W[w, WS_OP_DST] = dst
    return OP_ALLOC


@_inline
def _free(W, w, area):
    """The call is vfree of area id `area`."""
    W[w, WS_OP_KEY] = area
    return OP_FREE


@_inline
def _cpu(W, w, ns):
    """The call is `ns` of CPU time that touches no vmap area."""
    W[w, WS_OP_SIZE] = ns
    return OP_CPU


@_inline
def _ring_free(Pg, P, w):
    """vfree the oldest area of the kvfree_rcu ring."""
    W = Pg.W
    area = Pg.H[w, W[w, WS_RING_H]]
    W[w, WS_RING_H] = (W[w, WS_RING_H] + 1) % P[P_HOLD_CAP]
    W[w, WS_RING_N] -= 1
    return _free(W, w, area)


@_inline
def _rep_start(Pg, P, w, t, tb, tpos):
    """PH_START: a repetition starts; full_fit, long_busy and pcpu first vmalloc their pointer
    array (ptr = vmalloc(sizeof(void *) * n))."""
    W = Pg.W
    if W[w, WS_REP] == 0:
        W[w, WS_T0] = t
    Pg.TT[w, tpos, TT_REPS] += 1
    W[w, WS_FAIL] = 0
    W[w, WS_I] = 0
    W[w, WS_SUB] = 0
    W[w, WS_HN] = 0
    W[w, WS_PHASE] = PH_SETUP
    if tb != T_FULL_FIT and tb != T_LONG_BUSY and tb != T_PCPU:
        return OP_NONE
    junk = P[P_JUNK]
    n = junk if tb == T_FULL_FIT else (LONG_BUSY_HELD if tb == T_LONG_BUSY else PCPU_ALLOCS)
    W[w, WS_PHASE] = PH_ARRAYS
    if tb == T_FULL_FIT:
        for j in range(2 * junk):
            Pg.H[w, j] = -1
    return _alloc(W, w, (n * 8 + P[P_PAGE_SIZE] - 1) // P[P_PAGE_SIZE], DST_ARR1)


@_inline
def _setup(Pg, P, w, tb):
    """PH_SETUP: the set-up holds: long_busy's 15000 one-page areas; full_fit's ptr[i], junk_ptr[i]."""
    W = Pg.W
    i = W[w, WS_I]
    if (tb == T_LONG_BUSY and i < LONG_BUSY_HELD) or (tb == T_FULL_FIT and i < 2 * P[P_JUNK]):
        W[w, WS_I] = i + 1
        return _alloc(W, w, 1, DST_HOLD)
    W[w, WS_I] = 0
    W[w, WS_PHASE] = PH_HOLES
    return OP_NONE


@_inline
def _holes(Pg, P, w, tb):
    """PH_HOLES: full_fit's vfree(junk_ptr[i]) makes the holes."""
    W, H = Pg.W, Pg.H
    i = W[w, WS_I]
    if tb == T_FULL_FIT and i < P[P_JUNK]:
        W[w, WS_I] = i + 1
        if H[w, 2 * i + 1] >= 0:
            area = H[w, 2 * i + 1]
            H[w, 2 * i + 1] = -1
            return _free(W, w, area)
        return OP_NONE
    W[w, WS_I] = 0
    W[w, WS_PHASE] = PH_LOOP
    return OP_NONE


@_inline
def _measured(Pg, P, w, tb, tpos):
    """PH_LOOP: the test's measured loop, one call at a time (then PH_TEARDOWN)."""
    W = Pg.W
    i = W[w, WS_I]
    n_iter = P[P_LOOPS]
    if tb == T_ALIGN_SHIFT:
        n_iter = 64
    elif tb == T_PCPU:
        n_iter = PCPU_ALLOCS // PCPU_PER_CHUNK
    if W[w, WS_FAIL] or i >= n_iter:
        W[w, WS_I] = 0
        W[w, WS_SUB] = 0
        W[w, WS_PHASE] = PH_TEARDOWN
        return OP_NONE
    if tb == T_LONG_BUSY:
        return _long_busy_step(Pg, w, tpos)
    if tb == T_PCPU:
        return _pcpu_step(Pg, P, w, tpos)
    if tb == T_KVFREE1 or tb == T_KVFREE2:
        if W[w, WS_RING_N] >= P[P_HOLD_CAP]:
            return _ring_free(Pg, P, w)
        W[w, WS_I] = i + 1
        Pg.TT[w, tpos, TT_LOOPS] += 1
        return _alloc(W, w, 1, DST_RING)
    if tb == T_KVFREE1_SLAB or tb == T_KVFREE2_SLAB:
        # kmalloc + kvfree_rcu of a small object: no vmap area, CPU time only
        n = min(P[P_LOOPS] - i, SLAB_LOOPS_PER_STEP)
        W[w, WS_I] = i + n
        Pg.TT[w, tpos, TT_LOOPS] += n
        return _cpu(W, w, n * 2 * P[P_KMALLOC])
    if tb == T_VM_MAP_RAM:
        return _vm_map_ram_step(Pg, P, w, tpos)
    return _alloc_free_step(Pg, P, w, tb, tpos)


@_inline
def _long_busy_step(Pg, w, tpos):
    """long_busy_list_alloc_test: vmalloc(100 pages), vmalloc(1 page), vfree both."""
    W = Pg.W
    sub = W[w, WS_SUB]
    if sub == 3:
        W[w, WS_SUB] = 0
        W[w, WS_I] += 1
        Pg.TT[w, tpos, TT_LOOPS] += 1
    else:
        W[w, WS_SUB] = sub + 1
    if sub == 0:
        return _alloc(W, w, 100, DST_P1)
    if sub == 1:
        return _alloc(W, w, 1, DST_P2)
    col = WS_P1 if sub == 2 else WS_P2
    area = W[w, col]
    W[w, col] = -1
    return _free(W, w, area)


@_inline
def _pcpu_step(Pg, P, w, tpos):
    """pcpu_alloc_test: PCPU_PER_CHUNK __alloc_percpu calls, then a new chunk's area."""
    W = Pg.W
    if W[w, WS_SUB] == 0:
        W[w, WS_SUB] = 1
        return _cpu(W, w, PCPU_PER_CHUNK * P[P_PCPU_OP])
    W[w, WS_SUB] = 0
    W[w, WS_I] += 1
    W[w, WS_PCPU] += PCPU_PER_CHUNK
    Pg.TT[w, tpos, TT_LOOPS] += PCPU_PER_CHUNK
    return _alloc(W, w, 8 * P[P_NCPUS], DST_HOLD)


@_inline
def _vm_map_ram_step(Pg, P, w, tpos):
    """vm_map_ram_test: map nr_pages inside a per-CPU vmap block (CPU time), a new block when the
    current one is full (its old block freed first)."""
    W = Pg.W
    nr_pages = P[P_NR_PAGES] if P[P_NR_PAGES] > 0 else 1
    if W[w, WS_BLK] < 0 or W[w, WS_BLK_USED] + nr_pages > VMAP_BLOCK:
        if W[w, WS_BLK] >= 0:
            area = W[w, WS_BLK]
            W[w, WS_BLK] = -1
            return _free(W, w, area)
        W[w, WS_OP_GUARD] = 0
        return _alloc(W, w, VMAP_BLOCK, DST_BLOCK)
    W[w, WS_BLK_USED] += nr_pages
    W[w, WS_I] += 1
    Pg.TT[w, tpos, TT_LOOPS] += 1
    return _cpu(W, w, nr_pages * (P[P_MAP_PAGE] + P[P_UNMAP_PAGE]) + P[P_LOOKUP])


@_inline
def _alloc_free_step(Pg, P, w, tb, tpos):
    """The alloc-then-free loops (fix_size, random_size, fix_align, random_align, align_shift,
    full_fit): vmalloc of the test's size and alignment, then vfree."""
    W = Pg.W
    i = W[w, WS_I]
    if W[w, WS_SUB] != 0:
        area = W[w, WS_P1]
        W[w, WS_P1] = -1
        W[w, WS_SUB] = 0
        W[w, WS_I] = i + 1
        Pg.TT[w, tpos, TT_LOOPS] += 1
        return _free(W, w, area)
    W[w, WS_SUB] = 1
    size = 1                                   # full_fit, align_shift
    if tb == T_FIX_SIZE:
        size = P[P_NR_PAGES] if P[P_NR_PAGES] > 0 else 1
    elif tb == T_RANDOM_SIZE:
        size = _rand_below(Pg.rng, w, 100) + 1
    elif tb == T_FIX_ALIGN:
        size = 5
        W[w, WS_OP_ALIGN] = P[P_THREAD_ALIGN]
    elif tb == T_RANDOM_ALIGN:
        rnd = _rand_below(Pg.rng, w, 256)
        sh = rnd % 23 - 12
        W[w, WS_OP_ALIGN] = (1 << sh) if sh > 0 else 1
        size = rnd % 10 + 1
    elif tb == T_ALIGN_SHIFT:
        sh = i - 12
        W[w, WS_OP_ALIGN] = (1 << sh) if sh > 0 else 1
    return _alloc(W, w, size, DST_P1)


@_inline
def _teardown(Pg, P, w, t, tb, tpos):
    """PH_TEARDOWN: pending kvfree (done by the caller), pcpu frees, the pointers, the held areas
    in allocation order, the arrays; then the repetition is over (PH_START, or the next test)."""
    W, H, TT = Pg.W, Pg.H, Pg.TT
    if tb == T_PCPU and W[w, WS_I] == 0:
        W[w, WS_I] = 1
        W[w, WS_PCPU] = 0          # free_percpu of every object
        return _cpu(W, w, PCPU_ALLOCS * P[P_PCPU_OP])
    for col in (WS_P1, WS_P2, WS_BLK):
        if W[w, col] >= 0:
            area = W[w, col]
            W[w, col] = -1
            return _free(W, w, area)
    # held areas in allocation order, as the tests' "for (i = 0; ...) vfree(ptr[i])"
    # (v5.1.15/lib/test_vmalloc.c:216-217, :265-266); WS_SUB is the cursor
    j = W[w, WS_SUB]
    if j < W[w, WS_HN]:
        W[w, WS_SUB] = j + 1
        if H[w, j] >= 0:
            area = H[w, j]
            H[w, j] = -1
            return _free(W, w, area)
        return OP_NONE
    for col in (WS_ARR1, WS_ARR2):
        if W[w, col] >= 0:
            area = W[w, col]
            W[w, col] = -1
            return _free(W, w, area)
    # the repetition is over
    if W[w, WS_FAIL]:
        TT[w, tpos, TT_FAILED] += 1
    else:
        TT[w, tpos, TT_PASSED] += 1
    W[w, WS_PHASE] = PH_START
    W[w, WS_REP] += 1
    if W[w, WS_REP] >= P[P_REPEATS]:
        TT[w, tpos, TT_TIME] += t - W[w, WS_T0]
        W[w, WS_REP] = 0
        W[w, WS_POS] = tpos + 1
    return OP_NONE
