"""Claims that say what they are: `claim` and `agreement` over a `vmlab.validation.validate` table.

A claim about the model against the kernel is one quantity over some recordings. It **agrees** when
every row is within its band, and then says the band ("agrees (within x/÷1.5)"); otherwise it
**disagrees** and says by how much, where, and why ("disagrees (by 1.37x (more) on smp2r3/fix_size,
because ...)"). There is no third outcome and no pass mark: a `Verdict` cannot be used as a bool
(``if verdict`` raises), so a disagreement cannot be counted as a pass by accident.

A printed claim is one line, ``<verdict> | <quantity> @ <recordings> | <numbers>``, which
`parse_claim` reads back (the notebook test checks each against the table).

By default a claim is made over the evidence only: rows of recordings that were not fitted on
and are inside the model. Naming a fitted-on recording raises; a recording outside the model may
be named, and then its disagreement gives the table's note as the reason unless one is given.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass

import pandas as pd

from .clusters import requeue_phases
from .validation import QUANTITIES, Quantity

__all__ = ["Verdict", "agreement", "claim", "against_published", "parse_claim", "evidence", "evidence_groups", "spread_because",
           "requeue_because"]

_Q = {q.name: q for q in QUANTITIES}
_LINE = re.compile(r"^(agrees|disagrees) \((.*)\) \| (\S+) @ ([^|]+) \| (.*)$")


@dataclass(frozen=True)
class Verdict:
    """The outcome of a claim: ``agrees``, the words (``verdict``), what it is about, the numbers."""

    quantity: str
    recordings: tuple[str, ...]
    agrees: bool
    verdict: str
    numbers: str

    def __bool__(self):
        raise TypeError("a Verdict is not a pass/fail: read .agrees (and say why when it is False)")

    def __str__(self) -> str:
        return f"{self.verdict} | {self.quantity} @ {', '.join(self.recordings)} | {self.numbers}"


def evidence(table: pd.DataFrame) -> pd.DataFrame:
    """The rows that are evidence: not fitted on, inside the model."""
    return table[~table["fitted_on"] & ~table["outside_model"]]


def evidence_groups(table: pd.DataFrame) -> dict[str, list[str]]:
    """The evidence recordings grouped by run (workload), runs in name order:
    ``{"fix_size": [...], "long_busy": [...]}``; overcommitted guests (the table's ``overcommitted``:
    more vCPUs than host cores) apart, as ``"<run> (overcommitted)"``."""
    ev = evidence(table)
    over = set(ev.loc[ev["overcommitted"], "recording"]) if "overcommitted" in ev else set()
    recs = ev["recording"].drop_duplicates()
    out: dict[str, list[str]] = {}
    for r in recs:
        key = r.split("/", 1)[-1] + (" (overcommitted)" if r in over else "")
        out.setdefault(key, []).append(r)
    return {k: out[k] for k in sorted(out)}


def spread_because(table: pd.DataFrame, quantity: str, recordings) -> str | None:
    """A reason when every disagreeing row of ``quantity`` over ``recordings`` is off by less than
    the kernel's own spread over the recordings of that set-up (``kernel_spread``), else None."""
    rows = table[(table["quantity"] == quantity) & table["recording"].isin(list(recordings))]
    bad = rows[~rows["within_band"]]
    if not len(bad) or not (bad["ratio"] > 0).all():
        return None
    off = (bad["ratio"].where(bad["ratio"] >= 1, 1 / bad["ratio"]))
    spread = bad["kernel_spread"]
    if (spread.notna() & (off <= spread)).all():
        return (f"the recordings of this set-up differ by {spread.max():.2f}x among themselves (emulated time "
                f"on a shared host), more than the model is off")
    return None


def requeue_because(kernel_runs: dict, results: dict, recordings) -> str:
    """Why the model re-queues the drain work more often than the kernel, in numbers: the kernel's
    re-queues before and after its first test worker finished, against the model's."""
    k = [requeue_phases(kernel_runs[r]) for r in recordings]
    m = [requeue_phases(results[r]) for r in recordings]
    apart = [x["workers_apart"] for x in k]
    on = sum(x["all_running_requeued"] for x in k), sum(x["all_running_big"] for x in k)
    off = sum(x["after_requeued"] for x in k), sum(x["after_big"] for x in k)
    mon = sum(x["all_running_requeued"] for x in m), sum(x["all_running_big"] for x in m)
    return (f"the kernel's test workers finished {min(apart):.0%}-{max(apart):.0%} of the run apart, and once one "
            f"has finished no other CPU vfrees during a drain: {off[0]:.0f} of {off[1]:.0f} big drains were "
            f"re-queued then, against {on[0]:.0f} of {on[1]:.0f} while all ran; the model's workers finish "
            f"together ({max(x['workers_apart'] for x in m):.1%} apart) and re-queue after {mon[0]:.0f} of "
            f"{mon[1]:.0f}")


