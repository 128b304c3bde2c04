"""The free-space treap (free_vmap_area_root since 5.2), the purge list's radix sort and the
address-space invariant check (tests/test_tree.py)."""
from __future__ import annotations

import numpy as np
from numba import njit
from .layout import *  # noqa: F403 (index constants)
from .jit import A1, A2, I, _align_up, _kernel


# ============================================================================ free-block tree
# A treap of the *free* segments of the VMALLOC range (what the kernel keeps in
# free_vmap_area_root since 5.2), keyed by first page, augmented with the largest free segment
# (MAXFREE, for lowest fit in O(log n)) and the free pages (SUM) of each subtree. Busy and lazy
# areas live in a flat area table instead, so a vfree touches no tree at all.
@njit(cache=True, error_model="numpy", _nrt=False, inline="always")
def _upd_max(T, x):
    """Recompute node x's MAXFREE and MAXAL (not SUM) from its children; True if one changed."""
    l = T[x, F_LEFT]
    r = T[x, F_RIGHT]
    m = T[x, F_SIZE]
    al = T[T_HEADER, F_KEY]
    k = T[x, F_KEY]
    ma = k + m - ((k + al - 1) & -al)
    if l != NIL:
        if T[l, F_MAXFREE] > m:
            m = T[l, F_MAXFREE]
        if T[l, F_MAXAL] > ma:
            ma = T[l, F_MAXAL]
    if r != NIL:
        if T[r, F_MAXFREE] > m:
            m = T[r, F_MAXFREE]
        if T[r, F_MAXAL] > ma:
            ma = T[r, F_MAXAL]
    changed = m != T[x, F_MAXFREE] or ma != T[x, F_MAXAL]
    T[x, F_MAXFREE] = m
    T[x, F_MAXAL] = ma
    return changed


@njit(cache=True, error_model="numpy", _nrt=False, inline="always")
def _upd(T, x):
    """Recompute node x's augments from its children; True if one of them changed."""
    changed = _upd_max(T, x)
    if T[T_HEADER, F_SUM]:
        l = T[x, F_LEFT]
        r = T[x, F_RIGHT]
        sm = T[x, F_SIZE]
        if l != NIL:
            sm += T[l, F_SUM]
        if r != NIL:
            sm += T[r, F_SUM]
        changed = changed or sm != T[x, F_SUM]
        T[x, F_SUM] = sm
    return changed


@_kernel(A2, A1, I)
def _fix(T, path, d):
    """Recompute augments along path[0..d) (root first), bottom up, after a change at or below
    path[d - 1] that kept the tree's shape above it: where a node's augments come out the same,
    its ancestors' do too, so the walk stops (in the tree era, where F_SUM is not kept, most
    updates stop within a few levels)."""
    for i in range(d - 1, -1, -1):
        if not _upd(T, path[i]):
            break


@_kernel(A2, A1, I)
def _fix_all(T, path, d):
    """Recompute augments along path[0..d) bottom up, every node (after rotations)."""
    for i in range(d - 1, -1, -1):
        _upd(T, path[i])


@_kernel(A2, A1, I, I)
def _fix_delta(T, path, d, delta):
    """Augments along path[0..d) (root first) after node path[d - 1] itself changed (its key or
    size; the tree's shape is the same) and its subtree's free pages changed by `delta`: SUM
    takes the delta on every node of the path, without reading the siblings (the list era keeps
    it), and the maxima are recomputed bottom up until they come out the same."""
    for i in range(d - 1, -1, -1):
        if not _upd_max(T, path[i]):
            break
    if T[T_HEADER, F_SUM]:
        for i in range(d):
            T[path[i], F_SUM] += delta


@_kernel(A2, I, I, A1)
def _path_to(T, root, key, path):
    """Fill path[0..d) with the root-to-node path of the node with `key`; returns d."""
    d = 0
    cur = root
    while cur != NIL:
        path[d] = cur
        d += 1
        k = T[cur, F_KEY]
        if key == k:
            break
        cur = T[cur, F_LEFT + (key > k)]      # branch-free descent (F_RIGHT = F_LEFT + 1)
    return d


