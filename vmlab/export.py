"""Files for a patch discussion: figures with provenance metadata, and the plain-text email body.

* `export_figure(fig, stem)` writes ``<stem>.png`` (150 dpi), ``.svg`` (text as paths) and ``.pdf``
  (TrueType text), each carrying the vmlab version, the model version and the config(s) or sweep
  name in the format's own metadata: PNG text chunks, PDF Title/Subject/Keywords, SVG Dublin Core.
* `email_summary(df_or_result)` returns the text to paste into a list thread, no line wider than 72
  columns: a table of the key numbers per config, an ASCII chart of the trade-off whose points are
  the table's key letters, failed runs, the command that reproduces it, and the model version.
* `optimize_email(df)` is the same for a `vmlab.optimize` result: its `proposal_section` proposes
  a setting per CPU count (per ``by`` value), each with its change on every objective against the
  kernel default and the ``vmlab run`` command that reproduces it.
* `write_email(text, stem)` writes it as ``<stem>.txt`` beside the figures.
"""
from __future__ import annotations

import json
import math
import shlex
import textwrap
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import pandas as pd

from .fields import FIELD, cli_flags
from .frames import (
    fmt_ms,
    short_number,
    _group_text,
    _hashable,
    _is_missing,
    _sort_key,
    column_unit,
    config_dict,
    error_rows,
    frame_of,
    kernel_of,
    ok_rows,
    pareto_front,
    provenance,
    run_end,
)
from .version import MODEL_VERSION, __version__

_SVG_SINGLE = ("Coverage", "Description", "Format", "Identifier", "Language", "Relation", "Source",
               "Title", "Type")


# ---------------------------------------------------------------------------------- figures
def _meta_text(meta: dict) -> dict[str, str]:
    out = {}
    for k, v in meta.items():
        if v is None:
            continue
        if isinstance(v, str):
            out[k] = v
        elif isinstance(v, pd.DataFrame) or hasattr(v, "summary"):
            out.update({kk: vv for kk, vv in provenance(v).items() if kk not in out})
        elif hasattr(v, "to_dict"):
            out[k] = json.dumps(config_dict(v), default=str, sort_keys=True)
        else:
            out[k] = json.dumps(v, default=str, sort_keys=True)
    return out


def export_figure(fig, stem, formats: Sequence[str] = ("png", "svg", "pdf"), dpi: int = 150,
                  metadata: dict | None = None) -> list[Path]:
    """Write ``<stem>.<fmt>`` for each format (parent directories created); return the paths.

    Metadata: what the plot function recorded in ``fig.vmlab_metadata`` (versions, sweep name,
    configs), updated by ``metadata`` (strings, or configs / Results / DataFrames, which are
    described). ``vmlab_version`` and ``model_version`` are always present.
    """
    from matplotlib import __version__ as mpl_version, rc_context

    meta = dict(getattr(fig, "vmlab_metadata", {}) or {})
    meta.update(_meta_text(metadata or {}))
    meta.setdefault("vmlab_version", __version__)
    meta.setdefault("model_version", MODEL_VERSION)
    title = meta.pop("title", None) or _fig_title(fig) or Path(str(stem)).name
    ver, mv = meta["vmlab_version"], meta["model_version"]
    what = meta.get("sweep") and f"sweep {meta['sweep']}" or ""
    data = {k: v for k, v in meta.items() if k not in ("vmlab_version", "model_version")}
    data_json = json.dumps(data, sort_keys=True)
    creator = f"vmlab {ver} (model {mv}; matplotlib {mpl_version})"

    paths = []
    for fmt in formats:
        fmt = fmt.lower().lstrip(".")
        path = Path(f"{stem}.{fmt}")
        path.parent.mkdir(parents=True, exist_ok=True)
        if fmt == "png":
            md = {"Title": title, "Software": creator, "vmlab_version": ver, "model_version": mv,
                  **{k: v for k, v in data.items()}}
            md["Description"] = f"vmlab {ver}, model_version {mv}" + (f", {what}" if what else "")
        elif fmt == "pdf":
            md = {"Title": title, "Creator": creator,
                  "Subject": f"vmlab {ver}; model_version {mv}" + (f"; {what}" if what else ""),
                  "Keywords": f"vmlab_version={ver}; model_version={mv}; {data_json}"}
        elif fmt == "svg":
            md = {"Title": title, "Creator": creator,
                  "Description": f"vmlab_version={ver}; model_version={mv}; {data_json}",
                  "Keywords": ["vmlab", f"vmlab {ver}", f"model_version {mv}"] + ([what] if what else [])}
            md = {k: v for k, v in md.items() if k in _SVG_SINGLE or k in ("Creator", "Keywords")}
        else:
            md = None
        with rc_context({"svg.fonttype": "path", "pdf.fonttype": 42}):
            if md is None:
                fig.savefig(path, format=fmt, dpi=dpi)
            else:
                fig.savefig(path, format=fmt, dpi=dpi, metadata=md)
        paths.append(path)
        if len(paths) == 1 and len(formats) > 1 and fig.get_layout_engine() is not None:
            # the layout (in figure fractions) is done: keep it for the other formats instead of
            # solving it again for each (it is most of the export time)
            fig.set_layout_engine("none")
    return paths


