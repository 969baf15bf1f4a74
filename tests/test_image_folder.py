"""One image index: `align-images` aligns exactly the files `convert` attaches to the posts."""

import logging
from pathlib import Path

import pytest
import typer
from PIL import Image
from typer.testing import CliRunner

from spacy_ita.aligners.component import ImageAligner
from spacy_ita.cli.align_images import align_images_command
from spacy_ita.cli.convert import convert_command
from spacy_ita.data import index_images, read_docbin
from spacy_ita.image_folder import IMAGE_SUFFIXES
from spacy_ita.visual_context import empty_context


@pytest.fixture
def images_dir(tmp_path):
    """Two files for id `a` (which one is a's?) and a TIFF, which Pillow reads."""
    folder = tmp_path / "images"
    folder.mkdir()
    for name in ("a.jpg", "a.jpeg", "b.tif"):
        Image.new("RGB", (8, 8), "white").save(folder / name)
    return folder


@pytest.fixture
def aligned_sources(monkeypatch):
    """The image sources align-images hands to the aligner (no model runs)."""
    seen = []

    def recording_align(self, sources):
        seen.extend(sources)
        return [(empty_context(), []) for _ in sources]  # (context, kinds left out)

    monkeypatch.setattr(ImageAligner, "align_reporting", recording_align)
    return seen


def invoke(command, args):
    app = typer.Typer()
    app.command()(command)
    result = CliRunner().invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    return result


def test_align_images_and_convert_pick_the_same_file_per_image_id(images_dir, tmp_path, aligned_sources, caplog):
    with caplog.at_level(logging.WARNING, logger="spacy_ita"):
        invoke(align_images_command, [images_dir, tmp_path / "contexts.jsonl", "--no-ocr", "--detector", "yolov10n"])
    # Both engines hand the aligner absolute paths (a Ray worker may start elsewhere).
    aligned = {Path(source).stem: Path(source) for source in aligned_sources}

    posts = tmp_path / "posts.txt"
    posts.write_text("IMGID:a\nParis\tB-LOC\n\nIMGID:b\nRome\tB-LOC\n", encoding="utf8")
    invoke(convert_command, [posts, tmp_path / "posts.spacy", "--images", images_dir])
    attached = {doc._.image_id: Path(doc._.image).resolve() for doc in read_docbin(tmp_path / "posts.spacy")}

    assert aligned == attached == {"a": (images_dir / "a.jpg").resolve(), "b": (images_dir / "b.tif").resolve()}
    assert "a.jpeg" in caplog.text  # the file left out is named


def test_index_prefers_the_earlier_suffix_in_any_case_and_skips_other_files(tmp_path):
    for name in ("x.png", "x.JPG", "y.TIFF", "notes.txt", "z.webp"):
        (tmp_path / name).write_bytes(b"")
    (tmp_path / "dir.jpg").mkdir()
    assert index_images(tmp_path) == {"x": tmp_path / "x.JPG", "y": tmp_path / "y.TIFF", "z": tmp_path / "z.webp"}
    assert {".tif", ".tiff"} <= set(IMAGE_SUFFIXES)
    with pytest.raises(NotADirectoryError, match="image folder not found"):
        index_images(tmp_path / "missing")
