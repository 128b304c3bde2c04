"""Purge policies: the built-in ones and user-defined ones (`purge_policy`).

A purge policy makes the purge's decision after each purge-list entry of the free loop: call
``cond_resched_lock()`` now, or not. (cond_resched_lock still drops the lock only when another CPU
spins on it under ``lock_break``, or when a reschedule is due; see the engine docstring.) When a
purge is triggered is the kernel's rule in every policy: ``vmap_lazy_nr > lazy_max_pages``.

Built in (`BUILTIN_POLICIES`, ``SimConfig(policy=...)``, fields in brackets):

* ``no-resched`` (4.9): never.
* ``always-resched`` (4.10-5.1): after every entry.
* ``threshold`` (5.2+, the seed's patch) [threshold_factor]: while vmap_lazy_nr < factor x lazy_max_pages.
* ``hysteresis`` [threshold_factor, low_factor]: stops above factor x lazy_max_pages and yields
  again only once vmap_lazy_nr is below low_factor x lazy_max_pages (the state persists across
  purges), so the purge does not flip between the two modes around one mark.
* ``batch`` [batch_entries]: at most once per N entries (the lock is held for N entries at a time).
* ``hold-budget`` [hold_budget_us]: once the lock has been held for the budget (µs).
* ``adaptive``: no constant to tune. Yields while vmap_lazy_nr is below lazy_max_pages (nothing to
  fear) or while the purge is winning: vmap_lazy_nr has fallen by at least half of what this purge
  freed, i.e. the other CPUs free more slowly than it drains. It stops yielding only when
  allocators refill the backlog as fast as the purge empties it, which is the seed's runaway. It
  answers the patch's own framing (20190124115648.9433-3-urezki@gmail.com: "Prioritizing an
  allocation over freeing does not work well all the time, i.e. it should be rather a
  compromise ... a balance between each other") without the fixed 2 x lazy_max_pages, which the
  2024 KASAN discussion (ZogS_04dP5LlRlXN@pc636) found too coarse for 256 CPUs.

User-defined: `purge_policy` turns a plain function
``f(lazy_nr, lazy_max, done, left, waiters, hold_ns, ncpus) -> bool`` (pages, pages, entries,
entries, tasks spinning on the lock, ns, CPUs; True: call cond_resched_lock now) into a
`PurgePolicy`, compiled by numba to a C callback the engine calls. It is checked when it is made:
the signature, that numba compiles it, and that it runs on sample inputs (errors name the policy
and the line). Its code travels with the config (``SimConfig.to_dict()``), so sweeps in worker
processes and on Dask rebuild it, and its hash is part of the run's cache key and model version.
"""
from __future__ import annotations

import base64
import hashlib
import inspect
import textwrap
import threading
import traceback
import types
from dataclasses import dataclass, field
from typing import Callable

#: (name, what it does) of every built-in policy, in engine code order.
BUILTIN_POLICIES: tuple[tuple[str, str], ...] = (
    ("no-resched", "never yields (4.9)"),
    ("always-resched", "cond_resched_lock after every entry (4.10-5.1)"),
    ("threshold", "yields while vmap_lazy_nr < threshold_factor x lazy_max_pages (5.2+)"),
    ("hysteresis", "stops above threshold_factor, yields again below low_factor (x lazy_max_pages)"),
    ("batch", "yields at most once per batch_entries entries"),
    ("hold-budget", "yields once the lock was held hold_budget_us"),
    ("adaptive", "yields while under lazy_max_pages or while the purge drains faster than others fill"),
)
POLICY_NAMES: tuple[str, ...] = tuple(n for n, _ in BUILTIN_POLICIES)
#: The arguments of a user policy, in order (units: pages, pages, entries, entries, tasks, ns, CPUs).
POLICY_ARGS = ("lazy_nr", "lazy_max", "done", "left", "waiters", "hold_ns", "ncpus")
#: Inputs a new policy is tried on before any run (one per regime the engine can call it in).
_SAMPLES = ((0, 8192, 0, 1, 0, 0, 1), (20000, 8192, 10, 5, 3, 250_000, 8),
            (1 << 22, 32768, 100000, 0, 7, 10**9, 8), (8193, 8192, 1, 4095, 255, 1, 256))
_COMPILED: dict[str, object] = {}
_LOCK = threading.Lock()
CUSTOM_PREFIX = "custom:"


@dataclass(frozen=True, eq=False)
class PurgePolicy:
    """A user-defined purge policy. Equal (and hashed) by ``key``, the hash of its code."""

    name: str
    key: str                      #: sha256 (16 hex digits) of the source, or of the bytecode
    code: str = field(repr=False)  #: base64 of the cloudpickled function (what workers rebuild)
    fn: Callable = field(repr=False, compare=False)

    def __eq__(self, other):
        return isinstance(other, PurgePolicy) and other.key == self.key

    def __hash__(self):
        return hash(("PurgePolicy", self.key))

    @property
    def token(self) -> str:
        """The config's ``policy`` value in dicts, files and tables: ``custom:<name>@<key>``."""
        return f"{CUSTOM_PREFIX}{self.name}@{self.key}"

    def __call__(self, *args) -> bool:
        return bool(self.fn(*args))

    def __str__(self) -> str:
        return self.token

    def compiled(self):
        """The numba C callback of `vmlab.engine.POLICY_SIG` (compiled once per process)."""
        with _LOCK:
            cf = _COMPILED.get(self.key)
            if cf is None:
                cf = _compile(self.fn, self.name)
                _COMPILED[self.key] = cf
            return cf


