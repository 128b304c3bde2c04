"""`read_ftrace`: ftrace text (plain or gzip) in, one tidy event frame out; and `_open_text`.

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
  ``free_vmap_area_noflush``; formats in the docs/facts.md §2.3);
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
"""
from __future__ import annotations

import gc
import gzip
import warnings
import zlib
from pathlib import Path
from typing import Mapping

import pandas as pd

from .errors import TraceParseError, TraceWarning
from .events import DEFAULT_EVENTS, DEFAULT_FUNCTIONS, ROLES
from .parser import _Parser
from .syntax import _EXPECTED


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
