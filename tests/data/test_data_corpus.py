"""spacy_ita.MNERCorpus.v1: examples from .spacy and .txt files, doc._ values on both sides."""

import json

import pytest
import spacy
from spacy.training import Example

from spacy_ita.data import VisualSources, create_mner_corpus, mner_to_docbin

POSTS = "IMGID:10\nGeorge\tB-PER\nZimmerman\tI-PER\nin\tO\nNew\tB-LOC\nYork\tI-LOC\n\nIMGID:20\nswan\tO\nupping\tO\n"
EXPECTED_ENTS = [[("George Zimmerman", "PER"), ("New York", "LOC")], []]


@pytest.fixture(scope="module")
def nlp():
    return spacy.blank("en")


@pytest.fixture
def files(tmp_path):
    posts = tmp_path / "posts.txt"
    posts.write_text(POSTS, encoding="utf8")
    captions = tmp_path / "captions.csv"
    captions.write_text("image_name;caption\n10.jpg;a man outside a house\n", encoding="utf8")
    contexts = tmp_path / "contexts.jsonl"
    contexts.write_text(json.dumps({"image_id": "20", "objects": ["bird"], "ocr": ["SWAN"]}) + "\n", encoding="utf8")
    images = tmp_path / "images"
    images.mkdir()
    (images / "20.jpg").write_bytes(b"")
    return {"posts": posts, "captions": captions, "contexts": contexts, "images": images}


def check_examples(examples, images):
    assert all(isinstance(eg, Example) for eg in examples)
    assert [[(e.text, e.label_) for e in eg.reference.ents] for eg in examples] == EXPECTED_ENTS
    for eg in examples:
        assert [t.text for t in eg.predicted] == [t.text for t in eg.reference]
        assert not eg.predicted.ents
        for name in ("image", "image_id", "visual_context"):
            assert eg.predicted._.get(name) == eg.reference._.get(name)
    first, second = examples
    assert (first.predicted._.image_id, second.predicted._.image_id) == ("10", "20")
    assert first.predicted._.visual_context == {
        "objects": [],
        "caption": "a man outside a house",
        "ocr": [],
        "description": "",
        "knowledge": "",
        "kb": "",
    }
    assert second.predicted._.visual_context["objects"] == [{"label": "bird", "count": 1, "score": 1.0}]
    assert second.predicted._.visual_context["ocr"] == ["SWAN"]
    assert (first.predicted._.image, second.predicted._.image) == (None, images / "20.jpg")
    # The predicted context is a copy: a component writing into it leaves the gold one alone.
    second.predicted._.visual_context["ocr"].append("changed")
    assert second.reference._.visual_context["ocr"] == ["SWAN"]


def test_reads_raw_text_with_contexts_and_images(nlp, files):
    corpus = create_mner_corpus(
        files["posts"], captions=files["captions"], contexts=files["contexts"], images=files["images"]
    )
    check_examples(list(corpus(nlp)), files["images"])


def test_reads_docbin_with_its_doc_extension_values(nlp, files, tmp_path):
    sources = VisualSources.load(files["captions"], files["contexts"], files["images"])
    mner_to_docbin(files["posts"], tmp_path / "posts.spacy", sources)
    corpus = create_mner_corpus(tmp_path / "posts.spacy")
    check_examples(list(corpus(nlp)), files["images"])


def test_is_registered_for_spacy_configs(nlp, files):
    create = spacy.registry.readers.get("spacy_ita.MNERCorpus.v1")
    examples = list(create(path=str(files["posts"]), limit=1, shuffle=True)(nlp))
    assert [eg.reference._.image_id for eg in examples] == ["10"]
    assert examples[0].predicted._.visual_context is None


def test_a_folder_reads_all_its_corpus_files(nlp, files, tmp_path):
    folder = tmp_path / "corpus"
    folder.mkdir()
    (folder / "a.txt").write_text(POSTS, encoding="utf8")
    mner_to_docbin(files["posts"], folder / "b.spacy")
    assert len(list(create_mner_corpus(folder)(nlp))) == 4


def test_missing_path_fails_clearly(nlp, tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere.txt"):
        list(create_mner_corpus(tmp_path / "nowhere.txt")(nlp))


def test_real_data_corpus(shared_data, nlp):
    corpus = create_mner_corpus(
        shared_data / "twitter2017" / "valid.txt", captions=shared_data / "captions-git-base" / "captions.csv"
    )
    examples = list(corpus(nlp))
    assert len(examples) == 723
    assert sum(len(eg.reference.ents) for eg in examples) == 1324
    assert sum(eg.predicted._.visual_context is not None for eg in examples) == 658
