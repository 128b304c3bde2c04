"""`vmlab.jitcache.guard_package` against a real numba cache.

A toy package in ``tmp_path``: ``toypkg/a.py`` has ``@njit(cache=True) f`` calling ``g`` of
``toypkg/b.py`` (cached and called, or cached and ``inline="always"`` as the engine's helpers are).
Each run is a fresh interpreter (numba loads from the on-disk cache only in a new process) that
prints ``f()``, what the guard returned and numba's cache statistics of ``f``. Editing ``b.py``
alone (``g`` returns 2) leaves ``a.py``'s cached ``f`` stale: the control test shows numba loads
it and prints 1; with the guard it prints 2.

The runs see ``vmlab`` as an empty package (a stand-in module whose path is the real ``vmlab``
directory), so that ``from vmlab.jitcache import guard_package`` does not run ``vmlab/__init__``
(pandas and the engine): each run compiles two tiny functions only.
"""
from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys

import pytest

from vmlab.jitcache import STAMP_NAME, fingerprint, guard_package

REPO_DIR = pathlib.Path(__file__).resolve().parents[1]
VMLAB_DIR = REPO_DIR / "vmlab"

GUARDED_INIT = """\
import os
from vmlab.jitcache import guard_package, numba_cache_dir
INVALIDATED = guard_package(os.path.dirname(__file__))
CACHE_DIR = numba_cache_dir(os.path.dirname(__file__))
"""
UNGUARDED_INIT = "INVALIDATED = CACHE_DIR = None\n"
A_PY = """\
from numba import njit
from .b import g


@njit(cache=True)
def f():
    return g() + 0
"""
B_PY = {
    "called": "from numba import njit\n\n\n@njit(cache=True)\ndef g():\n    return 1\n",
    "inlined": "from numba import njit\n\n\n@njit(cache=True, inline=\"always\")\ndef g():\n    return 1\n",
}
RUNNER = f"""\
import json, sys, types
stand_in = types.ModuleType("vmlab")
stand_in.__path__ = [{str(VMLAB_DIR)!r}]
sys.modules["vmlab"] = stand_in
import toypkg
from toypkg.a import f
value = f()
stats = f.stats
print(json.dumps({{"f": value, "invalidated": toypkg.INVALIDATED, "guard_dir": toypkg.CACHE_DIR,
                  "numba_dir": stats.cache_path, "hits": sum(stats.cache_hits.values()),
                  "misses": sum(stats.cache_misses.values())}}))
"""


def make_toy(root: pathlib.Path, *, guarded: bool = True, g: str = "called") -> pathlib.Path:
    pkg = root / "toypkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text(GUARDED_INIT if guarded else UNGUARDED_INIT)
    (pkg / "a.py").write_text(A_PY)
    (pkg / "b.py").write_text(B_PY[g])
    return pkg


def edit_g(pkg: pathlib.Path) -> None:
    """g returns 2; a.py is not touched."""
    b = pkg / "b.py"
    b.write_text(b.read_text().replace("return 1", "return 2"))