def _band_short(q: Quantity) -> str:
    if q.band == "ratio":
        return f"x/÷{q.tol:g}"
    if q.band == "pages":
        return f"±{q.tol:.0%} of lazy_max_pages"
    return f"±{q.tol:g} binomial s.e."


def _fmt(v: float, unit: str) -> str:
    if not math.isfinite(v):
        return "nan"
    if unit == "ns":
        return f"{v / 1e3:,.0f} us" if v >= 1e4 else f"{v:,.0f} ns"
    if unit == "us":
        return f"{v / 1e6:,.2f} s" if v >= 1e6 else f"{v:,.0f} us"
    if unit in ("share", "x"):
        return f"{v:.3g}"
    return f"{v:,.0f}"


def _span(vals, unit: str) -> str:
    vals = [v for v in vals]
    lo, hi = min(vals), max(vals)
    return _fmt(lo, unit) if lo == hi else f"{_fmt(lo, unit)} to {_fmt(hi, unit)}"


def agreement(table: pd.DataFrame, quantity: str, recordings=None, because: str | None = None) -> Verdict:
    """The `Verdict` of ``quantity`` over ``recordings`` (default: every evidence row of it).

    ``because`` is the reason given when it disagrees (required in spirit: without one the verdict
    says "because: not explained"; for recordings outside the model the table's note is used)."""
    if quantity not in _Q:
        raise ValueError(f"unknown quantity {quantity!r}; allowed: {list(_Q)}")
    q = _Q[quantity]
    rows = table[table["quantity"] == quantity]
    if recordings is None:
        rows = evidence(rows)
    else:
        recordings = [recordings] if isinstance(recordings, str) else list(recordings)
        rows = rows[rows["recording"].isin(recordings)]
        missing = set(recordings) - set(rows["recording"])
        if missing:
            raise ValueError(f"no rows for {sorted(missing)}")
        fit = sorted(rows.loc[rows["fitted_on"], "recording"])
        if fit:
            raise ValueError(f"{fit} were fitted on: they are not evidence for a claim")
    if not len(rows):
        raise ValueError(f"no evidence rows for {quantity}")
    recs = tuple(rows["recording"])
    numbers = f"kernel {_span(rows['kernel'], q.unit)}, model {_span(rows['model'], q.unit)}"
    if rows["within_band"].all():
        return Verdict(quantity, recs, True, f"agrees (within {_band_short(q)})", numbers)
    bad = rows[~rows["within_band"]]
    where = ", ".join(f"{d} on {r}" for d, r in zip(bad["deviation"], bad["recording"]))
    why = because
    if why is None:
        notes = sorted(set(bad.loc[bad["outside_model"], "note"]))
        why = "; ".join(notes) if notes else "not explained"
    why = why.replace("|", "/").replace("\n", " ")
    return Verdict(quantity, recs, False, f"disagrees (by {where}; band {_band_short(q)}; because {why})", numbers)


def claim(table: pd.DataFrame, quantity: str, recordings=None, because: str | None = None) -> Verdict:
    """`agreement`, printed as one line (see `parse_claim`), and returned."""
    v = agreement(table, quantity, recordings, because)
    print(str(v).replace("\n", " "))
    return v


def against_published(quantity: str, model: float, published, source: str, tol: float = 2.0,
                      because: str | None = None, unit: str = "ns") -> Verdict:
    """A claim of the model against a published figure (not a recording): it agrees when the model
    is within x/÷``tol`` of the figure (or of a range's nearer end), and otherwise says by how much
    and why. Printed as one line (see `parse_claim`) and returned."""
    lo, hi = (published if isinstance(published, (tuple, list)) else (published, published))
    ref = lo if model < lo else (hi if model > hi else model)
    ratio = model / ref if ref else math.inf
    fig = _fmt(lo, unit) if lo == hi else f"{_fmt(lo, unit)} to {_fmt(hi, unit)}"
    numbers = f"published {fig}, model {_fmt(model, unit)}"
    if 1 / tol <= ratio <= tol:
        v = Verdict(quantity, (source,), True, f"agrees (within x/÷{tol:g})", numbers)
    else:
        off = f"{ratio:.2f}x (more)" if ratio > 1 else f"{1 / ratio:.2f}x (less)"
        why = (because or "not explained").replace("|", "/").replace("\n", " ")
        v = Verdict(quantity, (source,), False, f"disagrees (by {off}; band x/÷{tol:g}; because {why})", numbers)
    print(str(v))
    return v


def parse_claim(line: str):
    """``(agrees, quantity, recordings)`` of a printed claim line, or None for any other line."""
    m = _LINE.match(line.strip())
    if not m:
        return None
    return m.group(1) == "agrees", m.group(3), tuple(r.strip() for r in m.group(4).split(","))