def _where(fn) -> str:
    code = getattr(fn, "__code__", None)
    file = getattr(code, "co_filename", "?")
    return f"{file}, line {getattr(code, 'co_firstlineno', '?')}"


def _compile(fn, name: str):
    from numba import cfunc

    from .engine import POLICY_SIG
    try:
        return cfunc(POLICY_SIG, error_model="numpy")(fn)
    except Exception as e:  # noqa: BLE001 - numba's typing/lowering errors
        msg = str(e).strip().splitlines()
        lines = [ln.strip() for ln in msg if "line" in ln or ln.strip().startswith(("No implementation", "Unknown",
                                                                                  "Cannot", "Use of", "Invalid"))]
        detail = "; ".join((lines or msg)[:4])
        raise ValueError(f"purge policy {name!r} ({_where(fn)}): numba cannot compile it: {detail}") from None


def _source(fn) -> str | None:
    try:
        src = textwrap.dedent(inspect.getsource(fn))
    except (OSError, TypeError):
        return None
    return "\n".join(ln for ln in src.splitlines() if not ln.lstrip().startswith("@"))


def _by_value(fn):
    """A copy of ``fn`` that cloudpickle serialises by value (its code and the globals it uses), so
    a worker process or a Dask worker rebuilds it without importing the module that defined it
    (a script, a notebook, a test file)."""
    if not isinstance(fn, types.FunctionType):
        return fn
    copy = types.FunctionType(fn.__code__, fn.__globals__, fn.__name__, fn.__defaults__, fn.__closure__)
    copy.__module__ = "__main__"
    copy.__qualname__ = f"<purge_policy {fn.__name__}>"
    return copy


def purge_policy(fn: Callable | None = None, *, name: str | None = None):
    """Decorator: a `PurgePolicy` from ``f(lazy_nr, lazy_max, done, left, waiters, hold_ns, ncpus)``.

    Raises ValueError, naming the policy and its file and line, when the function does not take
    exactly those seven arguments, numba cannot compile it, it raises, or it answers differently
    compiled than in Python on sample inputs. Use it bare (``@purge_policy``) or with a name.
    """
    if fn is None:
        return lambda f: purge_policy(f, name=name)
    if isinstance(fn, PurgePolicy):
        return fn
    if not callable(fn):
        raise TypeError(f"purge_policy takes a function, not {type(fn).__name__}")
    pname = name or getattr(fn, "__name__", "policy")
    params = list(inspect.signature(fn).parameters.values())
    if len(params) != len(POLICY_ARGS) or any(p.kind not in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
                                              for p in params):
        raise ValueError(f"purge policy {pname!r} ({_where(fn)}) must take exactly {len(POLICY_ARGS)} "
                         f"positional arguments ({', '.join(POLICY_ARGS)}); it takes "
                         f"({', '.join(p.name for p in params)})")
    import cloudpickle

    src = _source(fn)
    code = getattr(fn, "__code__", None)
    basis = src.encode() if src else (repr((code.co_code, code.co_consts, code.co_names)).encode()
                                      if code else pname.encode())
    key = hashlib.sha256(basis).hexdigest()[:16]
    payload = base64.b64encode(cloudpickle.dumps(_by_value(fn))).decode()
    pol = PurgePolicy(name=pname, key=key, code=payload, fn=fn)
    _check(pol)
    return pol


def _check(pol: PurgePolicy) -> None:
    """Run the policy in Python and compiled on `_SAMPLES`; the answers must be bools that agree."""
    for args in _SAMPLES:
        try:
            want = pol.fn(*args)
        except Exception as e:  # noqa: BLE001
            tb = traceback.extract_tb(e.__traceback__)[-1]
            raise ValueError(f"purge policy {pol.name!r} raised {type(e).__name__}: {e} at {tb.filename}, "
                             f"line {tb.lineno}, on {dict(zip(POLICY_ARGS, args))}") from None
        if not isinstance(want, (bool, int)) and type(want).__name__ not in ("bool_", "bool"):
            raise ValueError(f"purge policy {pol.name!r} ({_where(pol.fn)}) must return a bool, "
                             f"returned {want!r}")
    cf = pol.compiled()
    for args in _SAMPLES:
        got = bool(cf.ctypes(*args))
        if got != bool(pol.fn(*args)):
            raise ValueError(f"purge policy {pol.name!r} ({_where(pol.fn)}) answers {got} compiled but "
                             f"{bool(pol.fn(*args))} in Python on {dict(zip(POLICY_ARGS, args))} "
                             "(integer overflow or division?)")


def from_code(token: str, code: str) -> PurgePolicy:
    """Rebuild a policy from its config dict form (``policy`` token and ``policy_code``)."""
    import cloudpickle

    fn = cloudpickle.loads(base64.b64decode(code))
    name = token[len(CUSTOM_PREFIX):].rsplit("@", 1)[0] if token.startswith(CUSTOM_PREFIX) else token
    pol = purge_policy(fn, name=name)
    want = token.rsplit("@", 1)[-1]
    if want != pol.key and token.startswith(CUSTOM_PREFIX):
        # the same function from another process (no source there): keep the recorded key
        pol = PurgePolicy(name=pol.name, key=want, code=code, fn=fn)
    return pol
