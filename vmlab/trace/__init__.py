"""Real kernel traces in the model's schema: `read_ftrace`, `read_test_summary`, `load_kernel_run`.

``read_ftrace(path)`` streams ftrace text (``trace``, ``trace-cmd report`` or function_graph;
plain or gzip) into one tidy event frame of the vmalloc purge events (kprobes, tracepoints,
function_graph lines, trace_marker lines); see `vmlab.trace.ftrace` for the formats and columns.
``load_kernel_run(dir_or_files)`` turns a recording (trace, dmesg with test_vmalloc's ``Summary:``
lines, the module parameters) into a `KernelRun` with the attributes of `vmlab.result.Result`
(see `vmlab.trace.load`). Bad input raises `TraceParseError` naming ``file:line``.

Modules: ``errors`` (`TraceParseError`, `TraceWarning`), ``events`` (roles and event/function
maps), ``syntax`` (line regexes, value parsing), ``columns`` and ``parser`` (the streaming
parser), ``ftrace`` (`read_ftrace`), ``summary`` (dmesg and params files), ``kernel_run``
(`KernelRun`, `TraceConfig`, `kernel_preset`), ``load`` (`load_kernel_run`), ``shipped`` (the
recordings under ``data/kernel/raw``).
"""
from .errors import TraceParseError, TraceWarning
from .events import DEFAULT_EVENTS, DEFAULT_FUNCTIONS, PURGE_TRIGGERS, ROLES
from .ftrace import read_ftrace
from .kernel_run import KernelRun, TraceConfig, kernel_preset
from .load import load_kernel_run
from .shipped import SHIPPED_DIR, load_shipped, recording_id, shipped_runs
from .summary import TESTS_COLUMNS as TESTS_COLUMNS  # public (tests, notebooks), not in __all__ as before
from .summary import read_params, read_test_summary

__all__ = [
    "TraceParseError", "TraceWarning", "KernelRun", "TraceConfig", "read_ftrace", "read_test_summary",
    "read_params", "load_kernel_run", "DEFAULT_EVENTS", "DEFAULT_FUNCTIONS", "ROLES", "PURGE_TRIGGERS",
    "kernel_preset", "shipped_runs", "load_shipped", "recording_id", "SHIPPED_DIR",
]
