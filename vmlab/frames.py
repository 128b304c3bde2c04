"""The data side of the figures and the email, without matplotlib: frames, labels, numbers.

A *sweep frame* has one row per run: the `SimConfig` fields, ``seed``, an optional ``kernel``,
``lazy_max_pages_cfg`` (the configured value; None = kernel formula), every key of
`vmlab.result.SUMMARY_KEYS` (so ``lazy_max_pages`` is the resolved value) and ``error`` (None or
a message). Rows with an error are skipped by every plot.

* columns: `column_unit` / `axis_label` (text, factor and unit of a column), `config_dict`,
  `result_row` / `frame_of` (a sweep frame from Results), `ok_rows` / `error_rows`, `run_end`;
* labels: `kernel_of` (the kernel era of a config), `run_label` (the legend text of a run);
* numbers: `short_number` (a number in few characters), `fmt_ms` (a duration in ns as ms/µs);
* `pareto_front` / `pareto_mask` (the rows no other row dominates), `merge_intervals`;
* `provenance` (the metadata a figure or file carries: versions, sweep name, configs).

`vmlab.plots` (the figures), `vmlab.export` (files and email text), `vmlab.widgets`, `vmlab.sweep`,
`vmlab.optimize` and `vmlab.calibrate` take these from here; importing this module never imports
matplotlib.
"""
from __future__ import annotations

import json
import math
from typing import Any, Iterable

import numpy as np
import pandas as pd

from .paths import shown_path

MiB = 1 << 20

#: column -> (axis text, factor to the displayed unit, unit)
_UNITS: dict[str, tuple[str, float, str]] = {
    "peak_lazy_pages": ("peak vmap_lazy_nr", 1.0, "pages"),
    "lazy_max_pages": ("lazy_max_pages", 1.0, "pages"),
    "lazy_max_pages_cfg": ("lazy_max_pages setting", 1.0, "pages"),
    "resched_threshold_pages": ("resched threshold", 1.0, "pages"),
    "peak_lazy_ratio": ("peak vmap_lazy_nr / lazy_max_pages", 1.0, "×"),
    "peak_mem_bytes": ("peak memory in use", 1.0 / MiB, "MiB"),
    "ram_bytes": ("RAM", 1.0 / MiB, "MiB"),
    "purge_p50_ns": ("purge duration p50", 1e-6, "ms"),
    "purge_p99_ns": ("purge duration p99", 1e-6, "ms"),
    "purge_max_ns": ("purge duration max", 1e-6, "ms"),
    "lock_wait_max_ns": ("max vmap_area_lock wait", 1e-6, "ms"),
    "lock_hold_max_ns": ("max vmap_area_lock hold", 1e-6, "ms"),
    "alloc_p99_ns": ("vmalloc latency p99", 1e-6, "ms"),
    "oom_time_ns": ("OOM time", 1e-6, "ms"),
    "sim_ns": ("simulated time", 1e-9, "s"),
    "threshold_factor": ("resched threshold factor", 1.0, "× lazy_max_pages"),
    "ncpus": ("online CPUs", 1.0, "CPUs"),
    "nr_threads": ("test_vmalloc threads", 1.0, "threads"),
    "nr_pages": ("nr_pages", 1.0, "pages"),
    "duration_s": ("simulated duration", 1.0, "s"),
    "purges": ("purges", 1.0, "count"),
    "alloc_failures": ("allocation failures", 1.0, "count"),
    "ops": ("operations", 1.0, "count"),
    "events": ("engine events", 1.0, "count"),
    "purge_pages_p50": ("pages per purge p50", 1.0, "pages"),
    "purge_walk_share": ("flush-range walk share of purge time", 1.0, "fraction"),
    "wall_s": ("wall time", 1.0, "s"),
    "oom": ("OOM", 1.0, "0/1"),
    "tests_done": ("test program finished", 1.0, "0/1"),
}

#: config columns besides the SimConfig fields
_EXTRA_CONFIG = ("kernel", "lazy_max_pages_cfg")


