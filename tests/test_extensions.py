"""doc._.image / image_id / visual_context are declared once and survive DocBin and Doc.to_bytes."""

from pathlib import Path

import pytest
import spacy
from PIL import Image
from spacy.tokens import Doc, DocBin

import spacy_ita  # noqa: F401
from spacy_ita.extensions import register_extensions
from spacy_ita.visual_context import context_text, normalize_context

CONTEXT = {
    "objects": [{"label": "person", "count": 2, "score": 0.91}],
    "caption": "two men on a stage",
    "ocr": ["TAYLOR SWIFT", "THE ERAS TOUR"],
    "description": "Two men stand on a stage under a banner that reads THE ERAS TOUR.",
    "knowledge": "Named entities: 1. Taylor Swift (person/singer)",
    "kb": "Taylor Swift: American singer-songwriter",
}


@pytest.fixture(scope="module")
def nlp():
    return spacy.blank("en")


def image_values():
    return {
        "path string": "photos/a b é.jpg",
        "Path": Path("photos") / "poster.png",
        "bytes": b"\x89PNG fake bytes are kept as they are",
        "PIL image": Image.new("RGBA", (3, 2), (10, 20, 30, 40)),
    }


def same_image(a, b):
    if isinstance(a, Image.Image):
        return isinstance(b, Image.Image) and a.mode == b.mode and a.tobytes() == b.tobytes()
    return a == b and type(a) is type(b)


@pytest.mark.parametrize("kind", list(image_values()))
def test_extensions_survive_docbin_and_to_bytes(nlp, kind):
    image = image_values()[kind]
    doc = nlp("Swift on stage tonight")
    doc._.image, doc._.image_id, doc._.visual_context = image, "16_05_01_123", CONTEXT
    from_docbin = next(
        DocBin(docs=[doc], store_user_data=True)
        .from_bytes(DocBin(docs=[doc], store_user_data=True).to_bytes())
        .get_docs(nlp.vocab)
    )
    from_bytes = Doc(nlp.vocab).from_bytes(doc.to_bytes())
    for restored in (from_docbin, from_bytes):
        assert same_image(image, restored._.image)
        assert restored._.image_id == "16_05_01_123"
        # msgpack hands lists back as tuples; the context reads the same either way.
        assert normalize_context(restored._.visual_context) == CONTEXT
        assert context_text(restored._.visual_context) == context_text(CONTEXT)


def test_registering_twice_changes_nothing(nlp):
    register_extensions()
    register_extensions()
    doc = nlp("x")
    assert doc._.image is None and doc._.image_id is None and doc._.visual_context is None
