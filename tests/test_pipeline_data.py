"""A backend's data files travel inside the pipeline (spacy_ita/pipeline_data.py)."""

import json
import logging

import pytest

from spacy_ita.pipeline_data import MANIFEST, PipelineData


def kb_backend_data(path):
    data = PipelineData()
    data.add_file("kb", path, read=lambda p: p.read_text(encoding="utf8"))
    return data


def test_nothing_is_read_until_used_and_a_missing_file_fails_naming_it(tmp_path):
    data = kb_backend_data("nowhere/kb.tsv")  # building never reads: spacy.load builds before from_disk
    with pytest.raises(FileNotFoundError, match="kb nowhere/kb.tsv does not exist"):
        data.get("kb")
    with pytest.raises(IsADirectoryError, match="is a folder, not a file"):
        kb_backend_data(tmp_path).get("kb")


def test_a_saved_copy_is_read_after_the_original_is_gone(tmp_path):
    original = tmp_path / "kb.tsv"
    original.write_text("Paris\tLOC\n")
    kb_backend_data(original).to_disk(tmp_path / "pipeline" / "backend")
    original.unlink()
    saved = tmp_path / "pipeline" / "backend"
    assert json.loads((saved / MANIFEST).read_text())["kb"] == {"source": str(original), "stored_as": "kb.tsv"}
    loaded = kb_backend_data(original).from_disk(saved)
    assert loaded.get("kb") == "Paris\tLOC\n"
    # Saved again elsewhere (and into its own folder): copied from the pipeline's copy.
    loaded.to_disk(tmp_path / "again")
    loaded.to_disk(saved)
    assert (tmp_path / "again" / "kb.tsv").read_text() == (saved / "kb.tsv").read_text() == "Paris\tLOC\n"


def test_the_config_names_which_data_a_changed_path_is_read(tmp_path, caplog):
    first, second = tmp_path / "a.tsv", tmp_path / "b.tsv"
    first.write_text("old")
    second.write_text("new")
    kb_backend_data(first).to_disk(tmp_path / "saved")
    with caplog.at_level(logging.INFO, logger="spacy_ita"):
        assert kb_backend_data(second).from_disk(tmp_path / "saved").get("kb") == "new"
    assert "reading the config's" in caplog.text


def folder_default_and_derived(folder, load_joined):
    data = PipelineData()
    data.add_file("kb", folder, read=lambda p: sorted(f.name for f in p.rglob("*")), folder_ok=True)
    data.add_file("prompt", None, read=lambda p: p.read_text(), default=lambda: "shipped")
    data.add(
        "joined",
        source={"from": ["x", "y"]},
        load=load_joined,
        save=lambda value, path: path.write_text(json.dumps(value)),
        load_saved=lambda path: json.loads(path.read_text()),
        stored_as="joined.json",
    )
    return data


def test_folders_defaults_and_derived_items(tmp_path):
    folder = tmp_path / "kb"
    (folder / "sub").mkdir(parents=True)
    (folder / "sub" / "part.txt").write_text("x")
    folder_default_and_derived(folder, lambda: [1, 2]).to_disk(tmp_path / "saved")
    # A default is the package's: not copied.
    assert sorted(json.loads((tmp_path / "saved" / MANIFEST).read_text())) == ["joined", "kb"]
    again = folder_default_and_derived(folder, lambda: 1 / 0).from_disk(tmp_path / "saved")
    assert again.get("kb") == ["part.txt", "sub"] and again.get("prompt") == "shipped" and again.get("joined") == [1, 2]