# ---------------------------------------------------------------------------------- data helpers
def column_unit(col: str) -> tuple[str, float, str]:
    """(axis text, factor from the stored value to the displayed unit, unit) of a column."""
    if col in _UNITS:
        return _UNITS[col]
    if col.endswith("_ns"):
        return col[:-3].replace("_", " "), 1e-6, "ms"
    if col.endswith("_bytes"):
        return col[:-6].replace("_", " "), 1.0 / MiB, "MiB"
    if col.endswith("_pages"):
        return col[:-6].replace("_", " "), 1.0, "pages"
    if col.endswith("_s"):
        return col[:-2].replace("_", " "), 1.0, "s"
    return col.replace("_", " "), 1.0, ""


def axis_label(col: str) -> str:
    text, _, unit = column_unit(col)
    return f"{text} ({unit})" if unit else text


def _is_missing(v) -> bool:
    if v is None:
        return True
    try:
        return bool(isinstance(v, float) and math.isnan(v)) or v is pd.NA or v is pd.NaT
    except TypeError:
        return False


def _hashable(v):
    """Grouping-safe cell value: lists (tuple workloads) become comma-joined strings."""
    if isinstance(v, (list, tuple, np.ndarray)):
        return ",".join(str(x) for x in v)
    return v


def config_dict(cfg) -> dict:
    """A run's configuration as a plain dict (SimConfig, dict, dataclass-like object or None)."""
    if cfg is None:
        return {}
    if isinstance(cfg, dict):
        return dict(cfg)
    if hasattr(cfg, "to_dict"):
        try:
            return dict(cfg.to_dict())
        except Exception:  # noqa: BLE001 - any foreign config object
            pass
    try:
        return dict(vars(cfg))
    except TypeError:
        return {"config": str(cfg)}


#: what `kernel_of` callers that need a name get for a config of no kernel era
CUSTOM = "custom"


def kernel_of(cfg, strict: bool = True) -> str | None:
    """The kernel era (`vmlab.config.KERNELS`) whose purge logic ``cfg`` has, or None.

    ``cfg``: a SimConfig, a dict or a frame row; a ``kernel`` entry, when set, is the answer.
    ``strict=False`` ignores ``threshold_factor`` (a 5.0+threshold config with another factor still
    maps to 5.0+threshold, which is what a ``vmlab run --kernel 5.0 --policy threshold
    --threshold-factor 4`` command needs, and what the panels show). ``kernel_of(cfg, False) or
    "custom"`` is the explore panel's era.
    """
    from .config import KERNELS

    d = config_dict(cfg)
    if not d:
        return None
    if d.get("kernel") and not _is_missing(d.get("kernel")):
        return str(d["kernel"])
    for k, preset in KERNELS.items():
        ok = True
        for f, v in preset.items():
            if f == "threshold_factor" and not strict:
                continue
            if f not in d or d[f] != v:
                ok = False
                break
        if ok:
            return k
    return None


def run_label(cfg) -> str:
    """The legend text of one run: '5.0+threshold ×2', '5.0', 'threshold ×4 (custom)'.

    Its kernel era (`kernel_of`, threshold factor ignored) or, for a config of no era, its policy
    and "(custom)"; a threshold-policy run adds its factor. A config without a policy (e.g. a
    recording's) is its ``name`` or ``source``.
    """
    d = config_dict(cfg)
    k = kernel_of(d, strict=False)
    pol = d.get("policy")
    thr = ""
    if pol == "threshold" and not _is_missing(d.get("threshold_factor")):
        thr = f" ×{float(d['threshold_factor']):g}"
    if k:
        return f"{k}{thr}"
    if pol is None or _is_missing(pol):
        return str(d.get("name") or d.get("source") or "run")
    if isinstance(pol, str) and pol.startswith("custom:"):     # a vmlab.purge_policy: its name
        pol = pol[len("custom:"):].rsplit("@", 1)[0]
    return f"{pol}{thr} ({CUSTOM})"


def result_row(res) -> dict:
    """One sweep-frame row from a `Result` (or anything with ``config`` and ``summary``)."""
    cfg = getattr(res, "config", None)
    d = {k: _hashable(v) for k, v in config_dict(cfg).items()}
    row = dict(d)
    row["lazy_max_pages_cfg"] = d.get("lazy_max_pages")
    summ = getattr(res, "summary", None)
    if summ is not None:
        row.update({k: v for k, v in dict(summ).items()})
    row["kernel"] = kernel_of(d, strict=False)
    if "seed" in d:
        row["seed"] = d["seed"]
    row["error"] = None
    mv = getattr(res, "model_version", None)
    if mv:
        row["model_version"] = mv
    return row


