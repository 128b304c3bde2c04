"""`_loop`'s scalars survive a LOOP_GROW return: every slot it caches in a local is read at the top
and written back at the exit, and every LS_ slot is either cached or K-resident.

Parses `_loop`'s source (no compilation): the reads are its top-level ``name = K[LS_X]`` (or
``K[LS_X] != 0``) statements, the writes its top-level ``K[LS_X] = name`` (or ``1 if name else 0``)
ones, and both must be exactly `engine.LOOP_CACHED`.
"""
from __future__ import annotations

import ast
import inspect
import textwrap

from vmlab import engine as E

LS_NAMES = {k: v for k, v in vars(E).items() if k.startswith("LS_")}


def _loop_def() -> ast.FunctionDef:
    src = textwrap.dedent(inspect.getsource(E._loop.py_func))
    return ast.parse(src).body[0]


def _k_slot(node) -> str | None:
    """'LS_X' if node is ``K[LS_X]``."""
    if (isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name) and node.value.id == "K"
            and isinstance(node.slice, ast.Name) and node.slice.id.startswith("LS_")):
        return node.slice.id
    return None


def _top_reads_writes(fn: ast.FunctionDef):
    reads, writes = {}, {}
    for st in fn.body:
        if not isinstance(st, ast.Assign) or len(st.targets) != 1:
            continue
        tgt, val = st.targets[0], st.value
        if isinstance(tgt, ast.Name):
            if isinstance(val, ast.Compare):
                val = val.left
            slot = _k_slot(val)
            if slot:
                assert slot not in reads, f"{slot} read twice"
                reads[slot] = tgt.id
        elif (slot := _k_slot(tgt)) is not None:
            if isinstance(val, ast.IfExp):
                val = val.test
            if isinstance(val, ast.Name):
                assert slot not in writes, f"{slot} written twice"
                writes[slot] = val.id
    return reads, writes


def _names(pairs):
    inv = {v: k for k, v in LS_NAMES.items()}
    return {inv[i]: name for i, name in pairs}


def test_ls_slots_are_distinct_and_dense():
    assert sorted(LS_NAMES.values()) == list(range(E.N_LS))


def test_every_slot_is_cached_or_k_resident():
    cached = {i for i, _ in E.LOOP_CACHED}
    resident = set(E.LOOP_K_RESIDENT)
    assert len(cached) == len(E.LOOP_CACHED), "a slot is cached twice"
    assert not cached & resident
    assert cached | resident == set(LS_NAMES.values())
    assert len({n for _, n in E.LOOP_CACHED}) == len(E.LOOP_CACHED), "two slots share a local"


def test_cached_slots_are_read_at_the_top_and_written_at_the_exit():
    reads, writes = _top_reads_writes(_loop_def())
    want = _names(E.LOOP_CACHED)
    assert reads == want, f"read at the top but not listed / listed but not read: {set(reads.items()) ^ set(want.items())}"
    assert writes == want, f"written at the exit but not listed / listed but not written: {set(writes.items()) ^ set(want.items())}"


def test_the_writes_come_after_the_loop_and_before_the_one_return():
    fn = _loop_def()
    returns = [n for n in ast.walk(fn) if isinstance(n, ast.Return)]
    assert len(returns) == 1 and fn.body[-1] is returns[0], "_loop must have a single exit, its last statement"
    i_while = max(i for i, st in enumerate(fn.body) if isinstance(st, ast.While))
    _, writes = _top_reads_writes(fn)
    tail = fn.body[i_while + 1:]
    tail_slots = {_k_slot(st.targets[0]) for st in tail if isinstance(st, ast.Assign)}
    assert set(writes) <= tail_slots


def test_k_resident_slots_are_never_cached_in_a_local():
    fn = _loop_def()
    resident = {k for k, v in LS_NAMES.items() if v in E.LOOP_K_RESIDENT}
    for node in ast.walk(fn):
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
            val = node.value.left if isinstance(node.value, ast.Compare) else node.value
            assert _k_slot(val) not in resident, f"{_k_slot(val)} is K-resident but copied to {node.targets[0].id}"
    # and each is used somewhere in the engine, through K
    src = inspect.getsource(E)
    for k in resident:
        assert f"K[{k}]" in src, k


def test_cached_locals_are_not_reassigned_from_k_in_the_loop():
    """Inside the event loop a cached local is the truth; reading its K slot there would see a stale value."""
    fn = _loop_def()
    cached = set(_names(E.LOOP_CACHED))
    loops = [st for st in fn.body if isinstance(st, ast.While)]
    for lp in loops:
        for node in ast.walk(lp):
            slot = _k_slot(node)
            assert slot not in cached, f"K[{slot}] used inside the loop, but the slot is cached in a local"
