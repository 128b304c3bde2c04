"""The line syntax of ftrace text: the regexes of its layouts, timestamps, and the parsing of
field values and ``k=v`` argument lists (plus `_EXPECTED`, the example quoted in errors)."""
from __future__ import annotations

import math
import re

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