@_kernel(A2, I, I, A1, I)
def _insert_at(T, root, x, path, d):
    """Insert node x (key, size, prio set) as a leaf below path[d - 1], then rotate it up by
    priority; path[0..d) must be the search path of x's key from the root (d = 0: empty tree).
    Returns the new root."""
    key = T[x, F_KEY]
    T[x, F_LEFT] = NIL
    T[x, F_RIGHT] = NIL
    _upd(T, x)
    if d == 0:
        return x
    p = path[d - 1]
    T[p, F_LEFT + (key >= T[p, F_KEY])] = x
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
    _fix_delta(T, path, d, T[x, F_SIZE])
    return root


@_kernel(A2, I, I, A1)
def _insert(T, root, x, path):
    """Insert node x (key, size, prio set); returns the new root."""
    key = T[x, F_KEY]
    d = 0
    cur = root
    while cur != NIL:
        path[d] = cur
        d += 1
        cur = T[cur, F_LEFT + (key >= T[cur, F_KEY])]
    return _insert_at(T, root, x, path, d)


@_kernel(A2, I, I, A1)
def _delete(T, root, x, path):
    """Remove node x from the tree; returns the new root. x is not recycled here."""
    d = _path_to(T, root, T[x, F_KEY], path) - 1      # x's ancestors: path[0..d)
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
    _fix_all(T, path, d)
    return root


@_kernel(A2, I, I)
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


@_kernel(A2, A1, I, I)
def _free_below_path(T, path, d, a):
    """Free pages below page a, where a lies in node path[d - 1] and path[0..d) is its
    root-to-node path: _free_below without a descent (the path's nodes are in cache)."""
    x = path[d - 1]
    l = T[x, F_LEFT]
    c = a - T[x, F_KEY]
    if l != NIL:
        c += T[l, F_SUM]
    for i in range(d - 1):
        p = path[i]
        if T[p, F_RIGHT] == path[i + 1]:
            l = T[p, F_LEFT]
            c += T[p, F_SIZE]
            if l != NIL:
                c += T[l, F_SUM]
    return c


@njit(cache=True, error_model="numpy", _nrt=False, inline="always")
def _fits(T, x, size, align, lo, out):
    k = T[x, F_KEY]
    end = k + T[x, F_SIZE]
    if end > lo:
        s = k if k > lo else lo
        a = _align_up(s, align)
        if a + size <= end:
            out[0] = a
            return True
    return False


@_kernel(A2, I, I, I)
def _free_between(T, root, lo, hi):
    """Free pages in [lo, hi), lo < hi: _free_below(hi) - _free_below(lo) in one descent until
    the two paths part."""
    d = 0
    cur = root
    while cur != NIL:
        k = T[cur, F_KEY]
        sz = T[cur, F_SIZE]
        if k < lo:                 # both go right: only the clipped node differs
            d += (sz if k + sz <= hi else hi - k) - (sz if k + sz <= lo else lo - k)
            cur = T[cur, F_RIGHT]
        elif k >= hi:              # both go left
            cur = T[cur, F_LEFT]
        else:                      # lo <= k < hi: the paths part here
            l = T[cur, F_LEFT]
            if l != NIL:
                d += T[l, F_SUM] - _free_below(T, l, lo)
            d += sz if k + sz <= hi else hi - k
            return d + _free_below(T, T[cur, F_RIGHT], hi)
    return d


