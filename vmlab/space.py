"""Search spaces over `SimConfig` fields, shared by `vmlab.optimize` and `vmlab.sensitivity`.

A space is a dict ``{field: spec}``:

* a tuple ``(low, high)`` is a range of a numeric field, both ends included. Fields in
  `LOG_FIELDS` are searched on a log scale (their values span decades: a threshold factor of
  0.5..16, lazy_max_pages of 4096..131072 pages); fields in `INT_FIELDS` stay integers.
* a list is a choice among its values (any field; the only form for strings and booleans).
  ``None`` in a list means the field's default (``lazy_max_pages=None``: the kernel formula).

Units are the `SimConfig` field's own: pages, seconds, bytes, ns. ``seed`` is not a search
field: the sweep derives each run's seed from the config. Every end of a range and every choice
is checked against `SimConfig`, so an error names the field and the range it allows.

>>> sp = Space.parse({"threshold_factor": (0.5, 16.0), "policy": ["threshold", "always-resched"]})
>>> sp.from_unit([0.5, 0.9])      # a point of the unit cube -> field values (log midpoint of 0.5..16)
{'threshold_factor': 2.8284271247461903, 'policy': 'always-resched'}
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

from .config import SimConfig
from .fields import FIELDS

#: Numeric fields searched on a log scale (they span decades).
LOG_FIELDS = frozenset({"threshold_factor", "lazy_max_pages", "duration_s", "ncpus", "nr_threads",
                        "test_loop_count", "test_repeat_count", "nr_pages", "ram_bytes",
                        "sample_interval_ns", "batch_entries", "hold_budget_us"})
#: Numeric fields that take integers / floats (a range over them yields ints / floats): the
#: numeric fields of `vmlab.fields.FIELDS`, the one description of SimConfig's fields.
INT_FIELDS = frozenset(f.name for f in FIELDS if f.type == "int")
FLOAT_FIELDS = frozenset(f.name for f in FIELDS if f.type == "float")
#: Fields a space may not search.
NOT_SEARCHABLE = frozenset({"seed"})


class SpaceError(ValueError):
    """A space, objective or ``by`` that cannot be used; the message names the field."""


def _is_num(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(float(v))


@dataclass(frozen=True)
class Dim:
    """One searched field: a ``float``/``int`` range (``log`` scale or not) or a ``choice``."""

    name: str
    kind: str                      #: "float" | "int" | "choice"
    low: float | None = None
    high: float | None = None
    log: bool = False
    choices: tuple = ()

    def from_unit(self, u: float):
        """The field value at ``u`` in [0, 1]: linear or log between the ends, or the choice
        whose equal-width slot holds ``u``."""
        u = min(max(float(u), 0.0), 1.0)
        if self.kind == "choice":
            return self.choices[min(int(u * len(self.choices)), len(self.choices) - 1)]
        if self.log:
            v = math.exp(math.log(self.low) + u * (math.log(self.high) - math.log(self.low)))
        else:
            v = self.low + u * (self.high - self.low)
        if self.kind == "int":
            return int(min(max(round(v), self.low), self.high))
        return v

    def describe(self) -> str:
        if self.kind == "choice":
            return f"{self.name} in {list(self.choices)}"
        scale = ", log" if self.log else ""
        return f"{self.name} in [{self.low:g}, {self.high:g}] ({self.kind}{scale})"

    def to_json(self) -> Any:
        return list(self.choices) if self.kind == "choice" else [self.low, self.high]


class Space:
    """A parsed, validated space: ``dims`` in the order given."""

    def __init__(self, dims: Sequence[Dim]):
        self.dims = tuple(dims)

    @property
    def names(self) -> list[str]:
        return [d.name for d in self.dims]

    def __len__(self) -> int:
        return len(self.dims)

    def __repr__(self) -> str:
        return "Space(" + "; ".join(d.describe() for d in self.dims) + ")"

    def to_json(self) -> dict:
        """The space as plain JSON (ranges as [low, high], choices as lists)."""
        return {d.name: d.to_json() for d in self.dims}

    @classmethod
    def parse(cls, space, base: SimConfig | None = None, exclude: Sequence[str] = ()) -> "Space":
        """Validate ``space`` (see the module doc) against ``base``; fields in ``exclude`` (the
        ``by`` fields) may not be searched."""
        if isinstance(space, Space):
            space = {d.name: (d.low, d.high) if d.kind != "choice" else list(d.choices)
                     for d in space.dims}
        if not isinstance(space, dict) or not space:
            raise SpaceError(f"space={space!r} must be a non-empty dict of field -> (low, high) range "
                             f"or [choices]")
        base = base or SimConfig()
        allowed = sorted(set(SimConfig.field_names()) - NOT_SEARCHABLE)
        dims = []
        for name, spec in space.items():
            if name in NOT_SEARCHABLE:
                raise SpaceError(f"space field {name!r} cannot be searched (the sweep sets each run's seed)")
            if name not in allowed:
                raise SpaceError(f"space field {name!r} is not a SimConfig field; allowed: {allowed}")
            if name in exclude:
                raise SpaceError(f"space field {name!r} is also a `by` field; use it in one of them")
            if isinstance(spec, tuple):
                dims.append(_range_dim(name, spec, base))
            elif isinstance(spec, list):
                dims.append(_choice_dim(name, spec, base))
            else:
                raise SpaceError(f"space field {name!r}: {spec!r} must be a (low, high) tuple (a range) "
                                 f"or a list (choices)")
        return cls(dims)

    def from_unit(self, us: Sequence[float]) -> dict:
        """Field values of one point of the unit cube (one coordinate per dim, in order)."""
        return {d.name: d.from_unit(u) for d, u in zip(self.dims, us)}

    def config(self, base: SimConfig, values: dict) -> SimConfig:
        """``base`` with the searched fields set to ``values``."""
        return base.replace(**{k: values[k] for k in self.names})


def _check(base: SimConfig, name: str, value, what: str):
    try:
        base.replace(**{name: value})
    except (TypeError, ValueError) as e:
        raise SpaceError(f"space field {name!r}: {what} {value!r} is not allowed: {e}") from None


def _range_dim(name: str, spec: tuple, base: SimConfig) -> Dim:
    if name not in INT_FIELDS and name not in FLOAT_FIELDS:
        raise SpaceError(f"space field {name!r} is not numeric: give a list of choices, not the range {spec!r}")
    if len(spec) != 2 or not all(_is_num(v) for v in spec):
        raise SpaceError(f"space field {name!r}: range {spec!r} must be (low, high), two finite numbers")
    low, high = spec
    if not low < high:
        raise SpaceError(f"space field {name!r}: range {spec!r} needs low < high")
    kind = "int" if name in INT_FIELDS else "float"
    if kind == "int":
        if float(low) != int(low) or float(high) != int(high):
            raise SpaceError(f"space field {name!r} takes integers; range {spec!r} has a fraction")
        low, high = int(low), int(high)
    else:
        low, high = float(low), float(high)
    _check(base, name, low, "range low")
    _check(base, name, high, "range high")
    log = name in LOG_FIELDS
    if log and low <= 0:
        raise SpaceError(f"space field {name!r} is searched on a log scale: its range {spec!r} must "
                         f"be above 0")
    return Dim(name, kind, low, high, log)


def _choice_dim(name: str, spec: list, base: SimConfig) -> Dim:
    if not spec:
        raise SpaceError(f"space field {name!r}: the list of choices is empty")
    if len(set(map(repr, spec))) != len(spec):
        raise SpaceError(f"space field {name!r}: choices {spec!r} repeat a value")
    for v in spec:
        if not (v is None or isinstance(v, (bool, int, float, str))):
            raise SpaceError(f"space field {name!r}: choice {v!r} must be None, a bool, a number or a string")
        _check(base, name, v, "choice")
    return Dim(name, "choice", choices=tuple(spec))


__all__ = ["Space", "Dim", "SpaceError", "LOG_FIELDS", "INT_FIELDS", "FLOAT_FIELDS"]
