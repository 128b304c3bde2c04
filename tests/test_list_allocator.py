"""The list era's allocator (<= 5.1): as slow as the kernel's, for the kernel's reason.

Why the list allocator was replaced (the KVA rework cover letter, "[RESEND PATCH 0/3] improve vmap
allocation", 2 Apr 2019, ``20190402162531.10888-1-urezki@gmail.com``): in ``test_vmalloc.sh
performance`` (one CPU, sequential, 3 repeats, 1 000 000 loops) the whole run took
646 919 905 370 cycles on the list kernel against 193 290 498 550 patched on an i5-3320M
(3.35x), and 3 478 683 207 against 463 767 978 on the HiKey960 (7.5x), "Take a look at time
difference in long_busy_list_alloc_test. It is not surprising because the worst case is O(N)."

The mechanism (v5.0.1/mm/vmalloc.c:441-498, :557-571): ``alloc_vmap_area`` walks the busy list
from the ``free_vmap_cache`` hint; a walk that steps over a hole too small for its request raises
``cached_hole_size``, and the next *smaller* request drops the hint and walks from VMALLOC_START
across every busy and lazy area below the first hole that fits. long_busy_list_alloc_test
alternates 101-page and 2-page requests (guard pages included) above 15 000 held areas, in a range
that the earlier tests (and its own earlier repetitions) left full of holes: thousands of areas
per call.

Here: (1) the engine's list era against an exact reimplementation of that algorithm (a few dozen
lines below, written from the kernel's logic, one task, synchronous purge) on the same call
sequence: the same number of hint-less searches and the same number of areas walked (the engine
estimates the count, within 1 %); (2) the list era several times slower than the tree on
long_busy and on the whole performance run, on hikey960 and x86-server, more so on the HiKey.
The per-area walk cost of each platform is fitted to the cover letter's ratio at 1 000 000 loops
(docs/calibration.md), so (2) at the published loop count checks that fit and the ordering, and
only the fast test at another loop count and the tree-era totals are checks on data not fitted.
"""
from __future__ import annotations

import bisect

import pytest

from vmlab import SimConfig

pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning")   # for_kernel("5.1"): the real 5.1

GUARD = 1