def frame_of(data) -> pd.DataFrame:
    """A sweep frame from a DataFrame (returned as is), a Result, or an iterable of Results."""
    if isinstance(data, pd.DataFrame):
        return data
    if hasattr(data, "summary") and hasattr(data, "config"):
        rows = [result_row(data)]
    elif isinstance(data, dict):
        rows = [result_row(r) for r in data.values()]
    else:
        rows = [result_row(r) for r in data]
    df = pd.DataFrame(rows)
    mvs = sorted({r.get("model_version") for r in rows if r.get("model_version")})
    if mvs:
        df.attrs["model_version"] = ", ".join(mvs)
    return df


def ok_rows(df: pd.DataFrame) -> pd.DataFrame:
    """Rows without an error (a missing ``error`` column means every row succeeded)."""
    if "error" not in df.columns:
        return df
    err = df["error"]
    bad = err.map(lambda v: not _is_missing(v) and str(v) != "")
    return df[~bad.astype(bool)]


def run_end(row) -> str | None:
    """How one run ended, from its summary numbers (a frame row, a dict or a summary Series):
    "done" (the test program finished), "oom" (memory ran out), "limit" (cut at ``duration_s``
    before the tests finished), or None when the row does not say (no ``tests_done``)."""
    oom = row.get("oom")
    if not _is_missing(oom) and bool(oom):
        return "oom"
    done = row.get("tests_done")
    if _is_missing(done):
        return None
    return "done" if bool(done) else "limit"


def error_rows(df: pd.DataFrame) -> pd.DataFrame:
    if "error" not in df.columns:
        return df.iloc[0:0]
    return df.drop(ok_rows(df).index)


def pareto_front(df: pd.DataFrame, x: str = "peak_lazy_pages", y: str = "purge_p99_ns") -> pd.Series:
    """Boolean Series (index of ``df``): True where the row is not dominated when minimising x and y.

    A row is dominated if another row is <= in both and < in one. Equal points are all kept;
    rows with a missing x or y are never on the front.
    """
    xs = pd.to_numeric(df[x], errors="coerce").to_numpy(dtype=float)
    ys = pd.to_numeric(df[y], errors="coerce").to_numpy(dtype=float)
    out = np.zeros(len(df), dtype=bool)
    good = np.flatnonzero(np.isfinite(xs) & np.isfinite(ys))
    if len(good):
        order = good[np.lexsort((ys[good], xs[good]))]
        best = math.inf  # lowest y among strictly smaller x
        i = 0
        while i < len(order):
            j = i
            while j < len(order) and xs[order[j]] == xs[order[i]]:
                j += 1
            block = order[i:j]
            m = ys[block].min()
            if m < best:
                out[block[ys[block] == m]] = True
                best = m
            i = j
    return pd.Series(out, index=df.index, name="pareto")


def pareto_mask(df: pd.DataFrame, objectives: Iterable[str], directions: Iterable[str] | None = None
                ) -> pd.Series:
    """`pareto_front` over any number of objectives, each minimised or maximised.

    ``directions`` holds "min" or "max" per objective (all "min" by default). A row is on the front
    unless another row is at least as good in every objective and better in one; equal rows are
    all kept, and rows with a missing objective are never on it. Two objectives go through
    `pareto_front` (O(n log n)), more through a pairwise comparison (O(n²)).
    """
    objectives = list(objectives)
    directions = ["min"] * len(objectives) if directions is None else list(directions)
    if len(directions) != len(objectives) or not objectives:
        raise ValueError(f"pareto_mask: {len(objectives)} objectives, {len(directions)} directions")
    sign = np.array([1.0 if d == "min" else -1.0 for d in directions])
    vals = np.column_stack([pd.to_numeric(df[c], errors="coerce").to_numpy(dtype=float) for c in objectives]
                           ) * sign if len(df) else np.empty((0, len(objectives)))
    if len(objectives) == 2:
        two = pd.DataFrame({"x": vals[:, 0], "y": vals[:, 1]}, index=df.index)
        return pareto_front(two, "x", "y")
    ok = np.isfinite(vals).all(axis=1)
    out = ok.copy()
    v = vals[ok]
    if len(v):
        le = (v[:, None, :] <= v[None, :, :]).all(axis=2)     # [i, j]: i is no worse than j
        lt = (v[:, None, :] < v[None, :, :]).any(axis=2)
        out[ok] = ~(le & lt).any(axis=0)
    return pd.Series(out, index=df.index, name="pareto")


