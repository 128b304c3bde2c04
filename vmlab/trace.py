"""Real kernel traces in the model's schema: `read_ftrace`, `read_test_summary`, `load_kernel_run`.

``read_ftrace(path)`` streams ftrace text (plain or gzip) line by line into one tidy event frame.
It reads

* ``/sys/kernel/tracing/trace`` output, with or without the ``#`` header, with or without the
  irq-info flags column (``d.h1.``) and with ``record-tgid``'s ``(  tgid)`` column;
* ``trace-cmd report`` output (``cpus=N`` header, flags optional, ``print:`` markers,
  ``funcgraph_entry``/``funcgraph_exit`` events);
* the ``function_graph`` tracer's own layout (``CPU)  DURATION | FUNCTION`` with or without
  ``funcgraph-abstime`` and ``funcgraph-proc``), including events printed as ``/* comments */``.

It recognises

* the vmalloc tracepoints of 6.2+ (``alloc_vmap_area``, ``purge_vmap_area_lazy``,
  ``free_vmap_area_noflush``; formats in the facts doc, section 2.3);
* kprobe and kretprobe events on ``__purge_vmap_area_lazy`` and ``drain_vmap_area_work`` that fetch
  ``@vmap_lazy_nr`` (the shipped recordings: ``purge_entry``, ``purge_exit``, ``drain_entry``,
  ``drain_exit``, plus ``tick``, a kprobe on ``scheduler_tick`` sampling the counter). Event names
  map to roles through ``events=`` (default `DEFAULT_EVENTS`); a kprobe whose name is not in the
  map is still recognised from the probed symbol printed in its line;
* function_graph entries and returns of the same two functions;
* ``trace_marker`` lines (event ``tracing_mark_write``, field ``text``).

Columns of the frame: ``time_ns`` (trace clock, ns; ``<NA>`` for function_graph lines without
``funcgraph-abstime``), ``cpu``, ``task``, ``pid``, ``event``, ``role`` and one column per parsed
field (kprobe fetch args such as ``lazy`` and ``ret``; ``caller`` of a kretprobe; tracepoint fields;
``func``, ``duration_ns``, ``depth``, ``parent``, ``leaf`` of function_graph lines; ``text`` of
markers), plus ``vmap_lazy_nr`` (pages) wherever the event carries the counter. Events that are none
of the above are counted in ``attrs["unknown_events"]`` and not kept (``keep_unknown=True`` keeps
their common columns).

Bad input raises `TraceParseError` naming ``file:line`` and the text; ``strict=False`` skips
malformed lines instead, counts them in ``attrs["skipped_lines"]`` and warns (`TraceWarning`).

``load_kernel_run(dir_or_files)`` turns a recording (trace, dmesg with test_vmalloc's ``Summary:``
lines, the module parameters) into a `KernelRun` with the attributes of `vmlab.result.Result`:
``timeseries``, ``purges``, ``latency``, ``tests``, ``summary`` and ``config``. Every column of the
model's schema is present; it is NaN where a trace cannot give it (see `KernelRun`).
"""
from __future__ import annotations

import array
import gc
import gzip
import math
import os
import re
import warnings
import zlib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

import numpy as np
import pandas as pd

from .result import LATENCY_KINDS, PURGE_COLUMNS, SUMMARY_KEYS, TIMESERIES_COLUMNS, TRIGGERS

__all__ = [
    "TraceParseError", "TraceWarning", "KernelRun", "TraceConfig", "read_ftrace", "read_test_summary",
    "read_params", "load_kernel_run", "DEFAULT_EVENTS", "DEFAULT_FUNCTIONS", "ROLES", "PURGE_TRIGGERS",
    "kernel_preset", "shipped_runs", "load_shipped", "SHIPPED_DIR",
]


class TraceParseError(ValueError):
    """A trace or dmesg file that cannot be read: the message names ``file:line`` and the text."""

    def __init__(self, message: str, path: str | os.PathLike | None = None, lineno: int | None = None,
                 line: str | None = None, expected: str | None = None):
        self.path = None if path is None else str(path)
        self.lineno = lineno
        self.line = line
        where = ""
        if self.path is not None:
            where = f"{self.path}:{lineno}: " if lineno is not None else f"{self.path}: "
        text = f": {line.rstrip()[:200]!r}" if line is not None else ""
        exp = f"\n  expected {expected}" if expected else ""
        super().__init__(f"{where}{message}{text}{exp}")


class TraceWarning(UserWarning):
    """Something in a trace was skipped or looks incomplete (the data read so far is returned)."""


# ------------------------------------------------------------------------------------ event roles
#: The roles a trace event can play.
ROLES = ("purge_entry", "purge_exit", "drain_entry", "drain_exit", "lazy_sample", "marker",
         "alloc", "purge_done", "lazy_free")

#: Event name -> role. The kprobe names are those of the shipped recordings (and of
#: tools/record-test-vmalloc.sh); the tracepoints are those of include/trace/events/vmalloc.h.
DEFAULT_EVENTS: dict[str, str] = {
    "purge_entry": "purge_entry",
    "purge_exit": "purge_exit",
    "drain_entry": "drain_entry",
    "drain_exit": "drain_exit",
    "tick": "lazy_sample",
    "alloc_vmap_area": "alloc",
    "purge_vmap_area_lazy": "purge_done",
    "free_vmap_area_noflush": "lazy_free",
    "tracing_mark_write": "marker",
}

#: Probed or graphed function -> what it is (kprobes whose name is not in ``events`` and
#: function_graph lines are recognised by these symbols).
DEFAULT_FUNCTIONS: dict[str, str] = {
    "__purge_vmap_area_lazy": "purge",
    "drain_vmap_area_work": "drain",
}

#: Purge triggers: the model's three, plus module load/unload's vm_unmap_aliases and anything else.
PURGE_TRIGGERS = tuple(TRIGGERS) + ("unmap_aliases", "other")

#: Caller of __purge_vmap_area_lazy (suffixes such as .part.0 dropped) -> trigger.
_CALLER_TRIGGER = {
    "drain_vmap_area_work": "drain",
    "alloc_vmap_area": "alloc_fail",
    "purge_vmap_area_lazy": "alloc_fail",        # < 6.9: only the allocation-failure path calls it
    "reclaim_and_purge_vmap_areas": "alloc_fail",
    "free_vmap_area_noflush": "free",
    "try_purge_vmap_area_lazy": "free",
    "_vm_unmap_aliases": "unmap_aliases",
    "vm_unmap_aliases": "unmap_aliases",
}

# how an event's body is parsed
_H_UNKNOWN, _H_KPROBE, _H_KV, _H_ALLOCVA, _H_MARKER, _H_PRINT, _H_FGRAPH = 0, 1, 2, 3, 4, 5, 6
_TRACEPOINT_HANDLERS = {"alloc_vmap_area": _H_ALLOCVA, "purge_vmap_area_lazy": _H_KV, "free_vmap_area_noflush": _H_KV}
#: The fields of each vmalloc tracepoint (facts doc 2.3; alloc_vmap_area's first is printed "va_start: %lu").
_TRACEPOINT_FIELDS = {
    "alloc_vmap_area": {"va_start", "size", "align", "vstart", "vend", "failed"},
    "purge_vmap_area_lazy": {"start", "end", "num_purged"},
    "free_vmap_area_noflush": {"va_start", "nr_lazy", "nr_lazy_max"},
}

_EXPECTED = ("ftrace text lines such as\n"
             "    '  kworker/1:1-35  [001] .....  31.808577: purge_entry: (__purge_vmap_area_lazy+0x0/0x750) lazy=16434'\n"
             "  (kprobe/kretprobe events on __purge_vmap_area_lazy or drain_vmap_area_work fetching "
             "@vmap_lazy_nr, the vmalloc tracepoints alloc_vmap_area / purge_vmap_area_lazy / "
             "free_vmap_area_noflush, function_graph lines of those functions, or trace_marker lines)")

_HEADFLAGS_RE = re.compile(r"\s*(?P<task>.*?)-(?P<pid>\d+)\s+(?:\(\s*(?:\d+|-+)\)\s+)?\[(?P<cpu>\d+)\](?:\s+[^\s\d]\S*)?\s*$")
_HEAD_RE = re.compile(r"\s*(?P<task>.*?)-(?P<pid>\d+)\s+(?:\(\s*(?:\d+|-+)\)\s+)?\[(?P<cpu>\d+)$")
_EVNAME_RE = re.compile(r"\w+$")
_TS_RE = re.compile(r"(\d+)(?:\.(\d{1,9}))?$")
_FG_RE = re.compile(
    r"\s*(?:(?P<ts>\d+\.\d+)\s*\|\s*)?(?P<cpu>\d+)\)\s*(?:(?P<proc>[^\s|][^|]*?-\d+)\s*\|)?"
    r"\s*(?P<dur>(?:[+!#*@$]\s*)?\d+(?:\.\d+)?\s*us)?\s*\|\s?(?P<text>.*?)\s*$")
_FG_SWITCH_RE = re.compile(r"\s*(?P<cpu>\d+)\)\s+(?P<a>.*?)-(?P<apid>\d+)\s+=>\s+(?P<b>.*?)-(?P<bpid>\d+)\s*$")
_FG_BODY_RE = re.compile(r"\s*(?P<dur>(?:[+!#*@$]\s*)?\d+(?:\.\d+)?\s*us)?\s*\|\s?(?P<text>.*?)\s*$")
_LOST_RE = re.compile(r"\s*CPU:?\s*(\d+)\s*\[LOST (\d+) EVENTS\]")
_TRACECMD_HEADER_RE = re.compile(r"\s*(cpus|version|trace-cmd version|CPU \d+ is empty)\b")
_HEADER_P_RE = re.compile(r"#P:(\d+)")
_HEADER_ENTRIES_RE = re.compile(r"entries-in-buffer/entries-written:\s*(\d+)/(\d+)")
_HEADER_TRACER_RE = re.compile(r"#\s*tracer:\s*(\S+)")
_MULT = [10 ** (9 - i) for i in range(10)]


