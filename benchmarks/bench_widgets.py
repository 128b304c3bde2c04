"""Slider-to-figure latency of the explore panel, measured in a real browser.

Drives the same session as ``tests/test_browser.py`` (JupyterLab on 127.0.0.1 + Debian's Chromium
through Playwright, a temporary copy of ``notebooks/01-explore.ipynb``): runs all cells, then moves
the threshold slider with the keyboard ``--moves`` times (default 12; right, and back left once the
slider nears its end) and times, inside the page, each key press to the moment the figure's image
changes. The model's own share (simulate + draw, from the panel's status line) is printed per move.

    .venv/bin/python benchmarks/bench_widgets.py [--moves 12]

Last line: ``RESULT slider_p50_s=<f> slider_max_s=<f>``.
"""
from __future__ import annotations

import argparse
import re
import statistics
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

from test_browser import LabSession, browser_missing  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--moves", type=int, default=12, help="slider moves to time (>= 10)")
    a = ap.parse_args(argv)
    if a.moves < 10:
        ap.error("--moves must be at least 10")
    why = browser_missing()
    if why:
        print(f"bench_widgets: cannot run: {why}", file=sys.stderr)
        return 2
    lat = []
    with LabSession(artifacts=REPO / "benchmarks" / "out") as s:
        s.open_notebook()
        s.run_all()
        print(f"lab start {s.timings['lab_start_s']:.1f} s, notebook open {s.timings['open_s']:.1f} s, "
              f"run all to figure {s.timings['run_all_s']:.1f} s")
        s.install_probe()
        key = "ArrowRight"
        for i in range(a.moves):
            value = s.slider_value()
            if key == "ArrowRight" and float(value.replace(",", "")) >= 32:
                key = "ArrowLeft"
            t = s.move_slider(key)
            lat.append(t)
            m = re.search(r"model ([\d.]+) s, figure ([\d.]+) s", s.status_text())
            inner = f"(kernel: model {m.group(1)} s + figure {m.group(2)} s)" if m else ""
            print(f"move {i + 1:2d}: threshold {value:>6} -> {s.slider_value():>6}  {t:.3f} s {inner}")
        s.screenshot("bench-last")
    p50 = statistics.median(lat)
    print(f"RESULT slider_p50_s={p50:.3f} slider_max_s={max(lat):.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
