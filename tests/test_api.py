"""spacy_ita.api: one doc with its image, text-only, and the batch forms."""

import pytest
import spacy
from PIL import Image
from spacy.tokens import Doc, Span
from spacy.training import Example
from spacy.util import registry

from spacy_ita.aligners import AlignmentBackend
from spacy_ita.api import has_aligner, make_doc, pipe_with_images


class ColourCaptioner(AlignmentBackend):
    """Deterministic and model-free: captions an image with its top-left colour."""

    kind = "caption"

    def load_model(self):
        return {(255, 0, 0): "red", (0, 0, 255): "blue"}

    def __call__(self, images):
        return [f"a {self.model.get(image.getpixel((0, 0)), 'grey')} square" for image in images]


@registry.misc("test_api.ColourCaptioner.v1")
def make_colour_captioner() -> ColourCaptioner:
    return ColourCaptioner()


def square(colour):
    return Image.new("RGB", (8, 8), colour)


@pytest.fixture(scope="module")
def nlp():
    """image_aligner -> ita_ner (tiny encoder, initialized; its predictions are not the point here)."""
    nlp = spacy.blank("en")
    nlp.add_pipe(
        "image_aligner",
        config={"backends": {"objects": None, "ocr": None, "caption": {"@misc": "test_api.ColourCaptioner.v1"}}},
    )
    nlp.add_pipe("ita_ner", config={"model": {"encoder": "tiny-bert-2l", "max_length": 64}})
    reference = Doc(nlp.vocab, words=["I", "love", "Paris"])
    reference.ents = [Span(reference, 2, 3, "LOC")]
    nlp.initialize(lambda: [Example(Doc(nlp.vocab, words=["I", "love", "Paris"]), reference)])
    return nlp


def test_doc_with_image_is_aligned(nlp):
    doc = nlp(make_doc(nlp, "I love Paris", image=square("red")))
    assert doc._.visual_context["caption"] == "a red square"
    assert all(ent.label_ == "LOC" for ent in doc.ents)


def test_text_only_and_precomputed_context(nlp):
    assert nlp("I love Paris")._.visual_context is None
    doc = nlp(make_doc(nlp, "I love Paris", visual_context={"ocr": "PARIS"}))
    assert doc._.visual_context == {
        "objects": [],
        "caption": "",
        "ocr": ["PARIS"],
        "description": "",
        "knowledge": "",
        "kb": "",
    }  # untouched by the aligner


def test_pipe_with_images_keeps_order_and_mixes_forms(nlp):
    items = [
        ("I love Paris", {"image": square("blue")}),
        "I love Paris",
        ("I love Paris", {"visual_context": {"caption": "the Eiffel tower"}}),
        ("I love Paris", None),
        ("I love Paris", {"image": square("red")}),
    ]
    contexts = [doc._.visual_context for doc in pipe_with_images(nlp, items, batch_size=2)]
    captions = [c and c["caption"] for c in contexts]
    assert captions == ["a blue square", None, "the Eiffel tower", None, "a red square"]


def test_as_tuples_pattern(nlp):
    """The plain spaCy form: nlp.pipe over (doc, context) tuples keeps the user's context."""
    rows = [("I love Paris", {"id": 1, "image": square("red")}), ("I love Paris", {"id": 2})]
    pairs = ((make_doc(nlp, text, image=row.get("image")), row) for text, row in rows)
    got = [(row["id"], doc._.visual_context) for doc, row in nlp.pipe(pairs, as_tuples=True)]
    assert got[0] == (
        1,
        {"objects": [], "caption": "a red square", "ocr": [], "description": "", "knowledge": "", "kb": ""},
    ) and got[1] == (2, None)


def test_image_without_aligner_warns(nlp):
    text_only = spacy.blank("en")
    assert has_aligner(nlp) and not has_aligner(text_only)
    with pytest.warns(UserWarning, match="no enabled 'image_aligner'"):
        make_doc(text_only, "I love Paris", image=square("red"))
    with pytest.raises(ValueError, match="Unknown keys"):
        list(pipe_with_images(nlp, [("I love Paris", {"img": "x.jpg"})]))