def _parse_value(v: str):
    """A field value: decimal or 0x-hex integer, else the string (quotes removed)."""
    try:
        return int(v)
    except ValueError:
        pass
    if v[:2] in ("0x", "0X"):
        try:
            return int(v, 16)
        except ValueError:
            pass
    if len(v) >= 2 and v[0] == '"' and v[-1] == '"':
        return v[1:-1]
    return v


_KV_QUOTED_RE = re.compile(r'(\w+)=("(?:[^"\\]|\\.)*"|\S*)')


def _split_args(text: str, tracepoint_alloc: bool = False) -> list[tuple[str, str]] | None:
    """``k=v k=v`` -> [(k, v)]; None if a token is not ``k=v``."""
    if tracepoint_alloc:
        # alloc_vmap_area: "va_start: %lu size=%lu align=%lu vstart=0x%lx vend=0x%lx failed=%d"
        if not text.startswith("va_start: "):
            return None
        text = "va_start=" + text[10:]
    if '"' in text:
        out = _KV_QUOTED_RE.findall(text)
        rest = _KV_QUOTED_RE.sub("", text).strip()
        return out if not rest else None
    out = []
    for tok in text.split():
        k, eq, v = tok.partition("=")
        if not eq or not k:
            return None
        out.append((k, v))
    return out


def _fgraph_duration_ns(dur: str | None) -> float:
    if not dur:
        return math.nan
    d = dur.strip().lstrip("+!#*@$").strip()
    if d.endswith("us"):
        d = d[:-2]
    return float(d) * 1000.0


def _ts_ns(s: str) -> int | None:
    m = _TS_RE.match(s)
    if m is None:
        return None
    sec, frac = m.groups()
    if frac is None:
        return int(sec)       # a counter clock (no decimal point): taken as is
    return int(sec) * 1_000_000_000 + int(frac) * _MULT[len(frac)]


def _base_func(sym: str) -> str:
    """'drain_vmap_area_work+0x25/0x60' -> 'drain_vmap_area_work'; '_vm_unmap_aliases.part.0' -> '_vm_unmap_aliases'."""
    s = sym.strip()
    for sep in ("+", " "):
        s = s.split(sep, 1)[0]
    return s.split(".", 1)[0]


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


