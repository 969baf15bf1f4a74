"""MNER text <-> DocBin: entities, repaired I- tags, visual contexts, images, stats, the CLI."""

import json
import logging
from pathlib import Path

import pytest
import typer
from spacy.tokens import DocBin
from spacy.vocab import Vocab
from typer.testing import CliRunner

from spacy_ita.cli.convert import convert_command
from spacy_ita.data import (
    VisualSources,
    doc_to_record,
    docbin_to_mner,
    mner_to_docbin,
    read_captions,
    read_context_jsonl,
    read_docbin,
    read_mner,
    read_mner_docs,
    stray_inside_tags,
)

POSTS = (
    "IMGID:10\nGeorge\tB-PER\nZimmerman\tI-PER\nin\tO\nNew\tI-LOC\nYork\tI-LOC\n\n"
    "IMGID:20\nSwan\tB-OTHER\nupping\tI-ORG\n\n"
    "IMGID:30\nnothing\tO\n"
)
# New/York: I-LOC after O; upping: I-ORG after B-OTHER. conlleval starts a chunk at both.
REPAIRED = POSTS.replace("New\tI-LOC", "New\tB-LOC").replace("upping\tI-ORG", "upping\tB-ORG")


@pytest.fixture
def posts_file(tmp_path):
    path = tmp_path / "posts.txt"
    path.write_text(POSTS, encoding="utf8")
    return path


@pytest.fixture
def captions_file(tmp_path):
    path = tmp_path / "captions.csv"
    path.write_text(
        'image_name;caption\n10.jpg;a man outside\n20.jpg;"the sign says & amp ; quot ; swan"\n99.jpg;unused\n',
        encoding="utf8",
    )
    return path


def write_jsonl(path: Path, entries):
    path.write_text("".join(json.dumps(e) + "\n" for e in entries), encoding="utf8")
    return path


def test_stray_inside_tags_are_the_ones_conlleval_starts_a_chunk_at():
    assert stray_inside_tags(["I-PER", "I-PER", "O", "B-LOC", "I-LOC", "I-ORG", "B-PER", "I-PER"]) == [0, 5]


def test_entities_and_repairs(posts_file):
    docs, stats = read_mner_docs(posts_file)
    assert [[(e.text, e.label_) for e in doc.ents] for doc in docs] == [
        [("George Zimmerman", "PER"), ("New York", "LOC")],
        [("Swan", "OTHER"), ("upping", "ORG")],
        [],
    ]
    assert [doc._.image_id for doc in docs] == ["10", "20", "30"]
    assert (stats.docs, stats.tokens, stats.total_entities, stats.repaired_tags) == (3, 8, 4, 2)
    assert stats.repaired_by_type == {"LOC": 1, "ORG": 1}
    assert docs[0].text == "George Zimmerman in New York"
    # No sources: text-only docs carry no context at all (None, not an empty dict).
    assert all(doc._.visual_context is None and doc._.image is None for doc in docs)


def test_docbin_round_trip_gives_the_input_with_repaired_tags(posts_file, tmp_path):
    mner_to_docbin(posts_file, tmp_path / "posts.spacy")
    assert docbin_to_mner(tmp_path / "posts.spacy", tmp_path / "back.txt") == 3
    assert (tmp_path / "back.txt").read_text(encoding="utf8").rstrip("\n") == REPAIRED.rstrip("\n")


def test_captions_csv_handles_quoted_semicolons_and_image_names(captions_file):
    assert read_captions(captions_file) == {
        "10": "a man outside",
        "20": "the sign says & amp ; quot ; swan",
        "99": "unused",
    }


def test_contexts_merge_caption_csv_with_jsonl_and_survive_docbin(posts_file, captions_file, tmp_path):
    contexts = write_jsonl(
        tmp_path / "contexts.jsonl",
        [
            {
                "image_id": "10",
                "objects": [{"label": "person", "count": 2, "score": 0.9}],
                "caption": "",
                "ocr": ["STOP"],
            },
            {"image_id": "30.jpg", "objects": ["bus"], "caption": "a bus", "ocr": []},
        ],
    )
    sources = VisualSources.load(captions=captions_file, contexts=contexts)
    stats = mner_to_docbin(posts_file, tmp_path / "posts.spacy", sources)
    docs = list(read_docbin(tmp_path / "posts.spacy"))
    assert docs[0]._.visual_context == {
        "objects": [{"label": "person", "count": 2, "score": 0.9}],
        "caption": "a man outside",  # the JSONL has no caption: the CSV's stays
        "ocr": ["STOP"],
        "description": "",
        "knowledge": "",
        "kb": "",
    }
    assert docs[1]._.visual_context == {
        "objects": [],
        "caption": "the sign says & amp ; quot ; swan",
        "ocr": [],
        "description": "",
        "knowledge": "",
        "kb": "",
    }
    assert docs[2]._.visual_context == {
        "objects": [{"label": "bus", "count": 1, "score": 1.0}],
        "caption": "a bus",
        "ocr": [],
        "description": "",
        "knowledge": "",
        "kb": "",
    }
    assert (stats.with_context, stats.with_caption, stats.with_image) == (3, 3, 0)
    # The captions CSV covers whole datasets; its unused id 99 is no cause for a warning.
    assert stats.unused_context_ids == 0