def run(root: pathlib.Path, **env) -> dict:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("NUMBA_")}
    environ["PYTHONPATH"] = os.pathsep.join([str(root), str(REPO_DIR)])
    environ.update(env)
    out = subprocess.run([sys.executable, "-c", RUNNER], cwd=root, env=environ, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def cache_files(directory: pathlib.Path) -> dict[str, int]:
    """numba's index and data files in `directory`, with their mtimes (ns)."""
    return {p.name: p.stat().st_mtime_ns for p in directory.iterdir() if p.suffix in (".nbi", ".nbc")}


@pytest.mark.parametrize("g", ["called", "inlined"])
def test_without_guard_numba_loads_stale_code(tmp_path, g):
    """The hazard is real: after b.py changes, numba loads a.py's f from its cache, with the old g."""
    pkg = make_toy(tmp_path, guarded=False, g=g)
    assert run(tmp_path)["f"] == 1
    edit_g(pkg)
    second = run(tmp_path)
    assert second["f"] == 1                         # stale: g returns 2 now
    assert (second["hits"], second["misses"]) == (1, 0)


@pytest.mark.parametrize("g", ["called", "inlined"])
def test_guard_drops_cache_when_a_callee_changes(tmp_path, g):
    pkg = make_toy(tmp_path, g=g)
    first = run(tmp_path)
    assert (first["f"], first["invalidated"], first["misses"]) == (1, True, 1)
    assert first["numba_dir"] == first["guard_dir"] == str(pkg / "__pycache__")
    assert (pkg / "__pycache__" / STAMP_NAME).read_text().strip() == fingerprint(pkg)
    edit_g(pkg)
    second = run(tmp_path)
    assert (second["f"], second["invalidated"]) == (2, True)
    assert (second["hits"], second["misses"]) == (0, 1)   # f compiled again, not loaded
    assert (pkg / "__pycache__" / STAMP_NAME).read_text().strip() == fingerprint(pkg)


def test_guard_keeps_cache_when_nothing_changed(tmp_path):
    pkg = make_toy(tmp_path)
    assert run(tmp_path)["invalidated"] is True
    before = cache_files(pkg / "__pycache__")
    assert any(n.startswith("a.f-") and n.endswith(".nbi") for n in before)
    assert any(n.startswith("b.g-") and n.endswith(".nbc") for n in before)
    second = run(tmp_path)
    assert (second["f"], second["invalidated"]) == (1, False)
    assert (second["hits"], second["misses"]) == (1, 0)   # loaded from the cache
    assert cache_files(pkg / "__pycache__") == before      # same files, untouched


def test_numba_cache_dir_env(tmp_path):
    """With NUMBA_CACHE_DIR numba caches in <dir>/toypkg_<sha1 of the package path>; the guard stamps there."""
    pkg = make_toy(tmp_path)
    cache_root = tmp_path / "nbcache"
    first = run(tmp_path, NUMBA_CACHE_DIR=str(cache_root))
    assert first["f"] == 1
    where = pathlib.Path(first["numba_dir"])
    assert first["guard_dir"] == str(where)
    assert where.parent == cache_root and where.name.startswith("toypkg_")
    assert (where / STAMP_NAME).is_file() and cache_files(where)
    assert not (pkg / "__pycache__").exists() or not cache_files(pkg / "__pycache__")
    edit_g(pkg)
    second = run(tmp_path, NUMBA_CACHE_DIR=str(cache_root))
    assert (second["f"], second["invalidated"], second["misses"]) == (2, True, 1)
    third = run(tmp_path, NUMBA_CACHE_DIR=str(cache_root))
    assert (third["f"], third["invalidated"], third["hits"]) == (2, False, 1)


def test_user_wide_fallback(tmp_path):
    """No usable __pycache__ (a plain file here: chmod does not stop root): numba falls back to the
    user-wide cache ($XDG_CACHE_HOME/numba/toypkg_<sha1>); the guard follows it."""
    pkg = make_toy(tmp_path)
    (pkg / "__pycache__").write_text("not a directory")
    xdg = tmp_path / "xdg"
    first = run(tmp_path, XDG_CACHE_HOME=str(xdg))
    where = pathlib.Path(first["numba_dir"])
    assert first["f"] == 1 and first["guard_dir"] == str(where)
    assert where.parent == xdg / "numba" and (where / STAMP_NAME).is_file()
    edit_g(pkg)
    assert run(tmp_path, XDG_CACHE_HOME=str(xdg))["f"] == 2


def test_unusable_numba_cache_dir(tmp_path):
    """NUMBA_CACHE_DIR under a plain file: numba falls back to __pycache__, and so does the guard."""
    pkg = make_toy(tmp_path)
    (tmp_path / "file").write_text("")
    bad = str(tmp_path / "file" / "cache")
    first = run(tmp_path, NUMBA_CACHE_DIR=bad)
    assert first["f"] == 1 and first["numba_dir"] == first["guard_dir"] == str(pkg / "__pycache__")
    edit_g(pkg)
    assert run(tmp_path, NUMBA_CACHE_DIR=bad)["f"] == 2


def test_concurrent_imports_after_edit(tmp_path):
    """Several processes guarding (deleting, stamping) the same cache at once: none fails, all see g's edit."""
    pkg = make_toy(tmp_path)
    assert run(tmp_path)["f"] == 1
    edit_g(pkg)
    environ = {k: v for k, v in os.environ.items() if not k.startswith("NUMBA_")}
    environ["PYTHONPATH"] = os.pathsep.join([str(tmp_path), str(REPO_DIR)])
    procs = [subprocess.Popen([sys.executable, "-c", RUNNER], cwd=tmp_path, env=environ, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(4)]
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
        assert json.loads(out.strip().splitlines()[-1])["f"] == 2
    assert (pkg / "__pycache__" / STAMP_NAME).read_text().strip() == fingerprint(pkg)


def test_file_system_errors_do_not_raise(tmp_path):
    """Real OS errors (no mocks; they hold for root too): the guard returns False, writes no stamp."""
    pkg = make_toy(tmp_path)
    (tmp_path / "file").write_text("")
    assert guard_package(pkg, cache_dir=tmp_path / "file" / "cache") is False    # not a directory
    assert guard_package(pkg, cache_dir=tmp_path / "missing") is False
    # A cache file that cannot be deleted (a directory by that name): stale code stays, so no stamp.
    cache = tmp_path / "cache"
    (cache / "a.f-5.py311.nbi").mkdir(parents=True)
    (cache / "a.f-5.py311.nbi" / "x").write_text("")
    (cache / "b.g-4.py311.1.nbc").write_text("")
    assert guard_package(pkg, cache_dir=cache) is False
    assert not (cache / STAMP_NAME).exists()
    # A stamp that cannot be replaced (a directory by that name).
    (cache / "a.f-5.py311.nbi" / "x").unlink()
    (cache / "a.f-5.py311.nbi").rmdir()
    (cache / STAMP_NAME).mkdir()
    assert guard_package(pkg, cache_dir=cache) is False
    assert not list(cache.glob(".jitcache-*"))                                   # no temporary left
    if os.geteuid() != 0:                                                        # a read-only directory
        (cache / STAMP_NAME).rmdir()
        (cache / "a.f-5.py311.nbi").write_text("")
        cache.chmod(0o500)
        try:
            assert guard_package(pkg, cache_dir=cache) is False
            assert (cache / "a.f-5.py311.nbi").exists()
        finally:
            cache.chmod(0o700)


def test_guard_deletes_only_the_package_files(tmp_path):
    pkg = make_toy(tmp_path)
    cache = tmp_path / "cache"
    cache.mkdir()
    names = ["a.f-5.py311.nbi", "a.f-5.py311.1.nbc", "b.g-4.py311.nbi", "__init__.h-3.py311.2.nbc",
             "guf-b.k-9.py311.nbi", "other.f-1.py311.nbi", "a.py", "notes.txt"]
    for n in names:
        (cache / n).write_text("")
    assert guard_package(pkg, cache_dir=cache) is True
    assert sorted(p.name for p in cache.iterdir()) == sorted(["other.f-1.py311.nbi", "a.py", "notes.txt", STAMP_NAME])
    assert guard_package(pkg, cache_dir=cache) is False


def test_fingerprint_is_of_names_and_contents(tmp_path):
    pkg = make_toy(tmp_path)
    base = fingerprint(pkg)
    os.utime(pkg / "a.py", ns=(1, 1))
    (pkg / "notes.txt").write_text("not python")
    assert fingerprint(pkg) == base                       # mtimes and other files do not count
    edit_g(pkg)
    edited = fingerprint(pkg)
    assert edited != base
    (pkg / "c.py").write_text("")
    assert fingerprint(pkg) != edited                      # nor does an empty new module go unseen


def test_the_engine_package_is_guarded():
    """Importing vmlab.engine ran the guard on its own directory: the stamp in numba's cache
    directory for the engine's files is the fingerprint of the sources as they are now."""
    from vmlab import engine
    from vmlab.jitcache import numba_cache_dir

    pkg = pathlib.Path(engine.__file__).parent
    stamp = pathlib.Path(numba_cache_dir(pkg)) / STAMP_NAME
    assert stamp.read_text().strip() == fingerprint(pkg)
    # and it covers every module of the engine, the loop's callees included
    assert {p.stem for p in pkg.glob("*.py")} >= {"loop", "calls", "purge", "sched", "tree", "programs"}
