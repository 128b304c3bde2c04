"""Grid files: the TOML a sweep is described by (`GRID_DOC`), read by `load_grid` (``vmlab sweep``)
and written by `write_grid` (the sweep panel's export). `vmlab.sweep` re-exports both.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

from .config import SimConfig

GRID_DOC = """\
A grid file is TOML:

    name = "seed-threshold"      # the sweep's name: <data>/sweeps/<name>/, <data>/figures/<name>/
    root_seed = 0                # optional: root of the per-run seeds
    [base]                       # SimConfig fields; `kernel` picks SimConfig.for_kernel(...)
    kernel = "5.0+threshold"
    platform = "hikey960"
    workload = "stress"
    duration_s = 2
    [grid]                       # lists form a Cartesian product; `seeds` = seeds per point
    threshold_factor = [0.5, 1, 2, 4, 8]
    ncpus = [2, 4, 8, 16]
    lazy_max_pages = ["formula", 8192, 32768]   # "formula" (or omit) = the kernel formula
    kernel = ["5.0", "5.0+threshold", "5.2"]   # a grid may also vary the kernel
    seeds = 3
"""


class GridError(ValueError):
    """A grid file that cannot be used; the message names the file and the option."""


def _none(v):
    return None if isinstance(v, str) and v.lower() in ("formula", "none", "default") else v


def read_toml(path: Path, what: str, allowed: set[str]) -> dict:
    """A TOML file's top-level table; GridError naming the file when it is missing, not TOML, or
    has a top-level key outside ``allowed``. ``what`` names the kind of file in messages."""
    import tomllib
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise GridError(f"{path}: no such {what} file") from None
    except Exception as e:  # noqa: BLE001 - TOML syntax
        raise GridError(f"{path}: not valid TOML: {e}") from None
    unknown = set(data) - allowed
    if unknown:
        raise GridError(f"{path}: unknown key(s) {sorted(unknown)} at the top level; allowed: {sorted(allowed)}")
    return data


def file_name(path: Path, data: dict) -> str:
    """The file's ``name`` (default: the file's stem), a plain name usable as a directory."""
    name = data.get("name", path.stem)
    if not isinstance(name, str) or not name or "/" in name or name.startswith("."):
        raise GridError(f"{path}: name={name!r} must be a plain name")
    return name


def base_config(path: Path, data: dict) -> SimConfig:
    """The file's ``[base]`` table as a SimConfig (``kernel`` picks `SimConfig.for_kernel`)."""
    base_d = {k: _none(v) for k, v in dict(data.get("base", {})).items()}
    fields = set(SimConfig.field_names())
    for k in base_d:
        if k not in fields and k != "kernel":
            raise GridError(f"{path}: [base] {k} is not a SimConfig field")
    try:
        kernel = base_d.pop("kernel", None)
        return SimConfig.for_kernel(str(kernel), **base_d) if kernel is not None else SimConfig(**base_d)
    except (TypeError, ValueError) as e:
        raise GridError(f"{path}: [base] {e}") from None


def load_grid(path: str | Path) -> dict:
    """Read a grid file (see `GRID_DOC`): {name, base, grid, seeds, root_seed}."""
    path = Path(path)
    data = read_toml(path, "grid", {"name", "base", "grid", "root_seed"})
    name = file_name(path, data)
    grid = dict(data.get("grid", {}))
    seeds = grid.pop("seeds", 1)
    if not isinstance(seeds, int) or seeds < 1:
        raise GridError(f"{path}: [grid] seeds={seeds!r} must be an integer >= 1")
    base = base_config(path, data)
    for k, v in grid.items():
        if not isinstance(v, list):
            raise GridError(f"{path}: [grid] {k} must be a list, got {v!r}")
        grid[k] = [_none(x) for x in v]
    root_seed = data.get("root_seed", 0)
    from .sweep import plan     # lazily: vmlab.sweep imports this module

    try:
        plan(base, grid, seeds=seeds, root_seed=root_seed)
    except ValueError as e:
        raise GridError(f"{path}: [grid] {e}") from None
    return {"name": name, "base": base, "grid": grid, "seeds": seeds, "root_seed": root_seed}


def _toml_value(name: str, v) -> str:
    if v is None:
        return '"formula"' if name == "lazy_max_pages" else '"none"'
    if isinstance(v, bool) or type(v).__name__ == "bool_":
        return "true" if v else "false"
    if hasattr(v, "item") and not isinstance(v, (list, tuple)):
        v = v.item()
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, float):
        if not math.isfinite(v):
            raise ValueError(f"{name}={v!r} cannot go into a grid file")
        return repr(v)                      # 1.0, not 1: the same run key as the run that made it
    if isinstance(v, int):
        return str(v)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml_value(name, x) for x in v) + "]"
    raise ValueError(f"{name}={v!r} cannot go into a grid file (a custom policy needs Python)")


def write_grid(base, grid: dict | None = None, *, name: str, seeds: int = 1, root_seed: int = 0,
               path: str | Path | None = None) -> str:
    """The TOML text of a grid file (`GRID_DOC`) that `load_grid` reads back as ``base``, ``grid``
    and ``seeds``; written to ``path`` when given.

    ``base``: a dict of SimConfig fields (``kernel`` picks `SimConfig.for_kernel`), or a
    `SimConfig` (its fields that differ from ``SimConfig()``). ``grid``: field -> list of values.
    None is written as "formula" for lazy_max_pages and "none" elsewhere.
    """
    if not isinstance(name, str) or not name or "/" in name:
        raise ValueError(f"name={name!r} must be a plain name")
    if isinstance(base, SimConfig):
        default = SimConfig()
        base = {f: getattr(base, f) for f in SimConfig.field_names()
                if f != "policy_code" and getattr(base, f) != getattr(default, f)}
    base = dict(base or {})
    grid = dict(grid or {})
    lines = [f"name = {json.dumps(name)}"]
    if root_seed:
        lines.append(f"root_seed = {int(root_seed)}")
    lines.append("[base]")
    lines += [f"{k} = {_toml_value(k, v)}" for k, v in base.items()]
    lines.append("[grid]")
    lines += [f"{k} = {_toml_value(k, list(v))}" for k, v in grid.items()]
    lines.append(f"seeds = {int(seeds)}")
    text = "\n".join(lines) + "\n"
    if path is not None:
        Path(path).write_text(text)
    return text
