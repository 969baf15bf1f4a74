"""align-images: writes one JSON line per image and resumes after an interruption."""

import json
import logging
import shutil
from importlib import resources as importlib_resources

import pytest
import typer
from PIL import Image
from typer.testing import CliRunner

from spacy_ita.aligners.detector import YOLODetector
from spacy_ita.batch.outputs import jsonl_finished_ids
from spacy_ita.cli.align_images import align_images_command
from spacy_ita.visual_context import CONTEXT_KINDS

ASSETS = importlib_resources.files("ultralytics") / "assets"


@pytest.fixture
def images_dir(tmp_path):
    folder = tmp_path / "images"
    folder.mkdir()
    shutil.copy(ASSETS / "bus.jpg", folder / "1001.jpg")
    shutil.copy(ASSETS / "zidane.jpg", folder / "1002.jpg")
    Image.open(ASSETS / "bus.jpg").convert("L").resize((320, 400)).save(folder / "1003.png")
    (folder / "1004.jpg").write_bytes(b"not an image")
    (folder / "notes.txt").write_text("not an image either")
    return folder


@pytest.fixture
def counted_images(monkeypatch):
    """How many images reach the detector."""
    seen = []
    real_call = YOLODetector.__call__

    def counting_call(self, images):
        seen.extend(images)
        return real_call(self, images)

    monkeypatch.setattr(YOLODetector, "__call__", counting_call)
    return seen


def invoke(images_dir, output, *extra):
    app = typer.Typer()
    app.command()(align_images_command)
    args = [str(images_dir), str(output), "--no-ocr", "--detector", "yolov10n", "--batch-size", "2", *extra]
    return CliRunner().invoke(app, args)


def run(images_dir, output, *extra):
    result = invoke(images_dir, output, *extra)
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in output.read_text(encoding="utf8").splitlines()]


def test_writes_one_context_per_image(images_dir, tmp_path, counted_images):
    result = invoke(images_dir, tmp_path / "contexts.jsonl")
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in (tmp_path / "contexts.jsonl").read_text(encoding="utf8").splitlines()]
    # 1004 is unreadable: the run goes on, and it is reported, not recorded as aligned (issue #32).
    assert [r["image_id"] for r in records] == ["1001", "1002", "1003"]
    assert "1 images not aligned" in " ".join(result.output.split())
    assert all(set(r) == {"image_id", *CONTEXT_KINDS} for r in records)
    assert {"bus", "person"} <= {o["label"] for o in records[0]["objects"]}
    assert len(counted_images) == 3


def test_resumes_after_truncation(images_dir, tmp_path, counted_images):
    output = tmp_path / "contexts.jsonl"
    first = run(images_dir, output)
    lines = output.read_text(encoding="utf8").splitlines(keepends=True)
    # Interrupted: the third line half written, the fourth never.
    output.write_text("".join(lines[:2]) + lines[2][: len(lines[2]) // 2], encoding="utf8")
    counted_images.clear()
    second = run(images_dir, output)
    assert len(counted_images) == 1  # only 1003 realigned (1004 is unreadable: no backend call)
    assert sorted(r["image_id"] for r in second) == ["1001", "1002", "1003"]
    assert sorted(second, key=lambda r: r["image_id"]) == first
    counted_images.clear()
    assert run(images_dir, output) == second and counted_images == []  # nothing left to do


def test_cache_dir_makes_a_fresh_output_free(images_dir, tmp_path, counted_images):
    run(images_dir, tmp_path / "a.jsonl", "--cache-dir", str(tmp_path / "cache"))
    counted_images.clear()
    run(images_dir, tmp_path / "b.jsonl", "--cache-dir", str(tmp_path / "cache"))
    assert counted_images == []


def test_a_torn_last_line_is_cut_off(tmp_path):
    output = tmp_path / "out.jsonl"
    output.write_text('{"image_id": "a", "objects": []}\n{"image_id": "b", "obj', encoding="utf8")
    assert jsonl_finished_ids(output, "image_id", CONTEXT_KINDS) == {"a"}
    assert output.read_text(encoding="utf8") == '{"image_id": "a", "objects": []}\n'


def test_unknown_ocr_engine_or_none_at_all_is_a_clear_error(images_dir, tmp_path):
    app = typer.Typer()
    app.command()(align_images_command)
    output = tmp_path / "contexts.jsonl"
    result = CliRunner().invoke(app, [str(images_dir), str(output), "--ocr", "tesseract", "--detector", "none"])
    assert result.exit_code == 1 and "Unknown OCR engine 'tesseract'" in result.output
    result = CliRunner().invoke(app, [str(images_dir), str(output), "--ocr", "none", "--detector", "none"])
    assert result.exit_code == 1 and "No backend enabled" in result.output
    assert not output.exists()


def test_ocr_option_picks_the_engine_backend_configs_builds():
    from spacy_ita.aligners.configs import backend_configs
    from spacy_ita.cli.options import chosen_ocr

    def ocr(name, no_ocr=False):
        configs = backend_configs(ocr=chosen_ocr(name, no_ocr), detector="none", caption_model=None, gpu=True)
        return configs.get("ocr")

    assert ocr("rapidocr") == {"@misc": "spacy_ita.RapidOCR.v1"}  # runs on CPU: no gpu setting
    assert ocr("easyocr") == {"@misc": "spacy_ita.EasyOCR.v1", "gpu": True}
    assert ocr("easyocr", no_ocr=True) is None and ocr("none") is None


def test_another_tools_file_as_output_is_refused_and_kept(images_dir, tmp_path, counted_images):
    other = tmp_path / "other_tool.jsonl"
    other.write_text('{"doc": 1, "score": 0.5}\n{"doc": 2, "score": 0.25}\n', encoding="utf8")
    before = other.read_bytes()
    result = invoke(images_dir, other)
    assert result.exit_code == 1 and f"{other}:1 is not a row this job writes" in " ".join(result.output.split())
    assert other.read_bytes() == before and counted_images == []


def test_output_that_is_or_holds_the_images_folder_is_refused(images_dir, tmp_path, counted_images):
    before = {p.name: p.read_bytes() for p in images_dir.iterdir()}
    for output in (images_dir, tmp_path):
        result = invoke(images_dir, output)
        assert result.exit_code == 1 and "name a separate output" in " ".join(result.output.split())
    assert {p.name: p.read_bytes() for p in images_dir.iterdir()} == before and counted_images == []


def test_another_tools_file_in_an_output_folder_is_left_untouched(images_dir, tmp_path, caplog):
    folder = tmp_path / "contexts"
    folder.mkdir()
    other = folder / "other_tool.jsonl"
    other.write_text('{"doc": 1, "score": 0.5}\n', encoding="utf8")
    with caplog.at_level(logging.WARNING, logger="spacy_ita"):
        assert invoke(images_dir, folder).exit_code == 0
    assert other.read_text(encoding="utf8") == '{"doc": 1, "score": 0.5}\n'
    assert "other_tool.jsonl" in caplog.text
    assert sorted(jsonl_finished_ids(p, "image_id") for p in folder.glob("part-*.jsonl")) == [
        {"1001", "1002", "1003"}  # 1004 is unreadable: not recorded as aligned
    ]
