"""The errors and the warning of the trace readers: `TraceParseError` and `TraceWarning`."""
from __future__ import annotations

import os


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