def merge_intervals(starts, ends, min_gap: float = 0.0, min_width: float = 0.0):
    """Union of [start, end] intervals, also joining those closer than ``min_gap``.

    Each merged interval is at least ``min_width`` wide (so sub-pixel purges stay visible).
    Returns two float arrays (starts, ends), sorted.
    """
    s = np.asarray(starts, dtype=float)
    e = np.asarray(ends, dtype=float)
    keep = np.isfinite(s) & np.isfinite(e)
    s, e = s[keep], np.maximum(e[keep], s[keep])
    if not len(s):
        return np.empty(0), np.empty(0)
    order = np.argsort(s, kind="stable")
    s, e = s[order], np.maximum(e[order], s[order] + min_width)
    run_end = np.maximum.accumulate(e)
    new = np.ones(len(s), dtype=bool)
    new[1:] = s[1:] > run_end[:-1] + min_gap
    idx = np.flatnonzero(new)
    ms = s[idx]
    me = np.append(run_end[idx[1:] - 1], run_end[-1])
    return ms, me


def _page_size(df: pd.DataFrame | None = None, cfg=None) -> int:
    from .platforms import PLATFORMS

    if df is not None and "page_size" in df.columns:
        v = pd.to_numeric(df["page_size"], errors="coerce").dropna()
        if len(v):
            return int(v.iloc[0])
    names = []
    if df is not None and "platform" in df.columns:
        names = [p for p in df["platform"].dropna().unique()]
    d = config_dict(cfg)
    if d.get("page_size"):
        return int(d["page_size"])
    if d.get("platform"):
        names = [d["platform"]]
    sizes = {PLATFORMS[n].page_size for n in names if isinstance(n, str) and n in PLATFORMS}
    return sizes.pop() if len(sizes) == 1 else 4096


def _log_worthy(values) -> bool:
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    return bool(len(v) and v.min() > 0 and v.max() / v.min() > 10)


def _fmt_value(v) -> str:
    if _is_missing(v):
        return "—"
    if isinstance(v, (float, np.floating)):
        return f"{float(v):g}"
    return str(v)


def _group_text(group: str, v) -> str:
    missing = _is_missing(v) or (isinstance(v, str) and v == "n/a")   # tradeoff_points' key for None
    if group == "ncpus" and not missing:
        return f"{int(v)} CPUs"
    if group == "lazy_max_pages_cfg":
        return "lazy_max formula" if missing else f"lazy_max {int(v):,}"
    return f"{group}={_fmt_value(v)}" if group not in ("kernel", "policy") else _fmt_value(v)


def _sort_key(v):
    """Numbers ascending, then strings, then missing values."""
    if _is_missing(v):
        return (2, 0.0, "")
    if isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool):
        return (0, float(v), "")
    return (1, 0.0, str(v))


def _constant(df: pd.DataFrame, col: str):
    if col not in df.columns:
        return None
    vals = {_hashable(v) for v in df[col] if not _is_missing(v)}
    return vals.pop() if len(vals) == 1 else None


def _context(df: pd.DataFrame) -> str:
    """'hikey960 · stress · 2 s simulated' from the constant columns of a frame ('up to 2 s' when
    some runs ended before ``duration_s``)."""
    parts = []
    for col in ("platform", "workload"):
        v = _constant(df, col)
        if v is not None:
            parts.append(str(v))
    d = _constant(df, "duration_s")
    if d is not None:   # "up to": some runs ended before duration_s (their tests were done)
        early = any(run_end(r) in ("done", "oom") for r in df.to_dict("records"))
        parts.append(f"{'up to ' if early else ''}{float(d):g} s simulated")
    return " · ".join(parts)


def _describe_frame(df: pd.DataFrame) -> dict[str, Any]:
    """Compact provenance of a sweep frame: name, run count, constant and varied config fields."""
    from .config import SimConfig

    cols = [c for c in list(SimConfig.field_names()) + list(_EXTRA_CONFIG) if c in df.columns
            and c != "lazy_max_pages"]
    fixed, varied = {}, {}
    for c in cols:
        vals = sorted({_hashable(v) if not _is_missing(v) else None for v in df[c]}, key=_sort_key)
        vals = [v.item() if hasattr(v, "item") else v for v in vals]
        if len(vals) == 1:
            fixed[c] = vals[0]
        else:
            varied[c] = vals
    out: dict[str, Any] = {"runs": int(len(df)), "failed": int(len(error_rows(df)))}
    if df.attrs.get("name"):
        out["sweep"] = str(df.attrs["name"])
    out["fixed"] = fixed
    out["varied"] = varied
    return out


