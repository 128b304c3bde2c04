"""environment.yml and pyproject.toml list the same packages (issue: "A test checks that they agree").

pyproject's dependencies plus its ``test`` extras must equal the conda dependencies minus python and
pip (and the ``pip:`` sub-list that installs the package itself). Names are compared after PEP 503
normalisation, and version specifiers are compared where both files give one.

environment.yml is read with a small line parser (PyYAML is not a declared dependency).
"""
from __future__ import annotations

import re
import tomllib

import pytest

_REQ = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(\[[^\]]*\])?\s*(.*?)\s*$")


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _split(req: str) -> tuple[str, str]:
    """'numpy >= 1.26' -> ('numpy', '>=1.26'); conda's single '=' pin becomes '=='."""
    req = req.split(";")[0].split("#")[0].strip()
    m = _REQ.match(req)
    assert m, f"cannot parse requirement {req!r}"
    spec = re.sub(r"\s+", "", m.group(3))
    if re.fullmatch(r"=[^=].*", spec):
        spec = "=" + spec
    return _norm(m.group(1)), ",".join(sorted(spec.split(","))) if spec else ""


def parse_environment_yml(text: str) -> tuple[str, list[str], list[str]]:
    """(name, conda dependencies, pip sub-list) of a simple conda environment file."""
    name = None
    deps: list[str] = []
    pip: list[str] = []
    section = None
    dep_indent = None
    for raw in text.splitlines():
        line = raw.split(" #")[0].rstrip() if not raw.lstrip().startswith("#") else ""
        if not line.strip():
            continue
        indent = len(line) - len(line.lstrip())
        stripped = line.strip()
        if indent == 0:
            key = stripped.split(":", 1)[0]
            section = key
            if key == "name":
                name = stripped.split(":", 1)[1].strip()
            continue
        if section != "dependencies" or not stripped.startswith("- "):
            continue
        item = stripped[2:].strip()
        if dep_indent is None:
            dep_indent = indent
        if indent == dep_indent:
            if item.rstrip(":") == "pip" and item.endswith(":"):
                continue               # the start of the pip sub-list
            deps.append(item)
        elif indent > dep_indent:
            pip.append(item)
    return name, deps, pip


@pytest.fixture(scope="module")
def conda(repo_dir):
    return parse_environment_yml((repo_dir / "environment.yml").read_text())


@pytest.fixture(scope="module")
def pyproject(repo_dir):
    with open(repo_dir / "pyproject.toml", "rb") as f:
        return tomllib.load(f)


def test_parser_on_a_known_snippet():
    name, deps, pip = parse_environment_yml(
        "name: x\nchannels:\n  - conda-forge\ndependencies:\n  - python>=3.10\n  # a comment\n"
        "  - numpy>=1.26  # trailing\n  - pip\n  - pip:\n      - -e .\n")
    assert name == "x"
    assert deps == ["python>=3.10", "numpy>=1.26", "pip"]
    assert pip == ["-e ."]
    assert _split("numpy >= 1.26") == ("numpy", ">=1.26")
    assert _split("Foo_Bar=1.2") == ("foo-bar", "==1.2")


def test_environment_yml_is_well_formed(conda):
    name, deps, pip = conda
    assert name == "vmlab"
    assert any(_split(d)[0] == "python" for d in deps)
    assert any(_split(d)[0] == "pip" for d in deps)
    # the pip section installs this package (editable), nothing else
    assert [p.replace(" ", "") for p in pip] == ["-e."]


def test_python_version_agrees(conda, pyproject):
    _, deps, _ = conda
    py = dict(_split(d) for d in deps)["python"]
    assert py == pyproject["project"]["requires-python"].replace(" ", "")


def test_same_packages_in_both_files(conda, pyproject):
    _, deps, _ = conda
    conda_pkgs = dict(_split(d) for d in deps)
    conda_pkgs.pop("python")
    conda_pkgs.pop("pip")
    proj = pyproject["project"]
    py_reqs = list(proj["dependencies"]) + list(proj.get("optional-dependencies", {}).get("test", []))
    py_pkgs = dict(_split(r) for r in py_reqs)
    assert len(py_pkgs) == len(py_reqs), "a package is listed twice in pyproject.toml"
    assert set(conda_pkgs) == set(py_pkgs), (
        f"only in environment.yml: {sorted(set(conda_pkgs) - set(py_pkgs))}; "
        f"only in pyproject.toml: {sorted(set(py_pkgs) - set(conda_pkgs))}")
    for pkg in sorted(conda_pkgs):
        a, b = conda_pkgs[pkg], py_pkgs[pkg]
        if a and b:
            assert a == b, f"{pkg}: environment.yml says {a!r}, pyproject.toml says {b!r}"


def test_the_test_tools_are_test_extras(pyproject):
    test = {_split(r)[0] for r in pyproject["project"]["optional-dependencies"]["test"]}
    runtime = {_split(r)[0] for r in pyproject["project"]["dependencies"]}
    assert {"pytest", "hypothesis"} <= test
    assert not (test & runtime)
    assert {"numpy", "numba", "pandas"} <= runtime