class _Parser:
    """The streaming state of one `read_ftrace` call."""

    def __init__(self, path: str, events: Mapping[str, str], functions: Mapping[str, str],
                 lazy_field: str, strict: bool, keep_unknown: bool):
        self.path = path
        self.events = dict(events)
        self.functions = dict(functions)
        self.lazy_field = lazy_field
        self.strict = strict
        self.keep_unknown = keep_unknown
        # rows
        self.t = array.array("q")
        self.t_missing: list[int] = []
        self.h = array.array("i")        # head code: (task, pid, cpu)
        self.e = array.array("i")        # event code
        self.heads: dict[str, int] = {}      # raw "TASK-PID [CPU" text -> head code (the fast path)
        self.head_keys: dict[tuple, int] = {}
        self.head_list: list[tuple[str, int, int]] = []
        self.ev_code: dict[str, int] = {}
        self.ev_list: list[str] = []
        self.ev_role: list[str | None] = []
        self.handler: dict[str, int] = {}
        self.fast: dict[str, int] = {}     # kprobe entries of a role -> event code (the tick fast path)
        self.plans: dict[str, tuple | None] = {}
        self.fields: dict[str, _Field] = {}
        self.strings: dict[str, str] = {}
        # bookkeeping
        self.n = 0
        self.event_lines = 0
        self.skipped = 0
        self.skipped_first: tuple[int, str] | None = None
        self.unknown: dict[str, int] = _CountingDict()
        self.lost = 0
        self.header: dict[str, Any] = {}
        self.format: str | None = None
        self.fg_stack: dict[int, list[str]] = {}
        self.fg_task: dict[int, tuple[str, int]] = {}
        self.lines = 0
        self.truncated_last: tuple[int, str, int] | None = None     # (line number, text, rows it made)

    # ------------------------------------------------------------------ helpers
    def bad(self, lineno: int, line: str, why: str):
        if not line.endswith("\n"):      # only the last line can lack its newline: the file was cut off
            why = f"truncated: the last line has no newline, the file was cut off; {why}"
        if self.strict:
            raise TraceParseError(f"malformed line ({why})", self.path, lineno, line, expected=_EXPECTED)
        self.skipped += 1
        if self.skipped_first is None:
            self.skipped_first = (lineno, line.rstrip("\n"))

    def head_code(self, task: str, pid: int, cpu: int) -> int:
        key = (task, pid, cpu)
        c = self.head_keys.get(key)
        if c is None:
            c = self.head_keys[key] = len(self.head_list)
            self.head_list.append((task, pid, cpu))
        return c

    def event_code(self, name: str, role: str | None) -> int:
        c = self.ev_code.get(name)
        if c is None:
            c = self.ev_code[name] = len(self.ev_list)
            self.ev_list.append(name)
            self.ev_role.append(role)
        return c

    def intern(self, s: str) -> str:
        return self.strings.setdefault(s, s)

    @staticmethod
    def colname(name: str) -> str:
        return "arg_" + name if name in ("time_ns", "cpu", "task", "pid", "event", "role", "vmap_lazy_nr") else name

    def field(self, name: str) -> _Field:
        name = self.colname(name)
        f = self.fields.get(name)
        if f is None:
            f = self.fields[name] = _Field()
        return f

    def add_field(self, row: int, name: str, v) -> None:
        self.field(name).add(row, v)

    def block(self, names: list[str], codes: list[str]) -> _Block:
        """A fast-path block whose arrays are segments of the named fields."""
        blk = _Block(codes)
        for nm, arr in zip(names, blk.arrays):
            self.field(nm).segments.append([blk.idx, arr])
        return blk

    def make_plan(self, name: str, h: int, raw: list[tuple[str, str]], caller: bool) -> None:
        """Compile the fast path of one event from its first parsed line: a regex of its (fixed)
        fields, their bases and a block of typed arrays. Lines that do not match it, or whose
        values do not fit, take the generic path, so a plan can only speed things up."""
        self.plans[name] = None
        names, codes, bases, pats = [], [], [], []
        for k, v in raw:
            if v[:2] in ("0x", "0X"):
                try:
                    x = int(v, 16)
                except ValueError:
                    return
                bases.append(16)
                pats.append(r"(0[xX][0-9a-fA-F]{1,16})")
                codes.append("Q")
            else:
                try:
                    x = int(v)
                except ValueError:
                    return
                bases.append(10)
                pats.append(r"(-?\d{1,20})")
                codes.append("q" if x < 1 << 63 else "Q")
            names.append(k)
        parts = [f"{re.escape(k)}={p}" for k, p in zip(names, pats)]
        if h == _H_ALLOCVA:
            if not parts or names[0] != "va_start":
                return
            parts[0] = "va_start: " + pats[0]
        if h == _H_KPROBE:
            head = r"\s*\(([^\s+)]+)[^)]*? <- [^)]*\)" if caller else r"\s*\([^)]*\)"
            rx = head + "".join(" " + q for q in parts) + r"\s*$"
        else:
            rx = r"\s*" + " ".join(parts) + r"\s*$"
        if caller:
            blk = self.block(["caller"] + names, ["list"] + codes)
            arrays, carr = blk.arrays[1:], blk.arrays[0]
        else:
            blk = self.block(names, codes)
            arrays, carr = blk.arrays, None
        self.plans[name] = (re.compile(rx), self.ev_code[name], tuple(bases), arrays, blk.idx, carr)

    def new_row(self, ts: int | None, head: int, ev: int) -> int:
        row = self.n
        if ts is None:
            self.t.append(0)
            self.t_missing.append(row)
        else:
            self.t.append(ts)
        self.h.append(head)
        self.e.append(ev)
        self.n += 1
        return row

    # ------------------------------------------------------------------ events
    def classify(self, name: str, body: str) -> int:
        """Handler of a new event name (and its role), from the map, the tracepoints or the body."""
        role = self.events.get(name)
        if name in ("tracing_mark_write",):
            h = _H_MARKER
        elif name == "print":
            h = _H_PRINT
        elif name in ("funcgraph_entry", "funcgraph_exit"):
            h = _H_FGRAPH
        elif name in _TRACEPOINT_HANDLERS:
            h = _TRACEPOINT_HANDLERS[name]
        elif body.lstrip().startswith("("):
            h = _H_KPROBE
            if role is None:
                probe = body.lstrip()[1:].split(")", 1)[0]
                if " <- " in probe:
                    what = self.functions.get(_base_func(probe.split(" <- ", 1)[1]))
                    role = f"{what}_exit" if what else None
                else:
                    what = self.functions.get(_base_func(probe))
                    role = f"{what}_entry" if what else None
                if role is None and f" {self.lazy_field}=" in f" {body}":
                    role = "lazy_sample"
        else:
            h = _H_KV if role is not None else _H_UNKNOWN
        if h == _H_MARKER:
            role = role or "marker"
        self.handler[name] = h
        # the fast path: kprobe entries (no ' <- ') of a role that carry the lazy counter
        if h != _H_UNKNOWN or self.keep_unknown:
            code = self.event_code(name, role)
            if h == _H_KPROBE and role is not None and " <- " not in body.split(")", 1)[0]:
                self.fast[name] = code
        return h

    def event(self, lineno: int, line: str, ts: int | None, head: int, name: str, body: str) -> None:
        """One event line: ``name`` and its ``body`` (text after 'name: ', newline included)."""
        h = self.handler.get(name)
        if h is None:
            if not _EVNAME_RE.match(name):
                return self.bad(lineno, line, f"bad event name {name!r}")
            h = self.classify(name, body)
        self.event_lines += 1
        if h == _H_KPROBE:
            b = body.lstrip()
            if b[:1] != "(":
                return self.bad(lineno, line, "a kprobe event without its '(symbol+offset)'")
            p1 = b.find(") ")
            if p1 < 0:
                p1 = b.rfind(")")
                if p1 < 0:
                    return self.bad(lineno, line, "unclosed '(' in a kprobe event")
                args = []
            else:
                args = _split_args(b[p1 + 2:])
                if args is None:
                    return self.bad(lineno, line, "kprobe fetch args are not 'name=value'")
            vals = [(k, _parse_value(v)) for k, v in args]
            if self.ev_role[self.ev_code[name]] is not None:
                for k, v in vals:
                    if k in (self.lazy_field, "ret") and (type(v) is not int or not -(1 << 63) <= v < 1 << 63):
                        return self.bad(lineno, line, f"{k}={v!r} is not a 64-bit integer")
            row = self.new_row(ts, head, self.ev_code[name])
            probe = b[1:p1]
            caller = " <- " in probe
            if caller:
                self.add_field(row, "caller", self.intern(probe.split(" <- ", 1)[0].split("+", 1)[0].strip()))
            for k, v in vals:
                self.add_field(row, k, v)
            if name not in self.plans:
                self.make_plan(name, h, args, caller)
            return None
        if h == _H_UNKNOWN:
            self.unknown[name] = self.unknown.get(name, 0) + 1
            if self.keep_unknown:
                self.new_row(ts, head, self.ev_code[name])
            return None
        if h == _H_MARKER:
            row = self.new_row(ts, head, self.ev_code[name])
            self.add_field(row, "text", body.strip())
            return None
        if h == _H_PRINT:
            b = body.strip()
            if b.startswith("tracing_mark_write: "):
                b = b[20:]
            else:   # older trace-cmd: "print: <ip>: text" or "print: text"
                ip, sep, rest = b.partition(": ")
                if sep and re.fullmatch(r"(0x)?[0-9a-fA-F]+|\w+\+0x[0-9a-f]+/0x[0-9a-f]+", ip):
                    b = rest
            self.handler.setdefault("tracing_mark_write", _H_MARKER)
            code = self.event_code("tracing_mark_write", self.events.get("tracing_mark_write", "marker"))
            row = self.new_row(ts, head, code)
            self.add_field(row, "text", b.strip())
            return None
        if h == _H_FGRAPH:
            m = _FG_BODY_RE.match(body)
            if m is None:
                return self.bad(lineno, line, "function_graph event body is not 'DURATION | FUNCTION'")
            task, pid, cpu = self.head_list[head]
            self.fgraph(lineno, line, ts, cpu, (task, pid), m.group("dur"), m.group("text"))
            return None
        # tracepoints and k=v events
        args = _split_args(body.strip(), tracepoint_alloc=(h == _H_ALLOCVA))
        if args is None:
            return self.bad(lineno, line, f"the fields of {name} are not 'name=value'")
        vals = [(k, _parse_value(v)) for k, v in args]
        if h in (_H_ALLOCVA, _H_KV) and name in _TRACEPOINT_HANDLERS:
            for k, v in vals:       # every field of the vmalloc tracepoints is a number
                if type(v) is not int:
                    return self.bad(lineno, line, f"{k}={v!r} is not a number")
            need = _TRACEPOINT_FIELDS[name]
            have = {k for k, _ in vals}
            if not need <= have:
                return self.bad(lineno, line, f"{name} lacks field(s) {sorted(need - have)}")
        row = self.new_row(ts, head, self.ev_code[name])
        for k, v in vals:
            self.add_field(row, k, v)
        if name not in self.plans:
            self.make_plan(name, h, args, False)
        return None

    def fgraph(self, lineno: int, line: str, ts: int | None, cpu: int, taskpid: tuple[str, int] | None,
               dur: str | None, text: str) -> None:
        """One function_graph line (from the tracer's layout or trace-cmd's funcgraph events)."""
        self.format = self.format or "function_graph"
        if taskpid is None:
            taskpid = self.fg_task.get(cpu, ("<unknown>", -1))
        else:
            self.fg_task[cpu] = taskpid
        stack = self.fg_stack.setdefault(cpu, [])
        text = text.strip()
        if text.startswith("/*") and text.endswith("*/"):
            inner = text[2:-2].strip()
            name, sep, body = inner.partition(": ")
            head = self.head_code(taskpid[0], taskpid[1], cpu)
            if sep and _EVNAME_RE.match(name) and (name in self.events or name in self.handler
                                                   or name in _TRACEPOINT_HANDLERS
                                                   or body.lstrip().startswith("(")):
                self.event(lineno, line, ts, head, name, body)
            else:                         # a trace_marker write
                code = self.event_code("tracing_mark_write", self.events.get("tracing_mark_write", "marker"))
                row = self.new_row(ts, head, code)
                self.add_field(row, "text", inner)
                self.event_lines += 1
            return
        if text.startswith("==========>") or text.startswith("<==========") or not text:
            return
        self.event_lines += 1
        if text.endswith("{"):
            func = text[:-1].strip()
            if not func.endswith("()"):
                return self.bad(lineno, line, "function_graph entry is not 'func() {'")
            func = func[:-2]
            parent = stack[-1] if stack else None
            stack.append(func)
            what = self.functions.get(_base_func(func))
            if what:
                head = self.head_code(taskpid[0], taskpid[1], cpu)
                row = self.new_row(ts, head, self.event_code("funcgraph_entry", None))
                self.add_field(row, "func", self.intern(func))
                self.add_field(row, "depth", len(stack) - 1)
                self.add_field(row, "_role", f"{what}_entry")
                if parent:
                    self.add_field(row, "parent", self.intern(parent))
            return
        if text.startswith("}"):
            tail = text[1:].strip()
            func = None
            if tail.startswith("/*") and tail.endswith("*/"):
                func = tail[2:-2].strip()
            if stack:
                top = stack.pop()
                func = func or top
            if func is None:
                return             # the return of a function entered before the trace started
            leaf = 0
        elif text.endswith(");"):
            func = text[:-2].rstrip()
            if not func.endswith("("):
                return self.bad(lineno, line, "function_graph leaf is not 'func();'")
            func = func[:-1]
            leaf = 1
        else:
            return self.bad(lineno, line, "function_graph text is not 'func() {', 'func();' or '}'")
        what = self.functions.get(_base_func(func))
        if what:
            head = self.head_code(taskpid[0], taskpid[1], cpu)
            row = self.new_row(ts, head, self.event_code("funcgraph_exit", None))
            self.add_field(row, "func", self.intern(func))
            self.add_field(row, "depth", len(stack))
            d = _fgraph_duration_ns(dur)
            self.add_field(row, "duration_ns", int(round(d)) if d == d else None)
            self.add_field(row, "leaf", leaf)
            self.add_field(row, "_role", f"{what}_exit")
            if stack:
                self.add_field(row, "parent", self.intern(stack[-1]))

    # ------------------------------------------------------------------ the slow path
    def slow(self, lineno: int, line: str) -> None:
        """Lines the fast path did not take: other layouts, headers, LOST markers, malformed lines."""
        s = line.rstrip("\n")
        if not s.strip():
            return
        st = s.lstrip()
        if st.startswith("#"):
            self.header_line(st)
            return
        m = _LOST_RE.match(s)
        if m:
            self.lost += int(m.group(2))
            return
        if self.event_lines == 0 and _TRACECMD_HEADER_RE.match(s):
            self.format = self.format or "trace-cmd"
            mm = re.match(r"\s*cpus=(\d+)", s)
            if mm:
                self.header["ncpus"] = int(mm.group(1))
            return
        if re.match(r"\s*CPU \d+ is empty", s) or st.startswith("-----") or st.startswith("#####"):
            return
        # ordinary event line that the fast path rejected (odd timestamp, new head, ...)
        k = s.find("] ")
        if k > 0:
            hm = _HEAD_RE.match(s[:k])
            if hm:
                head = self.head_code(hm.group("task").strip(), int(hm.group("pid")), int(hm.group("cpu")))
                a = s.find(": ", k)
                if a < 0:
                    return self.bad(lineno, line, "no 'TIMESTAMP: ' after the CPU column")
                ts_s = s[s.rfind(" ", k, a) + 1:a]
                ts = _ts_ns(ts_s)
                if ts is None:
                    return self.bad(lineno, line, f"bad timestamp {ts_s!r}")
                rest = s[a + 2:]
                name, sep, body = rest.partition(":")
                if not sep:
                    return self.bad(lineno, line, "no 'event:' after the timestamp")
                return self.event(lineno, line, ts, head, name.strip(), body[1:] if body.startswith(" ") else body)
        # function_graph layout
        m = _FG_SWITCH_RE.match(s)
        if m:
            self.fg_task[int(m.group("cpu"))] = (m.group("b").strip(), int(m.group("bpid")))
            return
        m = _FG_RE.match(s)
        if m:
            ts = _ts_ns(m.group("ts")) if m.group("ts") else None
            taskpid = None
            if m.group("proc"):
                t, _, p = m.group("proc").strip().rpartition("-")
                taskpid = (t, int(p))
            return self.fgraph(lineno, line, ts, int(m.group("cpu")), taskpid, m.group("dur"), m.group("text"))
        return self.bad(lineno, line, "not an ftrace event line")

    def header_line(self, s: str) -> None:
        m = _HEADER_TRACER_RE.match(s)
        if m:
            self.header["tracer"] = m.group(1)
        m = _HEADER_ENTRIES_RE.search(s)
        if m:
            self.header["entries_in_buffer"] = int(m.group(1))
            self.header["entries_written"] = int(m.group(2))
        m = _HEADER_P_RE.search(s)
        if m:
            self.header["ncpus"] = int(m.group(1))

    # ------------------------------------------------------------------ the loop
    def run(self, f: Iterable[str]) -> int:
        """Parse every line; returns the number of lines.

        The fast path (locals only, no method calls) takes ordinary event lines: a kprobe entry whose
        only fetch arg is the lazy counter (the scheduler-tick sampler, most of a kprobe recording)
        and every event with a compiled plan (`make_plan`: kretprobes, the vmalloc tracepoints).
        Everything else goes through `event` or `slow`, which also validate and report.
        """
        heads = self.heads
        handler = self.handler
        fast = self.fast
        plans = self.plans
        slow = self.slow
        event = self.event
        tapp = self.t.append
        happ = self.h.append
        eapp = self.e.append
        intern = self.strings.setdefault
        unknown = self.unknown
        keep_unknown = self.keep_unknown
        lazy_pre = ") " + self.lazy_field + "="
        lazy_off = len(lazy_pre)
        lazy_blk = self.block([self.lazy_field], ["q"])
        lidx = lazy_blk.idx.append
        lval = lazy_blk.arrays[0].append
        n = self.n
        nev = self.event_lines
        dec = None
        dot = 0
        scale = 1
        lineno = 0
        line = ""
        try:
            for lineno, line in enumerate(f, 1):
                # "TASK-PID [CPU] FLAGS TIMESTAMP: EVENT: BODY"; anything else raises or misses a cache
                try:
                    pre, name, body = line.split(": ", 2)
                except ValueError:
                    pre = None
                if pre is not None:
                    hk, _, ts_s = pre.rpartition(" ")
                    hc = heads.get(hk)
                    if hc is None:
                        hm = _HEADFLAGS_RE.match(hk)
                        if hm is not None:
                            hc = self.head_code(hm.group("task").strip(), int(hm.group("pid")), int(hm.group("cpu")))
                            heads[hk] = hc
                    if hc is not None:
                        if dec and ts_s[dot:dot + 1] == ".":
                            try:
                                ts = int(ts_s.replace(".", "")) * scale
                            except ValueError:
                                ts = _ts_ns(ts_s)
                        else:
                            ts = _ts_ns(ts_s)
                            if ts is not None and dec is None:
                                d = ts_s.find(".")
                                dec = len(ts_s) - d - 1 if d >= 0 else 0
                                dot = -dec - 1
                                scale = _MULT[dec] if d >= 0 else 1
                        if ts is not None:
                            fc = fast.get(name)
                            if fc is not None:
                                # a kprobe entry whose only fetch arg is the lazy counter
                                p1 = body.find(lazy_pre)
                                if p1 > 0 and body[:1] == "(":
                                    try:
                                        lval(int(body[p1 + lazy_off:]))
                                    except (ValueError, OverflowError):
                                        pass
                                    else:
                                        lidx(n)
                                        tapp(ts)
                                        happ(hc)
                                        eapp(fc)
                                        n += 1
                                        nev += 1
                                        continue
                            else:
                                pl = plans.get(name)
                                if pl is not None:
                                    m = pl[0].match(body)
                                    if m is not None:
                                        g = m.groups()
                                        arrays = pl[3]
                                        carr = pl[5]
                                        if carr is not None:
                                            cv = g[0]
                                            g = g[1:]
                                        L = len(pl[4])
                                        try:
                                            for arr, v in zip(arrays, map(int, g, pl[2])):
                                                arr.append(v)
                                        except (OverflowError, ValueError):
                                            for arr in arrays:
                                                if len(arr) > L:
                                                    arr.pop()
                                        else:
                                            if carr is not None:
                                                carr.append(intern(cv, cv))
                                            pl[4].append(n)
                                            tapp(ts)
                                            happ(hc)
                                            eapp(pl[1])
                                            n += 1
                                            nev += 1
                                            continue
                                elif handler.get(name) == _H_UNKNOWN and not keep_unknown:
                                    nev += 1
                                    unknown[name] += 1
                                    continue
                            if _EVNAME_RE.match(name):
                                self.n = n
                                self.event_lines = nev
                                event(lineno, line, ts, hc, name, body)
                                n = self.n
                                nev = self.event_lines
                                continue
                self.n = n
                self.event_lines = nev
                slow(lineno, line)
                n = self.n
                nev = self.event_lines
        finally:
            self.lines = lineno
            self.n = n
            self.event_lines = nev
        if line and not line.endswith("\n"):
            # ftrace ends every line with a newline: a last line without one was cut off. Did it make a row?
            probe = _Parser(self.path, self.events, self.functions, self.lazy_field, False, False)
            probe.run([line + "\n"])
            self.truncated_last = (lineno, line, probe.n)
        return lineno

    def drop_last_row(self) -> None:
        row = self.n - 1
        self.t.pop()
        self.h.pop()
        self.e.pop()
        if self.t_missing and self.t_missing[-1] == row:
            self.t_missing.pop()
        idxs = {}
        for fld in self.fields.values():
            fld.drop_row(row)
            for sg in fld.segments:
                if len(sg[0]) and sg[0][-1] == row:
                    idxs[id(sg[0])] = sg[0]
        for arr in idxs.values():
            arr.pop()
        self.n = row

    def build(self, nlines: int) -> pd.DataFrame:
        """The tidy frame. Sources are released as each column is made, to keep the peak low."""
        n = self.n
        hcodes = np.frombuffer(self.h, dtype=np.int32)[:n].astype(np.int64) if n else np.empty(0, np.int64)
        self.h = None
        ecodes = np.frombuffer(self.e, dtype=np.int32)[:n].astype(np.int64) if n else np.empty(0, np.int64)
        self.e = None
        heads = self.head_list or [("", -1, -1)]
        tasks = sorted({hd[0] for hd in heads})
        task_index = {t: i for i, t in enumerate(tasks)}
        h_task = np.array([task_index[hd[0]] for hd in heads], dtype=np.int64)
        h_pid = np.array([hd[1] for hd in heads], dtype=np.int32)
        h_cpu = np.array([hd[2] for hd in heads], dtype=np.int32)
        t = np.array(np.frombuffer(self.t, dtype=np.int64)[:n]) if n else np.empty(0, np.int64)
        self.t = None
        if self.t_missing:
            mask = np.zeros(n, dtype=bool)
            mask[np.array(self.t_missing, dtype=np.int64)] = True
            time_col = pd.arrays.IntegerArray(t, mask)
        else:
            time_col = t
        ev_names = list(self.ev_list) or ["-"]
        data: dict[str, Any] = {
            "time_ns": time_col,
            "cpu": h_cpu[hcodes],
            "task": pd.Categorical.from_codes(h_task[hcodes], categories=tasks),
            "pid": h_pid[hcodes],
        }
        del hcodes
        data["event"] = pd.Categorical.from_codes(ecodes, categories=ev_names)
        role_of_ev = np.array([ROLES.index(r) if r in ROLES else -1 for r in self.ev_role] or [-1], dtype=np.int8)
        rcodes = role_of_ev[ecodes] if n else np.empty(0, np.int8)
        del ecodes
        fg = self.fields.pop("_role", None)
        if fg is not None:
            for sg in fg.segments:
                idx = np.frombuffer(sg[0], dtype=np.int64)
                if len(idx):
                    rcodes[idx] = [ROLES.index(r) for r in sg[1]]
        data["role"] = pd.Categorical.from_codes(rcodes, categories=list(ROLES))
        for name in list(self.fields):
            col = self.fields.pop(name).series(n)
            if col is not None:
                data[name] = col
        # vmap_lazy_nr wherever the event carries it: the kprobes' fetch arg, the tracepoint's nr_lazy
        vals = np.zeros(n, dtype=np.int64)
        have = np.zeros(n, dtype=bool)
        kp_roles = [ROLES.index(r) for r in ("purge_entry", "purge_exit", "drain_entry", "drain_exit", "lazy_sample")]
        for src, roles in ((self.lazy_field, kp_roles), ("nr_lazy", [ROLES.index("lazy_free")])):
            col = data.get(self.colname(src))
            if col is None:
                continue
            if isinstance(col, pd.arrays.IntegerArray):
                cv, cm = col.to_numpy(dtype=np.int64, na_value=0), col.isna()
            elif isinstance(col, np.ndarray) and col.dtype.kind in "iu":
                cv, cm = col.astype(np.int64, copy=False), np.zeros(n, dtype=bool)
            else:
                continue
            sel = np.isin(rcodes, roles) & ~cm
            vals[sel] = cv[sel]
            have |= sel
        del rcodes
        if have.any():
            data["vmap_lazy_nr"] = pd.arrays.IntegerArray(vals, ~have)
        else:
            del vals, have
        df = pd.DataFrame(data, copy=False)
        del data
        df.attrs.update({
            "path": self.path,
            "lines": nlines,
            "skipped_lines": self.skipped,
            "unknown_events": dict(self.unknown),
            "lost_events": self.lost,
            "header": dict(self.header),
            "format": self.format or ("ftrace" if self.header.get("tracer") else "ftrace/trace-cmd"),
            "events_map": dict(self.events),
            "lazy_field": self.lazy_field,
        })
        return df


