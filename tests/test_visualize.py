"""The HTML view: image, visual contexts and entities on one self-contained page."""

import base64
import io

import pytest
import spacy
from PIL import Image
from spacy.tokens import Span

import spacy_ita  # noqa: F401  (declares the doc extensions)
from spacy_ita.cli.render import render_command
from spacy_ita.visualize import image_data_uri, render_html

CONTEXT = {
    "objects": [{"label": "person", "count": 2, "score": 0.91}, {"label": "bus", "count": 1, "score": 0.8}],
    "caption": "two men in front of a poster",
    "ocr": ["TAYLOR SWIFT", "LIVE"],
}


@pytest.fixture
def nlp():
    return spacy.blank("en")


@pytest.fixture
def red_png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (40, 20), (200, 30, 30)).save(buffer, format="PNG")
    return buffer.getvalue()


def make_doc(nlp, image=None, context=CONTEXT):
    doc = nlp("Can't believe we saw Swift tonight in London")
    doc.ents = [Span(doc, 5, 6, label="PER"), Span(doc, 8, 9, label="LOC")]
    doc._.image = image
    doc._.image_id = "demo_1"
    doc._.visual_context = context
    return doc


def decode_data_uri(uri: str) -> Image.Image:
    header, payload = uri.split(",", 1)
    assert header.startswith("data:image/") and header.endswith(";base64")
    return Image.open(io.BytesIO(base64.b64decode(payload)))


@pytest.mark.parametrize("kind", ["path", "str", "bytes", "pil"])
def test_image_data_uri_accepts_every_image_form(tmp_path, red_png, kind):
    path = tmp_path / "red.png"
    path.write_bytes(red_png)
    image = {"path": path, "str": str(path), "bytes": red_png, "pil": Image.open(path)}[kind]
    decoded = decode_data_uri(image_data_uri(image))
    assert decoded.size == (40, 20)
    assert decoded.convert("RGB").getpixel((5, 5))[0] > 150


def test_image_data_uri_downscales_large_images():
    big = Image.new("RGB", (2000, 1000), (0, 0, 255))
    assert decode_data_uri(image_data_uri(big, max_side=100)).size == (100, 50)


@pytest.mark.parametrize("image", [None, "/nonexistent/picture.jpg", b"not an image"])
def test_image_data_uri_is_none_without_a_readable_image(image):
    assert image_data_uri(image) is None


def test_page_shows_image_contexts_and_entities(nlp, red_png):
    page = render_html([make_doc(nlp, image=red_png)])
    assert page.startswith("<!DOCTYPE html>")
    assert image_data_uri(red_png) in page
    for text in ("person ×2 (0.91)", "bus ×1 (0.80)", "two men in front of a poster", "TAYLOR SWIFT", "LIVE"):
        assert text in page
    assert "Swift" in page and "London" in page
    assert "PER" in page and "LOC" in page
    assert "demo_1" in page


def test_page_without_image_or_context(nlp):
    page = render_html(make_doc(nlp, context=None))
    assert "no image" in page
    assert "<img" not in page
    assert "PER" in page


def test_contexts_from_the_image_are_escaped(nlp):
    hostile = {"caption": "<script>alert(1)</script>", "ocr": ["<b>SALE</b>"], "objects": ["<i>cat</i>"]}
    page = render_html([make_doc(nlp, context=hostile)])
    assert "<script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<b>SALE</b>" not in page and "&lt;b&gt;SALE&lt;/b&gt;" in page
    assert "<i>cat</i>" not in page


def test_several_docs_on_one_page(nlp, red_png):
    docs = [make_doc(nlp, image=red_png), make_doc(nlp)]
    page = render_html(docs, title="two posts")
    assert page.count('class="ita-doc"') == 2
    assert "<title>two posts</title>" in page


def test_render_command_loads_pipeline_and_attaches_image(tmp_path, nlp, red_png):
    """The command runs a saved pipeline on the text with the image attached; a pipeline with
    no image_aligner is told that it does not read the image (api.make_doc's warning)."""
    ruler = nlp.add_pipe("entity_ruler")
    ruler.add_patterns([{"label": "PER", "pattern": "Swift"}])
    model_dir = tmp_path / "model"
    nlp.to_disk(model_dir)
    image_path = tmp_path / "poster.png"
    image_path.write_bytes(red_png)
    output = tmp_path / "out" / "page.html"
    with pytest.warns(UserWarning, match="no enabled 'image_aligner'"):
        render_command(str(model_dir), "We saw Swift tonight", image=image_path, output=output)
    page = output.read_text(encoding="utf8")
    assert image_data_uri(image_path) in page
    assert "Swift" in page and "PER" in page


def test_entity_markup_of_a_post_without_entities_warns_nothing():
    """spaCy's W006 ("no entities to visualize") is expected for many posts: the pages and
    `render` must not print it for each (it leaked to the console of evaluate-views)."""
    import warnings

    import spacy

    from spacy_ita.visualize import entities_html

    doc = spacy.blank("en")("nothing to tag here")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        markup = entities_html(doc)
        page = entities_html([doc, doc], page=True)
    assert not [w for w in caught if "W006" in str(w.message)]
    assert "nothing to tag here" in markup and page.lstrip().lower().startswith("<!doctype html>")