def provenance(data) -> dict[str, str]:
    """String metadata of a figure's data: versions, sweep name, config(s)."""
    from .version import MODEL_VERSION, __version__

    meta = {"vmlab_version": __version__}
    if isinstance(data, pd.DataFrame):
        mv = data.attrs.get("model_version")
        if not mv and "model_version" in data.columns:
            mv = ", ".join(sorted({str(v) for v in data["model_version"].dropna()}))
        meta["model_version"] = mv or MODEL_VERSION
        desc = _describe_frame(data)
        if "sweep" in desc:
            meta["sweep"] = desc["sweep"]
        meta["configs"] = json.dumps(desc, default=str, sort_keys=True)
    else:
        results = [data] if hasattr(data, "summary") else list(data)
        mvs = sorted({str(getattr(r, "model_version", "")) for r in results} - {""})
        meta["model_version"] = ", ".join(mvs) or MODEL_VERSION
        cfgs = [config_dict(getattr(r, "config", None)) for r in results]
        for c in cfgs:   # a recording's file: relative to the project, never absolute
            if isinstance(c.get("path"), str):
                c["path"] = shown_path(c["path"])
        key = "config" if len(cfgs) == 1 else "configs"
        meta[key] = json.dumps(cfgs[0] if len(cfgs) == 1 else cfgs, default=str, sort_keys=True)
    return meta


def _plural(n: int, what: str) -> str:
    return f"{n} {what}{'s' if n != 1 else ''}"


def _sget(summary, key) -> float:
    if summary is None:
        return math.nan
    try:
        v = summary[key] if key in summary else None
    except (TypeError, KeyError):
        v = getattr(summary, key, None)
    if _is_missing(v):
        return math.nan
    try:
        return float(v)
    except (TypeError, ValueError):
        return math.nan


def _describe_run(cfg) -> str:
    d = config_dict(cfg)
    parts = []
    for k in ("platform", "workload"):
        if d.get(k):
            parts.append(str(_hashable(d[k])))
    if d.get("ncpus"):
        parts.append(f"{int(d['ncpus'])} CPUs")
    if d.get("policy") or kernel_of(d):
        parts.append(run_label(d))
    return " · ".join(parts)


def _title(main: str, parts: list[str], width: int = 78) -> str:
    """The title and a wrapped subtitle (joined with ' · ') that fits an email-sized figure."""
    import textwrap

    sub = " · ".join(p for p in parts if p)
    return main + ("\n" + "\n".join(textwrap.wrap(sub, width)) if sub else "")


def short_number(v: float) -> str:
    """A number in as few characters as reads well: 12,345 / 123 / 12.3 / 1.23 / 0.012 / 1.2e-05."""
    if v is None or not math.isfinite(v):
        return "-"
    a = abs(v)
    if a == 0:
        return "0"
    if a >= 10000:
        return f"{v:,.0f}"
    if a >= 100:
        return f"{v:.0f}"
    if a >= 10:
        return f"{v:.1f}"
    if a >= 1:
        return f"{v:.2f}"
    if a >= 0.01:
        return f"{v:.3f}"
    return f"{v:.2g}"


def fmt_ms(ns, unit: bool = True, missing: str = "—") -> str:
    """A duration given in ns, in milliseconds with `short_number`'s digits.

    ``unit=True`` (tables people read): "1,234 ms", "12.3 ms", "1.23 ms", "450 µs" (µs below 1 ms).
    ``unit=False`` (the email's columns, headed "ms"): the bare number of ms, "0.450" for 450 µs.
    A missing or infinite value is ``missing``.
    """
    if _is_missing(ns):
        return missing
    try:
        ms = float(ns) / 1e6
    except (TypeError, ValueError):
        return missing
    if not math.isfinite(ms):
        return missing
    if not unit:
        return short_number(ms)
    if abs(ms) >= 1 or ms == 0:
        return f"{short_number(ms)} ms"
    return f"{short_number(ms * 1000)} µs"