def _open_text(path: Path):
    """A text stream of a plain or gzip file (gzip by magic bytes, not by name)."""
    with open(path, "rb") as fb:
        magic = fb.read(16)
    if magic[:2] == b"\x1f\x8b":
        return gzip.open(path, "rt", encoding="utf-8", errors="replace", newline="\n")
    if magic.startswith(b"\x17\x08\x44tracing"):
        raise TraceParseError("this is a trace-cmd binary file (trace.dat); convert it with "
                              "`trace-cmd report -i FILE > trace.txt` first", path)
    return open(path, "r", encoding="utf-8", errors="replace", newline="\n", buffering=1 << 20)


def read_ftrace(path, events: Mapping[str, str] | None = None, functions: Mapping[str, str] | None = None,
                lazy_field: str = "lazy", strict: bool = True, keep_unknown: bool = False) -> pd.DataFrame:
    """Read an ftrace text file (``trace``, ``trace-cmd report`` or function_graph; plain or gzip).

    Returns the tidy event frame described in the module docstring, one row per recognised event,
    in file order. ``events`` maps trace event names to roles (`ROLES`); it is merged over
    `DEFAULT_EVENTS`. ``functions`` maps probed/graphed symbols to "purge" or "drain" (default
    `DEFAULT_FUNCTIONS`). ``lazy_field`` is the kprobe fetch argument that holds vmap_lazy_nr.

    The file is streamed, never loaded whole. Errors: `TraceParseError` (a `ValueError`) naming
    ``file:line`` for a malformed line, an empty file, a truncated file (a cut gzip stream, a last
    line without its newline, fewer events than the header's ``entries-in-buffer``) and a file
    with none of the recognised events. ``strict=False`` skips malformed lines (and keeps what a
    truncated file had), reporting the count in ``attrs["skipped_lines"]`` and a `TraceWarning`.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such trace file")
    if path.stat().st_size == 0:
        raise TraceParseError(f"the file is empty; expected {_EXPECTED}", path)
    ev = dict(DEFAULT_EVENTS)
    if events:
        bad = {r for r in events.values() if r not in ROLES}
        if bad:
            raise ValueError(f"events: unknown role(s) {sorted(bad)}; allowed: {list(ROLES)}")
        ev.update(events)
    fn = dict(DEFAULT_FUNCTIONS)
    if functions:
        bad = {r for r in functions.values() if r not in ("purge", "drain")}
        if bad:
            raise ValueError(f"functions: unknown kind(s) {sorted(bad)}; allowed: ['purge', 'drain']")
        fn.update(functions)
    p = _Parser(str(path), ev, fn, lazy_field, strict, keep_unknown)
    cut = None
    gc_was = gc.isenabled()
    gc.disable()       # millions of small containers, no cycles: the collector would only cost time
    try:
        with _open_text(path) as f:
            try:
                p.run(f)
            except EOFError as e:        # gzip: "Compressed file ended before the end-of-stream marker"
                cut = e
            except (gzip.BadGzipFile, zlib.error) as e:
                raise TraceParseError(f"corrupt gzip stream after line {p.lines} ({e})", path, p.lines + 1) from e
    finally:
        if gc_was:
            gc.enable()
    nlines = p.lines
    if cut is not None:
        msg = f"truncated: the compressed stream ends after line {nlines} ({cut}); expected a complete gzip file"
        if p.strict:
            raise TraceParseError(msg, path, nlines + 1)
        warnings.warn(f"{path}:{nlines + 1}: {msg}; keeping the {p.n} events read", TraceWarning, stacklevel=2)
    if p.truncated_last is not None:
        lineno, line, rows = p.truncated_last
        if p.strict:
            raise TraceParseError("truncated: the last line has no newline (the file was cut off)", path, lineno,
                                  line, expected="every ftrace line to end with a newline")
        if rows:                    # the cut line still parsed: drop what it produced and count it
            p.skipped += 1
            if p.skipped_first is None:
                p.skipped_first = (lineno, line)
            for _ in range(rows):
                p.drop_last_row()
    unknown = dict(p.unknown)
    hdr = p.header
    if p.n == 0:
        if p.event_lines == 0 and p.skipped == 0:
            raise TraceParseError(f"no events: the file has only headers, comments or blank lines; "
                                  f"expected {_EXPECTED}", path)
        found = ", ".join(f"{k} ({v})" for k, v in sorted(unknown.items(), key=lambda kv: -kv[1])[:8])
        raise TraceParseError(
            "none of the vmalloc events: expected kprobe/kretprobe events on __purge_vmap_area_lazy or "
            "drain_vmap_area_work (or events named " + ", ".join(sorted(ev)) + "), the vmalloc tracepoints "
            "or function_graph lines of those functions" + (f"; found only {found}" if found else "")
            + (f"; {p.skipped} malformed line(s) skipped" if p.skipped else "")
            + ". If your probes have other names, pass events={name: role}.", path)
    if "entries_in_buffer" in hdr and hdr.get("tracer") != "function_graph" and cut is None:
        seen = p.event_lines + p.skipped
        if seen < hdr["entries_in_buffer"]:
            msg = (f"truncated: the header says {hdr['entries_in_buffer']} entries in the buffer but the file "
                   f"has {seen} event lines (it ends at line {nlines})")
            if p.strict:
                raise TraceParseError(msg, path, nlines)
            warnings.warn(f"{path}: {msg}", TraceWarning, stacklevel=2)
    if hdr.get("entries_written", 0) > hdr.get("entries_in_buffer", 0):
        warnings.warn(f"{path}: the ring buffer overwrote {hdr['entries_written'] - hdr['entries_in_buffer']} "
                      f"events (entries-written > entries-in-buffer); the start of the run is missing",
                      TraceWarning, stacklevel=2)
    if p.lost:
        warnings.warn(f"{path}: {p.lost} events were lost ([LOST n EVENTS] lines)", TraceWarning, stacklevel=2)
    if p.skipped:
        ln, text = p.skipped_first
        warnings.warn(f"{path}: skipped {p.skipped} malformed line(s); the first at {path}:{ln}: "
                      f"{text.rstrip()[:120]!r}", TraceWarning, stacklevel=2)
    df = p.build(nlines)
    df.attrs["truncated"] = cut is not None or p.truncated_last is not None
    return df


class _CountingDict(dict):
    def __missing__(self, key):
        return 0


# ------------------------------------------------------------------------------------ dmesg
_SUMMARY_RE = re.compile(
    r"Summary:\s+(?P<test>\S+)\s+passed:\s*(?P<passed>\d+)\s+failed:\s*(?P<failed>\d+)\s+"
    r"repeat:\s*(?P<repeat>\d+)\s+loops:\s*(?P<loops>\d+)\s+avg:\s*(?P<avg>\d+)\s+usec\s*$")
_TOOK_RE = re.compile(r"All test took\s+(?:worker|CPU)(?P<w>\d+)\s*=\s*(?P<cycles>\d+)\s+cycles")
_SUMMARY_EXAMPLE = "'Summary: fix_size_alloc_test passed: 1 failed: 0 repeat: 1 loops: 1000000 avg: 913 usec'"
TESTS_COLUMNS = ["test", "worker", "loops", "avg_usec", "failed", "passed", "repeat", "complete",
                 "worker_total_cycles"]


def read_test_summary(path, strict: bool = True) -> pd.DataFrame:
    """test_vmalloc's ``Summary:`` lines from a dmesg file (or journalctl -k, or a serial log).

    One row per test per worker, the columns of `Result.tests` plus ``worker_total_cycles`` (the
    ``All test took workerN=... cycles`` line that follows each worker's summaries; also the v5.1
    ``CPU<n>=`` form). ``complete`` is passed + failed >= repeat. A ``Summary:`` line that does not
    have the module's format raises `TraceParseError` naming file:line (``strict=False`` skips it
    with a `TraceWarning`); an empty file, or one without any Summary line, raises too.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such dmesg file")
    if path.stat().st_size == 0:
        raise TraceParseError(f"the file is empty; expected test_vmalloc lines such as {_SUMMARY_EXAMPLE}", path)
    rows: list[dict] = []
    pending: list[dict] = []
    skipped = 0
    first_bad = None
    nworker = 0
    with _open_text(path) as f:
        try:
            for lineno, line in enumerate(f, 1):
                i = line.find("Summary:")
                if i >= 0:
                    m = _SUMMARY_RE.search(line[i:])
                    if m is None:
                        if strict:
                            raise TraceParseError("malformed test_vmalloc Summary line", path, lineno, line,
                                                  expected=_SUMMARY_EXAMPLE)
                        skipped += 1
                        first_bad = first_bad or (lineno, line)
                        continue
                    g = m.groupdict()
                    pending.append(dict(test=g["test"], loops=int(g["loops"]), avg_usec=float(g["avg"]),
                                        failed=int(g["failed"]), passed=int(g["passed"]), repeat=int(g["repeat"])))
                    continue
                m = _TOOK_RE.search(line)
                if m:
                    w = int(m.group("w"))
                    for r in pending:
                        r["worker"] = w
                        r["worker_total_cycles"] = int(m.group("cycles"))
                    rows += pending
                    pending = []
                    nworker = w + 1
        except EOFError as e:
            raise TraceParseError(f"truncated compressed stream ({e})", path) from e
    if pending:   # summaries without their "All test took" line: the next worker number
        for r in pending:
            r["worker"] = nworker
            r["worker_total_cycles"] = np.nan
        rows += pending
    if skipped:
        warnings.warn(f"{path}: skipped {skipped} malformed Summary line(s); the first at "
                      f"{path}:{first_bad[0]}: {first_bad[1].strip()[:120]!r}", TraceWarning, stacklevel=2)
    if not rows:
        raise TraceParseError(f"no test_vmalloc Summary lines; expected lines such as {_SUMMARY_EXAMPLE}", path)
    df = pd.DataFrame(rows)
    df["complete"] = (df["passed"] + df["failed"]) >= df["repeat"]
    df = df[TESTS_COLUMNS]
    df.attrs["skipped_lines"] = skipped
    return df


