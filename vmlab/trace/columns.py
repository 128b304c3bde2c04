"""Column storage of the parser: `_Field` (one parsed field, typed array segments -> a pandas column)
and `_Block` (the typed arrays of one fast-path event)."""
from __future__ import annotations

import array
from typing import Iterable

import numpy as np
import pandas as pd


class _Field:
    """One parsed field: segments [row indices, values] from the generic path and from fast-path blocks.

    The generic segment keeps int64 (``q``) or uint64 (``Q``: addresses) values in an array while
    they fit, else switches to a list. Fast-path blocks never switch: a value that does not fit
    their array sends the line down the generic path instead.
    """

    __slots__ = ("segments", "gidx", "gvals", "gcode", "gseg")

    def __init__(self):
        self.segments: list[list] = []
        self.gidx = None
        self.gvals = None
        self.gcode: str | None = None
        self.gseg: list | None = None

    def add(self, row: int, v) -> None:
        """The generic path."""
        if self.gcode is None:
            if type(v) is int and -(1 << 63) <= v < 1 << 64:
                self.gcode = "q" if v < 1 << 63 else "Q"
                self.gvals = array.array(self.gcode)
            else:
                self.gcode = "list"
                self.gvals = []
            self.gidx = array.array("q")
            self.gseg = [self.gidx, self.gvals]
            self.segments.append(self.gseg)
        if self.gcode != "list":
            try:
                if type(v) is not int:
                    raise TypeError
                self.gvals.append(v)
            except (OverflowError, TypeError):
                self.gvals = list(self.gvals)
                self.gseg[1] = self.gvals
                self.gcode = "list"
                self.gvals.append(v)
        else:
            self.gvals.append(v)
        self.gidx.append(row)

    def series(self, n: int, strings_as_category: bool = True):
        """The column over ``n`` rows: int64/uint64 (nullable where rows lack it), float, or category/object."""
        segs = [sg for sg in self.segments if len(sg[0])]
        if not segs:
            return None
        idx = np.concatenate([np.frombuffer(sg[0], dtype=np.int64) for sg in segs])
        codes = {sg[1].typecode if isinstance(sg[1], array.array) else "list" for sg in segs}
        if codes <= {"q", "Q"}:
            parts = [np.frombuffer(sg[1], dtype=np.int64 if sg[1].typecode == "q" else np.uint64) for sg in segs]
            if codes == {"q"}:
                vals, dt = np.concatenate(parts), np.int64
            elif codes == {"Q"}:
                vals, dt = np.concatenate(parts), np.uint64
            else:
                neg = any(p.dtype == np.int64 and len(p) and p.min() < 0 for p in parts)
                big = any(p.dtype == np.uint64 and len(p) and p.max() >= 1 << 63 for p in parts)
                if neg and big:
                    vals, dt = np.concatenate([p.astype(object) for p in parts]), None
                else:
                    dt = np.int64 if not big else np.uint64
                    vals = np.concatenate([p.astype(dt) for p in parts])
            if dt is not None:
                if len(idx) == n:
                    out = np.empty(n, dtype=dt)
                    out[idx] = vals
                    return out
                data = np.zeros(n, dtype=dt)
                mask = np.ones(n, dtype=bool)
                data[idx] = vals
                mask[idx] = False
                return pd.arrays.IntegerArray(data, mask)
            vals = list(vals)
        else:
            vals = []
            for sg in segs:
                vals.extend(sg[1])
        types = set(map(type, vals))
        if types == {int}:
            lo, hi = min(vals), max(vals)
            dt = np.int64 if lo >= -(1 << 63) and hi < 1 << 63 else (np.uint64 if lo >= 0 and hi < 1 << 64 else None)
            if dt is not None:
                data = np.zeros(n, dtype=dt)
                mask = np.ones(n, dtype=bool)
                data[idx] = np.array(vals, dtype=dt)
                mask[idx] = False
                return pd.arrays.IntegerArray(data, mask)
        if types <= {int, float}:
            data = np.full(n, np.nan)
            data[idx] = np.array(vals, dtype=float)
            return data
        if strings_as_category and types == {str}:
            cats: dict[str, int] = {}
            c = np.array([cats.setdefault(v, len(cats)) for v in vals], dtype=np.int64)
            codes_all = np.full(n, -1, dtype=np.int64)
            codes_all[idx] = c
            return pd.Categorical.from_codes(codes_all, categories=list(cats))
        out = np.full(n, None, dtype=object)
        out[idx] = np.array(vals, dtype=object)
        return out

    def drop_row(self, row: int) -> None:
        for sg in self.segments:
            if len(sg[0]) and sg[0][-1] == row:
                sg[1].pop()


class _Block:
    """The rows of one fast-path event: one row-index array, one typed value array per field."""

    __slots__ = ("idx", "arrays")

    def __init__(self, codes: Iterable[str]):
        self.idx = array.array("q")
        self.arrays = tuple([] if c == "list" else array.array(c) for c in codes)
