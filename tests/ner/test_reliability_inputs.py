"""Messy post texts through a tiny trained ita_ner: every one gives a Doc, in both
inference views, alone and inside an nlp.pipe batch, without disturbing the good
posts batched with it."""

import math

import pytest

from reliability_support import CONTEXT, ents, trained_nlp

LONG_TEXT = " ".join(["RT @user : I love Obama so much # fun"] * 500)  # 5,000 words
AWKWARD = {
    "empty": "",
    "whitespace only": " \t  \n ",
    "emoji and non-BMP": "I love Obama 😀🇫🇷👩‍👩‍👧 so much 𝕏𝔂 𠜎 # fun",
    "zero-width and control": "I\u200b love\u200d Obama \x00\x07\x1b\ufeff so \u200e much\x7f",
    "right-to-left": "أحب باريس كثيرا Obama שלום \u202eevil\u202c",
    "5000 words": LONG_TEXT,
    "300-char token": "I love " + "x" * 300 + " so much",
    "mixed newlines": "I love Obama\r\nso much\rParis\u2028Berlin\n\nLondon\u2029Apple\x85end",
}
GOOD = [
    "RT @user : I love Obama so much # fun",
    "RT @user : I love Paris so much # fun",
    "RT @user : I love Google so much # fun",
    "RT @user : Messi and Trump in London",
]


@pytest.fixture(scope="module")
def nlp():
    return trained_nlp()


def view(nlp, setting):
    nlp.get_pipe("ita_ner").inference_view = setting


def make(nlp, text, with_context=True):
    doc = nlp.make_doc(text)
    doc._.visual_context = dict(CONTEXT) if with_context else None
    return doc


def check_sensible(doc, labels):
    """Every token went through the tagger; entities are well-formed and confident in [0, 1]."""
    assert all(token.ent_iob_ in ("B", "I", "O") for token in doc)
    for ent in doc.ents:
        assert ent.label_ in labels
        assert 0 <= ent.start < ent.end <= len(doc)
        assert math.isfinite(ent._.confidence) and 0.0 <= ent._.confidence <= 1.0


@pytest.mark.parametrize("setting", ["auto", "text"])
@pytest.mark.parametrize("case", [case for case in AWKWARD if case != "5000 words"])  # that one: below
def test_awkward_text_gives_a_doc_with_sensible_entities(nlp, setting, case):
    view(nlp, setting)
    text = AWKWARD[case]
    doc = nlp(make(nlp, text))
    assert doc.text == text  # nothing lost or altered
    check_sensible(doc, nlp.get_pipe("ita_ner").labels)
    if case in ("empty", "whitespace only"):
        assert doc.ents == ()


@pytest.mark.parametrize("setting", ["auto", "text"])
def test_long_post_is_tagged_to_its_last_word(nlp, setting):
    view(nlp, setting)
    doc = nlp(make(nlp, LONG_TEXT))
    assert len(doc) == 5000 and doc.text == LONG_TEXT
    check_sensible(doc, nlp.get_pipe("ita_ner").labels)
    # Every repetition names Obama: each tenth of the post, the last one included,
    # must have its names found (a reader that lost the tail would find none there).
    found = [e for e in doc.ents if (e.text, e.label_) == ("Obama", "PER")]
    assert {e.start // 500 for e in found} == set(range(10))
    assert len(found) >= 200


@pytest.mark.parametrize("setting", ["auto", "text"])
def test_a_bad_item_in_a_batch_does_not_change_the_good_ones(nlp, setting):
    view(nlp, setting)
    alone = {text: nlp(make(nlp, text)) for text in GOOD}
    assert any(doc.ents for doc in alone.values())  # the comparison below is not vacuous
    stream = []
    for i, (case, bad) in enumerate(AWKWARD.items()):
        good = GOOD[i % len(GOOD)]
        stream += [(make(nlp, good), good), (make(nlp, bad), case)]
    docs = list(nlp.pipe((doc for doc, _ in stream), batch_size=4))
    assert len(docs) == len(stream)
    for doc, (_, key) in zip(docs, stream):
        check_sensible(doc, nlp.get_pipe("ita_ner").labels)
        if key in alone:
            assert ents(doc) == ents(alone[key]), f"batched with awkward input, {key!r} changed"
            for got, want in zip(doc.ents, alone[key].ents):
                assert got._.confidence == pytest.approx(want._.confidence, abs=1e-4)


def test_docs_without_context_batch_with_docs_with_one(nlp):
    """auto view: a batch mixing both views gives each doc what it gets alone."""
    view(nlp, "auto")
    docs = [make(nlp, text, with_context=i % 2 == 0) for i, text in enumerate(GOOD + list(AWKWARD.values())[:4])]
    alone = [ents(nlp(make(nlp, d.text, d._.visual_context is not None))) for d in docs]
    assert [ents(d) for d in nlp.pipe(docs, batch_size=3)] == alone


def test_a_long_visual_context_does_not_split_a_short_post_into_one_word_windows(nlp):
    encoder = nlp.get_pipe("ita_ner").model.shims[0].view_encoder
    words = "RT @user : I love Obama so much # fun".split()
    long_context = "a caption that goes on and on " * 60  # far more than max_context_tokens subwords
    view = encoder.encode([words], [long_context])
    assert view.n_rows == 1  # the 10-word post fits beside a truncated context


def test_a_post_cut_inside_an_emoji_is_tagged_as_with_the_replacement_character(nlp):
    """spaCy cannot store a lone surrogate; spacy_ita's make_doc and pipe_with_images repair it, with a warning."""
    from spacy_ita import make_doc, pipe_with_images

    cut, repaired = "Taylor Swift in London tonight \ud83d", "Taylor Swift in London tonight \ufffd"
    with pytest.warns(UserWarning, match="U\\+FFFD"):
        doc = nlp(make_doc(nlp, cut, visual_context=CONTEXT))
    assert doc.text == repaired and ents(doc) == ents(nlp(make_doc(nlp, repaired, visual_context=CONTEXT)))
    with pytest.warns(UserWarning, match="U\\+FFFD"):
        docs = list(pipe_with_images(nlp, [cut, GOOD[0]]))
    assert [d.text for d in docs] == [repaired, GOOD[0]] and ents(docs[1]) == ents(nlp(GOOD[0]))


def test_a_context_cut_inside_an_emoji_is_read_as_the_replacement_character(nlp):
    """A lone surrogate in a context made in Python reaches the subword tokenizer, which refuses it."""
    doc = nlp.make_doc("RT @user : I love Obama so much # fun")
    doc._.visual_context = {"caption": "a sign \ud83d", "ocr": ["WELCOME \udc00"]}
    reference = nlp.make_doc(doc.text)
    reference._.visual_context = {"caption": "a sign \ufffd", "ocr": ["WELCOME \ufffd"]}
    assert ents(nlp(doc)) == ents(nlp(reference))