def _empty_tests() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=t) for c, t in zip(
        TESTS_COLUMNS, ["object", "int64", "int64", "float64", "int64", "int64", "int64", "bool", "float64"])})


# ------------------------------------------------------------------------------------ params
_PARAM_INT = ("nr_threads", "run_test_mask", "test_loop_count", "test_repeat_count", "nr_pages",
              "sequential_test_order", "ncpus", "lazy_max_pages", "page_size", "insmod_rc", "rc", "use_huge")


def read_params(path) -> dict:
    """``key=value`` tokens of a params file (the recorder's, or the shipped ``<run>_params.txt``)."""
    out: dict[str, Any] = {}
    text = Path(path).read_text(encoding="utf-8", errors="replace")
    for tok in text.split():
        k, eq, v = tok.partition("=")
        if not eq or not k:
            continue
        if k in _PARAM_INT:
            try:
                out[k] = int(v, 0)
                continue
            except ValueError:
                if v in ("Y", "y", "true", "True"):
                    out[k] = 1
                    continue
                if v in ("N", "n", "false", "False"):
                    out[k] = 0
                    continue
                raise TraceParseError(f"parameter {k}={v!r} is not an integer", path) from None
        out[k] = v
    return out


def _marker_params(text: str) -> dict:
    out = {}
    for tok in text.split()[2:]:
        k, eq, v = tok.partition("=")
        if eq:
            try:
                out[k] = int(v, 0)
            except ValueError:
                out[k] = v
    return out


# ------------------------------------------------------------------------------------ KernelRun
def kernel_preset(release: str | None) -> str | None:
    """The `vmlab.config.KERNELS` preset whose purge logic a kernel release has: the newest preset
    not newer than it ('6.1.0-56-amd64' -> '6.1', '5.10.0' -> '5.2', '6.8' -> '6.1')."""
    from .config import KERNELS

    if not release:
        return None
    m = re.match(r"\s*(\d+)\.(\d+)", str(release))
    if not m:
        return None
    v = (int(m.group(1)), int(m.group(2)))
    best = None
    for k in KERNELS:
        kv = tuple(int(x) for x in k.split("."))
        if kv <= v and (best is None or kv > tuple(int(x) for x in best.split("."))):
            best = k
    return best