def _fig_title(fig) -> str | None:
    st = getattr(fig, "_suptitle", None)
    if st is not None and st.get_text():
        return st.get_text().replace("\n", " — ")
    for ax in fig.axes:
        t = ax.get_title()
        if t:
            return t.replace("\n", " — ")
    return None


# ---------------------------------------------------------------------------------- commands
#: SimConfig field -> `vmlab run` option (fields without one need the Python form); from the one
#: table of the fields, `vmlab.fields`
_CLI = cli_flags()
_ALWAYS = ("platform", "ncpus", "workload", "duration_s")


def _num(v) -> str:
    if isinstance(v, (bool, np.bool_)):
        return str(bool(v))
    if isinstance(v, (float, np.floating)):
        f = float(v)
        return str(int(f)) if f.is_integer() and abs(f) < 1e15 else repr(f)
    if isinstance(v, np.integer):
        return str(int(v))
    return str(v)


def _as_simconfig(cfg):
    from .config import SimConfig

    if isinstance(cfg, SimConfig):
        return cfg, None
    d = config_dict(cfg)
    kernel = d.pop("kernel", None)
    if "lazy_max_pages_cfg" in d:
        d["lazy_max_pages"] = d.pop("lazy_max_pages_cfg")
    fields = {}
    for f in SimConfig.field_names():
        if f not in d:
            continue
        v = d[f]
        if _is_missing(v):
            v = None
        elif isinstance(v, np.generic):
            v = v.item()
        if f == "workload" and isinstance(v, str) and "," in v:
            v = tuple(v.split(","))
        if isinstance(v, float) and v.is_integer() and f not in ("threshold_factor", "duration_s"):
            v = int(v)
        fields[f] = v
    return SimConfig(**fields), (None if _is_missing(kernel) else kernel)


def run_command(cfg, width: int = 72) -> list[str]:
    """The lines that reproduce one run: a ``vmlab run`` command when every non-default field has
    an option, else the Python expression (``>>>`` lines). Lines are at most ``width`` wide."""
    from .config import SimConfig

    cfg, kernel = _as_simconfig(cfg)
    kernel = kernel or kernel_of(cfg, strict=False)
    base = SimConfig.for_kernel(kernel) if kernel else SimConfig()
    diff = [f for f in SimConfig.field_names() if getattr(cfg, f) != getattr(base, f)]
    if all(f in _CLI and FIELD[f].format(getattr(cfg, f)) is not None for f in diff):
        args = ["vmlab", "run"]
        if kernel and kernel.endswith("+threshold"):
            # a patched kernel is its release plus the policy: --kernel 5.0 --policy threshold
            args += ["--kernel", kernel[: -len("+threshold")], "--policy", "threshold"]
            diff = [f for f in diff if f != "policy"]
        elif kernel:
            args += ["--kernel", kernel]
        for f in SimConfig.field_names():
            v = getattr(cfg, f)
            if f not in _CLI or (f not in diff and (f not in _ALWAYS or v is None)):
                continue
            text = FIELD[f].format(v)
            if text is not None:
                args += [_CLI[f], text]
        return wrap_command(" ".join(shlex.quote(a) for a in args), width)
    from .policies import PurgePolicy

    custom = cfg.policy if isinstance(cfg.policy, PurgePolicy) else None

    def _arg(f):
        return f"policy={custom.name}" if custom is not None and f == "policy" else f"{f}={getattr(cfg, f)!r}"

    kw = ", ".join(_arg(f) for f in SimConfig.field_names()
                   if f != "policy_code" and (f in diff or (f in _ALWAYS and getattr(cfg, f) is not None)))
    call = (f"SimConfig.for_kernel({kernel!r}, {kw})" if kernel else f"SimConfig({kw})")
    body = textwrap.wrap(f"res = simulate({call})", width - 4, break_long_words=True,
                         break_on_hyphens=False)
    head = (["# in Python, with the policy defined as @vmlab.purge_policy",
             f"# def {custom.name}(...) (code hash {custom.key}):"] if custom is not None
            else ["# (some fields have no vmlab run option) in Python:"])
    return (head + [">>> from vmlab import SimConfig, simulate"]
            + [(">>> " if i == 0 else "... ") + part for i, part in enumerate(body)])


def wrap_command(command: str, width: int = 72, indent: int = 4) -> list[str]:
    """Split a shell command over lines of at most ``width`` columns with backslash continuations.

    Breaks between words, keeping ``--option value`` pairs together when they fit; a single word
    longer than a line is cut (a backslash-newline inside an unquoted word is removed by the shell).
    """
    out: list[str] = []
    for line in str(command).splitlines() or [""]:
        out.extend(_wrap_one(line, width, indent))
    return out


