"""`_Parser`: the streaming state machine behind `read_ftrace` (fast path, event handlers,
function_graph, headers, and the final tidy frame)."""
from __future__ import annotations

import array
import re
from typing import Any, Iterable, Mapping

import numpy as np
import pandas as pd

from .columns import _Block, _Field
from .errors import TraceParseError
from .events import (ROLES, _H_ALLOCVA, _H_FGRAPH, _H_KPROBE, _H_KV, _H_MARKER, _H_PRINT, _H_UNKNOWN,
                     _TRACEPOINT_FIELDS, _TRACEPOINT_HANDLERS, _base_func)
from .syntax import (_EVNAME_RE, _EXPECTED, _FG_BODY_RE, _FG_RE, _FG_SWITCH_RE, _HEAD_RE, _HEADER_ENTRIES_RE,
                     _HEADER_P_RE, _HEADER_TRACER_RE, _HEADFLAGS_RE, _LOST_RE, _MULT, _TRACECMD_HEADER_RE,
                     _fgraph_duration_ns, _parse_value, _split_args, _ts_ns)


class _CountingDict(dict):
    def __missing__(self, key):
        return 0


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
