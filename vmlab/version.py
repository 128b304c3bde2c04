"""vmlab's release version and the model version.

``MODEL_VERSION`` changes whenever any source file that decides model behaviour changes: it is
``<MODEL_SERIES>+<hash of those files>``. Sweep caches key on it, so results of another model are
never mixed in, and nobody has to remember to bump it.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

__version__ = "0.1.0"

MODEL_SERIES = "1"
_MODEL_FILES = ("engine/*.py", "config.py", "platforms.py", "workloads.py", "result.py", "model.py", "policies.py")


def _model_hash() -> str:
    h = hashlib.sha256()
    here = Path(__file__).parent
    for pattern in _MODEL_FILES:
        for path in sorted(here.glob(pattern)):
            h.update(path.relative_to(here).as_posix().encode())
            h.update(path.read_bytes())
    return h.hexdigest()[:10]


MODEL_VERSION = f"{MODEL_SERIES}+{_model_hash()}"