def test_context_ids_no_post_uses_warn_only_when_posts_went_without_a_context(posts_file, tmp_path, caplog):
    """Posts 20 and 30 have no context while 777 is used by no post: ids that may not match, a warning."""
    contexts = write_jsonl(
        tmp_path / "contexts.jsonl", [{"image_id": "10", "caption": "x"}, {"image_id": "777", "caption": "y"}]
    )
    with caplog.at_level(logging.INFO, logger="spacy_ita"):
        docs, stats = read_mner_docs(posts_file, sources=VisualSources.load(contexts=contexts))
    assert stats.unused_context_ids == 1 and len(docs) == 3
    (warning,) = [r for r in caplog.records if r.name == "spacy_ita" and r.levelno == logging.WARNING]
    message = warning.getMessage()
    assert "777" in message and "contexts.jsonl" in message and "2 post(s) have no context" in message


def test_context_ids_of_other_splits_are_no_warning(posts_file, tmp_path, caplog):
    """The demo's context file covers both splits: 'used by no post' once warned for each, to no purpose."""
    other_split = [{"image_id": str(i), "ocr": ["OTHER"]} for i in range(100, 124)]
    contexts = write_jsonl(
        tmp_path / "contexts.jsonl", [{"image_id": i, "caption": "x"} for i in ("10", "20", "30")] + other_split
    )
    with caplog.at_level(logging.INFO, logger="spacy_ita"):
        docs, stats = read_mner_docs(posts_file, sources=VisualSources.load(contexts=contexts))
    assert stats.unused_context_ids == 24
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert [r.levelno for r in caplog.records if "used by no post" in r.getMessage()] == [logging.INFO]


def test_malformed_context_jsonl_fails_with_file_line(tmp_path):
    path = tmp_path / "contexts.jsonl"
    path.write_text('{"image_id": "1", "caption": "ok"}\n\n{"caption": "no id"}\n', encoding="utf8")
    with pytest.raises(ValueError, match=f"{path}:3: .*'image_id'"):
        read_context_jsonl(path)
    path.write_text('{"image_id": "1"}\n{not json\n', encoding="utf8")
    with pytest.raises(ValueError, match=f"{path}:2: invalid JSON"):
        read_context_jsonl(path)


def test_image_folder_sets_doc_image_path(posts_file, tmp_path):
    images = tmp_path / "images"
    images.mkdir()
    for name in ("10.jpg", "20.png", "20.JPG", "notes.txt"):
        (images / name).write_bytes(b"")
    stats = mner_to_docbin(posts_file, tmp_path / "posts.spacy", VisualSources.load(images=images))
    docs = list(read_docbin(tmp_path / "posts.spacy"))
    assert [doc._.image for doc in docs] == [images / "10.jpg", images / "20.JPG", None]
    assert isinstance(docs[0]._.image, Path) and stats.with_image == 2
    assert docs[0]._.visual_context is None


def test_doc_without_image_id_cannot_be_written(posts_file):
    docs, _ = read_mner_docs(posts_file)
    docs[0]._.image_id = None
    with pytest.raises(ValueError, match="image_id"):
        doc_to_record(docs[0])


