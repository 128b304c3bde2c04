"""Drop numba's on-disk cache of a package as a whole when any of its source files changes.

Why: numba's cache (``@njit(cache=True)``) checks a cached function against the source file that
defines it only. When a function in ``a.py`` calls or inlines (``inline="always"``) a jitted helper
from ``b.py`` and ``b.py`` changes, ``a.py``'s function is still loaded from the cache, with the old
helper compiled into it. `guard_package` closes that hole for the modules of one package directory:
a change to any of them drops the cached code of all of them.

What it does, at each call: a sha256 of the names and contents of every ``*.py`` file directly in
the package directory (not the mtimes) is compared with a stamp file, ``jitcache.stamp``, in the
directory where numba caches those files' functions. When they differ (or there is no stamp), it
deletes numba's index and data files (``*.nbi``, ``*.nbc``) of the package's modules there, then
writes the new stamp atomically. It reads a few small files: cheap enough for every import.

Where the cache is: numba is asked, through its own locator classes (``numba.core.caching``, the
same choice it makes for a function of the package): ``<package>/__pycache__``; or, when
``NUMBA_CACHE_DIR`` (``numba.config.CACHE_DIR``) is set, ``$NUMBA_CACHE_DIR/<dirname>_<sha1 of the
package path>``; or, when neither is writable, the same subdirectory of the user-wide cache
(``~/.cache/numba``, ``$XDG_CACHE_HOME/numba``). Each of these directories has its own stamp.

Use: call it at the top of the package's ``__init__.py``, before importing the submodules that
define jitted functions (so before numba loads or compiles any of them)::

    import os
    from vmlab.jitcache import guard_package
    guard_package(os.path.dirname(__file__))

Limits: only the ``*.py`` files directly in the directory count (a subpackage needs its own
guard; numba caches it in another directory anyway), and so do only jitted callees inside the
package: a cached function that bakes in a global or calls a jitted function of another package is
not covered. A process that imported the old sources and compiles after the edit can still write
stale entries (a guard at import time cannot see that). Errors of the file system (not writable,
files removed by another process doing the same) never raise: the guard then leaves the stamp
unwritten, so the next import tries again.
"""
from __future__ import annotations

import hashlib
import os
import tempfile

__all__ = ["guard_package", "fingerprint", "numba_cache_dir", "STAMP_NAME"]

STAMP_NAME = "jitcache.stamp"
_CACHE_SUFFIXES = (".nbi", ".nbc")


def _sources(package_dir: str) -> list[str]:
    """The names of the ``*.py`` files directly in `package_dir`, sorted."""
    try:
        names = os.listdir(package_dir)
    except OSError:
        return []
    return sorted(n for n in names if n.endswith(".py") and os.path.isfile(os.path.join(package_dir, n)))


def fingerprint(package_dir: str | os.PathLike) -> str:
    """The sha256 (hex) of the sorted names and contents of the ``*.py`` files in `package_dir`."""
    package_dir = os.fspath(package_dir)
    h = hashlib.sha256()
    for name in _sources(package_dir):
        try:
            with open(os.path.join(package_dir, name), "rb") as f:
                data = f.read()
        except FileNotFoundError:  # removed since the listing: hash what is there
            continue
        # Lengths delimit the fields, so no two different packages hash the same bytes.
        raw = name.encode()
        h.update(len(raw).to_bytes(8, "little") + raw + len(data).to_bytes(8, "little") + data)
    return h.hexdigest()


def numba_cache_dir(package_dir: str | os.PathLike) -> str | None:
    """The directory numba caches the functions of `package_dir`'s modules in (None: no cache).

    Built the way numba builds it for a function to cache (``CompileResultCacheImpl``, which tries
    its locator classes in order, or those of ``NUMBA_CACHE_LOCATOR_CLASSES``), for a stand-in
    function of one of the package's files: every locator keys the directory on the source file's
    directory, so it is the same for all of them. Like numba, this creates the directory.
    """
    package_dir = os.path.abspath(os.fspath(package_dir))
    names = _sources(package_dir)
    if not names:
        return None
    name = "__init__.py" if "__init__.py" in names else names[0]
    # `inspect.getfile` of this function, which numba calls, is the package's file.
    namespace: dict = {}
    exec(compile("def _jitcache_probe():\n    pass\n", os.path.join(package_dir, name), "exec"), namespace)
    from numba.core.caching import CompileResultCacheImpl
    try:
        return CompileResultCacheImpl(namespace["_jitcache_probe"]).locator.get_cache_path()
    except RuntimeError:  # no locator can cache there (numba would not cache either)
        return None


def _read_stamp(path: str) -> str | None:
    try:
        with open(path, encoding="ascii") as f:
            return f.read().strip()
    except (OSError, ValueError):
        return None


def _belongs(cache_file: str, modules: set[str]) -> bool:
    """Whether a numba cache file, ``[prefix-]<module>.<qualname>-<line>.pyXY[.N].nb[ic]``, is of `modules`."""
    if not cache_file.endswith(_CACHE_SUFFIXES):
        return False
    head = cache_file.split(".", 1)[0]
    return head in modules or head.split("-", 1)[-1] in modules


def _write_stamp(path: str, value: str) -> bool:
    """Write `value` to `path` atomically (a temporary file, then `os.replace`)."""
    try:
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".jitcache-", suffix=".tmp")
    except OSError:
        return False
    try:
        with os.fdopen(fd, "w", encoding="ascii") as f:
            f.write(value + "\n")
        os.replace(tmp, path)
        return True
    except OSError:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        return False


def guard_package(package_dir: str | os.PathLike, *, cache_dir: str | os.PathLike | None = None) -> bool:
    """Drop numba's cached code of `package_dir`'s modules if any ``*.py`` file there changed.

    `cache_dir` overrides the directory numba would use (`numba_cache_dir`). Returns True when the
    stamp was out of date and the cache files were deleted and the new stamp written; False when
    the cache is up to date, or there is none, or the file system refused (nothing raises).
    """
    package_dir = os.fspath(package_dir)
    if cache_dir is None:
        cache_dir = numba_cache_dir(package_dir)
        if cache_dir is None:
            return False
    cache_dir = os.fspath(cache_dir)
    current = fingerprint(package_dir)
    stamp = os.path.join(cache_dir, STAMP_NAME)
    if _read_stamp(stamp) == current:
        return False
    modules = {os.path.splitext(n)[0] for n in _sources(package_dir)}
    try:
        names = os.listdir(cache_dir)
    except FileNotFoundError:
        names = []
    except OSError:
        return False
    for name in names:
        if _belongs(name, modules):
            try:
                os.unlink(os.path.join(cache_dir, name))
            except FileNotFoundError:  # another process removed it first
                pass
            except OSError:  # stale code stays: no stamp, so the next import tries again
                return False
    # Deleted before the stamp is written: a process that sees the new stamp finds no stale file.
    return _write_stamp(stamp, current)