@dataclass(frozen=True)
class TraceConfig:
    """What a recording was: the test_vmalloc parameters, the CPU count, the kernel, where it came from.

    ``to_dict()`` gives the keys the plots and email text read (``kernel`` is e.g. "6.1 trace", so a
    trace is never taken for a model run). `sim_config` builds the model run "like this one".
    """

    name: str
    kernel_release: str | None
    kernel_preset: str | None
    platform: str | None
    ncpus: int | None
    workload: str | tuple | None
    run_test_mask: int | None
    nr_threads: int | None
    test_loop_count: int | None
    test_repeat_count: int | None
    sequential_test_order: bool | None
    nr_pages: int | None
    page_size: int
    duration_s: float | None
    source: str = "trace"
    path: str | None = None

    def to_dict(self) -> dict:
        d = asdict(self)
        d["kernel"] = f"{self.kernel_preset or self.kernel_release or '?'} trace"
        if isinstance(self.workload, tuple):
            d["workload"] = list(self.workload)
        return d

    def sim_config(self, platform=None, kernel: str | None = None, duration_s: float | None = None, **overrides):
        """The model run configured like this recording (`SimConfig.for_kernel` of the nearest preset)."""
        from .config import SimConfig

        k = kernel or self.kernel_preset
        if k is None:
            raise ValueError(f"{self.name}: the kernel version is unknown; pass kernel='6.1' (or another "
                             f"vmlab.config.KERNELS key)")
        plat = platform if platform is not None else self.platform
        if plat is None:
            raise ValueError(f"{self.name}: the platform is unknown; pass platform='qemu-tcg' or a Platform")
        if self.ncpus is None:
            raise ValueError(f"{self.name}: the CPU count is unknown (no params, header or env)")
        kw: dict[str, Any] = dict(platform=plat, ncpus=int(self.ncpus))
        if self.workload is not None:
            kw["workload"] = self.workload
        for f in ("nr_threads", "test_loop_count", "test_repeat_count", "nr_pages"):
            v = getattr(self, f)
            if v is not None:
                kw[f] = int(v)
        if self.sequential_test_order is not None:
            kw["sequential_test_order"] = bool(self.sequential_test_order)
        if duration_s is None:
            # the model stops when the tests are done; give it room (3x the recording, at least 2 s)
            duration_s = float(max(2, math.ceil(3.0 * (self.duration_s or 0.0))))
        kw["duration_s"] = float(duration_s)
        kw.update(overrides)
        return SimConfig.for_kernel(k, **kw)


@dataclass
class KernelRun:
    """A recorded run of test_vmalloc, with the attributes of `vmlab.result.Result`.

    Times are ns relative to the run's start marker (``GTRUN start`` / ``VMLAB start`` written to
    trace_marker before the module is loaded; the first event when there is none).

    ``timeseries`` (index ``time_ns``, one row per vmap_lazy_nr sample: scheduler-tick kprobe,
        purge/drain entry and exit, or the free_vmap_area_noflush tracepoint; irregular, and two
        samples may share a time): ``vmap_lazy_nr``, ``purge_active`` (a purge of this trace runs at
        that time), ``mem_bytes`` (MemTotal - MemFree from the meminfo markers, forward-filled, when
        the recording has them and MemTotal), the other model columns as NaN, and ``source``,
        ``cpu`` and the meminfo columns (``MemFree_kB``, ...) as extras.
    ``purges``: the model's purge columns (``walk_ns``, ``flush_ns``, ``free_ns``, ``entries``,
        ``pages``, ``yields`` and ``max_lock_hold_ns`` are NaN: a kprobe trace cannot see them;
        ``areas`` is the tracepoint's num_purged when recorded) plus ``lazy_nr_end``,
        ``lazy_nr_delta`` (entry - exit of the global counter: pages purged minus pages freed
        meanwhile), ``purged`` (the function's return value), ``caller``, ``task``, ``pid``,
        ``exit_cpu`` and ``timestamp_ns`` (absolute). ``trigger`` adds ``unmap_aliases`` and
        ``other`` to the model's categories.
    ``drains``: one row per drain_vmap_area_work() execution.
    ``latency``: the ``purge`` row from the non-empty purges (exact quantiles); the others have
        count 0 (a trace of these events does not time vmalloc or the locks).
    ``tests``: `read_test_summary` of the dmesg.
    ``summary``: every key of `SUMMARY_KEYS`, NaN where the trace cannot give it; see `load_kernel_run`.
    ``events``: the tidy frame of `read_ftrace` (absolute times).
    """

    config: TraceConfig
    summary: pd.Series
    timeseries: pd.DataFrame
    purges: pd.DataFrame
    latency: pd.DataFrame
    tests: pd.DataFrame
    drains: pd.DataFrame
    events: pd.DataFrame
    t0_ns: int
    model_version: str = "kernel trace"
    extra: dict = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.config.name

    def sim_config(self, platform=None, **kw):
        """`TraceConfig.sim_config`: the model run like this recording."""
        return self.config.sim_config(platform, **kw)

    def __repr__(self) -> str:
        s = self.summary
        def f(v, fmt):
            return "nan" if v is None or (isinstance(v, float) and math.isnan(v)) else format(v, fmt)
        return (f"<KernelRun {self.name}: {self.config.ncpus} CPUs, peak_lazy={f(s.peak_lazy_pages, '.0f')} pages "
                f"({f(s.peak_lazy_ratio, '.2f')}x lazy_max) purges={f(s.purges, '.0f')} "
                f"purge_p50={f(s.purge_p50_ns / 1e6 if s.purge_p50_ns == s.purge_p50_ns else math.nan, '.3f')} ms "
                f"run={f(s.sim_ns / 1e9 if s.sim_ns == s.sim_ns else math.nan, '.2f')} s>")


def _find_files(src, run: str | None) -> tuple[str, dict[str, Path]]:
    """(run name, {"trace": path, "dmesg": path, "params": path, "env": path, ...}) of a recording."""
    if isinstance(src, (str, os.PathLike)) and Path(src).is_dir():
        d = Path(src)
        traces = sorted(p for p in d.iterdir() if p.is_file() and re.search(r"trace\.(txt|dat)(\.gz)?$|\.trace(\.gz)?$", p.name))
        if not traces:
            raise FileNotFoundError(f"{d}: no trace file (expected <run>_trace.txt[.gz] or trace.txt[.gz])")
        runs = {re.sub(r"_?trace\.(txt|dat)(\.gz)?$|\.trace(\.gz)?$", "", p.name): p for p in traces}
        if run is None:
            if len(runs) > 1:
                raise ValueError(f"{d} holds several runs {sorted(runs)}; pass run=<one of them>")
            run = next(iter(runs))
        if run not in runs:
            raise ValueError(f"{d}: no run {run!r}; the directory holds {sorted(runs)}")
        pre = f"{run}_" if run else ""
        files = {"trace": runs[run]}
        for kind in ("dmesg", "params", "env", "qemu_cmdline", "kprobe_events", "ringbuf_stats"):
            for cand in (d / f"{pre}{kind}.txt", d / f"{kind}.txt"):
                if cand.exists():
                    files[kind] = cand
                    break
        return run or d.name, files
    paths = [Path(src)] if isinstance(src, (str, os.PathLike)) else [Path(p) for p in src]
    files = {}
    for p in paths:
        n = p.name.lower()
        kind = next((k for k in ("dmesg", "params", "env", "qemu_cmdline", "kprobe_events", "ringbuf_stats")
                     if k in n), "trace")
        if kind in files:
            raise ValueError(f"two {kind} files given: {files[kind]} and {p}")
        files[kind] = p
    if "trace" not in files:
        raise ValueError(f"no trace file among {[str(p) for p in paths]}")
    name = re.sub(r"_?trace\.(txt|dat)(\.gz)?$", "", files["trace"].name) or files["trace"].parent.name
    return name, files


def _env_info(files: dict[str, Path]) -> dict:
    info: dict[str, Any] = {}
    if "env" in files:
        text = files["env"].read_text(errors="replace")
        m = re.search(r"^uname:\s*\S+\s+\S+\s+(\S+)", text, re.M)
        if m:
            info["kernel_release"] = m.group(1)
        m = re.search(r"^(?:kernel|release|uname -r):\s*(\S+)", text, re.M)
        if m and "kernel_release" not in info:
            info["kernel_release"] = m.group(1)
        m = re.search(r"^nproc:\s*(\d+)", text, re.M)
        if m:
            info["ncpus"] = int(m.group(1))
        m = re.search(r"MemTotal:\s*(\d+)\s*kB", text)
        if m:
            info["memtotal_kb"] = int(m.group(1))
        m = re.search(r"^model name\s*:\s*(.+)$", text, re.M)
        if m:
            info["cpu_model"] = m.group(1).strip()
    if "qemu_cmdline" in files:
        text = files["qemu_cmdline"].read_text(errors="replace")
        if re.search(r"-accel\s+tcg|accel=tcg", text):
            info["platform"] = "qemu-tcg"
        m = re.search(r"-smp\s+(\d+)", text)
        if m and "ncpus" not in info:
            info["ncpus"] = int(m.group(1))
    return info


def _workload_of(mask: int | None):
    from .workloads import TEST_CASES

    if mask is None:
        return None
    names = tuple(n for i, n in enumerate(TEST_CASES) if mask >> i & 1)
    if not names:
        return None
    return names[0] if len(names) == 1 else names


def _quantiles(d: np.ndarray) -> dict:
    if not len(d):
        return dict(count=0, mean=np.nan, p50=np.nan, p99=np.nan, p999=np.nan, max=np.nan)
    return dict(count=int(len(d)), mean=float(d.mean()), p50=float(np.percentile(d, 50)),
                p99=float(np.percentile(d, 99)), p999=float(np.percentile(d, 99.9)), max=float(d.max()))


