"""Trace parsing speed: `vmlab.read_ftrace` on a large synthetic trace, streamed line by line.

Writes a synthetic ftrace text file into a temporary directory (default 256 MB; ``--mb`` from 200 to
1000): the shipped smp2 fix_size recording's event lines (scheduler-tick kprobe samples, purge and
drain kprobe/kretprobe pairs, trace_marker lines) repeated with advancing timestamps, under a
``# tracer: nop`` header whose entry count matches. Then it parses the file in a fresh process (so
the generator's memory does not count) and prints, last, exactly::

    RESULT trace_mb_per_s=<float> peak_rss_mb=<float>

* ``trace_mb_per_s``: file size (MB = 10^6 bytes) over the wall time of ``read_ftrace(path)``,
  tidy DataFrame included; the best of ``--repeat`` (2) parses, each in a fresh process;
* ``peak_rss_mb``: the parsing process's peak resident set (``resource.getrusage``, MiB), which
  includes the interpreter with numpy/pandas/numba imported (printed separately as the baseline).

``--tracepoints`` also measures a trace of the 6.2+ vmalloc tracepoints (alloc_vmap_area and
free_vmap_area_noflush per vmalloc/vfree, the other large-trace case); ``--gzip`` also measures the
same kprobe trace gzip-compressed. Run: ``.venv/bin/python benchmarks/bench_trace.py [--mb 256]``.
"""
from __future__ import annotations

import argparse
import gzip
import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
SRC = REPO / "data" / "kernel" / "raw" / "smp2" / "fix_size_trace.txt.gz"

PARSE = r"""
import json, resource, sys, time
from vmlab.trace import read_ftrace
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
t0 = time.perf_counter()
df = read_ftrace(sys.argv[1])
dt = time.perf_counter() - t0
print(json.dumps(dict(seconds=dt, rows=len(df), peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                      base_rss_mb=base, lazy_samples=int(df["vmap_lazy_nr"].notna().sum()))))
"""


