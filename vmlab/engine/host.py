"""Overcommitted guests: the host's round-robin schedule of vCPUs (``host_cpus`` > 0), the time a
vCPU is descheduled, and when work on it completes. O(1) each; with ``host_cpus`` = 0 none runs."""
from __future__ import annotations

from .layout import *  # noqa: F403 (index constants)
from .jit import I, _inline, _kernel


# ----------------------------------------------------------------------------- host schedule of vCPUs
# host_cpus = H > 0: vCPU c runs on host core c % H, which runs its n vCPUs round-robin for S ns
# each: vCPU c (index j = c // H on its core) runs in [k n S + j S, k n S + j S + S), k = 0, 1, ...
@_kernel(I, I, I)
def _vcpu_n(c, ncpus, H):
    """vCPUs on vCPU c's host core."""
    return ncpus // H + (1 if c % H < ncpus % H else 0)


@_kernel(I, I, I, I, I)
def _vcpu_off(c, t, ncpus, H, S):
    """ns vCPU c was descheduled in [0, t) (its steal time)."""
    n = _vcpu_n(c, ncpus, H)
    if n <= 1 or t <= 0:
        return 0
    per = n * S
    k = t // per
    r = t - k * per
    on_r = min(max(r - (c // H) * S, 0), S)
    return k * (per - S) + r - on_r


@_kernel(I, I, I, I, I)
def _vcpu_next_run(c, t, ncpus, H, S):
    """The first time >= t at which vCPU c runs."""
    n = _vcpu_n(c, ncpus, H)
    if n <= 1:
        return t
    per = n * S
    k = t // per
    lo = (c // H) * S
    r = t - k * per
    if r < lo:
        return k * per + lo
    if r < lo + S:
        return t
    return (k + 1) * per + lo


@_kernel(I, I, I, I, I, I)
def _vcpu_delay(c, t0, work, ncpus, H, S):
    """When `work` ns of guest work on vCPU c started at t0 completes (descheduled time stops it)."""
    n = _vcpu_n(c, ncpus, H)
    if n <= 1 or work <= 0:
        return t0 + work
    tot = t0 - _vcpu_off(c, t0, ncpus, H, S) + work      # the vCPU's running time at completion
    k = (tot - 1) // S
    return k * n * S + (c // H) * S + tot - k * S


@_inline
def _vd(H, c, t0, work, ncpus, S):
    """t0 + work without host overcommit (H == 0); `_vcpu_delay` with it."""
    if H == 0:
        return t0 + work
    return _vcpu_delay(c, t0, work, ncpus, H, S)


@_inline
def _held_until(S, c, t, hold, ncpus, H, HS):
    """When a lock taken at t (ns) for `hold` ns of work on vCPU c is released: later by the time
    the vCPU is descheduled meanwhile (lock-holder preemption, recorded in S_LHP_MAX)."""
    if H == 0:
        return t + hold
    rel = _vcpu_delay(c, t, hold, ncpus, H, HS)
    if rel - t - hold > S[S_LHP_MAX]:
        S[S_LHP_MAX] = rel - t - hold
    return rel


@_inline
def _note_lhp(S, c, t0, t1, ncpus, H, HS):
    """Record in S_LHP_MAX the time vCPU c was descheduled while holding a lock from t0 to t1 (ns)."""
    if H != 0:
        lhp = _vcpu_off(c, t1, ncpus, H, HS) - _vcpu_off(c, t0, ncpus, H, HS)
        if lhp > S[S_LHP_MAX]:
            S[S_LHP_MAX] = lhp