def _pair(ev: pd.DataFrame, entry_role: str, exit_role: str) -> tuple[list[dict], dict]:
    """Entry/exit rows of one function paired per pid (kprobe + kretprobe), or function_graph returns."""
    rows: list[dict] = []
    open_: dict[int, list[dict]] = {}
    unpaired_exit = 0
    sel = ev[ev["role"].isin([entry_role, exit_role, "purge_done"] if entry_role == "purge_entry"
                             else [entry_role, exit_role])]
    cols = sel.columns
    has = {c: c in cols for c in ("lazy", "ret", "caller", "duration_ns", "parent", "num_purged", "vmap_lazy_nr")}
    recs = sel.to_dict("records")
    for r in recs:
        role = r["role"]
        pid = r["pid"]
        t = r["time_ns"]
        t = None if t is pd.NA or t is None else int(t)
        lazy = r.get("vmap_lazy_nr") if has["vmap_lazy_nr"] else None
        lazy = None if lazy is None or lazy is pd.NA or (isinstance(lazy, float) and math.isnan(lazy)) else int(lazy)
        if role == "purge_done":
            stack = open_.get(pid)
            if stack:
                stack[-1]["areas"] = r.get("num_purged")
            else:   # a tracepoint-only purge: its end is known, not its start
                rows.append(dict(start=None, end=t, cpu=r["cpu"], exit_cpu=r["cpu"], pid=pid, task=r["task"],
                                 lazy_start=None, lazy_end=None, ret=(1 if (r.get("num_purged") or 0) > 0 else 0),
                                 caller=None, areas=r.get("num_purged"), duration=None))
            continue
        dur = r.get("duration_ns") if has["duration_ns"] else None
        if role == exit_role and dur is not None and dur is not pd.NA and not (isinstance(dur, float) and math.isnan(dur)):
            # function_graph: the return line carries the duration
            leaf = r.get("leaf") == 1
            start = (t if leaf else (t - int(dur))) if t is not None else None
            end = (t + int(dur) if leaf else t) if t is not None else None
            if open_.get(pid):
                open_[pid].pop()
            rows.append(dict(start=start, end=end, cpu=r["cpu"], exit_cpu=r["cpu"], pid=pid, task=r["task"],
                             lazy_start=None, lazy_end=None, ret=None,
                             caller=r.get("parent") if has["parent"] else None, areas=None, duration=int(dur)))
            continue
        if role == entry_role:
            open_.setdefault(pid, []).append(dict(start=t, cpu=r["cpu"], pid=pid, task=r["task"], lazy_start=lazy,
                                                  areas=None, parent=r.get("parent") if has["parent"] else None))
            continue
        # an exit (kretprobe)
        stack = open_.get(pid)
        if not stack:
            unpaired_exit += 1
            continue
        e = stack.pop()
        ret = r.get("ret") if has["ret"] else None
        ret = None if ret is None or ret is pd.NA else int(ret)
        caller = r.get("caller") if has["caller"] else None
        if caller is None or caller is pd.NA or (isinstance(caller, float) and math.isnan(caller)):
            caller = e.get("parent")
        rows.append(dict(start=e["start"], end=t, cpu=e["cpu"], exit_cpu=r["cpu"], pid=pid, task=e["task"],
                         lazy_start=e["lazy_start"], lazy_end=lazy, ret=ret, caller=caller, areas=e.get("areas"),
                         duration=(t - e["start"]) if (t is not None and e["start"] is not None) else None))
    unpaired_entry = sum(len(v) for v in open_.values())
    return rows, dict(unpaired_exit=unpaired_exit, unpaired_entry=unpaired_entry)


def _trigger(caller) -> str:
    if caller is None or caller is pd.NA or (isinstance(caller, float) and math.isnan(caller)):
        return "other"
    return _CALLER_TRIGGER.get(_base_func(str(caller)), "other")


def _nan_if_none(v):
    return np.nan if v is None or v is pd.NA else v