def kprobe_trace(path: Path, target_bytes: int) -> int:
    """The shipped recording's event lines, repeated with advancing timestamps; returns the event count."""
    with gzip.open(SRC, "rt") as f:
        lines = [ln for ln in f if not ln.startswith("#")]
    parsed = []
    for ln in lines:
        pre, name, body = ln.split(": ", 2)
        head, _, ts = pre.rpartition(" ")
        sec, frac = ts.split(".")
        parsed.append((head + " ", int(sec) * 1_000_000 + int(frac), name + ": " + body))
    t_first = parsed[0][1]
    span = parsed[-1][1] - t_first + 1000
    per_round = sum(len(ln) for ln in lines)
    rounds = max(1, target_bytes // per_round)
    n = rounds * len(lines)
    with open(path, "w") as out:
        out.write(f"# tracer: nop\n#\n# entries-in-buffer/entries-written: {n}/{n}   #P:2\n#\n"
                  "#           TASK-PID     CPU#  |||||  TIMESTAMP  FUNCTION\n#              | |         |   |||||     |         |\n")
        for r in range(rounds):
            off = r * span
            out.write("".join(f"{h}{(t + off) // 1_000_000:5d}.{(t + off) % 1_000_000:06d}: {rest}"
                              for h, t, rest in parsed))
    return n


def tracepoint_trace(path: Path, target_bytes: int) -> int:
    """fix_size under the vmalloc tracepoints: alloc + free per loop on 2 CPUs, a purge per lazy_max."""
    rng = random.Random(1)
    t, lazy, va, n, size = 100_000_000, 0, 0xFFFFC90000000000, 0, 0
    with open(path, "w") as out:
        out.write("# tracer: nop\n#\n")
        buf = []
        while size < target_bytes:
            w = rng.randrange(2)
            t += rng.randrange(3, 9)
            buf.append(f"  vmalloc_test/{w}-{120 + w}   [00{w}] .....  {t // 1000000}.{t % 1000000:06d}: alloc_vmap_area: "
                       f"va_start: {va} size=8192 align=4096 vstart=0xffffc90000000000 vend=0xffffe8ffffffffff failed=0\n")
            lazy += 2
            t += rng.randrange(3, 9)
            buf.append(f"  vmalloc_test/{w}-{120 + w}   [00{w}] .....  {t // 1000000}.{t % 1000000:06d}: free_vmap_area_noflush: "
                       f"va_start=0x{va:x} nr_lazy={lazy} nr_lazy_max=16384\n")
            n += 2
            va += 8192
            if lazy > 16384:
                buf.append(f"     kworker/{w}:1-35      [00{w}] .....  {t // 1000000}.{t % 1000000:06d}: purge_vmap_area_lazy: "
                           f"start=0xffffc90000000000 end=0x{va:x} num_purged=1\n")
                n += 1
                lazy = 0
            if len(buf) >= 20000:
                chunk = "".join(buf)
                out.write(chunk)
                size += len(chunk)
                buf = []
        out.write("".join(buf))
    return n


def measure(path: Path, repeat: int = 1) -> dict:
    runs = [measure_once(path) for _ in range(max(1, repeat))]
    return min(runs, key=lambda r: r["seconds"])


def measure_once(path: Path) -> dict:
    p = subprocess.run([sys.executable, "-c", PARSE, str(path)], capture_output=True, text=True, check=True,
                       cwd=REPO)
    r = json.loads(p.stdout.strip().splitlines()[-1])
    r["mb"] = path.stat().st_size / 1e6
    r["mb_per_s"] = r["mb"] / r["seconds"]
    return r


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mb", type=float, default=256, help="size of the synthetic trace, MB (200-1000)")
    ap.add_argument("--tracepoints", action="store_true", help="also a 6.2+ tracepoint trace")
    ap.add_argument("--gzip", action="store_true", help="also the kprobe trace gzip-compressed")
    ap.add_argument("--repeat", type=int, default=2, help="parses per file; the fastest is reported")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="vmlab-bench-trace-") as tmp:
        tmp = Path(tmp)
        path = tmp / "kprobe_trace.txt"
        t0 = time.perf_counter()
        n = kprobe_trace(path, int(args.mb * 1e6))
        print(f"generated {path.stat().st_size / 1e6:.0f} MB, {n:,} events (kprobe recording like smp2 fix_size) "
              f"in {time.perf_counter() - t0:.1f} s")
        r = measure(path, args.repeat)
        assert r["rows"] == n, (r["rows"], n)
        print(f"kprobe trace: {r['mb']:.0f} MB in {r['seconds']:.2f} s = {r['mb_per_s']:.1f} MB/s, "
              f"{r['rows'] / r['seconds'] / 1e6:.2f} M events/s; peak RSS {r['peak_rss_mb']:.0f} MiB "
              f"(interpreter and imports {r['base_rss_mb']:.0f} MiB)")
        main_r = r
        if args.gzip:
            gz = tmp / "kprobe_trace.txt.gz"
            with open(path, "rb") as fi, gzip.open(gz, "wb", compresslevel=6) as fo:
                while chunk := fi.read(1 << 24):
                    fo.write(chunk)
            rg = measure(gz)
            print(f"same, gzip ({gz.stat().st_size / 1e6:.0f} MB compressed): {r['mb'] / rg['seconds']:.1f} MB/s of text, "
                  f"peak RSS {rg['peak_rss_mb']:.0f} MiB")
        path.unlink()
        if args.tracepoints:
            tp = tmp / "tracepoint_trace.txt"
            n = tracepoint_trace(tp, int(args.mb * 1e6))
            rt = measure(tp)
            assert rt["rows"] == n
            print(f"tracepoint trace: {rt['mb']:.0f} MB in {rt['seconds']:.2f} s = {rt['mb_per_s']:.1f} MB/s, "
                  f"peak RSS {rt['peak_rss_mb']:.0f} MiB")
    print(f"RESULT trace_mb_per_s={main_r['mb_per_s']:.1f} peak_rss_mb={main_r['peak_rss_mb']:.1f}")


if __name__ == "__main__":
    main()
