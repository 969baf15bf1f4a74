"""The ita_ner component end to end on the tiny 2-layer BERT."""

import random

import pytest
import spacy
import torch
from spacy.tokens import Doc, Span
from spacy.training import Example

import spacy_ita  # noqa: F401

from reliability_support import NAMES, TEMPLATE, tiny_nlp


def make_examples(nlp, n=20):
    examples = []
    for i in range(n):
        name = list(NAMES)[i % len(NAMES)]
        words = [w or name for w in TEMPLATE]
        context = (
            {"caption": f"a photo of {name}", "objects": [{"label": "person", "count": 1, "score": 0.9}], "ocr": []}
            if i % 2
            else None
        )
        reference = Doc(nlp.vocab, words=words)
        reference.ents = [Span(reference, 5, 6, NAMES[name])]
        predicted = Doc(nlp.vocab, words=words)
        reference._.visual_context = predicted._.visual_context = context
        examples.append(Example(predicted, reference))
    return examples


def train(nlp, examples, epochs=40, seed=0):
    random.seed(seed)
    torch.manual_seed(seed)
    optimizer = nlp.initialize(lambda: examples)
    optimizer.learn_rate = 1e-3
    examples = list(examples)
    for _ in range(epochs):
        random.shuffle(examples)
        for start in range(0, len(examples), 5):
            nlp.update(examples[start : start + 5], sgd=optimizer)
    return nlp


@pytest.fixture(scope="module")
def trained():
    nlp = tiny_nlp()
    examples = make_examples(nlp)
    return train(nlp, examples), examples


def test_tiny_model_overfits_twenty_docs(trained):
    nlp, examples = trained
    scores = nlp.evaluate(examples)
    assert scores["ents_f"] == 1.0
    doc = nlp("I love Obama so much")
    assert [(e.text, e.label_) for e in doc.ents] == [("Obama", "PER")]
    assert 0.5 < doc.ents[0]._.confidence <= 1.0


def test_serialization_gives_identical_predictions(trained, tmp_path):
    nlp, examples = trained
    texts = ["I love Paris so much", "RT @user : Apple and Messi in Berlin", ""]
    expected = [[(e.start, e.end, e.label_, e._.confidence) for e in doc.ents] for doc in nlp.pipe(texts)]
    nlp.to_disk(tmp_path / "model")
    from_disk = spacy.load(tmp_path / "model")
    from_bytes = tiny_nlp().from_bytes(nlp.to_bytes())
    for other in (from_disk, from_bytes):
        got = [[(e.start, e.end, e.label_, e._.confidence) for e in doc.ents] for doc in other.pipe(texts)]
        assert got == expected


def test_a_600_word_post_gets_every_word_tagged(trained):
    nlp, _ = trained
    words = []
    while len(words) < 600:
        words += [w or list(NAMES)[len(words) % len(NAMES)] for w in TEMPLATE]
    doc = Doc(nlp.vocab, words=words[:600])
    pipe = nlp.get_pipe("ita_ner")
    prediction = pipe.predict([doc])[0]
    assert len(prediction["tags"]) == 600
    pipe.set_annotations([doc], [prediction])
    assert all(token.ent_iob_ in ("B", "I", "O") for token in doc)
    # Names near the end, far past the 64-subword window, are still found.
    assert any(ent.start > 550 for ent in doc.ents)


def test_inference_view_switch_and_views_without_context(trained):
    nlp, _ = trained
    pipe = nlp.get_pipe("ita_ner")
    doc = nlp.make_doc("I love Google so much")
    doc._.visual_context = {"caption": "a logo", "objects": [], "ocr": ["Google"]}
    assert pipe.context_of(doc) == [("caption", "a logo"), ("ocr", "Google")]
    with pipe.reading("text"):
        text_only = [e.text for e in nlp(doc).ents]
    assert pipe.inference_view == "auto"
    assert text_only == ["Google"]


def test_view_for_names_the_view_each_doc_is_read_in(trained):
    nlp, _ = trained
    pipe = nlp.get_pipe("ita_ner")
    with_context, bare, blank_context = (nlp.make_doc("I love Google") for _ in range(3))
    with_context._.visual_context = {"caption": "a logo"}
    blank_context._.visual_context = {"caption": "", "ocr": []}  # no text: nothing to read
    assert [pipe.view_for(doc) for doc in (with_context, bare, blank_context)] == [
        "cross_modal",
        "text_only",
        "text_only",
    ]
    assert pipe.read_with(with_context) == [("caption", "a logo")] and pipe.read_with(bare) is None
    with pipe.reading("text"):
        assert pipe.view_for(with_context) == "text_only" and pipe.read_with(with_context) is None


@pytest.mark.parametrize("views", [["text"], ["cross"]])
def test_single_view_training_runs(views):
    nlp = tiny_nlp(views=views)
    examples = make_examples(nlp, 6)
    optimizer = nlp.initialize(lambda: examples)
    losses = nlp.update(examples, sgd=optimizer)
    assert losses["ita_ner"] > 0
    assert losses["ita_ner_kl"] == 0.0


def test_docs_without_any_context_train_on_the_text_view_only():
    nlp = tiny_nlp()
    examples = make_examples(nlp, 4)
    for eg in examples:
        eg.predicted._.visual_context = eg.reference._.visual_context = None
    optimizer = nlp.initialize(lambda: examples)
    losses = nlp.update(examples, sgd=optimizer)
    assert losses["ita_ner_cross_nll"] == 0.0 and losses["ita_ner_kl"] == 0.0 and losses["ita_ner_text_nll"] > 0


def test_bad_config_values_fail_clearly():
    with pytest.raises(ValueError, match="views"):
        tiny_nlp(views=["image"])
    with pytest.raises(ValueError, match="inference_view"):
        tiny_nlp(inference_view="both")
    with pytest.raises(ValueError, match="context kind"):
        tiny_nlp(context_order=["caption", "exif"])


def test_word_shape_features_train_and_round_trip(tmp_path):
    from spacy_ita.ner.word_shape import SHAPES, word_shape

    assert [SHAPES[word_shape(w)] for w in ["obama", "Obama", "NASA", "iPhone", "2015", "!!", "@user", "#tbt"]] == [
        "lower",
        "title",
        "upper",
        "mixed",
        "digit",
        "punct",
        "mention",
        "hashtag",
    ]
    nlp = spacy.blank("en")
    nlp.add_pipe("ita_ner", config={"model": {"encoder": "tiny-bert-2l", "max_length": 64, "word_shape_dim": 8}})
    examples = make_examples(nlp, 6)
    optimizer = nlp.initialize(lambda: examples)
    assert nlp.update(examples, sgd=optimizer)["ita_ner"] > 0
    texts = ["I love Paris so much", "RT @user : Apple in BERLIN"]
    expected = [[(e.start, e.end, e.label_) for e in doc.ents] for doc in nlp.pipe(texts)]
    nlp.to_disk(tmp_path / "shaped")
    assert [
        [(e.start, e.end, e.label_) for e in doc.ents] for doc in spacy.load(tmp_path / "shaped").pipe(texts)
    ] == expected