def _wrap_one(line: str, width: int, indent: int) -> list[str]:
    if len(line) <= width:
        return [line]
    words = line.split(" ")
    units: list[str] = []
    i = 0
    while i < len(words):  # pair "--opt value"
        w = words[i]
        if w.startswith("-") and i + 1 < len(words) and not words[i + 1].startswith("-"):
            units.append(w + " " + words[i + 1])
            i += 2
        else:
            units.append(w)
            i += 1
    lines: list[str] = []
    cur = ""
    pad = " " * indent
    for u in units:
        cand = u if not cur else cur + " " + u
        limit = width - 2  # room for " \"
        if len(cand) <= limit:
            cur = cand
            continue
        if cur:
            lines.append(cur + " \\")
            cur = pad + u
        else:
            cur = u
        while len(cur) > limit:  # a unit wider than a line: split words, or cut the word
            head, sep, tail = cur[: limit + 1].rpartition(" ")
            if sep and head.strip():
                lines.append(head + " \\")
                cur = pad + cur[len(head) + 1:]
            else:   # cut the word, leaving at least one character for the next line: a cut
                # exactly at the word's end would glue the next word onto it in the shell
                lines.append(cur[:limit] + "\\")
                cur = cur[limit:]
    if cur:
        lines.append(cur)
    return lines


