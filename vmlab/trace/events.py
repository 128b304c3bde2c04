"""What a trace event means: the roles (`ROLES`), the default event and function maps
(`DEFAULT_EVENTS`, `DEFAULT_FUNCTIONS`), the purge triggers and the caller -> trigger table, the
vmalloc tracepoints' handlers and fields, and `_base_func` (a symbol without offset or suffix)."""
from __future__ import annotations

from ..result import TRIGGERS

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
#: The fields of each vmalloc tracepoint (docs/facts.md §2.3; alloc_vmap_area's first is printed "va_start: %lu").
_TRACEPOINT_FIELDS = {
    "alloc_vmap_area": {"va_start", "size", "align", "vstart", "vend", "failed"},
    "purge_vmap_area_lazy": {"start", "end", "num_purged"},
    "free_vmap_area_noflush": {"va_start", "nr_lazy", "nr_lazy_max"},
}


def _base_func(sym: str) -> str:
    """'drain_vmap_area_work+0x25/0x60' -> 'drain_vmap_area_work'; '_vm_unmap_aliases.part.0' -> '_vm_unmap_aliases'."""
    s = sym.strip()
    for sep in ("+", " "):
        s = s.split(sep, 1)[0]
    return s.split(".", 1)[0]
