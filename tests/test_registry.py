"""pyproject.toml's entry points and the registries agree: every declared name resolves
through spaCy's registry (the heads through theirs) to the object the entry point
names, and every name spacy_ita registers is declared, so that `spacy.load` finds a
saved pipeline's pieces without importing spacy_ita first. (What the built wheel
carries: tests/test_packaging.py.)"""

import importlib
import pkgutil
import sys
from pathlib import Path
from typing import Any, Dict, List, Tuple

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
    """{group: [(name, "module:attr")]} as pyproject.toml declares them; the console scripts
    (`[project.scripts]`) under their entry point group's name."""
    project = pyproject()["project"]
    groups = {**project.get("entry-points", {}), "console_scripts": project.get("scripts", {})}
    return {group: list(names.items()) for group, names in groups.items()}


def pyproject() -> Dict[str, Any]:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - CI runs 3.11
        import tomli as tomllib
    with (REPO_ROOT / "pyproject.toml").open("rb") as handle:
        return tomllib.load(handle)


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
        assert ours <= declared, f"registered but not in pyproject.toml's {group}: {sorted(ours - declared)}"
