"""The other files of a recording: test_vmalloc's ``Summary:`` lines in the dmesg
(`read_test_summary`, `TESTS_COLUMNS`), the module parameters (`read_params`) and the
``key=value`` tokens of a start marker (`_marker_params`)."""
from __future__ import annotations

import re
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .errors import TraceParseError, TraceWarning
from .ftrace import _open_text

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