# ---------------------------------------------------------------------------------- ASCII chart
def ascii_chart(points: Iterable[tuple[str, float, float]], xlabel: str, ylabel: str, rows: int = 10,
                cols: int = 50) -> list[str]:
    """A character scatter plot: each (char, x, y) at its cell, '*' where several share a cell.

    Axes switch to log10 when the positive values span more than 10x. Width is ``cols + 10``.
    """
    pts = [(c, float(x), float(y)) for c, x, y in points
           if x is not None and y is not None and math.isfinite(float(x)) and math.isfinite(float(y))]
    if not pts:
        return [f"(no points to chart for {ylabel} vs {xlabel})"]
    xs = np.array([p[1] for p in pts])
    ys = np.array([p[2] for p in pts])

    def axis(v):
        log = bool(v.min() > 0 and v.max() / v.min() > 10)
        t = np.log10(v) if log else v
        lo, hi = float(t.min()), float(t.max())
        if hi == lo:
            pad = abs(lo) * 0.1 or 1.0
            lo, hi = lo - pad, hi + pad
        return log, lo, hi

    lx, x0, x1 = axis(xs)
    ly, y0, y1 = axis(ys)
    grid = [[" "] * cols for _ in range(rows)]
    cells: dict[tuple[int, int], list[str]] = {}
    for c, x, y in pts:
        tx = math.log10(x) if lx else x
        ty = math.log10(y) if ly else y
        j = int(round((tx - x0) / (x1 - x0) * (cols - 1)))
        i = rows - 1 - int(round((ty - y0) / (y1 - y0) * (rows - 1)))
        cells.setdefault((i, j), []).append(c)
        grid[i][j] = c if grid[i][j] in (" ", c) else "*"

    def inv(t, log):
        return 10 ** t if log else t

    yl = {0: inv(y1, ly), rows // 2: inv((y0 + y1) / 2, ly), rows - 1: inv(y0, ly)}
    out = [ylabel + (" (log)" if ly else "")]
    for i, r in enumerate(grid):
        lab = _short(yl[i]) if i in yl else ""
        out.append(f"{lab:>8} |" + "".join(r).rstrip())
    out.append(" " * 8 + " +" + "-" * cols)
    left, mid, right = _short(inv(x0, lx)), _short(inv((x0 + x1) / 2, lx)), _short(inv(x1, lx))
    ticks = [" "] * (cols + 10)
    for pos, s in ((10, left), (10 + (cols - len(mid)) // 2, mid), (10 + cols - len(right), right)):
        for k, ch in enumerate(s):
            if 0 <= pos + k < len(ticks):
                ticks[pos + k] = ch
    out.append("".join(ticks).rstrip())
    xl = xlabel + (" (log)" if lx else "")
    out.append(" " * max(0, 10 + (cols - len(xl)) // 2) + xl)
    shared = [" ".join(v) for _, v in sorted(cells.items()) if len(set(v)) > 1]
    if shared:
        out += textwrap.wrap("* = several points in one cell: " + "; ".join(shared), cols + 10)
    return out


_short = short_number



# ---------------------------------------------------------------------------------- email text
#: config columns of the table, in display order, with their header
_CFG_COLS = (("kernel", "kernel"), ("policy", "policy"), ("ncpus", "cpus"),
             ("lazy_max_pages_cfg", "lazy_max"), ("threshold_factor", "thr"), ("platform", "platform"),
             ("workload", "workload"), ("purge_mode", "purge"), ("allocator", "alloc"),
             ("flush_range", "flush"), ("lock_split", "split"), ("preempt", "preempt"),
             ("nr_threads", "thr#"), ("nr_pages", "pages"), ("test_set", "tests"),
             ("duration_s", "limit s"), ("ram_bytes", "ram MiB"), ("test_loop_count", "loops"),
             ("test_repeat_count", "reps"), ("sequential_test_order", "seq"),
             ("run_test_mask", "mask"), ("sample_interval_ns", "sample"),
             ("check_invariants", "check"))
#: fields a kernel preset fixes (implied by the kernel column)
_PRESET_FIELDS = ("policy", "purge_mode", "allocator", "flush_range", "lock_split", "test_set",
                  "threshold_factor")
_KEYS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def _cell(col: str, v, row=None) -> str:
    if col == "lazy_max_pages_cfg":
        return "formula" if _is_missing(v) else f"{int(v)}"
    if col == "threshold_factor" and row is not None and row.get("policy") not in (None, "threshold"):
        return "-"
    if col == "ram_bytes" and not _is_missing(v):
        return f"{float(v) / (1 << 20):g}"
    if _is_missing(v):
        return "-"
    return _num(_hashable(v))


def _seconds(v) -> str:
    """Seconds as the email shows them, 3 significant digits: 16, 4.51, 0.02 ('-' when missing)."""
    if _is_missing(v) or not math.isfinite(float(v)):
        return "-"
    return f"{float(v):.0f}" if float(v) >= 100 else f"{float(v):.3g}"


def ran_text(rows: Sequence) -> str:
    """The simulated time the runs of one config covered (median ``sim_ns``, in s; a recording's
    length), marked "(limit)" when they were cut at ``duration_s`` ("(limit k/n)" when k of n were):
    "4.51" for a run whose test program ended at 4.51 s, "2 (limit)" for one stopped at 2 s."""
    sim = pd.to_numeric(pd.Series([r.get("sim_ns") for r in rows], dtype=object), errors="coerce")
    text = _seconds(sim.median() / 1e9) if sim.notna().any() else "-"
    k = sum(run_end(r) == "limit" for r in rows)
    if k:
        text += " (limit)" if k == len(rows) else f" (limit {k}/{len(rows)})"
    return text


def _config_label(row: pd.Series, cols: Iterable[str]) -> str:
    parts = []
    for c in cols:
        if c in row.index:
            parts.append(f"{dict(_CFG_COLS).get(c, c)}={_cell(c, row[c], row)}")
    return " ".join(parts)


def email_summary(df_or_result, command: str | None = None, title: str | None = None,
                  width: int = 72, max_rows: int = 25, max_failed: int = 10) -> str:
    """Plain text for a mailing-list reply, every line at most ``width`` (72) columns.

    Accepts a sweep frame, a `Result`, or a list of Results. Runs that differ only in seed (or in
    a threshold factor their policy ignores) are one config; numbers are medians over them.
    """
    from .config import SimConfig

    df = frame_of(df_or_result)
    is_result = not isinstance(df_or_result, pd.DataFrame)
    if "kernel" not in df.columns and "policy" in df.columns:  # name the kernel preset when it is one
        presets = [c for c in ("policy", "threshold_factor", "allocator", "flush_range", "purge_mode",
                               "lock_split", "test_set") if c in df.columns]
        attrs = dict(df.attrs)
        df = df.assign(kernel=[kernel_of(r, strict=False) for r in df[presets].to_dict("records")])
        df.attrs.update(attrs)
    good = ok_rows(df).copy()
    bad = error_rows(df)
    cand = [c for c, _ in _CFG_COLS if c in df.columns]
    # display keys: threshold means nothing outside the threshold policy
    disp = pd.DataFrame(index=good.index)
    for c in cand:
        disp[c] = [_cell(c, good.at[i, c], good.loc[i]) for i in good.index]
    # which config columns vary (and are not implied by a column already shown)
    shown: list[str] = []
    for c in cand:
        if disp[c].nunique() < 2 or c == "duration_s":   # the time each run covered is shown instead
            continue
        if c in _PRESET_FIELDS and c != "threshold_factor" and "kernel" in shown and \
                disp.groupby("kernel")[c].nunique().max() < 2:
            continue  # the kernel column says it
        shown.append(c)
    constants = [c for c in cand if c not in shown and len(disp) and disp[c].nunique() == 1]
    # the simulated time the runs covered: in the context line when every run covered the same
    # time and ended the same way, else a table column (per config)
    good_recs = good.to_dict("records")
    ends = {(ran_text([r]).split(" ")[0], run_end(r)) for r in good_recs}
    ran_column = len(ends) > 1

    lines: list[str] = []
    name = df.attrs.get("name")
    if title is None:
        if name:
            title = f"vmlab sweep {name}: purge latency vs lazy-page growth"
        elif is_result and len(df) == 1:
            title = "vmlab run: lazy purge summary"
        else:
            title = "vmlab: lazy purge summary"
    lines += textwrap.wrap(title, width) or [""]
    ctx = []
    kernel_known = "kernel" in disp and (disp["kernel"] != "-").all() and len(disp)
    for c in ("platform", "workload", "kernel", "policy", "ncpus", "threshold_factor",
              "lazy_max_pages_cfg", "duration_s", "purge_mode", "allocator", "flush_range",
              "preempt", "ram_bytes", "nr_pages"):
        if c in constants:
            v = disp[c].iloc[0]
            if v == "-" or (kernel_known and c in _PRESET_FIELDS and c != "threshold_factor"):
                continue
            if c == "duration_s" and not ran_column and ends:
                secs, end = next(iter(ends))
                if secs != "-":
                    traces = all(str(r.get("source")) == "trace" for r in good_recs)
                    ctx.append(f"{secs} s {'recorded' if traces else 'simulated'}"
                               + {"limit": " (cut at the duration_s limit)",
                                  "done": " (test program done)"}.get(end, ""))
                    continue
            label = {"duration_s": "s limit", "ncpus": "CPUs", "ram_bytes": "MiB RAM"}.get(c)
            name_ = {"lazy_max_pages_cfg": "lazy_max"}.get(c, c)
            ctx.append(f"{v} {label}" if label else (f"{name_} {v}" if c not in ("platform", "workload") else v))
    nfail = len(bad)
    ctx.append(f"{len(df)} run{'s' if len(df) != 1 else ''}"
               + (f", {nfail} failed" if nfail else ""))
    lines += textwrap.wrap(", ".join(ctx), width)
    mv = df.attrs.get("model_version")
    if not mv and "model_version" in df.columns:
        mv = ", ".join(sorted({str(v) for v in df["model_version"].dropna()}))
    lines += textwrap.wrap(f"model_version {mv or MODEL_VERSION} (vmlab {__version__})", width)
    lines.append("")

    if len(good):
        # one row per config: medians over seeds
        keycols = [c for c in cand if c != "seed"]
        grp = good.assign(**{f"_k_{c}": disp[c] for c in keycols}).groupby(
            [f"_k_{c}" for c in keycols], sort=False, dropna=False)
        recs = []
        for _, sub in grp:
            first = sub.iloc[0]
            rec = {c: first[c] for c in cand}
            for m in ("peak_lazy_ratio", "purge_p99_ns", "purge_max_ns", "lock_wait_max_ns",
                      "lazy_max_pages", "peak_lazy_pages"):
                rec[m] = pd.to_numeric(sub[m], errors="coerce").median() if m in sub else np.nan
            oom = sub["oom"].map(lambda v: bool(v) if not _is_missing(v) else False) if "oom" in sub else None
            k = int(oom.sum()) if oom is not None else 0
            rec["OOM"] = ("yes" if k == len(sub) else "no" if k == 0 else f"{k}/{len(sub)}")
            rec["runs"] = len(sub)
            rec["ran"] = ran_text(sub.to_dict("records"))
            recs.append(rec)
        agg = pd.DataFrame(recs)
        # the Pareto front per CPU count, as the trade-off figure marks it (more CPUs make more
        # lazy pages for every policy: a global front would only ever star the smallest machine)
        by_cpus = "ncpus" in agg.columns and agg["ncpus"].nunique(dropna=False) > 1
        if by_cpus:
            front = pd.concat([pareto_front(sub, "peak_lazy_ratio", "purge_p99_ns")
                               for _, sub in agg.groupby("ncpus", sort=False, dropna=False)])
            front = front.reindex(agg.index, fill_value=False)
        else:
            front = pareto_front(agg, "peak_lazy_ratio", "purge_p99_ns")
        agg["PF"] = np.where(front, "*", "")
        sort_cols = [c for c in ("kernel", "policy", "ncpus", "lazy_max_pages_cfg", "threshold_factor")
                     if c in shown] + [c for c in shown if c not in
                                       ("kernel", "policy", "ncpus", "lazy_max_pages_cfg", "threshold_factor")]
        if sort_cols:
            def sort_key(i):
                key = []
                for c in sort_cols:
                    v = _hashable(agg.at[i, c])
                    if c == "threshold_factor" and "policy" in agg and agg.at[i, "policy"] != "threshold":
                        v = None
                    key.append(_sort_key(v))
                return tuple(key)

            order = sorted(range(len(agg)), key=sort_key)
            agg = agg.iloc[order].reset_index(drop=True)
        truncated = max(0, len(agg) - max_rows)
        agg = agg.iloc[:max_rows].copy()
        agg["k"] = list(_KEYS[: len(agg)])

        table_cols: list[tuple[str, str, list[str], str]] = [("k", "k", list(agg["k"]), "<")]
        for c in shown:
            head = dict(_CFG_COLS)[c]
            if c == "lazy_max_pages_cfg":
                vals = [f"{int(r['lazy_max_pages'])}" if not _is_missing(r["lazy_max_pages_cfg"])
                        else (f"({int(r['lazy_max_pages'])})" if not _is_missing(r["lazy_max_pages"])
                              else "formula") for _, r in agg.iterrows()]
            else:
                vals = [_cell(c, r[c], r) for _, r in agg.iterrows()]
            table_cols.append((c, head, vals, ">" if c in ("ncpus", "lazy_max_pages_cfg",
                                                            "threshold_factor", "duration_s",
                                                            "ram_bytes", "nr_pages") else "<"))
        if ran_column:
            table_cols.append(("ran", "ran s", list(agg["ran"]), ">"))
        if agg["runs"].max() > 1:
            table_cols.append(("runs", "runs", [str(v) for v in agg["runs"]], ">"))
        table_cols += [
            ("peak_lazy_ratio", "peak/max", ["-" if _is_missing(v) else f"{v:.2f}" for v in agg["peak_lazy_ratio"]], ">"),
            ("purge_p99_ns", "p99 ms", [fmt_ms(v, unit=False, missing="-") for v in agg["purge_p99_ns"]], ">"),
            ("purge_max_ns", "max ms", [fmt_ms(v, unit=False, missing="-") for v in agg["purge_max_ns"]], ">"),
            ("lock_wait_max_ns", "lockw ms", [fmt_ms(v, unit=False, missing="-") for v in agg["lock_wait_max_ns"]], ">"),
            ("OOM", "OOM", list(agg["OOM"]), "<"),
            ("PF", "PF", list(agg["PF"]), "<"),
        ]
        dropped_cols: list[str] = []

        def table_width(cols):
            return sum(max(len(h), *(len(v) for v in vals)) for _, h, vals, _ in cols) + len(cols) - 1

        while table_width(table_cols) > width:
            cfgs = [i for i, tc in enumerate(table_cols) if tc[0] in shown]
            victim = cfgs[-1] if len(cfgs) > 1 else next(
                (i for i, tc in enumerate(table_cols) if tc[0] in ("runs", "purge_max_ns")), None)
            if victim is None:
                break
            dropped_cols.append(table_cols[victim][1])
            table_cols.pop(victim)
        widths = [max(len(h), *(len(v) for v in vals)) for _, h, vals, _ in table_cols]
        fmt_row = lambda cells: " ".join(  # noqa: E731
            f"{s:{a}{w}}" for s, w, (_, _, _, a) in zip(cells, widths, table_cols)).rstrip()
        lines.append(fmt_row([h for _, h, _, _ in table_cols]))
        lines.append(fmt_row(["-" * w for w in widths]))
        for r in range(len(agg)):
            lines.append(fmt_row([vals[r] for _, _, vals, _ in table_cols]))
        if truncated:
            lines.append(f"... {truncated} more config{'s' if truncated > 1 else ''} not shown "
                         f"(see the dataset)")
        notes = ["peak/max = peak vmap_lazy_nr / lazy_max_pages; p99, max = purge duration;",
                 "lockw = longest vmap_area_lock wait; PF * = on the Pareto front of"
                 " peak/max and p99 (lower is better for both)"
                 + (" among configs with the same CPU count." if by_cpus else ".")]
        if ran_column:
            notes.append("ran s = the time the run covered (simulated, or the recording's)"
                         + ("; (limit) = cut at duration_s before the test program ended."
                            if any("limit" in v for v in agg["ran"]) else "."))
        if agg["runs"].max() > 1:
            notes.append("Numbers are medians over the runs of each config.")
        if "lazy_max_pages_cfg" in shown:
            notes.append("lazy_max in () comes from the kernel formula.")
        if dropped_cols:
            notes.append(f"Columns left out for width: {', '.join(dropped_cols)}.")
        lines += textwrap.wrap(" ".join(notes), width)
        lines.append("")

        ycol = "purge_p99_ns" if agg["purge_p99_ns"].notna().any() else "lock_wait_max_ns"
        ylab = "purge p99 (ms)" if ycol == "purge_p99_ns" else "max lock wait (ms)"
        cols = max(20, min(50, width - 10))
        lines.append("Trade-off (letters are the k column above):")
        lines += ascii_chart([(k, x, y / 1e6 if not _is_missing(y) else None)
                              for k, x, y in zip(agg["k"], agg["peak_lazy_ratio"], agg[ycol])],
                             "peak vmap_lazy_nr / lazy_max_pages", ylab, rows=10, cols=cols)
        missing = [k for k, x, y in zip(agg["k"], agg["peak_lazy_ratio"], agg[ycol])
                   if _is_missing(x) or _is_missing(y)]
        if missing:
            lines += textwrap.wrap(f"Not charted (no {ylab.split(' (')[0]}): {' '.join(missing)}", width)
        lines.append("")
    else:
        lines += ["No successful runs.", ""]

    if nfail:
        lines.append(f"Failed runs ({nfail}):")
        fcols = []  # the config columns that vary over all rows, failed ones included
        for c in cand:
            vals = {_cell(c, df.at[i, c], df.loc[i]) for i in df.index}
            if len(vals) > 1 and not (c in _PRESET_FIELDS and c != "threshold_factor" and "kernel" in fcols):
                fcols.append(c)
        fcols = fcols or [c for c in ("kernel", "policy", "ncpus", "threshold_factor") if c in bad.columns]
        for _, r in bad.head(max_failed).iterrows():
            label = _config_label(r, fcols + (["seed"] if "seed" in bad.columns else []))
            msg = str(r["error"]).strip().splitlines()[0] if str(r["error"]).strip() else "error"
            if len(msg) > 100:
                msg = msg[:97] + "..."
            lines += textwrap.wrap(f"{label}: {msg}", width, initial_indent="  ",
                                   subsequent_indent="      ", break_long_words=True)
        if nfail > max_failed:
            lines.append(f"  ... {nfail - max_failed} more (see the error column of the dataset)")
        lines.append("")

    lines.append("Reproduce with:")
    cmd = command if command is not None else df.attrs.get("command")
    if cmd:
        lines += wrap_command(cmd, width)
    elif is_result:
        results = [df_or_result] if hasattr(df_or_result, "summary") else list(
            df_or_result.values() if isinstance(df_or_result, dict) else df_or_result)
        for r in results:
            if getattr(r.config, "source", None) == "trace":
                lines += recording_lines(r.config, width)
                continue
            try:
                lines += run_command(r.config, width)
            except Exception as e:  # noqa: BLE001 - e.g. a kernel trace's config
                lines += textwrap.wrap(f"  (no command for this run: {e})", width)
    else:
        rows = ok_rows(df) if len(ok_rows(df)) else df
        cfgcols = [c for c in SimConfig.field_names() if c in rows.columns and c not in ("seed", "lazy_max_pages")]
        extra = [c for c in ("lazy_max_pages_cfg", "kernel") if c in rows.columns]
        one = rows[cfgcols + extra].map(_hashable).drop_duplicates() if len(rows) else rows
        if len(one) == 1:
            try:
                lines += run_command(rows.iloc[0].to_dict(), width)
            except Exception as e:  # noqa: BLE001
                lines += textwrap.wrap(f"  (command not recorded; {e})", width)
        else:
            lines += textwrap.wrap("  (command not recorded"
                                   + (f"; sweep name {name!r}" if name else "") + ")", width)
    text = "\n".join(_clip(ln, width) for ln in lines).rstrip() + "\n"
    return text


def recording_lines(cfg, width: int = 72) -> list[str]:
    """How a reader loads the kernel recording ``cfg`` (a `vmlab.trace.TraceConfig`): a
    ``load_kernel_run`` line naming it relative to the project (``data/kernel/raw/smp2``, run
    ``fix_size``), or by its last path components when it lives elsewhere; never an absolute path
    (it would mean nothing to the reader and show the sender's directories)."""
    from .paths import shown_path

    path = getattr(cfg, "path", None)
    name = getattr(cfg, "name", None)
    if not path:
        return textwrap.wrap(f"  (kernel recording {name or '?'}; its path is not recorded)", width)
    p = Path(path)
    if name and p.name.startswith(f"{name}_trace"):   # <dir>/<run>_trace.txt.gz: the directory form
        call = f"load_kernel_run({shown_path(p.parent)!r}, run={name!r})"
    else:
        call = f"load_kernel_run({shown_path(p)!r})"
    body = textwrap.wrap(f"kr = {call}", width - 4, break_long_words=True, break_on_hyphens=False)
    return (["# the kernel recording, in Python:", ">>> from vmlab import load_kernel_run"]
            + [(">>> " if i == 0 else "... ") + part for i, part in enumerate(body)])


# ---------------------------------------------------------------------------------- optimisation text
def _objective_value(col: str, v) -> str:
    _, f, unit = column_unit(col)
    if _is_missing(v) or not math.isfinite(float(v)):
        return "-"
    s = _short(float(v) * f)
    return f"{s} {unit}" if unit and unit not in ("×", "count") else s


def _change(gain: float, direction: str) -> str:
    """The objective's relative change in percent, from its gain (see `vmlab.optimize.gains`)."""
    if _is_missing(gain) or not math.isfinite(gain):
        return "n/a"
    return f"{(-gain if direction == 'min' else gain) * 100:+.0f}%"


def _setting_text(field: str, v) -> str:
    if field == "lazy_max_pages" and _is_missing(v):
        return "lazy_max_pages from the kernel formula"
    return f"{field} {_num(_hashable(v)) if not _is_missing(v) else 'default'}"


def proposal_section(df: pd.DataFrame, width: int = 72) -> list[str]:
    """"Proposed setting per CPU count" (per ``by`` value) of a `vmlab.optimize` frame, as lines.

    Each group: the proposed setting (`vmlab.optimize.proposals`: a trial that dominates the
    kernel default when there is one, else the front's least-worse trade-off), each objective
    against the kernel default with its change, and the ``vmlab run`` command that reproduces the
    proposal's run (`run_command`). No line is wider than ``width``.
    """
    from .config import SimConfig
    from .optimize import proposals

    table = proposals(df)
    names, dirs = list(df.attrs["objectives"]), list(df.attrs["directions"])
    by, fields = list(df.attrs.get("by") or []), list(df.attrs["space"])
    base = dict(df.attrs["base"])
    per = "CPU count" if by == ["ncpus"] else ", ".join(by)
    lines = [f"Proposed setting per {per}" if by else "Proposed setting"]
    defaults = df.attrs.get("kernel_default") or [{}]
    dtext = ", ".join(_setting_text(f, defaults[0].get(f)) for f in fields)
    lines += textwrap.wrap(f"Against the kernel default ({dtext}); each objective is shown as "
                           f"proposal vs default (change), "
                           + ("lower is better." if set(dirs) == {"min"} else "direction as marked."),
                           width)
    labw = min(36, max(len(column_unit(o)[0]) + (6 if d == "max" else 0) for o, d in zip(names, dirs)))
    for _, r in table.iterrows():
        lines.append("")
        where = ", ".join(_group_text(k, r[k]) for k in by) or "all trials"
        if _is_missing(r["trial"]):
            lines += textwrap.wrap(f"{where}: no finished trial", width)
            continue
        setting = ", ".join(_setting_text(f, r[f]) for f in fields)
        lines += textwrap.wrap(f"{where}: {setting}", width, subsequent_indent="  ")
        n_all = int(_group_mask(df, by, r).sum())
        verdict = (f"dominates the kernel default ({int(r['n_dominating'])} of {n_all} trials do)"
                   if r["dominates"] else "no trial dominates the kernel default; the closest trade-off:")
        lines += textwrap.wrap(verdict, width, initial_indent="  ", subsequent_indent="  ")
        for o, d in zip(names, dirs):
            lab = column_unit(o)[0] + (" (max)" if d == "max" else "")
            lines.append(_clip(f"  {lab:<{labw}} {_objective_value(o, r[o])} vs "
                               f"{_objective_value(o, r[o + '_default'])} ({_change(r[o + '_gain'], d)})", width))
        row = df[(df.trial == r["trial"]) & _group_mask(df, by, r)].iloc[0]
        cfg = SimConfig(**{k: (tuple(v) if isinstance(v, list) else v) for k, v in base.items()})
        cfg = cfg.replace(**{k: (None if _is_missing(r[k]) else _plain(r[k])) for k in by},
                          **{f: (None if _is_missing(row[f]) else _plain(row[f])) for f in fields},
                          seed=int(row["seed"]))
        lines += ["  " + ln if not ln.startswith(" ") else ln for ln in run_command(cfg, width - 2)]
    if int(df.attrs.get("seeds", 1)) > 1:
        lines += [""] + textwrap.wrap(f"Objectives are medians of {df.attrs['seeds']} runs; each command "
                                      f"reproduces the first.", width)
    return [_clip(ln, width) for ln in lines]


def _plain(v):
    return v.item() if isinstance(v, np.generic) else v


def _group_mask(df: pd.DataFrame, by: list[str], r) -> pd.Series:
    m = pd.Series(True, index=df.index)
    for k in by:
        m &= df[k].isna() if _is_missing(r[k]) else (df[k] == r[k])
    return m


def optimize_email(df: pd.DataFrame, command: str | None = None, title: str | None = None,
                   width: int = 72) -> str:
    """The plain-text email of a `vmlab.optimize` run: context, `proposal_section`, the command
    that reproduces the search, and the model version; no line wider than ``width``."""
    a = df.attrs
    lines = textwrap.wrap(title or f"vmlab optimize {a.get('name', '')}".strip(), width) or [""]
    base = a.get("base") or {}
    ctx = [str(base[k]) for k in ("platform", "workload") if base.get(k)]
    if base.get("duration_s"):
        ctx.append(f"{float(base['duration_s']):g} s simulated")
    failed = int(df[list(a["objectives"])].isna().any(axis=1).sum()) if len(df) else 0
    ctx.append(f"{len(df)} trials" + (f" ({failed} failed or without a value)" if failed else "")
               + f", {a.get('sampler', '?')} seed {a.get('seed', '?')}")
    lines += textwrap.wrap(", ".join(ctx), width)
    lines += textwrap.wrap("objectives: " + ", ".join(
        ("max " if d == "max" else "") + o for o, d in zip(a["objectives"], a["directions"])), width)
    lines += textwrap.wrap(f"model_version {a.get('model_version', MODEL_VERSION)} (vmlab {__version__})", width)
    lines.append("")
    lines += proposal_section(df, width)
    lines.append("")
    lines.append("Reproduce the search with:")
    cmd = command or a.get("command")
    lines += wrap_command(cmd, width) if cmd else textwrap.wrap(
        f"  vmlab.optimize(..., name={a.get('name')!r}, seed={a.get('seed')}) (command not recorded)", width)
    return "\n".join(_clip(ln, width) for ln in lines).rstrip() + "\n"


def _clip(line: str, width: int) -> str:
    line = line.rstrip()
    return line if len(line) <= width else line[: width - 3] + "..."


def write_email(text: str, stem) -> Path:
    """Write ``<stem>.txt`` (parent directories created); return the path."""
    path = Path(f"{stem}.txt")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")
    return path


__all__ = ["export_figure", "email_summary", "write_email", "run_command", "wrap_command", "ascii_chart",
           "recording_lines", "proposal_section", "optimize_email"]
