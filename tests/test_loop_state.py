"""The event loop keeps its state in K, and only there: `_loop` may return after any event
(LOOP_GROW) and resume, so nothing it needs may live in a local across events.

Parses the engine package's source (no compilation). tests/test_grow.py checks the behaviour
(growth forced every few events changes no output); these catch the structural mistakes before a
run does: a loop-state slot nobody writes or reads, and a copy of loop state kept in a local of
`_loop` outside its event loop (the old save/restore at each return, which could miss a slot).
"""
from __future__ import annotations

import ast
import inspect
import textwrap
from pathlib import Path

from vmlab import engine as E

LS_NAMES = {k: v for k, v in vars(E.layout).items() if k.startswith("LS_")}
ENGINE_DIR = Path(E.__file__).parent


def _k_slot(node) -> str | None:
    """'LS_X' if node is ``K[LS_X]``."""
    if (isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name) and node.value.id == "K"
            and isinstance(node.slice, ast.Name) and node.slice.id.startswith("LS_")):
        return node.slice.id
    return None


def _slot_uses():
    """(slots read, slots written) through ``K[LS_X]`` anywhere in the engine package."""
    reads, writes = set(), set()
    for path in sorted(ENGINE_DIR.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if (slot := _k_slot(node)) is not None:
                (writes if isinstance(node.ctx, ast.Store) else reads).add(slot)
            if isinstance(node, ast.AugAssign) and (slot := _k_slot(node.target)):
                reads.add(slot)     # K[LS_X] += 1 reads it too
    return reads, writes


def _loop_def() -> ast.FunctionDef:
    src = textwrap.dedent(inspect.getsource(E.loop._loop.py_func))
    return ast.parse(src).body[0]


def test_ls_slots_are_distinct_and_dense():
    assert sorted(LS_NAMES.values()) == list(range(E.N_LS))


def test_every_slot_is_written_and_read():
    reads, writes = _slot_uses()           # driver.run's reads (LS_T, LS_STOP, ...) included
    assert set(LS_NAMES) - writes == set(), "slots never written"
    assert set(LS_NAMES) - reads == set(), "slots never read"


def test_loop_keeps_no_copy_of_its_state_outside_the_event_loop():
    """Before its `while`, `_loop` may bind only names that do not change during a run (the Sim's
    parts, values of P); a local holding K[LS_X] there would go stale at the first LOOP_GROW."""
    fn = _loop_def()
    i_while = next(i for i, st in enumerate(fn.body) if isinstance(st, ast.While))
    for st in fn.body[:i_while]:
        if not isinstance(st, ast.Assign):
            continue
        for node in ast.walk(st.value):
            assert _k_slot(node) is None, f"line {st.lineno}: {ast.unparse(st)} copies loop state"


def test_loop_locals_read_from_k_are_bound_each_event():
    """Inside the event loop, names bound from K (the event's time and task) are bound at the top
    of every iteration, before anything uses them."""
    fn = _loop_def()
    lp = next(st for st in fn.body if isinstance(st, ast.While))
    from_k = {}
    for i, st in enumerate(lp.body):
        if isinstance(st, ast.Assign) and any(_k_slot(n) for n in ast.walk(st.value)):
            for tgt in ast.walk(st.targets[0]):
                if isinstance(tgt, ast.Name):
                    from_k[tgt.id] = i
    assert from_k, "the event loop reads its event from K"
    for name, i in from_k.items():
        for st in lp.body[:i]:
            used = {n.id for n in ast.walk(st) if isinstance(n, ast.Name)}
            assert name not in used, f"{name} used before it is read from K in this iteration"


def test_no_engine_function_is_long_or_takes_many_parameters():
    """The house rule for the engine: functions a reader can hold in their head."""
    too_long, too_many = [], []
    for path in sorted(ENGINE_DIR.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef):
                n = node.end_lineno - node.lineno + 1
                if n > 150:
                    too_long.append(f"{path.name}:{node.name} ({n} lines)")
                if len(node.args.args) > 10:
                    too_many.append(f"{path.name}:{node.name} ({len(node.args.args)} parameters)")
    assert not too_long, too_long
    assert not too_many, too_many
