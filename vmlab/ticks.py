"""Log-axis tick labels that have room: `RoomyLogFormatter` and `roomy_log_labels`.

Where a log axis spans about a decade with one power of ten inside, matplotlib's formatter labels
the minor ticks at 2, 3, 4 and 6 x 10^n whatever the axis's length, and on an email-sized figure
``3×10⁴`` runs into ``4×10⁴``. `RoomyLogFormatter` labels the densest of those sets whose labels,
measured in the axis's font at the figure's dpi, leave a gap between neighbours: all of 1-9, then
{2, 3, 4, 6}, {2, 5}, {3}, then the powers of ten alone. It decides at every draw, from the view
limits and the axes' size in pixels at that moment, so zooming or resizing keeps it right.
"""
from __future__ import annotations

import math

from matplotlib.cbook import is_math_text
from matplotlib.textpath import text_to_path
from matplotlib.ticker import LogFormatterSciNotation

#: label sets (coefficients c of c x 10^n) from densest to sparsest; 1 is the power of ten itself
SUBLABEL_SETS = ({1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, {1, 2, 3, 4, 6, 10}, {1, 2, 5, 10}, {1, 3, 10}, {1})
#: gap between neighbouring labels, in units of the label font size
GAP_EM = 1.0


class RoomyLogFormatter(LogFormatterSciNotation):
    """`LogFormatterSciNotation` for minor ticks that skips labels the axis has no room for."""

    def set_locs(self, locs=None):
        super().set_locs(locs)
        if self._sublabels is None or locs is None or self.axis is None:
            return
        chosen = {int(round(c)) for c in self._sublabels}
        if chosen not in SUBLABEL_SETS or chosen == {1}:
            return
        for subs in SUBLABEL_SETS[SUBLABEL_SETS.index(chosen):]:     # never denser than matplotlib
            if subs == {1} or self._fits(locs, subs):
                self._sublabels = subs
                return

    def _fits(self, locs, subs) -> bool:
        """Whether the labels of ``subs`` at ``locs`` (and the powers of ten in view) leave a gap of
        `GAP_EM` between neighbours along the axis (width on x, height on y; pixels)."""
        axis = self.axis
        vmin, vmax = sorted(axis.get_view_interval())
        if not (vmin > 0 and vmax > vmin):
            return True
        box = axis.axes.bbox
        is_x = axis.axis_name == "x"
        length = box.width if is_x else box.height
        if length <= 0:
            return True
        lo, hi = math.log10(vmin), math.log10(vmax)
        # the ticks in view and the powers of ten (the major ticks), once each, by log10
        logs = {round(math.log10(v), 6) for v in locs if vmin <= v <= vmax}
        logs |= set(range(math.ceil(lo - 1e-9), math.floor(hi + 1e-9) + 1))
        values = [10.0 ** k for k in sorted(logs)]
        saved = self._sublabels
        self._sublabels = subs
        try:
            texts = [(v, self(v)) for v in values]
        finally:
            self._sublabels = saved
        texts = [(v, t) for v, t in texts if t]
        # powers of ten are the major ticks (their own font size), the others the minor ticks
        major = axis.majorTicks[0].label1.get_fontproperties()
        minor = axis.minorTicks[0].label1.get_fontproperties()
        scale = axis.figure.dpi / 72.0              # text_to_path measures in points
        gap = GAP_EM * max(major.get_size_in_points(), minor.get_size_in_points()) * scale
        prev = None
        for v, t in texts:
            prop = major if abs(math.log10(v) - round(math.log10(v))) < 1e-6 else minor
            w, h, _ = text_to_path.get_text_width_height_descent(t, prop, ismath=is_math_text(t))
            extent = (w if is_x else h) * scale
            pos = length * (math.log10(v) - lo) / (hi - lo)
            if prev is not None and pos - prev[0] < (extent + prev[1]) / 2 + gap:
                return False
            prev = (pos, extent)
        return True


def roomy_log_labels(fig) -> None:
    """Give every log axis of ``fig`` (secondary axes and colorbars included) whose minor ticks
    have matplotlib's default formatter a `RoomyLogFormatter`; other formatters are left alone."""
    todo, seen = list(fig.axes), set()
    while todo:
        ax = todo.pop()
        if id(ax) in seen:
            continue
        seen.add(id(ax))
        todo += list(getattr(ax, "child_axes", ()))
        for axis in (ax.xaxis, ax.yaxis):
            fmt = axis.get_minor_formatter()
            if type(fmt) is LogFormatterSciNotation:
                axis.set_minor_formatter(RoomyLogFormatter(
                    base=fmt._base, labelOnlyBase=fmt.labelOnlyBase,
                    minor_thresholds=fmt.minor_thresholds, linthresh=fmt._linthresh))
