"""Real EasyOCR with the offline English weights reads rendered text in reading order."""

import io
import warnings

import pytest
from PIL import Image, ImageDraw, ImageFont

from spacy_ita.aligners.images import load_image
from spacy_ita.aligners.ocr import create_easyocr_backend, reading_order


def render_lines(lines, size=(520, 220), font_size=44, ink="black", background="white", mode="RGB"):
    image = Image.new(mode, size, background)
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=font_size)
    for row, words in enumerate(lines):
        x = 20
        for word in words:
            draw.text((x, 25 + row * 90), word, fill=ink, font=font)
            x += int(draw.textlength(word, font=font)) + 60  # a wide gap: separate word boxes
    return image


@pytest.fixture(scope="module")
def ocr():
    return create_easyocr_backend()


def test_reads_rendered_words_in_reading_order(ocr):
    image = render_lines([["HELLO", "WORLD"], ["OPEN", "NOW"]])
    lines = ocr([image])[0]
    assert [line.upper() for line in lines] == ["HELLO WORLD", "OPEN NOW"]


@pytest.mark.parametrize("ink", ["white", "black", "yellow"])
def test_text_of_any_colour_on_a_transparent_sticker_is_read(ocr, ink):
    """White text on a transparent PNG once read as nothing: every alpha image went onto white."""
    sticker = render_lines([["WELCOME", "TO"], ["JORDAN"]], ink=ink, background=(0, 0, 0, 0), mode="RGBA")
    png = io.BytesIO()
    sticker.save(png, format="PNG")
    lines = ocr([load_image(png.getvalue()).image])[0]  # the loading path every backend's images take
    assert [line.upper() for line in lines] == ["WELCOME TO", "JORDAN"]


def test_loading_and_reading_say_nothing_the_user_could_act_on():
    """torch's deprecation of the quantization EasyOCR uses, and its pin_memory note on every call, once
    filled a first demo run's output: they are for EasyOCR's authors."""
    backend = create_easyocr_backend()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert backend.load_model() is not None  # a fresh load (not the shared one): the quantization
        assert backend([render_lines([["HELLO"]])]) == [["HELLO"]]  # recognition: the DataLoader
    assert [f"{w.category.__name__}: {str(w.message)[:60]}" for w in caught] == []


def test_blank_image_has_no_text(ocr):
    assert ocr([Image.new("RGB", (200, 100), "white"), Image.new("RGB", (1, 1), "white")]) == [[], []]


def test_min_confidence_filters(ocr):
    strict = create_easyocr_backend(min_confidence=1.01)
    assert strict.model is ocr.model  # same weights: loaded once per process
    assert strict([render_lines([["HELLO"]])]) == [[]]


def test_reading_order_groups_lines_then_sorts_left_to_right():
    def box(x, y, w=40, h=20):
        return [[x, y], [x + w, y], [x + w, y + h], [x, y + h]]

    boxes = [(box(200, 102), "now"), (box(10, 5), "Hello"), (box(10, 100), "Open"), (box(120, 8), "world")]
    assert reading_order(boxes) == ["Hello world", "Open now"]


def test_large_images_are_scaled_down_before_ocr_and_still_read(ocr):
    large = render_lines([["HELLO", "WORLD"]], size=(520, 120)).resize((2080, 480))
    capped = create_easyocr_backend(max_side=1024)
    assert capped.model is ocr.model
    assert [line.upper() for line in capped([large])[0]] == ["HELLO WORLD"]
    assert capped.signature != create_easyocr_backend(max_side=0).signature  # the cache tells them apart
