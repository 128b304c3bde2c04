"""SimConfig: validation, kernel presets, lazy_max_pages resolution, workload modes, immutability."""
from __future__ import annotations

import dataclasses
import math
import re

import pytest

from vmlab import KERNELS, SimConfig, kernel_formula_lazy_max_pages
from vmlab.workloads import TEST_IDS


# --------------------------------------------------------------------------- validation
# (field, bad value, a word of "what is allowed" that the message must show)
BAD_VALUES = [
    ("ncpus", 0, "1024"),
    ("ncpus", 1025, "1024"),
    ("policy", "sometimes-resched", "always-resched"),
    ("platform", "raspberry-pi", "hikey960"),
    ("threshold_factor", -1, "allowed"),
    ("threshold_factor", float("nan"), "allowed"),
    ("lazy_max_pages", 0, "allowed"),
    ("lazy_max_pages", -5, "allowed"),
    ("workload", "sanity", "stress"),            # docs/facts.md §3: there is no "sanity" mode
    ("workload", "nosuch_test", "fix_size_alloc_test"),
    ("duration_s", 0, "allowed"),
    ("duration_s", -1, "allowed"),
    ("purge_mode", "lazy", "deferred"),
    ("allocator", "slab", "augmented-tree"),
    ("flush_range", "never", "at-insert"),
    ("preempt", "rt", "voluntary"),
]


@pytest.mark.parametrize("field,value,allowed_word", BAD_VALUES,
                         ids=[f"{f}={v!r}" for f, v, _ in BAD_VALUES])
def test_bad_value_raises_valueerror_naming_field_and_value(field, value, allowed_word):
    with pytest.raises(ValueError) as ei:
        SimConfig(**{field: value})
    msg = str(ei.value)
    assert re.search(rf"\b{re.escape(field)}\b", msg), f"message does not name the field: {msg!r}"
    assert repr(value) in msg or str(value) in msg, f"message does not show the value {value!r}: {msg!r}"
    assert allowed_word in msg, f"message does not say what is allowed ({allowed_word!r}): {msg!r}"


@pytest.mark.parametrize("version,overrides", [
    ("4.9", dict(ncpus=0)),
    ("6.1", dict(workload="sanity")),
    ("5.0+threshold", dict(threshold_factor=-0.5)),
])
def test_for_kernel_overrides_are_validated_too(version, overrides):
    (field, value), = overrides.items()
    with pytest.raises(ValueError, match=re.escape(field)):
        SimConfig.for_kernel(version, **overrides)


def test_valid_defaults_construct():
    cfg = SimConfig()
    assert cfg.platform == "hikey960"
    assert cfg.policy == "threshold" and cfg.threshold_factor == 2.0


# --------------------------------------------------------------------------- for_kernel
# The era presets themselves (every cell, with its kernel line) are pinned in test_eras.py.


def test_current_test_set_has_every_case():
    wl = SimConfig(workload="stress", test_set="current").resolved().workload
    assert wl.run_test_mask == (1 << 11) - 1 and "vm_map_ram_test" in wl.tests


def test_for_kernel_unknown_version():
    with pytest.raises(ValueError, match=r"4\.4"):
        SimConfig.for_kernel("4.4")
    with pytest.raises(ValueError):
        SimConfig.for_kernel("5.10")


def test_for_kernel_overrides_pass_through():
    cfg = SimConfig.for_kernel("5.0+threshold", platform="hikey960", ncpus=8, workload="stress")
    assert (cfg.platform, cfg.ncpus, cfg.workload) == ("hikey960", 8, "stress")
    assert cfg.policy == "threshold" and cfg.allocator == "list"
    # an override may also replace a field of the preset itself
    cfg = SimConfig.for_kernel("5.0+threshold", policy="no-resched", duration_s=0.5, seed=7, lazy_max_pages=100)
    assert (cfg.policy, cfg.duration_s, cfg.seed, cfg.lazy_max_pages) == ("no-resched", 0.5, 7, 100)
    assert cfg.allocator == "list" and cfg.purge_mode == "sync"


# --------------------------------------------------------------------------- lazy_max_pages
# docs/facts.md §1.1: fls(num_online_cpus()) * 32 MiB / 4 KiB
LAZY_MAX_TABLE = {1: 8192, 2: 16384, 3: 16384, 4: 24576, 7: 24576, 8: 32768, 16: 40960, 64: 57344}


@pytest.mark.parametrize("ncpus,pages", list(LAZY_MAX_TABLE.items()))
def test_lazy_max_pages_default_is_the_kernel_formula(ncpus, pages, sim):
    assert kernel_formula_lazy_max_pages(ncpus) == pages
    cfg = SimConfig(platform="qemu-tcg", ncpus=ncpus, workload="fix_size", lazy_max_pages=None,
                    duration_s=2e-5, seed=0)
    assert cfg.resolved().lazy_max_pages == pages
    res = sim(cfg)
    assert res.summary.lazy_max_pages == pages
    assert res.summary.resched_threshold_pages == 2 * pages


