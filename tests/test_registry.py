"""setup.py's entry points and the registries agree: every declared name resolves
through spaCy's registry (the heads through theirs) to the object the entry point
names, and every name spacy_ita registers is declared, so that `spacy.load` finds a
saved pipeline's pieces without importing spacy_ita first. And the wheel carries
py.typed, so users' type checkers read the package's annotations."""

import importlib
import pkgutil
import runpy
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any, Dict, List, Tuple
from unittest import mock

import pytest
from spacy.util import registry

import spacy_ita
from spacy_ita.ner.heads import tag_heads

REPO_ROOT = Path(__file__).resolve().parent.parent
# Entry point groups -> the registry that reads them.
REGISTRIES = {
    "spacy_factories": registry.factories,
    "spacy_architectures": registry.architectures,
    "spacy_readers": registry.readers,
    "spacy_misc": registry.misc,
    "spacy_ita_heads": tag_heads,
}


def declared_entry_points() -> Dict[str, List[Tuple[str, str]]]:
    """{group: [(name, "module:attr")]} as setup.py declares them (read by running it with setup() mocked)."""
    captured: Dict[str, Any] = {}
    with mock.patch("setuptools.setup", lambda **kwargs: captured.update(kwargs)):
        runpy.run_path(str(REPO_ROOT / "setup.py"))
    return {
        group: [tuple(part.strip() for part in line.split("=", 1)) for line in lines]
        for group, lines in captured["entry_points"].items()
    }


def target(spec: str) -> Any:
    module, _, attr = spec.partition(":")
    obj: Any = importlib.import_module(module)
    for name in attr.split("."):
        obj = getattr(obj, name)
    return obj


ENTRY_POINTS = declared_entry_points()
REGISTERED = [(group, name, spec) for group in REGISTRIES for name, spec in ENTRY_POINTS.get(group, [])]


@pytest.mark.parametrize("group, name, spec", REGISTERED, ids=[f"{g}:{n}" for g, n, _ in REGISTERED])
def test_every_entry_point_resolves_through_the_registry(group, name, spec):
    # Loading an entry point imports its object, as spaCy does: that registers the name.
    obj = target(spec)
    assert REGISTRIES[group].get(name) is obj


def test_every_group_is_read_by_a_registry_and_every_script_exists():
    assert set(ENTRY_POINTS) - set(REGISTRIES) == {"console_scripts"}
    for _, spec in ENTRY_POINTS["console_scripts"]:
        assert callable(target(spec))


def defined_in_package(func) -> bool:
    """Whether `func` comes from a file of the spacy_ita package. Not its module name: code that
    tests load with `--code` (e.g. tests/batch/batch_support.py) is imported under a name of
    spaCy's choosing and registers test-only factories."""
    module = sys.modules.get(getattr(func, "__module__", ""))
    path = getattr(module, "__file__", None)
    return bool(path) and Path(path).resolve().is_relative_to(Path(spacy_ita.__file__).resolve().parent)


def test_everything_spacy_ita_registers_has_an_entry_point():
    for module in pkgutil.walk_packages(spacy_ita.__path__, prefix="spacy_ita."):
        if not module.name.endswith("__main__"):  # runs the CLI
            importlib.import_module(module.name)
    for group, reg in REGISTRIES.items():
        ours = {name for name, func in reg.get_all().items() if defined_in_package(func)}
        declared = {name for name, _ in ENTRY_POINTS.get(group, [])}
        assert ours <= declared, f"registered but not in setup.py's {group}: {sorted(ours - declared)}"


def test_the_wheel_ships_py_typed(tmp_path):
    # Built from a copy: a build writes build/ and *.egg-info beside setup.py.
    source = tmp_path / "source"
    shutil.copytree(REPO_ROOT / "spacy_ita", source / "spacy_ita", ignore=shutil.ignore_patterns("__pycache__"))
    for path in [REPO_ROOT / "setup.py", REPO_ROOT / "README.md", *REPO_ROOT.glob("requirements*.txt")]:
        shutil.copy(path, source)
    command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", str(source)]
    subprocess.run([*command, "-w", str(tmp_path / "dist")], check=True, cwd=tmp_path)
    (wheel,) = (tmp_path / "dist").glob("spacy_ita-*.whl")
    assert "spacy_ita/py.typed" in zipfile.ZipFile(wheel).namelist()
