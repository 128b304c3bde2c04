"""Where vmlab reads and writes files: the one place that decides the data directory.

* `data_root()`: ``$VMLAB_DATA_DIR`` when set, else the checkout's ``data/`` when vmlab runs from a
  checkout (a ``pyproject.toml`` beside the package), else ``./data``.
* `sweeps_dir(name)`: a sweep's parquet cache, ``<data>/sweeps/<name>``.
* `figures_dir(name, out_dir=None)`: where figures and email text go: ``out_dir`` when given, else
  ``$VMLAB_FIGURES_DIR/<name>`` (that variable moves the figures only), else
  ``<data>/figures/<name>``.
* `project_root()` and `shown_path(path)`: the checkout, and a path as a message for other people
  may show it (relative to the checkout, never absolute).

`vmlab.sweep`, `vmlab.figures`, the ``vmlab`` command and the widget panels all ask here, so
``VMLAB_DATA_DIR`` moves every cache and figure they write. No matplotlib, no numba: importing
this module is cheap.
"""
from __future__ import annotations

import os
from pathlib import Path

DATA_ENV = "VMLAB_DATA_DIR"
FIGURES_ENV = "VMLAB_FIGURES_DIR"


def project_root() -> Path | None:
    """The checkout vmlab runs from (the directory holding ``pyproject.toml`` and ``vmlab/``), or
    None when vmlab is installed elsewhere."""
    here = Path(__file__).resolve().parent.parent
    return here if (here / "pyproject.toml").exists() else None


def data_root() -> Path:
    """``$VMLAB_DATA_DIR`` when set (``~`` expanded), else the checkout's ``data/``, else ``./data``.

    Read at every call, so setting the variable in a running session (or a test's monkeypatch)
    takes effect at once.
    """
    env = os.environ.get(DATA_ENV)
    if env:
        return Path(env).expanduser()
    root = project_root()
    return root / "data" if root is not None else Path.cwd() / "data"


def sweeps_dir(name: str) -> Path:
    """The parquet cache of sweep ``name``: ``<data>/sweeps/<name>``."""
    return data_root() / "sweeps" / name


def figures_dir(name: str, out_dir: str | Path | None = None) -> Path:
    """Where the figures and email text of ``name`` go: ``out_dir`` when given, else
    ``$VMLAB_FIGURES_DIR/<name>``, else ``<data>/figures/<name>``."""
    if out_dir is not None:
        return Path(out_dir).expanduser()
    env = os.environ.get(FIGURES_ENV)
    if env:
        return Path(env).expanduser() / name
    return data_root() / "figures" / name


def shown_path(path: str | Path, parts: int = 2) -> str:
    """``path`` as text for someone else (an email, a figure's caption): relative to the checkout
    when it is inside it (``data/kernel/raw/smp2/fix_size_trace.txt.gz``), else only its last
    ``parts`` components (``smp2/fix_size_trace.txt.gz``). Never absolute, so no home or temporary
    directory of the sender shows; POSIX separators."""
    p = Path(path).expanduser()
    root = project_root()
    if p.is_absolute() and root is not None:
        try:
            return p.resolve().relative_to(root).as_posix()
        except ValueError:
            pass
    if not p.is_absolute() and ".." not in p.parts:
        return p.as_posix()
    tail = [x for x in p.parts if x not in (p.anchor, "..", ".")][-parts:]
    return "/".join(tail) if tail else p.name
