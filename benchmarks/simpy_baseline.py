"""SimPy baseline of the Linux vmalloc lazy-purge mechanics.

Models ``ncpus`` CPUs each running a test_vmalloc ``fix_size``-style worker
(vmalloc(npages) then vfree, forever) against a global FIFO spinlock
``vmap_area_lock``, a list-era first-fit VA allocator, lazy freeing of areas
and a synchronous purge (under a trylock'd purge mutex) whose free loop may
yield ``vmap_area_lock`` according to a policy:

* ``"no-resched"``     - never yield the lock during the free loop;
* ``"always-resched"`` - yield whenever another process waits for the lock;
* ``"threshold"``      - like always-resched, but only while
  ``vmap_lazy_nr < threshold_factor * lazy_max_pages``.

This is the "model a user would otherwise write" baseline for
``benchmarks/bench_engine.py``: a plain, idiomatic SimPy model (one process per
CPU, ``simpy.Resource`` for locks, a sorted Python list + ``bisect`` for the
address space), neither deliberately slow nor hand-optimised.

Simplifications: time is integer ns; costs are fixed constants (no jitter
apart from a seeded start stagger); spinning is modelled as FIFO queueing on
a Resource (no cache-line effects, no preemption/IRQs); the allocator hint is
a simple ``free_vmap_cache``-like address (end of last allocation, moved back to
the start of an area the purge frees below it, as ``__free_vmap_area`` moves the
cache to ``rb_prev``); the purge list is LIFO like the kernel's llist; only one purge path (from vfree), no
purge-on-allocation-failure, no per-CPU/ per-node structures.
"""
import bisect
import random
import time

import simpy

# ---- cost constants (ns) ----
KMALLOC_NS = 150        # ns, vmap_area kmalloc before taking the lock
ALLOC_BASE_NS = 250     # ns, fixed cost of alloc_vmap_area under the lock
WALK_AREA_NS = 40       # ns, per busy area passed by the first-fit walk
MAP_PAGE_NS = 200       # ns, per data page mapped after the lock
LOOKUP_NS = 150         # ns, find_vmap_area under the lock in vfree
UNMAP_PAGE_NS = 150     # ns, per data page unmapped after the lock
FLUSH_WALK_NS = 137     # ns, per lazy entry walked in the purge (no lock)
TLB_FLUSH_BASE_NS = 200 # ns, TLB flush base cost ...
TLB_FLUSH_PER_CPU_NS = 20  # ns, ... plus this per CPU
FREE_AREA_NS = 223      # ns, per area freed in the purge free loop (locked)

VA_PAGES = 62_914_560   # pages, 240 GiB / 4 KiB vmalloc range
LAZY_MAX_PAGES = 32768  # pages, lazy_max_pages()
POLICIES = ("no-resched", "always-resched", "threshold")