@_kernel(A2, I, I, I, I, I, A1, A1)
def _lowest_fit(T, root, size, align, lo, length, path, out):
    """Lowest free segment holding `size` pages aligned to `align` at or above page `lo`.

    The kernel's find_vmap_lowest_match: descend left while the left subtree's largest free
    segment is >= `length` (and it can lie above lo), else check the node, else go right, else
    climb back. Returns the node (or NIL); path[0..out[2]) is the root-to-node path, out[0] the
    aligned start.

    A subtree that lies wholly at or above lo and whose F_MAXAL is below `size` has no fit when
    `align` >= AL (an aligned start is at or past the AL-aligned one), so it is skipped: the
    result is the walk's, without visiting the misaligned segments one by one
    (fix_align_alloc_test leaves thousands).
    """
    out[2] = 0
    if root == NIL or T[root, F_MAXFREE] < length:
        return NIL
    prune = align >= T[T_HEADER, F_KEY]
    d = 0
    cur = root
    cur_ok = 0             # 1: the subtree at cur lies wholly at or above lo
    while True:
        while True:
            path[d] = cur
            path[PATH_OK + d] = cur_ok
            d += 1
            l = T[cur, F_LEFT]
            if T[cur, F_KEY] > lo and l != NIL and T[l, F_MAXFREE] >= length:
                if cur_ok and prune and T[l, F_MAXAL] < size:
                    break
                cur = l
            else:
                break
        while True:
            if _fits(T, cur, size, align, lo, out):
                out[2] = d
                return cur
            r = T[cur, F_RIGHT]
            if r != NIL and T[r, F_MAXFREE] >= length:
                r_ok = 1 if T[cur, F_KEY] >= lo else 0
                if not (r_ok and prune and T[r, F_MAXAL] < size):
                    cur = r
                    cur_ok = r_ok
                    break
            found = False
            while d > 1:
                child = path[d - 1]
                d -= 1
                parent = path[d - 1]
                if T[parent, F_LEFT] == child:
                    cur = parent
                    cur_ok = path[PATH_OK + d - 1]
                    found = True
                    break
            if not found:
                return NIL


HOLE_VISITS = 512   # _max_hole_between: nodes examined before it settles for an upper bound


@_kernel(A2, I, I, I, I, A1)
def _max_hole_between(T, root, lo, hi, align, stack):
    """The largest hole the list era's walk steps over between page lo and the fit at page hi.

    alloc_vmap_area (v5.0.1/mm/vmalloc.c:486-498) walks the busy list from its start point, and
    for every busy area it has to step over (the request did not fit in the hole before it) it
    raises cached_hole_size to that hole, measured from the aligned start it tried. Those holes
    are the free segments between lo and hi: this is the largest ``end - ALIGN(max(start, lo),
    align)`` among them (0 if none), found by branch and bound on the subtree maxima (F_MAXAL
    bounds an aligned hole when align >= AL, F_MAXFREE otherwise). The segment holding hi (the
    fit) is not stepped over. After HOLE_VISITS nodes (or when `stack` is full) the subtrees not
    yet examined count with their bound, an overestimate (never reached in the test cases
    measured, where equal holes prune each other).
    """
    if root == NIL or lo >= hi:
        return 0
    use_al = align >= T[T_HEADER, F_KEY]
    best = 0
    sp = 1
    stack[0] = root
    cap = stack.shape[0] - 2
    visits = 0
    while sp > 0:
        sp -= 1
        x = stack[sp]
        bound = T[x, F_MAXAL] if use_al else T[x, F_MAXFREE]
        if bound <= best:
            continue
        visits += 1
        if visits > HOLE_VISITS or sp >= cap:
            best = bound
            continue
        k = T[x, F_KEY]
        e = k + T[x, F_SIZE]
        l = T[x, F_LEFT]
        r = T[x, F_RIGHT]
        if k >= hi:
            if l != NIL:                 # x and its right subtree lie at or above the fit
                stack[sp] = l
                sp += 1
            continue
        if e > lo:
            h = e - _align_up(k if k > lo else lo, align)
            if h > best:
                best = h
        if r != NIL:
            stack[sp] = r
            sp += 1
        if k > lo and l != NIL:          # (a left subtree of a node below lo lies below lo)
            stack[sp] = l
            sp += 1
    return best


@_kernel(A2, I, I, A1)
def _neighbours(T, root, s, path):
    """(pred, succ, dp, ds): the free segments just below and just above page s (NIL if none).
    Both lie on the descent, which path[] records: path[0..dp) is the root-to-pred path,
    path[0..ds) the root-to-succ one."""
    pred = NIL
    succ = NIL
    dp = 0
    ds = 0
    d = 0
    cur = root
    while cur != NIL:
        path[d] = cur
        d += 1
        if T[cur, F_KEY] < s:
            pred = cur
            dp = d
            cur = T[cur, F_RIGHT]
        else:
            succ = cur
            ds = d
            cur = T[cur, F_LEFT]
    return pred, succ, dp, ds