class ListAllocator:
    """v5.0.1's busy-list allocator and lazy purge for one task, exactly (pages, not bytes).

    ``alloc``: drop the hint when the request is smaller than cached_hole_size or less aligned
    than cached_align (or there is none); start after the hint, or at vstart after a tree
    descent to the lowest area ending at or after it; step over busy areas while the request
    does not fit before the next one, recording the largest hole stepped over; insert; the new
    area is the hint. ``vfree``: add to vmap_lazy_nr and the lazy list, purge above lazy_max.
    ``purge``: newest first; each freed area at or below the hint moves the hint to the area
    before it (none if it was the lowest), cached_hole_size untouched.
    """

    def __init__(self, lazy_max: int, vstart: int = 1 << 20):
        self.starts: list[int] = []          # busy + lazy areas, sorted
        self.end: dict[int, int] = {}
        self.hint = None                     # start of the free_vmap_cache area
        self.hole = 0                        # cached_hole_size
        self.align = 1                       # cached_align
        self.lazy: list[int] = []
        self.lazy_nr = 0
        self.lazy_max = lazy_max
        self.vstart = vstart
        self.walked = 0                      # areas stepped over between start and fit
        self.descents = 0                    # searches without a usable hint

    def alloc(self, size: int, align: int = 1) -> int:
        if self.hint is None or size < self.hole or align < self.align:
            self.hint, self.hole = None, 0
        self.align = align
        up = lambda x: -(-x // align) * align          # noqa: E731
        if self.hint is not None:
            i = bisect.bisect_left(self.starts, self.hint)
            addr = up(self.end[self.hint])
            i += 1                                     # the hint's own node is not stepped over
        else:
            self.descents += 1
            addr = up(self.vstart)
            i = bisect.bisect_left(self.starts, addr)
            if i > 0 and self.end[self.starts[i - 1]] >= addr:
                i -= 1
        while i < len(self.starts) and addr + size > self.starts[i]:
            self.walked += 1
            self.hole = max(self.hole, self.starts[i] - addr)
            addr = up(self.end[self.starts[i]])
            i += 1
        bisect.insort(self.starts, addr)
        self.end[addr] = addr + size
        self.hint = addr
        return addr

    def vfree(self, a: int) -> None:
        self.lazy.append(a)
        self.lazy_nr += self.end[a] - a
        if self.lazy_nr > self.lazy_max:
            for x in reversed(self.lazy):
                if self.hint is not None and x <= self.hint:
                    i = bisect.bisect_left(self.starts, x)
                    self.hint = self.starts[i - 1] if i > 0 else None
                del self.starts[bisect.bisect_left(self.starts, x)]
                self.lazy_nr -= self.end.pop(x) - x
            self.lazy = []


def run_reference(loops: int, repeats: int, lazy_max: int, junk: int, fix_pages: int = 3) -> ListAllocator:
    """fix_size, full_fit and long_busy_list, sequential, as v5.1.15/lib/test_vmalloc.c runs them."""
    k = ListAllocator(lazy_max)
    arr = lambda n: (n * 8 + 4095) // 4096 + GUARD    # noqa: E731  (vmalloc(sizeof(void *) * n))
    for _ in range(repeats):
        for _ in range(loops):
            k.vfree(k.alloc(fix_pages + GUARD))
    for _ in range(repeats):
        ptr, junk_ptr = k.alloc(arr(junk)), k.alloc(arr(junk))
        held, junks = [], []
        for _ in range(junk):
            held.append(k.alloc(1 + GUARD))
            junks.append(k.alloc(1 + GUARD))
        for a in junks:
            k.vfree(a)
        for _ in range(loops):
            k.vfree(k.alloc(1 + GUARD))
        for a in held:
            k.vfree(a)
        k.vfree(ptr)
        k.vfree(junk_ptr)
    for _ in range(repeats):
        ptr = k.alloc(arr(15000))
        held = [k.alloc(1 + GUARD) for _ in range(15000)]
        for _ in range(loops):
            p1, p2 = k.alloc(100 + GUARD), k.alloc(1 + GUARD)
            k.vfree(p1)
            k.vfree(p2)
        for a in held:
            k.vfree(a)
        k.vfree(ptr)
    return k


def test_engine_walks_as_the_kernel_algorithm_does(sim):
    loops, repeats = 1000, 2
    cfg = SimConfig.for_kernel("5.0", platform="hikey960", ncpus=1, nr_threads=1, sequential_test_order=True,
                               workload=("fix_size_alloc_test", "full_fit_alloc_test", "long_busy_list_alloc_test"),
                               test_loop_count=loops, test_repeat_count=repeats, duration_s=600, seed=1)
    r = cfg.resolved()
    s = sim(cfg).summary
    assert bool(sim(cfg).tests.complete.all())
    ref = run_reference(loops, repeats, lazy_max=r.lazy_max_pages, junk=r.lazy_max_pages)
    # the earlier tests leave holes: hundreds of hint-less searches, thousands of areas per call
    assert ref.descents > 300 and ref.walked > 1000 * loops
    assert s.alloc_cache_resets == ref.descents
    assert abs(s.alloc_walk_areas - ref.walked) <= 0.01 * ref.walked, (s.alloc_walk_areas, ref.walked)


def test_long_busy_alone_walks_nothing_until_holes_appear(sim):
    """The cost comes from the holes: one repetition in an empty range (the model has no other
    vmalloc users) keeps its hint; the second starts among the first one's leftovers."""
    base = dict(platform="hikey960", ncpus=1, nr_threads=1, workload="long_busy_list_alloc_test",
                test_loop_count=2000, duration_s=600, seed=1)
    once = sim(SimConfig.for_kernel("5.0", test_repeat_count=1, **base)).summary
    twice = sim(SimConfig.for_kernel("5.0", test_repeat_count=2, **base)).summary
    assert once.alloc_cache_resets <= 1 and once.alloc_walk_areas < 10 * 2000
    assert twice.alloc_cache_resets > 100 and twice.alloc_walk_areas > 1000 * 2000


def _perf(sim, kernel, platform, loops):
    res = sim(SimConfig.for_kernel(kernel, platform=platform, ncpus=1, workload="performance",
                                   test_loop_count=loops, duration_s=80_000, seed=1,
                                   sample_interval_ns=10**9))
    assert bool(res.tests.complete.all()) and res.summary.alloc_failures == (0 if kernel == "5.0" else 3)
    return res.tests.groupby("test").avg_usec.sum()


@pytest.mark.parametrize("loops", [5000])
def test_long_busy_is_several_times_slower_on_the_list(sim, loops):
    """At a loop count the constants were not fitted at: long_busy several times slower on the
    list kernels than on 5.2, and more so on the HiKey (a cache miss per area) than on x86."""
    ratio = {}
    for plat in ("hikey960", "x86-server"):
        tree = _perf(sim, "5.2", plat, loops)
        assert (tree.groupby(level=0).size() == 1).all()
        for kernel in ("5.0", "5.1"):
            lst = _perf(sim, kernel, plat, loops)
            ratio[plat, kernel] = lst["long_busy_list_alloc_test"] / tree["long_busy_list_alloc_test"]
            assert ratio[plat, kernel] >= 3, (plat, kernel, ratio[plat, kernel])
            # the tests before long_busy barely change: the difference is the walk
            assert lst["fix_size_alloc_test"] < 1.2 * tree["fix_size_alloc_test"]
    assert ratio["hikey960", "5.1"] > 1.5 * ratio["x86-server", "5.1"], ratio


@pytest.mark.slow
def test_published_performance_totals(sim):
    """The cover letter's runs: 1 000 000 loops, the whole performance mode (5.1 and 5.2 run the
    same eight cases). Total and long_busy several times slower on the list, more on the HiKey.
    The HiKey's tree-era total (get_cycles() there counts the 1.92 MHz architected timer:
    463 767 978 / 1.92 MHz / 3 repeats = 80.5 us per loop) is a check on constants not fitted
    to it (its alloc/free path costs are estimates); x86-server's alloc/free path costs are
    fitted to two of the i5-3320M's tree-era tests (docs/facts.md §4.E: fix_size and random_size), so its
    total is half a check and its long_busy (11 775 763 us per 1M loops there) a whole one."""
    loops = 1_000_000
    out = {}
    for plat, published_tree_us in (("hikey960", 463_767_978 / 1.92e6 / 3), ("x86-server", 193_290_498_550 / 2.6e9 / 3)):
        tree, lst = _perf(sim, "5.2", plat, loops), _perf(sim, "5.1", plat, loops)
        assert abs(tree.sum() - published_tree_us * 1e6) <= 0.25 * published_tree_us * 1e6, (plat, tree.sum() / loops)
        if plat == "x86-server":
            assert abs(tree["long_busy_list_alloc_test"] - 11_775_763) <= 0.25 * 11_775_763
        out[plat] = (lst.sum() / tree.sum(),
                     lst["long_busy_list_alloc_test"] / tree["long_busy_list_alloc_test"])
        assert min(out[plat]) >= 3, (plat, out[plat])
    assert out["hikey960"][0] > 1.5 * out["x86-server"][0], out