def load_kernel_run(src, run: str | None = None, platform: str | None = None, events: Mapping[str, str] | None = None,
                    lazy_field: str = "lazy", strict: bool = True, kernel: str | None = None) -> KernelRun:
    """Load one recorded test_vmalloc run into a `KernelRun`.

    ``src`` is a directory (the shipped ``raw/<tag>/`` layout, ``<run>_trace.txt.gz``,
    ``<run>_dmesg.txt``, ``<run>_params.txt``, ``env.txt``, ...; or what
    ``tools/record-test-vmalloc.sh`` writes), a trace file, or a list of files (the dmesg and
    params files are told apart by name). ``run`` picks one run of a directory that holds several.
    ``platform`` names the machine (a `vmlab.platforms` preset) when the files do not say it
    (the shipped QEMU command line does); ``kernel`` overrides the release found in ``env.txt``.

    The run's window starts at its start marker (events before it, e.g. the sampler warming up,
    stay in ``events`` but not in the tables) and ends with the trace. The summary:

    * ``peak_lazy_pages``: the largest vmap_lazy_nr sample (the true peak between samples can be
      higher); ``lazy_max_pages``: the free_vmap_area_noflush tracepoint's ``nr_lazy_max`` when
      recorded, else the params file's, else the 6.1 formula ``fls(ncpus) * 32 MiB / PAGE_SIZE``;
    * ``purges``, ``purge_*_ns``: non-empty purges (return value 1, or num_purged > 0; every
      purge when neither is recorded), whatever their trigger; durations are wall time between
      entry and return, so they include time the purging task was preempted;
    * ``purge_pages_p50``: the median vmap_lazy_nr drop (entry - exit) of the non-empty purges,
      the trace's estimate of pages per purge;
    * ``alloc_failures``: purges called from the allocation-failure path;
    * ``sim_ns``: start marker to end marker (or to the last event);
    * ``oom``: an OOM-killer line in the dmesg; ``peak_mem_bytes``: MemTotal - min(MemFree);
    * NaN: ``alloc_p99_ns``, ``lock_wait_max_ns``, ``lock_hold_max_ns``, ``wall_s``,
      ``purge_walk_share``, ``oom_time_ns``; ``ops`` is the number of alloc/free tracepoint events
      (NaN without them); ``events`` the number of trace events in the window.
    """
    name, files = _find_files(src, run)
    ev = read_ftrace(files["trace"], events=events, lazy_field=lazy_field, strict=strict)
    params = read_params(files["params"]) if "params" in files else {}
    env = _env_info(files)

    # the run window: the start/end markers
    t_first = ev["time_ns"].dropna()
    t0 = int(t_first.min()) if len(t_first) else 0
    t_end_marker = None
    marker_params: dict = {}
    if "text" in ev.columns:
        mk = ev[ev["role"] == "marker"]
        for t, text in zip(mk["time_ns"], mk["text"].astype(str)):
            m = re.match(r"(GTRUN|VMLAB) (start|end)\b", text)
            if not m or t is pd.NA:
                continue
            if m.group(2) == "start":
                t0 = int(t)
                marker_params = _marker_params(text)
            else:
                t_end_marker = int(t)
    for k, v in marker_params.items():
        params.setdefault(k, v)
    hdr = ev.attrs.get("header", {})
    ncpus = params.get("ncpus") or env.get("ncpus") or hdr.get("ncpus")
    if ncpus is None and len(ev):
        ncpus = int(ev["cpu"].max()) + 1
    page_size = int(params.get("page_size", 4096))
    release = kernel or params.get("kernel") or params.get("kernel_release") or env.get("kernel_release")
    preset = kernel if kernel in _kernels() else kernel_preset(release)
    plat = platform or params.get("platform") or env.get("platform")
    mask = params.get("run_test_mask")

    # ------------------------------------------------------------------ tests (dmesg)
    tests = _empty_tests()
    dmesg_text = ""
    if "dmesg" in files:
        dmesg_text = files["dmesg"].read_text(errors="replace")
        tests = read_test_summary(files["dmesg"], strict=strict)
    else:
        warnings.warn(f"{name}: no dmesg file, so no test_vmalloc Summary lines (tests is empty)", TraceWarning,
                      stacklevel=2)
    if mask is None and len(tests):
        from .workloads import TEST_IDS
        mask = 0
        for t in tests["test"].unique():
            mask |= TEST_IDS.get(t, 0)
        mask = mask or None
    if params.get("test_loop_count") is None and len(tests):
        params["test_loop_count"] = int(tests["loops"].iloc[0])
    if params.get("nr_threads") is None and len(tests):
        params["nr_threads"] = int(tests["worker"].nunique())

    # ------------------------------------------------------------------ window
    inwin = ev["time_ns"].fillna(t0).to_numpy(dtype=np.int64) >= t0 if len(ev) else np.zeros(0, bool)
    w = ev[inwin]

    # ------------------------------------------------------------------ purges and drains
    prow, pstat = _pair(w, "purge_entry", "purge_exit")
    drow, dstat = _pair(w, "drain_entry", "drain_exit")

    def rel(v):
        return np.nan if v is None else float(v - t0)

    purges = pd.DataFrame({
        "start_ns": [rel(r["start"]) for r in prow],
        "end_ns": [rel(r["end"]) for r in prow],
        "duration_ns": [_nan_if_none(r["duration"]) for r in prow],
        "walk_ns": np.nan, "flush_ns": np.nan, "free_ns": np.nan,
        "areas": [_nan_if_none(r.get("areas")) for r in prow],
        "entries": np.nan, "pages": np.nan, "yields": np.nan, "max_lock_hold_ns": np.nan,
        "cpu": [r["cpu"] for r in prow],
        "trigger": pd.Categorical([_trigger(r["caller"]) for r in prow], categories=list(PURGE_TRIGGERS)),
        "lazy_nr_start": [_nan_if_none(r["lazy_start"]) for r in prow],
        "lazy_nr_end": [_nan_if_none(r["lazy_end"]) for r in prow],
        "purged": [_nan_if_none(r["ret"]) for r in prow],
        "caller": [None if r["caller"] is None else str(r["caller"]) for r in prow],
        "task": [str(r["task"]) for r in prow],
        "pid": [r["pid"] for r in prow],
        "exit_cpu": [r["exit_cpu"] for r in prow],
        "timestamp_ns": [_nan_if_none(r["start"]) for r in prow],
    }, index=pd.RangeIndex(len(prow), name="purge"))
    purges["lazy_nr_delta"] = purges["lazy_nr_start"] - purges["lazy_nr_end"]
    for c in ("start_ns", "end_ns", "duration_ns", "areas", "lazy_nr_start", "lazy_nr_end", "purged",
              "lazy_nr_delta", "timestamp_ns"):
        purges[c] = purges[c].astype(float)
    purges["cpu"] = purges["cpu"].astype(np.int64)
    purges = purges[list(PURGE_COLUMNS) + [c for c in purges.columns if c not in PURGE_COLUMNS]]
    purges = purges.sort_values("start_ns", kind="stable").reset_index(drop=True).rename_axis("purge")

    drains = pd.DataFrame({
        "start_ns": [rel(r["start"]) for r in drow],
        "end_ns": [rel(r["end"]) for r in drow],
        "duration_ns": [_nan_if_none(r["duration"]) for r in drow],
        "cpu": [r["cpu"] for r in drow],
        "exit_cpu": [r["exit_cpu"] for r in drow],
        "pid": [r["pid"] for r in drow],
        "task": [str(r["task"]) for r in drow],
        "lazy_nr_start": [_nan_if_none(r["lazy_start"]) for r in drow],
        "lazy_nr_end": [_nan_if_none(r["lazy_end"]) for r in drow],
    }).astype({"start_ns": float, "end_ns": float, "duration_ns": float, "lazy_nr_start": float,
               "lazy_nr_end": float})
    if len(drains) and len(purges):
        s = purges["start_ns"].to_numpy()
        drains["purges"] = [int(((s >= a) & (s <= b)).sum()) for a, b in zip(drains.start_ns, drains.end_ns)]
    else:
        drains["purges"] = 0

    if purges["purged"].notna().any():
        nonempty = purges[purges["purged"] == 1]
    elif purges["areas"].notna().any():
        nonempty = purges[purges["areas"] > 0]
    else:
        nonempty = purges
    d = nonempty["duration_ns"].dropna().to_numpy(dtype=float)

    # ------------------------------------------------------------------ time series
    lazy_rows = w[w["vmap_lazy_nr"].notna()] if "vmap_lazy_nr" in w.columns else w.iloc[0:0]
    t_rel = lazy_rows["time_ns"].to_numpy(dtype=np.int64) - t0 if len(lazy_rows) else np.empty(0, np.int64)
    ts = pd.DataFrame({"vmap_lazy_nr": lazy_rows["vmap_lazy_nr"].to_numpy(dtype=np.int64) if len(lazy_rows)
                       else np.empty(0, np.int64)}, index=pd.Index(t_rel, name="time_ns"))
    for c in TIMESERIES_COLUMNS:
        if c not in ts.columns:
            ts[c] = np.nan
    # purge_active: inside [start, end] of a purge
    if len(purges) and len(ts):
        st = purges["start_ns"].to_numpy()
        en = purges["end_ns"].to_numpy()
        ok = np.isfinite(st) & np.isfinite(en)
        st, en = np.sort(st[ok]), np.sort(en[ok])
        tt = ts.index.to_numpy(dtype=float)
        ts["purge_active"] = (np.searchsorted(st, tt, side="right") - np.searchsorted(en, tt, side="left") > 0
                              ).astype(np.int64)
    ts["source"] = pd.Categorical(lazy_rows["event"].astype(str).to_numpy()) if len(lazy_rows) else pd.Categorical([])
    ts["cpu"] = lazy_rows["cpu"].to_numpy(dtype=np.int64) if len(lazy_rows) else np.empty(0, np.int64)
    # meminfo markers (GTMEM / VMLABMEM k=v ...)
    mem = None
    if "text" in w.columns:
        mk = w[(w["role"] == "marker") & w["text"].astype(str).str.match(r"(GTMEM|VMLABMEM)\b")]
        if len(mk):
            recs = []
            for t, text in zip(mk["time_ns"], mk["text"].astype(str)):
                r = {"time_ns": int(t) - t0}
                for tok in text.split()[1:]:
                    k, eq, v = tok.partition("=")
                    if eq:
                        try:
                            r[f"{k}_kB"] = int(v)
                        except ValueError:
                            pass
                recs.append(r)
            mem = pd.DataFrame(recs).sort_values("time_ns")
    memtotal_kb = params.get("MemTotal") or env.get("memtotal_kb")
    if mem is not None and len(ts):
        merged = pd.merge_asof(pd.DataFrame({"time_ns": ts.index.to_numpy(dtype=np.int64)}),
                               mem.astype({"time_ns": np.int64}), on="time_ns", direction="backward")
        for c in mem.columns:
            if c != "time_ns":
                ts[c] = merged[c].to_numpy()
        if memtotal_kb and "MemFree_kB" in ts.columns:
            ts["mem_bytes"] = (memtotal_kb - ts["MemFree_kB"]) * 1024.0

    # ------------------------------------------------------------------ summary
    lmp = None
    if "nr_lazy_max" in w.columns and w["nr_lazy_max"].notna().any():
        lmp = int(pd.to_numeric(w["nr_lazy_max"], errors="coerce").max())
    lmp = lmp or params.get("lazy_max_pages")
    if lmp is None and ncpus:
        from .config import kernel_formula_lazy_max_pages
        lmp = kernel_formula_lazy_max_pages(int(ncpus), page_size)
    peak = float(ts["vmap_lazy_nr"].max()) if len(ts) else np.nan
    t_end = t_end_marker if t_end_marker is not None else (int(t_first.max()) if len(t_first) else t0)
    oom = bool(re.search(r"Out of memory|oom-kill|invoked oom-killer", dmesg_text)) if dmesg_text else np.nan
    n_alloc_fail = int((purges["trigger"] == "alloc_fail").sum())
    if "failed" in w.columns:
        n_alloc_fail = max(n_alloc_fail, int((pd.to_numeric(w.loc[w["role"] == "alloc", "failed"],
                                                             errors="coerce") > 0).sum()))
    nops = int(w["role"].isin(["alloc", "lazy_free"]).sum())
    peak_mem = np.nan
    if mem is not None and memtotal_kb and "MemFree_kB" in mem.columns:
        peak_mem = float((memtotal_kb - mem["MemFree_kB"].min()) * 1024)
    summary = pd.Series({
        "peak_lazy_pages": peak,
        "lazy_max_pages": float(lmp) if lmp else np.nan,
        "peak_lazy_ratio": peak / lmp if lmp else np.nan,
        "purges": len(nonempty),
        "purge_p50_ns": float(np.percentile(d, 50)) if len(d) else np.nan,
        "purge_p99_ns": float(np.percentile(d, 99)) if len(d) else np.nan,
        "purge_max_ns": float(d.max()) if len(d) else np.nan,
        "alloc_p99_ns": np.nan,
        "lock_wait_max_ns": np.nan,
        "alloc_failures": n_alloc_fail,
        "oom": oom,
        "oom_time_ns": np.nan,
        "ops": nops if nops else np.nan,
        "sim_ns": float(t_end - t0),
        "wall_s": np.nan,
        "resched_threshold_pages": 2.0 * lmp if lmp else np.nan,
        "peak_mem_bytes": peak_mem,
        "lock_hold_max_ns": np.nan,
        "purge_pages_p50": float(nonempty["lazy_nr_delta"].median()) if nonempty["lazy_nr_delta"].notna().any() else np.nan,
        "purge_walk_share": np.nan,
        "events": int(len(w)),
        # beyond the model's keys
        "purge_calls": int(len(purges)),
        "drains": int(len(drains)),
        "purges_entry_gt_lazy_max": int((nonempty["lazy_nr_start"] > lmp).sum()) if lmp else np.nan,
        "test_avg_usec": float(tests["avg_usec"].mean()) if len(tests) else np.nan,
    }, dtype=object)
    assert all(k in summary.index for k in SUMMARY_KEYS)

    latency = pd.DataFrame([dict(kind=k, **(_quantiles(d) if k == "purge" else _quantiles(np.empty(0))))
                            for k in LATENCY_KINDS]).set_index("kind")

    cfg = TraceConfig(
        name=name, kernel_release=release, kernel_preset=preset, platform=plat,
        ncpus=int(ncpus) if ncpus else None, workload=_workload_of(mask), run_test_mask=mask,
        nr_threads=params.get("nr_threads"), test_loop_count=params.get("test_loop_count"),
        test_repeat_count=params.get("test_repeat_count"),
        sequential_test_order=(bool(params["sequential_test_order"]) if "sequential_test_order" in params else None),
        nr_pages=params.get("nr_pages"), page_size=page_size,
        duration_s=(t_end - t0) / 1e9 if t_end > t0 else None,
        path=str(files["trace"]),
    )
    extra = dict(files={k: str(v) for k, v in files.items()}, params=params, env=env, **pstat,
                 drain_unpaired_exit=dstat["unpaired_exit"], drain_unpaired_entry=dstat["unpaired_entry"],
                 memtotal_kb=memtotal_kb)
    if pstat["unpaired_exit"]:
        warnings.warn(f"{name}: {pstat['unpaired_exit']} purge exit(s) without an entry (probes armed "
                      f"mid-purge, or lost events)", TraceWarning, stacklevel=2)
    return KernelRun(config=cfg, summary=summary, timeseries=ts, purges=purges, latency=latency, tests=tests,
                     drains=drains, events=ev, t0_ns=t0, extra=extra)


def _kernels():
    from .config import KERNELS
    return KERNELS


#: The repository's copy of the shipped recordings (raw/<tag>/<run>_trace.txt.gz, dmesg, params, ...).
SHIPPED_DIR = Path(__file__).resolve().parent.parent / "data" / "kernel" / "raw"


def shipped_runs(root=None) -> list[tuple[str, str]]:
    """(tag, run) of every recording under ``data/kernel/raw`` (the repository's copy)."""
    root = Path(root) if root is not None else SHIPPED_DIR
    out = []
    for d in sorted(p for p in root.iterdir() if p.is_dir()):
        for t in sorted(d.glob("*_trace.txt.gz")):
            out.append((d.name, t.name[: -len("_trace.txt.gz")]))
    return out


def load_shipped(tag: str, run: str, **kw) -> KernelRun:
    """`load_kernel_run` of a shipped recording, e.g. ``load_shipped("smp2", "fix_size")``."""
    d = SHIPPED_DIR / tag
    if not d.is_dir():
        raise ValueError(f"no shipped recording {tag!r}; there are {sorted({t for t, _ in shipped_runs()})}")
    return load_kernel_run(d, run=run, **kw)
