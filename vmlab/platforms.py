"""Platform presets: CPU count, memory, VMALLOC size and the cost constants of the model.

Every cost is in nanoseconds of CPU time on that platform and says where it came from. Three kinds of
source appear:

* **seed** - Rezki's HiKey960 figures in the 2019 thread (a full lazy list purge takes ~12 ms, ~4-5 ms
  of it in the flush-range loop), see ``docs/facts.md`` §4.A;
* **published** - other figures Rezki published: the KVA rework's cover letter ("[RESEND PATCH 0/3]
  improve vmap allocation", ``20190402162531.10888-1-urezki@gmail.com``: ``test_vmalloc.sh
  performance`` on the list and the tree kernel, i5-3320M and HiKey960) and the test driver's
  sample output (docs/facts.md §4.E, the i5-3320M on the tree kernel);
* **trace** - the Debian 6.1 recordings under QEMU TCG shipped in ``data/kernel/`` (test_vmalloc
  ``Summary:`` averages, purge durations);
* **estimate** - an order-of-magnitude figure for the operation on that class of CPU, chosen by the
  vmlab authors; these are the constants `vmlab.calibrate` (trace issue) is meant to replace.

The kernel's own numbers (page size, VMALLOC range, RAM) cite ``docs/facts.md``. ``docs/calibration.md``
lists every constant of hikey960 and x86-server with its source and the test (if any) that checks
it on data it was not fitted to.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace

GiB = 1 << 30
TiB = 1 << 40


@dataclass(frozen=True)
class Platform:
    """One machine: hardware facts plus the per-operation costs the engine charges (ns)."""

    name: str
    ncpus: int                  #: default CPU count
    ram_bytes: int              #: RAM; above it the run stops with ``oom=True``
    page_size: int              #: bytes
    vmalloc_start: int          #: VMALLOC_START, bytes (absolute, so large alignments fail as in the kernel)
    vmalloc_bytes: int          #: size of the VMALLOC range
    preempt: str                #: default preemption model: "full" or "voluntary"
    base_mem_bytes: int         #: memory in use before the test (kernel, user space), bytes
    thread_align_pages: int     #: THREAD_ALIGN << 1 in pages (fix_align_alloc_test's alignment)
    va_obj_bytes: int           #: slab object size of one struct vmap_area, bytes

    # --- costs, ns -------------------------------------------------------------------------
    kmalloc_va_ns: int          #: kmalloc of the vmap_area before taking the lock
    alloc_base_ns: int          #: alloc critical section without the walk: cache check, insert
    list_walk_area_ns: int      #: list era: per busy area walked in the address-sorted list
    tree_level_ns: int          #: augmented tree / rb-tree: per level descended
    lookup_ns: int              #: vfree's find_vmap_area under the lock, without the descent
    map_page_ns: int            #: per data page: page allocation plus PTE set
    unmap_page_ns: int          #: per data page: PTE clear plus page free
    lazy_add_ns: int            #: atomic add to vmap_lazy_nr plus purge-list insert
    lock_handoff_ns: int        #: a contended spinlock passing to the next waiter (cache line)
    purge_steal_ns: int         #: detaching the purge list (llist_del_all / list_replace_init)
    flush_walk_area_ns: int     #: flush-range loop, per purge-list entry (``flush_range="walk"``)
    tlb_flush_base_ns: int      #: flush_tlb_kernel_range above the ceiling: the flush of everything
    tlb_flush_cpu_ns: int       #: flush_tlb_kernel_range: per online CPU with IPIs (``tlb_flush_ipi``),
                                #: once for a broadcast (the wait for every CPU's acknowledgement)
    tlb_flush_page_ns: int      #: flush_tlb_kernel_range up to the ceiling: per page of the span
    tlb_ceiling_pages: int      #: span (pages) above which flush_tlb_kernel_range flushes everything
    tlb_flush_ipi: bool         #: True: the flush interrupts every CPU and waits (x86 on_each_cpu), so
                                #: the other CPUs lose the flush time too; False: broadcast TLBI (arm64)
    free_area_ns: int           #: purge free loop, per entry: erase/merge, kfree, atomic sub
    ctxsw_ns: int               #: context switch
    wakeup_ns: int              #: wake-up to running of a sleeping task (kworker, mutex waiter)
    slice_ns: int               #: CFS time slice when a CPU has more than one runnable task
    touch_ns: int               #: the test writing one byte into the area
    pcpu_op_ns: int             #: one __alloc_percpu or free_percpu (pcpu_alloc_test)
    pcpu_obj_bytes: int         #: percpu backing per pcpu_alloc_test object and CPU, bytes: the mean
                                #: size (1..PAGE_SIZE/4, ~512 B) plus alignment padding (align 2..2048)
    rcu_delay_ns: int           #: kvfree_rcu: delay until the area is actually vfree'd
    host_slice_ns: int = 4_000_000  #: overcommitted guest (SimConfig.host_cpus): how long the host runs
                                #: one vCPU thread before the next one on its core. Estimate for a
                                #: host kernel with HZ=250: CFS preempts a running task at a tick
                                #: (4 ms) once it used its share, and two vCPU threads get 3-12 ms each
                                #: (sched_latency 6 ms x (1 + log2 of the host's CPUs, at most 8) / 2;
                                #: EEVDF's base slice is 3 ms); not measured on any host
    guest_spinlock: str = "queued"  #: the guest kernel's spinlock under host_cpus: "queued" (qspinlock:
                                #: FIFO hand-off, also to a descheduled waiter; bare metal, or a guest
                                #: whose hypervisor has no CPUID hypervisor bit) or "test-and-set" (x86
                                #: virt_spin_lock: a guest that sees the hypervisor bit and has no
                                #: paravirt spinlocks, e.g. QEMU TCG; docs/facts.md §6)

    def to_dict(self) -> dict:
        return asdict(self)

    def with_costs(self, **changes) -> "Platform":
        """A copy with some constants changed (e.g. a fitted platform from `calibrate`)."""
        unknown = set(changes) - {f.name for f in fields(self)}
        if unknown:
            raise ValueError(f"Platform has no field(s) {sorted(unknown)}")
        return replace(self, **changes)


#: HiKey960 (Kirin 960: 4x A73 @ 2.36 GHz + 4x A53 @ 1.84 GHz), the seed's board, Linaro 4.x
#: kernels with CONFIG_PREEMPT (Android). The alloc/free path costs marked "estimate" are checked
#: together, not one by one, by the tree kernel's published performance-mode total (80.5 us per loop
#: of all tests; the model gives 74.9); docs/calibration.md has the table of sources and checks.
HIKEY960 = Platform(
    name="hikey960",
    ncpus=8,                           # docs/facts.md §5: hi3660.dtsi, 8 cores
    ram_bytes=4 * GiB,                 # seed: Rezki's "ARM 8 cores with 4Gb" (96Boards manual says 3 GB)
    page_size=4096,                    # arm64 with 4 KiB pages
    vmalloc_start=0xFFFFFF8008000000,  # docs/facts.md §5: arm64 39-bit layout (3.10-era memory.txt)
    vmalloc_bytes=240 * GiB,           # docs/facts.md §5: 39-bit VA layout ~240 GB vmalloc (VA_BITS unconfirmed)
    preempt="full",                    # Android kernels: CONFIG_PREEMPT
    base_mem_bytes=1 * GiB,            # estimate: Android user space plus kernel at idle
    thread_align_pages=16,             # arm64 VMAP_STACK: THREAD_ALIGN = 2*16 KiB, <<1 = 64 KiB
    va_obj_bytes=128,                  # struct vmap_area (~96 B in 5.0) in kmalloc-128
    kmalloc_va_ns=120,                 # estimate (slab fast path on A53/A73)
    alloc_base_ns=200,                 # estimate
    list_walk_area_ns=110,             # published: the cover letter's performance run took 7.5x as long on
                                       #   the list kernel as on the tree one (3 478 683 207 vs 463 767 978
                                       #   ticks); at the model's walk count (1M loops) that is 110 ns per
                                       #   area stepped over, ~200 cycles of the A53 that runs CPU0: a
                                       #   cache miss per vmap_area (was 15, an estimate)
    tree_level_ns=15,                  # estimate
    lookup_ns=100,                     # estimate
    map_page_ns=250,                   # estimate: alloc_page + PTE
    unmap_page_ns=150,                 # estimate
    lazy_add_ns=50,                    # estimate
    lock_handoff_ns=80,                # estimate: cross-cluster cache-line transfer
    purge_steal_ns=100,                # estimate
    flush_walk_area_ns=110,            # the same access as list_walk_area_ns: one dependent load of a
                                       #   vmap_area per llist entry (was 137 = 4.5 ms / 32768, a reading of
                                       #   the seed that docs/calibration.md retracts); the seed's 4-5 ms walk
                                       #   then means ~40 000 entries: tests/test_magnitudes.py
    tlb_flush_base_ns=10_000,          # estimate: flush_tlb_all, one TLBI VMALLE1IS broadcast and the DSB
    tlb_flush_cpu_ns=2_000,            #   that waits for it, charged once (v6.1.192/arch/arm64/include/asm/
                                       #   tlbflush.h:258-263); the seed's purges are per-entry loops and
                                       #   cannot show it (was 275 + 25 us, the retracted reading's residual)
    tlb_flush_page_ns=30,              # estimate: one broadcast TLBI VAALE1IS per page
    tlb_ceiling_pages=512,             # arm64 flush_tlb_kernel_range: MAX_TLBI_OPS = PTRS_PER_PTE
    tlb_flush_ipi=False,               # arm64: TLBI ...IS broadcast in hardware, no IPIs
                                       #   (v6.1.192/arch/arm64/include/asm/tlbflush.h)
    free_area_ns=220,                  # estimate: two misses per entry at flush_walk_area_ns (the entry
                                       #   again, its busy-tree and list neighbours in __free_vmap_area);
                                       #   the seed's walk share (4-5 of 12 ms) checks the ratio
    ctxsw_ns=4_000,                    # estimate
    wakeup_ns=10_000,                  # estimate
    slice_ns=3_000_000,                # CFS: 6 ms sched_latency shared by two tasks
    touch_ns=20,                       # estimate
    pcpu_op_ns=400,                    # estimate
    pcpu_obj_bytes=640,                # estimate: ~512 B mean size + ~128 B alignment padding
    rcu_delay_ns=25_000_000,           # KFREE_DRAIN_JIFFIES (HZ/50 = 20 ms) plus a grace period
)

#: The emulated x86 guest of the shipped 6.1 recordings (QEMU TCG, Debian 6.1 PREEMPT_VOLUNTARY).
#: Durations are those of software emulation, roughly 10x native. The "calibrate()" constants are
#: `vmlab.calibrate(load_kernel_run("data/kernel/raw/smp2", run="fix_size"), <the earlier estimates>)`
#: rounded to 3 digits: it scaled the seven alloc/free path costs by 0.967 (their split across the
#: path stays an estimate) and the fixed purge cost by 1.735. When the TLB flush became range or
#: full (by the purge's span), the fixed purge cost was split anew and calibrate() run again:
#: alloc/free x1.016, fixed purge cost x1.147. Since calibrate() compares purge durations cluster by
#: cluster (big drains: a full flush; small ones: a range flush) and fits the full flush apart from
#: the IPI round and list steal, it was run once more on smp2 fix_size alone (QEMU_TCG_FITTED_ON;
#: smp2r3, smp2r4 and the rest are held out by vmlab.validation): alloc/free x0.975, full TLB flush
#: x1.000, IPI round and list steal x0.917.
QEMU_TCG = Platform(
    name="qemu-tcg",
    ncpus=2,                           # trace: smp2 runs
    ram_bytes=2 * GiB,                 # trace: qemu -m 2G
    page_size=4096,
    vmalloc_start=0xFFFFC90000000000,  # docs/facts.md §5: x86_64 4-level vmalloc_base
    vmalloc_bytes=32 * TiB,            # docs/facts.md §5: x86_64 4-level vmalloc space
    preempt="voluntary",               # trace: "Dynamic Preempt: voluntary"
    base_mem_bytes=100 * (1 << 20),    # trace: MemFree ~1.91 GB of 2 GB before the test
    thread_align_pages=8,              # x86_64: THREAD_ALIGN = 16 KiB, <<1 = 32 KiB
    va_obj_bytes=64,                   # struct vmap_area in kmalloc-64 / vmap_area_cachep (6.1)
    kmalloc_va_ns=1_150,               # trace: calibrate() on smp2 fix_size (alloc/free factor; the Summary
    alloc_base_ns=1_910,               #   avg times alloc + free together: the split is an estimate)
    list_walk_area_ns=300,             # estimate (list era not recorded)
    tree_level_ns=115,                 # trace: calibrate() on smp2 fix_size (alloc/free factor)
    lookup_ns=1_150,                   # trace: calibrate() on smp2 fix_size (alloc/free factor)
    map_page_ns=2_860,                 # trace: calibrate() on smp2 fix_size (alloc/free factor)
    unmap_page_ns=1_910,               # trace: calibrate() on smp2 fix_size (alloc/free factor)
    lazy_add_ns=574,                   # trace: calibrate() on smp2 fix_size (alloc/free factor)
    lock_handoff_ns=1_000,             # estimate: TCG vCPU threads on 2 host cores
    purge_steal_ns=3_650,              # trace: calibrate() on smp2 fix_size (fixed purge cost factor)
    flush_walk_area_ns=1_400,          # estimate (6.1 keeps the range at insert: unused by for_kernel("6.1"),
                                       #   so calibrate() cannot fit it from the 6.1 recordings)
    tlb_flush_base_ns=120_000,         # trace: calibrate() on smp2 fix_size: the full TLB flush knob fits
    tlb_flush_cpu_ns=30_000,           #   the median big drain (16 k pages, above the ceiling: 185 us), the
                                       #   fixed purge cost knob (IPI round per vCPU, list steal) the median
                                       #   small one (6 pages, a range flush: 69 us)
    tlb_flush_page_ns=500,             # estimate: an emulated INVLPG per page and vCPU
    tlb_ceiling_pages=33,              # x86 tlb_single_page_flush_ceiling (arch/x86/mm/tlb.c)
    tlb_flush_ipi=True,                # x86: on_each_cpu(..., wait=1) (v6.1.192/arch/x86/mm/tlb.c)
    free_area_ns=2_500,                # estimate: calibrate() finds it not identifiable from the 6.1 runs
                                       #   (one merged purge-list entry per fix_size purge)
    ctxsw_ns=20_000,                   # estimate
    wakeup_ns=50_000,                  # estimate
    slice_ns=4_000_000,                # HZ=250 tick
    touch_ns=200,                      # estimate
    pcpu_op_ns=4_000,                  # estimate
    pcpu_obj_bytes=640,                # estimate: ~512 B mean size + ~128 B alignment padding
    rcu_delay_ns=40_000_000,           # estimate
    host_slice_ns=4_000_000,           # trace: fitted on smp8 fix_size alone (8 vCPUs on the 2 host cores,
                                       #   host_cpus=2; QEMU_TCG_HOST_FITTED_ON), the only constant fitted
                                       #   there: a grid of 30 us-12 ms, least mean squared log ratio of the
                                       #   big drains' count, peak vmap_lazy_nr / lazy_max_pages, median big
                                       #   drain duration and test time (`vmlab.validation.fit_host_slice`).
                                       #   The argmin is the a-priori HZ=250 estimate (Platform's default), a
                                       #   real host slice, once two guest mechanisms are modelled: the
                                       #   test-and-set lock (below) and the TLB flush's wait for every vCPU to
                                       #   run its IPI handler. Without them the fit was 30 us (not a slice)
                                       #   and the test ran 30-40x too long at any real slice. Other
                                       #   constants: smp2 fix_size
    guest_spinlock="test-and-set",     # a 6.1 x86 guest of QEMU (hypervisor bit, no paravirt spinlocks)
                                       #   takes virt_spin_lock (docs/facts.md §6)
)
#: The recordings (tag/run under data/kernel/raw) calibrate() fitted QEMU_TCG on; `vmlab.validation`
#: holds every other recording out as evidence.
QEMU_TCG_FITTED_ON = ("smp2/fix_size",)
#: The recording QEMU_TCG's host_slice_ns (and nothing else) was fitted on: smp8 long_busy is held out.
QEMU_TCG_HOST_FITTED_ON = ("smp8/fix_size",)

#: A generic x86_64 server with a recent kernel (native speed). Its CPU count, memory and purge costs
#: are estimates for a server; its alloc/free path costs and list walk come from Rezki's i5-3320M
#: (a laptop at 2.6 GHz, the only native x86 with published test_vmalloc figures).
X86_SERVER = Platform(
    name="x86-server",
    ncpus=32,                          # estimate: a two-socket server
    ram_bytes=64 * GiB,                # estimate
    page_size=4096,
    vmalloc_start=0xFFFFC90000000000,  # docs/facts.md §5: x86_64 4-level vmalloc_base
    vmalloc_bytes=32 * TiB,            # docs/facts.md §5: x86_64 4-level vmalloc space
    preempt="voluntary",               # distribution kernels
    base_mem_bytes=2 * GiB,            # estimate
    thread_align_pages=8,              # x86_64: 16 KiB << 1
    va_obj_bytes=64,
    kmalloc_va_ns=77,                  # published (docs/facts.md §4.E, tree kernel): fitted to fix_size 0.90 and
    alloc_base_ns=128,                 #   random_size 6.08 us per loop, 1 CPU: the call costs (these four)
    list_walk_area_ns=11,              #   x1.28 and the page costs x0.33 of the earlier estimates, whose
    tree_level_ns=8,                   #   split stays an estimate; long_busy (not fitted) 12.4 vs 11.8 us.
    lookup_ns=64,                      # list_walk_area_ns: published: the cover letter's performance run
    map_page_ns=67,                    #   took 3.35x as long on the list kernel (646 919 905 370 vs
    unmap_page_ns=40,                  #   193 290 498 550 cycles); at the model's walk count 11 ns per
    lazy_add_ns=38,                    #   area, ~30 cycles at 2.6 GHz: an L2/L3 hit (was 25, an estimate)
    lock_handoff_ns=120,               # estimate: cross-socket cache-line transfer
    purge_steal_ns=50,
    flush_walk_area_ns=60,             # estimate
    tlb_flush_base_ns=20_000,          # estimate: flush_tlb_all IPI round
    tlb_flush_cpu_ns=2_000,            # estimate
    tlb_flush_page_ns=100,             # estimate: INVLPG on each CPU, in parallel
    tlb_ceiling_pages=33,              # x86 tlb_single_page_flush_ceiling (arch/x86/mm/tlb.c)
    tlb_flush_ipi=True,                # x86: on_each_cpu(..., wait=1) (v6.1.192/arch/x86/mm/tlb.c)
    free_area_ns=100,                  # estimate
    ctxsw_ns=2_000,
    wakeup_ns=5_000,
    slice_ns=3_000_000,
    touch_ns=10,
    pcpu_op_ns=150,
    pcpu_obj_bytes=640,                # estimate: ~512 B mean size + ~128 B alignment padding
    rcu_delay_ns=25_000_000,
)

PLATFORMS: dict[str, Platform] = {p.name: p for p in (HIKEY960, QEMU_TCG, X86_SERVER)}


def get_platform(name_or_platform) -> Platform:
    """Look a preset up by name (a `Platform` passes through)."""
    if isinstance(name_or_platform, Platform):
        return name_or_platform
    try:
        return PLATFORMS[name_or_platform]
    except (KeyError, TypeError):
        raise ValueError(
            f"platform={name_or_platform!r} is not known; allowed: {sorted(PLATFORMS)}"
        ) from None