# ============================================================================ sorting
@_kernel(A1, I, A2, A2)
def _radix_sort_by_start(ids, n, A, RS):
    """Sort area ids ids[0..n) by first page, in place: LSD radix sort, 11 bits per pass.

    RS: int64[4, >= max(n, 2048)] scratch (keys, keys', ids', digit counts). O(n) per pass and
    ~2 passes for a purge batch, where a comparison sort through A would miss the cache n log n
    times.
    """
    if n < 2:
        return
    keys = RS[0]
    kt = RS[1]
    it = RS[2]
    cnt = RS[3]
    lo = A[ids[0], A_START]
    hi = lo
    for q in range(n):
        k = A[ids[q], A_START]
        keys[q] = k
        if k < lo:
            lo = k
        if k > hi:
            hi = k
    for q in range(n):
        keys[q] -= lo
    span = hi - lo
    sk = keys
    si = ids
    dk = kt
    di = it
    moved = False
    shift = 0
    while (span >> shift) > 0:
        for d in range(2048):
            cnt[d] = 0
        for q in range(n):
            cnt[(sk[q] >> shift) & 2047] += 1
        pos = 0
        for d in range(2048):
            c = cnt[d]
            cnt[d] = pos
            pos += c
        for q in range(n):
            d = (sk[q] >> shift) & 2047
            j = cnt[d]
            cnt[d] = j + 1
            dk[j] = sk[q]
            di[j] = si[q]
        sk, dk = dk, sk
        si, di = di, si
        moved = not moved
        shift += 11
    if moved:
        for q in range(n):
            ids[q] = si[q]


# ============================================================================ invariants
@_kernel(A2, A2, A1, I, I, I, A1, A2)
def _check_space(T, A, G, va_start, va_pages, lazy_nr, stack, CK):
    """O(n log n) check of the address-space invariants. Returns ERR_* (0 = fine).

    Free segments sorted, disjoint and never adjacent (merged), augments exact; busy and lazy
    areas disjoint from each other and from free space; free + areas = the whole range;
    vmap_lazy_nr (lazy_nr) = pages of lazy areas; the busy and lazy counts (G) match the table.
    CK: int64[7, >= max(rows of T, 2048)] scratch: free starts, ends, area ids, and the radix
    sort's four rows (T is kept larger than A).
    """
    root, n_area, busy_n, lazy_n = G[G_ROOT], G[G_AN], G[G_BUSY_N], G[G_LAZY_AREAS]
    va_end = va_start + va_pages
    fs = CK[0]
    fe = CK[1]
    ids = CK[2]
    # free segments, in order
    nf = 0
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
        al = T[T_HEADER, F_KEY]
        ma = k + sz - ((k + al - 1) & -al)
        if l != NIL:
            m = max(m, T[l, F_MAXFREE])
            ma = max(ma, T[l, F_MAXAL])
            sm += T[l, F_SUM]
        if r != NIL:
            m = max(m, T[r, F_MAXFREE])
            ma = max(ma, T[r, F_MAXAL])
            sm += T[r, F_SUM]
        if m != T[cur, F_MAXFREE] or ma != T[cur, F_MAXAL] or (T[T_HEADER, F_SUM] and sm != T[cur, F_SUM]):
            return ERR_AUGMENT
        fs[nf] = k
        fe[nf] = k + sz
        nf += 1
        total_free += sz
        prev_end = k + sz
        cur = r
    # areas
    na = 0
    nb = 0
    nl = 0
    lazy_pages = 0
    area_pages = 0
    for i in range(n_area):
        st = A[i, A_STATE]
        if st == ST_BUSY or st == ST_LAZY:
            ids[na] = i
            area_pages += A[i, A_SIZE]
            na += 1
            if st == ST_BUSY:
                nb += 1
            else:
                nl += 1
                lazy_pages += A[i, A_SIZE]
    _radix_sort_by_start(ids, na, A, CK[3:])
    j = 0
    prev = va_start
    for q in range(na):
        s = A[ids[q], A_START]
        e = s + A[ids[q], A_SIZE]
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
