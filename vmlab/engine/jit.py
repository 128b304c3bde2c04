"""How the engine is compiled (`_kernel`: one signature, cached, no NRT) and its small integer
helpers: random streams, ring indices, alignment, tree depth, the log histogram."""
from __future__ import annotations

import threading

import numpy as np
from numba import njit
from numba import types as nbt
from numba.cpython.unsafe.numbers import leading_zeros
from .layout import *  # noqa: F403 (index constants)


# ============================================================================ compilation
# Each helper is compiled for one signature, and then no more: a call with a constant argument
# converts it instead of compiling a literal-typed copy (that doubled the cold compile). This
# happens on the first `run`, in definition order (callees first), not at import. Helpers are
# compiled without NRT: nothing in the hot path allocates, and NRT would add an atomic reference
# count increment and decrement around every array passed or aliased.
I = nbt.int64
U1 = nbt.uint64[::1]
A1 = nbt.int64[::1]
A2 = nbt.int64[:, ::1]
A3 = nbt.int64[:, :, ::1]
_KERNELS: list = []        # (dispatcher, argument types), in definition order
_KERNELS_LOCK = threading.Lock()


def _kernel(*argtypes):
    """Decorator: a cached, NRT-free jitted helper with one signature (see above)."""
    def wrap(fn):
        disp = njit(cache=True, error_model="numpy", _nrt=False)(fn)
        _KERNELS.append((disp, argtypes))
        return disp
    return wrap


def _step(fn):
    """Decorator: a jitted part of the event loop (a step handler or one of its pieces), inlined
    into its caller by numba (no call, no argument passing: the Sim tuple is free to hand down)."""
    return njit(cache=True, error_model="numpy", _nrt=False, inline="always")(fn)


def _rare(fn):
    """Decorator: a step handler that runs about once per purge, not per operation, compiled as
    a function of its own and called: the call (the Sim tuple passed flat, ~0.1 us) costs nothing
    measurable at that rate, and keeping it out of `_loop` keeps the cold compile short."""
    return njit(cache=True, error_model="numpy", _nrt=False)(fn)


def _inline(fn):
    """Decorator: a tiny jitted helper inlined into its caller by numba (it may return an array of
    the Sim tuple, which a separately compiled function without NRT may not)."""
    return njit(cache=True, error_model="numpy", _nrt=False, inline="always")(fn)


def _compile_kernels() -> None:
    """Compile (or load from numba's cache) every helper for its signature, once per process."""
    with _KERNELS_LOCK:
        while _KERNELS:
            disp, argtypes = _KERNELS[0]
            disp.compile(argtypes)
            disp.disable_compile()
            _KERNELS.pop(0)


# ============================================================================ small helpers
@njit(cache=True, error_model="numpy", _nrt=False, inline="always")
def _rng_next(st, i):
    x = st[i]
    x ^= x >> np.uint64(12)
    x ^= x << np.uint64(25)
    x ^= x >> np.uint64(27)
    st[i] = x
    return x * np.uint64(2685821657736338717)


@njit(cache=True, error_model="numpy", _nrt=False, inline="always")
def _rand_below(st, i, n):
    """Uniform integer in [0, n)."""
    return np.int64((_rng_next(st, i) >> np.uint64(11)) % np.uint64(n))


@njit(cache=True, error_model="numpy", _nrt=False, inline="always")
def _wrap(i, cap):
    """i mod cap for 0 <= i < 2 cap: a ring index without an integer division."""
    return i - cap if i >= cap else i


@njit(cache=True, error_model="numpy", _nrt=False, inline="always")
def _align_up(x, a):
    """Round x up to a multiple of a, a power of two (alloc_vmap_area BUG_ONs otherwise)."""
    return (x + a - 1) & -a


@njit(cache=True, error_model="numpy", _nrt=False, inline="always")
def _ilog2(n):
    """Levels of a balanced tree of n nodes: 1 + floor(log2 n) (1 for n <= 1); one ctlz."""
    if n <= 1:
        return 1
    return 64 - np.int64(leading_zeros(np.uint64(n)))


@_kernel(A2, A1, I, I)
def _hist_add(hist, hmax, kind, v):
    """Log histogram: bucket 1 + 8*floor(log2 v) + the next 3 bits of v (v >= 1 ns)."""
    if v < 1:
        b = 0
    else:
        lg = _ilog2(v) - 1                       # floor(log2 v)
        if lg >= 3:
            b = 1 + HIST_PER_OCTAVE * lg + (v >> (lg - 3)) - 8
        else:
            b = 1 + HIST_PER_OCTAVE * lg + ((v - (1 << lg)) << (3 - lg))
        if b >= N_BUCKETS:
            b = N_BUCKETS - 1
    hist[kind, b] += 1
    if v > hmax[kind]:
        hmax[kind] = v