class VmallocModel:
    def __init__(self, env, ncpus, policy, npages, lazy_max_pages,
                 threshold_factor, va_pages=VA_PAGES):
        if policy not in POLICIES:
            raise ValueError(f"unknown policy {policy!r}")
        self.env = env
        self.ncpus = ncpus
        self.policy = policy
        self.npages = npages
        self.lazy_max_pages = lazy_max_pages
        self.threshold_pages = threshold_factor * lazy_max_pages
        self.va_pages = va_pages
        self.lock = simpy.Resource(env, capacity=1)        # vmap_area_lock (FIFO)
        self.purge_mutex = simpy.Resource(env, capacity=1)  # vmap_purge_lock
        self.busy = []          # sorted list of (start, end) busy areas, pages
        self.hint = 0           # free_vmap_cache-like scan start
        self.lazy = []          # lazily freed areas awaiting purge
        self.vmap_lazy_nr = 0
        self.peak_lazy_pages = 0
        self.lock_waits = []    # ns waited per vmap_area_lock acquisition
        self.ops = 0
        self.purges = 0

    def acquire(self):
        """Request vmap_area_lock, record the wait; returns the request."""
        t0 = self.env.now
        req = self.lock.request()
        yield req
        self.lock_waits.append(self.env.now - t0)
        return req

    def first_fit(self, size):
        """Lowest-address fit starting at the hint; returns (start, walked)."""
        walked = 0
        for base in ((self.hint, 0) if self.hint else (0,)):
            i = bisect.bisect_left(self.busy, (base,))
            addr = base
            while i < len(self.busy):
                start, end = self.busy[i]
                if start - addr >= size:
                    break
                addr = end
                i += 1
                walked += 1
            if self.va_pages - addr >= size:
                self.busy.insert(i, (addr, addr + size))
                self.hint = addr + size
                return addr, walked
        raise RuntimeError("vmalloc address space exhausted")

    def vmalloc(self):
        env = self.env
        yield env.timeout(KMALLOC_NS)
        req = yield from self.acquire()
        area, walked = self.first_fit(self.npages + 1)  # + guard page
        yield env.timeout(ALLOC_BASE_NS + WALK_AREA_NS * walked)
        self.lock.release(req)
        yield env.timeout(MAP_PAGE_NS * self.npages)
        self.ops += 1
        return (area, area + self.npages + 1)

    def vfree(self, area):
        env = self.env
        req = yield from self.acquire()
        yield env.timeout(LOOKUP_NS)
        self.lock.release(req)
        yield env.timeout(UNMAP_PAGE_NS * self.npages)
        self.vmap_lazy_nr += area[1] - area[0]
        self.peak_lazy_pages = max(self.peak_lazy_pages, self.vmap_lazy_nr)
        self.lazy.append(area)
        if self.vmap_lazy_nr > self.lazy_max_pages and self.purge_mutex.count == 0:
            with self.purge_mutex.request() as m:  # trylock: free, so immediate
                yield m
                yield from self.purge()
        self.ops += 1

    def should_yield(self):
        if self.policy == "no-resched" or not self.lock.queue:
            return False
        if self.policy == "always-resched":
            return True
        return self.vmap_lazy_nr < self.threshold_pages

    def purge(self):
        env = self.env
        self.purges += 1
        lazy, self.lazy = self.lazy, []
        yield env.timeout(FLUSH_WALK_NS * len(lazy))
        yield env.timeout(TLB_FLUSH_BASE_NS + TLB_FLUSH_PER_CPU_NS * self.ncpus)
        req = yield from self.acquire()
        for area in reversed(lazy):  # llist_del_all gives newest first
            yield env.timeout(FREE_AREA_NS)
            del self.busy[bisect.bisect_left(self.busy, area)]
            self.vmap_lazy_nr -= area[1] - area[0]
            if area[0] < self.hint:
                self.hint = area[0]
            if self.should_yield():  # cond_resched_lock: go to the FIFO tail
                self.lock.release(req)
                req = yield from self.acquire()
        self.lock.release(req)

    def worker(self, start_delay):
        yield self.env.timeout(start_delay)
        while True:
            area = yield from self.vmalloc()
            yield from self.vfree(area)


def run_simpy(ncpus=8, duration_s=0.05, policy="always-resched", npages=3,
              lazy_max_pages=LAZY_MAX_PAGES, threshold_factor=2.0, seed=1) -> dict:
    rng = random.Random(seed)
    env = simpy.Environment()
    model = VmallocModel(env, ncpus, policy, npages, lazy_max_pages, threshold_factor)
    for _ in range(ncpus):
        env.process(model.worker(rng.randrange(1000)))  # stagger starts (ns)
    t0 = time.perf_counter()
    env.run(until=int(duration_s * 1e9))
    wall = time.perf_counter() - t0
    return {"ops": model.ops, "sim_ns": int(env.now), "wall_s": wall,
            "purges": model.purges, "peak_lazy_pages": model.peak_lazy_pages}


if __name__ == "__main__":
    # hikey960-like: 8 CPUs, fix_size test (3 pages), 0.05 simulated seconds.
    for pol in ("always-resched", "threshold"):
        r = run_simpy(ncpus=8, duration_s=0.05, policy=pol)
        print(f"{pol:15s} ops={r['ops']:8d} purges={r['purges']:4d} "
              f"peak_lazy={r['peak_lazy_pages']:7d} wall={r['wall_s']:.2f}s "
              f"ops/s={r['ops'] / r['wall_s']:,.0f}")