def test_convert_command_both_ways(posts_file, captions_file, tmp_path):
    app = typer.Typer()
    app.command()(convert_command)
    runner = CliRunner()
    result = runner.invoke(app, [str(posts_file), str(tmp_path / "out.spacy"), "--captions", str(captions_file)])
    assert result.exit_code == 0, result.output
    assert "3 docs" in result.output and "4 entities" in result.output
    assert "2 stray I- tags" in result.output and "with caption: 2" in result.output
    assert len(DocBin().from_disk(tmp_path / "out.spacy")) == 3
    result = runner.invoke(app, [str(tmp_path / "out.spacy"), str(tmp_path / "back.txt")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "back.txt").read_text(encoding="utf8").rstrip("\n") == REPAIRED.rstrip("\n")
    # Called as a plain function (scripts do), the options default to None.
    convert_command(posts_file, tmp_path / "plain.spacy")
    assert len(DocBin().from_disk(tmp_path / "plain.spacy")) == 3
    bad = tmp_path / "bad.txt"
    bad.write_text("IMGID:1\nGeorge\tE-PER\n", encoding="utf8")
    result = runner.invoke(app, [str(bad), str(tmp_path / "bad.spacy")])
    assert result.exit_code == 1 and f"{bad}:2: unknown tag 'E-PER'" in result.output


@pytest.mark.parametrize("target", ["input", "captions", "contexts"])
def test_convert_never_writes_over_one_of_its_inputs(posts_file, captions_file, tmp_path, target):
    contexts = write_jsonl(tmp_path / "contexts.jsonl", [{"image_id": "10", "ocr": ["HI"]}])
    output = {"input": posts_file, "captions": captions_file, "contexts": contexts}[target]
    before = {path: path.read_bytes() for path in (posts_file, captions_file, contexts)}
    app = typer.Typer()
    app.command()(convert_command)
    args = [str(posts_file), str(output), "--captions", str(captions_file), "--contexts", str(contexts)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 1 and "name a separate output" in " ".join(result.output.split())
    assert {path: path.read_bytes() for path in before} == before


def test_a_context_cut_inside_an_emoji_is_repaired_named_and_converted(posts_file, tmp_path, caplog):
    """A lone surrogate in a context file once stopped the DocBin writer (surrogates not allowed)."""
    contexts = tmp_path / "contexts.jsonl"
    contexts.write_text('{"image_id": "10", "ocr": ["WELCOME \\ud83d"]}\n{"image_id": "20", "ocr": ["HI"]}\n')
    with caplog.at_level(logging.WARNING, logger="spacy_ita"):
        mner_to_docbin(posts_file, tmp_path / "out.spacy", VisualSources.load(contexts=[contexts]))
    assert f"{contexts}:1: 1 undecodable character(s) replaced with U+FFFD" in caplog.text
    docs = {doc._.image_id: doc for doc in read_docbin(tmp_path / "out.spacy")}
    assert docs["10"]._.visual_context["ocr"] == ["WELCOME \ufffd"] and docs["20"]._.visual_context["ocr"] == ["HI"]


# Real data: README counts of ../shared/data (conlleval-style entity counts).
SPLITS = {
    "twitter2015/train": (4000, 6352, 186, 3568),
    "twitter2015/valid": (1000, 1594, 53, 917),
    "twitter2015/test": (3257, 5207, 135, 2942),
    "twitter2017/train": (3373, 6049, 0, 3099),
    "twitter2017/valid": (723, 1324, 0, 658),
}


@pytest.fixture(scope="module")
def caption_sources(shared_data):
    return VisualSources.load(captions=shared_data / "captions-git-base" / "captions.csv")


def assert_round_trip(original, back):
    """Same ids, tokens and tags, except stray I- tags, which come back as B-."""
    assert [r.image_id for r in back] == [r.image_id for r in original]
    assert [r.tokens for r in back] == [r.tokens for r in original]
    for before, after in zip(original, back):
        stray = set(stray_inside_tags(before.tags))
        assert after.tags == ["B-" + tag[2:] if i in stray else tag for i, tag in enumerate(before.tags)]


@pytest.mark.parametrize("split", sorted(SPLITS))
def test_real_split_counts_and_lossless_docs(shared_data, caption_sources, split):
    source = shared_data / f"{split}.txt"
    docs_expected, entities_expected, repaired_expected, captioned_expected = SPLITS[split]
    docs, stats = read_mner_docs(source, sources=caption_sources, progress=False)
    assert (stats.docs, stats.total_entities, stats.repaired_tags) == (
        docs_expected,
        entities_expected,
        repaired_expected,
    )
    assert stats.with_caption == stats.with_context == captioned_expected
    assert_round_trip(list(read_mner(source)), [doc_to_record(doc) for doc in docs])


def test_real_split_survives_docbin_and_text_export(shared_data, caption_sources, tmp_path):
    # One split through the files: DocBin packing costs ~1 ms a doc (srsly looks up its
    # msgpack encoders per doc); the in-memory test above covers all splits.
    source = shared_data / "twitter2015" / "valid.txt"
    mner_to_docbin(source, tmp_path / "valid.spacy", caption_sources, progress=False)
    docs = list(read_docbin(tmp_path / "valid.spacy", Vocab()))
    assert sum(doc._.visual_context is not None for doc in docs) == 917
    captioned = next(doc for doc in docs if doc._.visual_context)
    caption = caption_sources.captions[captioned._.image_id]
    assert captioned._.visual_context == {
        "objects": [],
        "caption": caption,
        "ocr": [],
        "description": "",
        "knowledge": "",
        "kb": "",
    }
    docbin_to_mner(tmp_path / "valid.spacy", tmp_path / "valid.txt")
    assert_round_trip(list(read_mner(source)), list(read_mner(tmp_path / "valid.txt")))
