"""One description of `vmlab.config.SimConfig`'s fields: `FIELDS`, in SimConfig's order.

Each `Field` has the field's name, its type, unit, allowed range or choices, a help text, its
``vmlab run`` option and the kind of widget the panels build for it. The CLI's ``vmlab run``
options (`vmlab.cli`), the reproduce command of the email text (`vmlab.export.run_command`) and the
panels' controls (`vmlab.widgets`) are derived from this table. SimConfig's own validation
(`vmlab.config`) stays there, with its error messages; ``tests/test_config.py`` checks that it
agrees with the ranges here.

This module imports nothing of vmlab at module level (`vmlab.config` imports it): choices that
live elsewhere (the policies, the platforms, the test sets) are named as ``"module:ATTRIBUTE"``
and looked up when asked for (`Field.allowed`).
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass

PURGE_MODES = ("sync", "deferred")
ALLOCATORS = ("list", "augmented-tree")
FLUSH_RANGES = ("walk", "at-insert")
PREEMPTS = ("full", "voluntary")
PURGE_LOCKS = ("mutex", "spinlock")
LAZY_DROPS = ("per-entry", "batch")
SPINLOCKS = ("queued", "test-and-set")

#: The words ``vmlab run`` reads as None ("the kernel's / platform's / mode's default").
NONE_WORDS = ("none", "default")
YES_WORDS = ("yes", "true", "1", "on")
NO_WORDS = ("no", "false", "0", "off")


def _ref(spec):
    """A value, or ``"module:ATTRIBUTE"`` of vmlab looked up now."""
    if isinstance(spec, str) and ":" in spec:
        mod, attr = spec.split(":")
        return getattr(importlib.import_module(f"vmlab.{mod}"), attr)
    return spec


@dataclass(frozen=True)
class Field:
    """One SimConfig field.

    ``type``: "int", "float", "bool", "str" (one of ``choices``), "workload" (a mode, a test, or
    test names; joined by commas on the command line), "policy" (a built-in name or a
    `vmlab.policies.PurgePolicy`) or "code" (text). ``none_ok``: None is allowed (it means a
    default). ``lo``/``hi``: the inclusive range of a number (``lo_open``: ``lo`` excluded).
    ``flag``: the ``vmlab run`` option, None when there is none. ``widget``: "dropdown",
    "checkbox", "tristate" (auto/yes/no), "int", "float", "text", or None. ``label``: the widget's
    short description.
    """

    name: str
    type: str
    help: str
    unit: str = ""
    choices: tuple | str | None = None
    lo: float | int | str | None = None
    hi: float | int | str | None = None
    lo_open: bool = False
    none_ok: bool = False
    flag: str | None = ""
    widget: str | None = None
    label: str = ""

    def __post_init__(self):
        if self.flag == "":
            object.__setattr__(self, "flag", "--" + self.name.replace("_", "-"))
        if not self.label:
            object.__setattr__(self, "label", self.name.replace("_", " "))

    # ------------------------------------------------------------------ lookups
    def allowed(self) -> tuple | None:
        """The allowed values of a choice field (looked up now), else None."""
        c = _ref(self.choices)
        if c is None:
            return None
        return tuple(sorted(c)) if isinstance(c, dict) else tuple(c)

    def bounds(self) -> tuple:
        return _ref(self.lo), _ref(self.hi)

    @property
    def dest(self) -> str:
        return self.name

    @property
    def metavar(self) -> str:
        return {"int": "N", "float": "X", "bool": "yes|no", "workload": "NAME[,NAME...]"}.get(
            self.type, self.name.upper())

    # ------------------------------------------------------------------ command-line text
    def parse(self, text: str):
        """The value of ``text`` given on the command line; ValueError names what is allowed.

        None (from "none" or "default") only where the field allows it."""
        t = str(text).strip()
        if self.none_ok and t.lower() in NONE_WORDS:
            return None
        if self.type == "bool":
            v = t.lower()
            if v in YES_WORDS:
                return True
            if v in NO_WORDS:
                return False
            raise ValueError(f"{text!r} is not yes or no" + (" or none" if self.none_ok else ""))
        if self.type == "int":
            try:
                return int(t)
            except ValueError:
                raise ValueError(f"{text!r} is not an integer") from None
        if self.type == "float":
            try:
                return float(t)
            except ValueError:
                raise ValueError(f"{text!r} is not a number") from None
        if self.type == "workload":
            names = [w for w in t.split(",") if w]
            return names[0] if len(names) == 1 else tuple(names)
        allowed = self.allowed()
        if allowed is not None and t not in allowed:
            words = list(allowed) + (["none"] if self.none_ok else [])
            raise ValueError(f"invalid choice: {text!r} (choose from {', '.join(words)})")
        return t

    def format(self, value) -> str | None:
        """``value`` as `parse` reads it back, or None when the command line cannot say it
        (a custom policy, a Platform object)."""
        if value is None:
            return "none" if self.none_ok else None
        if self.type == "bool":
            return "yes" if bool(value) else "no"
        if self.type == "workload":
            return value if isinstance(value, str) else ",".join(value)
        if self.type in ("int", "float"):
            if hasattr(value, "item"):
                value = value.item()
            if isinstance(value, bool):
                return None
            if isinstance(value, float):
                if self.type == "int" and not value.is_integer():
                    return None
                return (str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value))
            return str(int(value))
        if not isinstance(value, str):
            name = getattr(value, "name", None)      # a Platform preset given as its object
            if self.name == "platform" and isinstance(name, str):
                from .platforms import get_platform
                try:
                    if get_platform(name) == value:
                        return name
                except Exception:
                    return None
            return None
        allowed = self.allowed()
        if allowed is not None and value not in allowed:
            return None
        return value

    def tooltip(self) -> str:
        """The help text, with the unit when the text does not name it."""
        return f"{self.help} [{self.unit}]" if self.unit and self.unit not in self.help else self.help


def _f(name, type, help, **kw) -> Field:
    return Field(name, type, help, **kw)


#: Every SimConfig field, in SimConfig's order.
FIELDS: tuple[Field, ...] = (
    _f("platform", "str", "a platform preset (vmlab.platforms)", choices="platforms:PLATFORMS",
       widget="dropdown"),
    _f("ncpus", "int", "online CPUs (none: the platform's)", unit="CPUs", lo=1, hi=1024, none_ok=True,
       widget="int", label="CPUs"),
    _f("policy", "policy", "the purge policy: a built-in one (vmlab.policies) or a @purge_policy "
       "function (Python only)", choices="config:POLICIES", widget="dropdown"),
    _f("threshold_factor", "float", "threshold/hysteresis policies: resched while vmap_lazy_nr < "
       "factor x lazy_max_pages", unit="x lazy_max_pages", lo=0.0, hi=1e6, widget="float",
       label="threshold ×"),
    _f("purge_mode", "str", "sync (4.10-5.17) or deferred: drain work (5.18+)", choices=PURGE_MODES,
       widget="dropdown", label="purge"),
    _f("allocator", "str", "the free-area search: list (<= 5.1) or augmented-tree (5.2+)",
       choices=ALLOCATORS, widget="dropdown"),
    _f("flush_range", "str", "the flush range: walk the purge list (<= 5.10) or at-insert (5.11+; "
       "also merges adjacent lazy areas into one purge-list entry)", choices=FLUSH_RANGES,
       widget="dropdown"),
    _f("lock_split", "bool", "free_vmap_area_lock split from vmap_area_lock (5.5+)",
       widget="checkbox", label="lock split (5.5+)"),
    _f("purge_lock", "str", "vmap_purge_lock: mutex (4.10+) or 4.9's spinlock (the whole purge runs "
       "with preemption off; the alloc-failure path spins)", choices=PURGE_LOCKS, widget="dropdown"),
    _f("lazy_drop", "str", "vmap_lazy_nr drops per purge-list entry in the free loop (4.10+) or by "
       "the whole batch before the flush (4.9)", choices=LAZY_DROPS, widget="dropdown"),
    _f("lock_break", "bool", "cond_resched_lock drops a contended lock (CONFIG_PREEMPTION); "
       "none/auto: with full preemption only (6.1, PREEMPT_DYNAMIC: yes)", none_ok=True,
       widget="tristate"),
    _f("preempt", "str", "the preemption model (none: the platform's)", choices=PREEMPTS,
       none_ok=True, widget="dropdown"),
    _f("lazy_max_pages", "int", "the purge trigger lazy_max_pages (none: the kernel formula "
       "fls(ncpus) x 32 MiB / PAGE_SIZE)", unit="pages", lo=1, hi=1 << 40, none_ok=True,
       widget="int", label="lazy_max"),
    _f("workload", "workload", "a test_vmalloc.sh mode, a test name, or test names joined by commas",
       widget="dropdown"),
    _f("run_test_mask", "int", "test_vmalloc run_test_mask (none: the mode's or the test set's)",
       lo=1, hi="workloads:ALL_TESTS_MASK", none_ok=True, widget="int"),
    _f("nr_threads", "int", "test_vmalloc worker threads (none: the mode's, or ncpus)",
       unit="threads", lo=1, hi=65535, none_ok=True, widget="int"),
    _f("test_loop_count", "int", "test_vmalloc test_loop_count (none: the mode's)", lo=1, hi=10**12,
       none_ok=True, widget="int"),
    _f("test_repeat_count", "int", "test_vmalloc test_repeat_count (none: the mode's)", lo=1,
       hi=10**9, none_ok=True, widget="int"),
    _f("sequential_test_order", "bool", "test_vmalloc sequential_test_order (none: the mode's)",
       none_ok=True, widget="tristate"),
    _f("nr_pages", "int", "fix_size / vm_map_ram pages (none: the test set's)", unit="pages", lo=0,
       hi=1 << 20, none_ok=True, widget="int"),
    _f("test_set", "str", "lib/test_vmalloc.c of an era", choices="config:TEST_SETS",
       widget="dropdown"),
    _f("duration_s", "float", "simulated seconds", unit="s", lo=0.0, hi=86_400.0, lo_open=True,
       flag="--duration", widget="float", label="simulate"),
    _f("seed", "int", "the random seed", lo=0, hi=2**63 - 1, widget="int"),
    _f("ram_bytes", "int", "the OOM limit (none: the platform's RAM)", unit="bytes", lo=1,
       hi=1 << 60, none_ok=True, widget="int"),
    _f("sample_interval_ns", "int", "the time-series sampling period, in simulated time",
       unit="ns", lo=1_000, hi=10**12, widget="int"),
    _f("check_invariants", "bool", "re-check the address space after every operation (slow)",
       widget="checkbox"),
    _f("low_factor", "float", "hysteresis policy: yield again below low_factor x lazy_max_pages",
       unit="x lazy_max_pages", lo=0.0, hi=1e6, widget="float", label="low ×"),
    _f("batch_entries", "int", "batch policy: purge-list entries between cond_resched_lock calls",
       unit="entries", lo=1, hi=10**9, widget="int", label="batch entries"),
    _f("hold_budget_us", "float", "hold-budget policy: µs the free loop holds the lock before "
       "yielding", unit="µs", lo=0.0, hi=1e9, widget="float", label="hold µs"),
    _f("policy_code", "code", "a custom policy's code (set from policy; Python only)", none_ok=True,
       flag=None),
    _f("host_cpus", "int", "overcommitted guest: host cores the vCPUs share (none: one each)",
       unit="cores", lo=1, hi=1024, none_ok=True, widget="int", label="host CPUs"),
    _f("spinlock", "str", "overcommitted guest's spinlock: queued (FIFO, hands off to descheduled "
       "waiters) or test-and-set (x86 virt_spin_lock: the first waiter to run takes it); none: the "
       "platform's", choices=SPINLOCKS, none_ok=True, widget="dropdown", label="spinlock"),
)
FIELD = {f.name: f for f in FIELDS}


def cli_fields() -> tuple[Field, ...]:
    """The fields with a ``vmlab run`` option."""
    return tuple(f for f in FIELDS if f.flag)


def cli_flags() -> dict[str, str]:
    """SimConfig field -> its ``vmlab run`` option."""
    return {f.name: f.flag for f in cli_fields()}


def in_range(f: Field, value) -> bool:
    """Whether a number is in the field's range (None counts when the field allows it)."""
    if value is None:
        return f.none_ok
    lo, hi = f.bounds()
    v = value if f.type == "int" else float(value)
    if v != v:        # NaN
        return False
    return (v > lo if f.lo_open else v >= lo) and v <= hi