def test_lazy_max_pages_default_uses_the_platform_cpu_count():
    cfg = SimConfig(platform="hikey960")          # 8 CPUs
    assert cfg.resolved().ncpus == 8
    assert cfg.resolved().lazy_max_pages == 32768


def test_lazy_max_pages_override(sim):
    cfg = SimConfig(platform="qemu-tcg", ncpus=2, lazy_max_pages=1234, workload="fix_size", duration_s=2e-5)
    assert cfg.resolved().lazy_max_pages == 1234
    assert sim(cfg).summary.lazy_max_pages == 1234


# --------------------------------------------------------------------------- workload modes
def test_stress_mode():
    wl = SimConfig(workload="stress", ncpus=6).resolved().workload
    assert wl.nr_threads == 6
    assert wl.test_repeat_count == 20
    assert wl.test_loop_count == 1_000_000


def test_smoke_mode():
    wl = SimConfig(workload="smoke", ncpus=6).resolved().workload
    assert wl.test_loop_count == 10_000
    assert wl.test_repeat_count == 10
    assert wl.nr_threads == 1


def test_performance_mode():
    wl = SimConfig(workload="performance", ncpus=6).resolved().workload
    assert wl.sequential_test_order is True
    assert wl.test_repeat_count == 3
    assert wl.nr_threads == 1


def test_explicit_fields_override_the_mode():
    wl = SimConfig(workload="stress", ncpus=6, nr_threads=2, test_repeat_count=4,
                   test_loop_count=77, sequential_test_order=True).resolved().workload
    assert (wl.nr_threads, wl.test_repeat_count, wl.test_loop_count, wl.sequential_test_order) == (2, 4, 77, True)
    wl = SimConfig(workload="smoke", test_loop_count=5).resolved().workload
    assert wl.test_loop_count == 5 and wl.test_repeat_count == 10
    wl = SimConfig(workload="stress", run_test_mask=TEST_IDS["fix_size_alloc_test"]).resolved().workload
    assert wl.run_test_mask == 1


@pytest.mark.parametrize("name", list(TEST_IDS))
def test_a_test_name_sets_run_test_mask(name):
    wl = SimConfig(workload=name).resolved().workload
    assert wl.run_test_mask == TEST_IDS[name]
    assert wl.tests == [name]


@pytest.mark.parametrize("short,full", [
    ("fix_size", "fix_size_alloc_test"), ("full_fit", "full_fit_alloc_test"),
    ("long_busy_list", "long_busy_list_alloc_test"), ("random_size_align", "random_size_align_alloc_test"),
    ("kvfree_rcu_1_arg", "kvfree_rcu_1_arg_vmalloc_test"), ("vm_map_ram", "vm_map_ram_test"),
])
def test_short_names(short, full):
    assert SimConfig(workload=short).resolved().workload.run_test_mask == TEST_IDS[full]


def test_test_ids_follow_the_module():
    # docs/facts.md §3: id = 2^i in test_case_array order
    assert TEST_IDS["fix_size_alloc_test"] == 1
    assert TEST_IDS["full_fit_alloc_test"] == 2
    assert TEST_IDS["long_busy_list_alloc_test"] == 4
    assert TEST_IDS["pcpu_alloc_test"] == 128
    assert TEST_IDS["kvfree_rcu_1_arg_vmalloc_test"] == 256


def test_a_tuple_of_names_ors_the_ids():
    cfg = SimConfig(workload=("fix_size", "long_busy_list_alloc_test", "pcpu_alloc_test"))
    assert cfg.resolved().workload.run_test_mask == 1 | 4 | 128
    # a list is accepted and stored as a tuple (the config stays hashable)
    cfg2 = SimConfig(workload=["fix_size", "long_busy_list_alloc_test", "pcpu_alloc_test"])
    assert cfg2.workload == ("fix_size", "long_busy_list_alloc_test", "pcpu_alloc_test")
    assert hash(cfg2) == hash(cfg) and cfg2 == cfg


def test_a_test_name_without_mode_uses_module_defaults():
    wl = SimConfig(workload="fix_size", ncpus=3).resolved().workload
    assert wl.test_repeat_count == 1 and wl.test_loop_count == 1_000_000
    assert wl.nr_threads == 3   # nr_threads=None means one per CPU


# --------------------------------------------------------------------------- immutability
def test_simconfig_is_frozen():
    cfg = SimConfig()
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.ncpus = 3
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.policy = "no-resched"
    assert cfg.ncpus is None and cfg.policy == "threshold"
    new = cfg.replace(ncpus=3)
    assert new.ncpus == 3 and cfg.ncpus is None


def test_replace_validates():
    with pytest.raises(ValueError, match="ncpus"):
        SimConfig().replace(ncpus=-1)


def test_threshold_is_factor_times_lazy_max():
    r = SimConfig(ncpus=8, threshold_factor=0.5).resolved()
    assert r.resched_threshold_pages == 16384
    assert math.isclose(SimConfig(ncpus=8, threshold_factor=8).resolved().resched_threshold_pages, 8 * 32768)
