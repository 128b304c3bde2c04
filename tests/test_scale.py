"""Memory stays bounded: a long, wide run keeps histograms and samples, never one row per operation."""
from __future__ import annotations

import resource

from vmlab import SimConfig, simulate


def test_60s_64_cpu_stress_keeps_bounded_outputs():
    # RAM far above the board's 4 GB: at 64 CPUs pcpu_alloc_test alone backs 35 000 objects on
    # every CPU (~1.4 GB per thread), which is not what this test is about
    cfg = SimConfig.for_kernel("5.0+threshold", platform="hikey960", ncpus=64, workload="stress", duration_s=60,
                               ram_bytes=1 << 40)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    res = simulate(cfg)
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    s = res.summary
    assert s.sim_ns == 60_000_000_000 and not s.oom
    assert s.ops > 100_000
    # outputs scale with samples, purges, workers and tests, not with operations
    assert len(res.timeseries) == 60_001
    assert len(res.purges) < s.ops / 1000
    assert len(res.latency) == 5 and res.latency["count"].sum() > s.ops
    assert len(res.tests) <= 64 * 11
    out_bytes = sum(df.memory_usage(deep=True).sum() for df in (res.timeseries, res.purges, res.tests))
    assert out_bytes < 8 << 20
    # the run itself: 64 workers' held areas (full_fit holds 2 x 57344 pages each) and the
    # address space, well under a gigabyte
    assert grown_mb < 1024, grown_mb
