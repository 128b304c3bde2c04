"""The free-segment tree's search on its own, against plain references (hypothesis).

`_lowest_fit` skips subtrees that cannot hold an aligned start (the F_MAXAL augment) and must
still return exactly what the plain walk returns: the same segment, aligned start and path depth.
`_max_hole_between` (the list era's cached_hole_size) must find the largest aligned hole of a
range as a scan of every segment does. `_free_between` must count the free pages of a range as
two `_free_below` calls do.
"""
from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from vmlab import engine as E

E._compile_kernels()


def _walk(T, root, size, align, lo, length):
    """The plain find_vmap_lowest_match walk (no F_MAXAL pruning): (node, start, depth)."""
    if root == E.NIL or T[root, E.F_MAXFREE] < length:
        return E.NIL, 0, 0
    path = []
    cur = root
    while True:
        while True:
            path.append(cur)
            left = T[cur, E.F_LEFT]
            if left != E.NIL and T[left, E.F_MAXFREE] >= length and T[cur, E.F_KEY] > lo:
                cur = left
            else:
                break
        while True:
            k, sz = int(T[cur, E.F_KEY]), int(T[cur, E.F_SIZE])
            if k + sz > lo:
                a = -(-max(k, lo) // align) * align
                if a + size <= k + sz:
                    return cur, a, len(path)
            right = T[cur, E.F_RIGHT]
            if right != E.NIL and T[right, E.F_MAXFREE] >= length:
                cur = right
                break
            found = False
            while len(path) > 1:
                child = path.pop()
                if T[path[-1], E.F_LEFT] == child:
                    cur = path[-1]
                    found = True
                    break
            if not found:
                return E.NIL, 0, 0


def _tree(segments, al, prios):
    """A tree holding the free segments [(start, size)], header AL = al, F_SUM kept."""
    T = np.zeros((len(segments) + 2, E.N_F), dtype=np.int64)
    T[E.T_HEADER, E.F_KEY] = al
    T[E.T_HEADER, E.F_SUM] = 1
    path = np.zeros(2 * E.PATH_OK, dtype=np.int64)
    root = E.NIL
    for i, ((k, sz), pr) in enumerate(zip(segments, prios), start=1):
        T[i, E.F_KEY], T[i, E.F_SIZE], T[i, E.F_PRIO] = k, sz, pr
        root = E._insert(T, root, i, path)
    return T, root


@st.composite
def free_space(draw):
    """Free segments separated by busy gaps, starting at page 4096, and the AL of the tree."""
    n = draw(st.integers(1, 60))
    segs, k = [], 4096 + draw(st.integers(0, 40))
    for _ in range(n):
        sz = draw(st.integers(1, 40))
        segs.append((k, sz))
        k += sz + draw(st.integers(1, 30))          # a busy area between segments
    prios = draw(st.permutations(range(n)))
    al = draw(st.sampled_from([1, 2, 4, 8, 16]))
    return segs, prios, al, k


@settings(max_examples=300, deadline=None)
@given(free_space(), st.data())
def test_lowest_fit_matches_the_plain_walk(space, data):
    segs, prios, al, end = space
    T, root = _tree(segs, al, prios)
    path = np.zeros(2 * E.PATH_OK, dtype=np.int64)
    out = np.zeros(3, dtype=np.int64)
    for _ in range(20):
        size = data.draw(st.integers(1, 24))
        align = data.draw(st.sampled_from([1, 2, 4, 8, 16, 32, 64]))
        lo = data.draw(st.integers(4000, end + 10))
        length = data.draw(st.sampled_from([size, size + align - 1]))
        node = E._lowest_fit(T, root, size, align, lo, length, path, out)
        want = _walk(T, root, size, align, lo, length)
        assert node == want[0], (size, align, lo, length)
        if node != E.NIL:
            assert (out[0], out[2]) == want[1:], (size, align, lo, length)
            assert path[out[2] - 1] == node
        # the fit is really the lowest one at or above lo when no pruning by length applies
        if length == size:
            fits = [(-(-max(k, lo) // align) * align) for k, sz in segs
                    if k + sz > lo and -(-max(k, lo) // align) * align + size <= k + sz]
            assert (out[0] if node != E.NIL else None) == (min(fits) if fits else None)


@settings(max_examples=300, deadline=None)
@given(free_space(), st.data())
def test_max_hole_between_is_the_largest_aligned_hole_of_the_range(space, data):
    """The holes alloc_vmap_area's walk steps over between lo and the fit at hi: every free
    segment starting below hi and ending above lo, measured from its aligned start (from lo for
    the one that holds lo)."""
    segs, prios, al, end = space
    T, root = _tree(segs, al, prios)
    stack = np.zeros(512, dtype=np.int64)
    for _ in range(20):
        align = data.draw(st.sampled_from([1, 2, 4, 8, 16, 32, 64]))
        lo = data.draw(st.integers(4000, end + 10))
        hi = data.draw(st.integers(lo + 1, end + 20))      # (the engine asks only when the fit lies above lo)
        holes = [k + sz - (-(-max(k, lo) // align) * align) for k, sz in segs if k < hi and k + sz > lo]
        assert E._max_hole_between(T, root, lo, hi, align, stack) == max([0] + holes), (align, lo, hi)


@settings(max_examples=200, deadline=None)
@given(free_space(), st.data())
def test_free_between_is_the_difference_of_free_below(space, data):
    segs, prios, al, end = space
    T, root = _tree(segs, al, prios)
    for _ in range(20):
        lo = data.draw(st.integers(4000, end + 10))
        hi = data.draw(st.integers(lo + 1, end + 20))
        brute = sum(max(0, min(k + sz, hi) - max(k, lo)) for k, sz in segs)
        assert E._free_between(T, root, lo, hi) == brute
        assert E._free_below(T, root, hi) - E._free_below(T, root, lo) == brute


@settings(max_examples=200, deadline=None)
@given(free_space(), st.data())
def test_free_below_along_the_fit_path_equals_the_descent(space, data):
    segs, prios, al, end = space
    T, root = _tree(segs, al, prios)
    path = np.zeros(2 * E.PATH_OK, dtype=np.int64)
    out = np.zeros(3, dtype=np.int64)
    for _ in range(20):
        size = data.draw(st.integers(1, 24))
        lo = data.draw(st.integers(4000, end + 10))
        node = E._lowest_fit(T, root, size, 1, lo, size, path, out)
        if node != E.NIL:
            brute = sum(max(0, min(k + sz, out[0]) - k) for k, sz in segs)
            assert E._free_below_path(T, path, out[2], out[0]) == brute


def _augments_exact(T, x):
    """Recompute every augment of the subtree at x from scratch; True if all stored ones match."""
    if x == E.NIL:
        return True, 0, -(1 << 62), 0      # (an empty subtree has no room at all)
    okl, ml, al_l, sl = _augments_exact(T, T[x, E.F_LEFT])
    okr, mr, al_r, sr = _augments_exact(T, T[x, E.F_RIGHT])
    al = int(T[E.T_HEADER, E.F_KEY])
    k, sz = int(T[x, E.F_KEY]), int(T[x, E.F_SIZE])
    m = max(sz, ml, mr)
    ma = max(k + sz - -(-k // al) * al, al_l, al_r)
    s = sz + sl + sr
    ok = okl and okr and (T[x, E.F_MAXFREE], T[x, E.F_MAXAL], T[x, E.F_SUM]) == (m, ma, s)
    return ok, m, ma, s


@settings(max_examples=200, deadline=None)
@given(free_space(), st.data())
def test_fix_delta_keeps_every_augment_exact(space, data):
    """Shrinking a segment at either end (the carve's LE and RE cases) and fixing the path with
    the page delta leaves the same augments as a recomputation from scratch."""
    segs, prios, al, end = space
    T, root = _tree(segs, al, prios)
    path = np.zeros(2 * E.PATH_OK, dtype=np.int64)
    for _ in range(10):
        i = data.draw(st.integers(0, len(segs) - 1))
        k, sz = segs[i]
        if sz < 2:
            continue
        cut = data.draw(st.integers(1, sz - 1))
        d = E._path_to(T, root, k, path)
        x = path[d - 1]
        if data.draw(st.booleans()):
            T[x, E.F_KEY] = k + cut                   # take from the start
            segs[i] = (k + cut, sz - cut)
        else:
            segs[i] = (k, sz - cut)                   # take from the end
        T[x, E.F_SIZE] = sz - cut
        E._fix_delta(T, path, d, -cut)
        assert _augments_exact(T, root)[0]
