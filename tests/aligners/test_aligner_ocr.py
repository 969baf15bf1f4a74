"""Real OCR (RapidOCR and EasyOCR, offline weights) reads rendered text in reading order."""

import io
import socket
import warnings

import pytest
from PIL import Image, ImageDraw, ImageFont

from spacy_ita.aligners import ocr as ocr_module
from spacy_ita.aligners.images import load_image
from spacy_ita.aligners.ocr import (
    EasyOCRBackend,
    RapidOCRBackend,
    create_easyocr_backend,
    create_rapidocr_backend,
    intra_op_threads,
    ocr_config,
    reading_order,
)

CREATE = {"rapidocr": create_rapidocr_backend, "easyocr": create_easyocr_backend}


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


@pytest.fixture(scope="module", params=sorted(CREATE))
def engine(request):
    return request.param


@pytest.fixture(scope="module")
def ocr(engine):
    return CREATE[engine]()


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


def test_min_confidence_filters(ocr, engine):
    strict = CREATE[engine](min_confidence=1.01)
    assert strict.model is ocr.model  # same weights: loaded once per process
    assert strict([render_lines([["HELLO"]])]) == [[]]


def test_reading_order_groups_lines_then_sorts_left_to_right():
    def box(x, y, w=40, h=20):
        return [[x, y], [x + w, y], [x + w, y + h], [x, y + h]]

    boxes = [(box(200, 102), "now"), (box(10, 5), "Hello"), (box(10, 100), "Open"), (box(120, 8), "world")]
    assert reading_order(boxes) == ["Hello world", "Open now"]


def test_large_images_are_scaled_down_before_ocr_and_still_read(ocr, engine):
    large = render_lines([["HELLO", "WORLD"]], size=(520, 120)).resize((2080, 480))
    assert [line.upper() for line in ocr([large])[0]] == ["HELLO WORLD"]
    assert ocr.signature != CREATE[engine](max_side=0).signature  # the cache tells them apart


def test_each_engine_has_its_own_cache_signature_and_threads_are_not_part_of_it():
    rapid, easy = create_rapidocr_backend(), create_easyocr_backend()
    assert rapid.signature != easy.signature and rapid.model_key != easy.model_key
    assert create_rapidocr_backend(threads=2).signature == rapid.signature  # same output, cache kept
    assert create_rapidocr_backend(min_confidence=0.9).signature != rapid.signature


def test_threads_follow_omp_num_threads_unless_set(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert intra_op_threads(0) == 1 and intra_op_threads(3) == 3
    monkeypatch.delenv("OMP_NUM_THREADS")
    assert intra_op_threads(0) == 0  # onnxruntime's default
    monkeypatch.setenv("OMP_NUM_THREADS", "many")
    assert intra_op_threads(0) == 0


def test_rapidocr_loads_from_the_wheel_and_never_downloads(monkeypatch):
    """A fresh load (its own model key) with every network call and RapidOCR's downloader refused."""
    from rapidocr.utils import download_file

    def refuse(*args, **kwargs):
        raise AssertionError("network or download attempted")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(download_file.DownloadFile, "run", classmethod(refuse))
    backend = create_rapidocr_backend(max_side=900, threads=1)
    assert [line.upper() for line in backend([render_lines([["OPEN"]])])[0]] == ["OPEN"]


def test_rapidocr_missing_model_files_is_a_clear_error(tmp_path):
    backend = create_rapidocr_backend(model_dir=str(tmp_path))
    with pytest.raises(FileNotFoundError, match="nothing is downloaded"):
        backend.load_model()


def test_ocr_config_names_either_engine():
    assert ocr_config("rapidocr") == {"@misc": "spacy_ita.RapidOCR.v1"}
    assert ocr_config("EasyOCR", gpu=True) == {"@misc": "spacy_ita.EasyOCR.v1", "gpu": True}
    assert ocr_config(True) == ocr_config(ocr_module.DEFAULT_OCR_ENGINE)
    assert ocr_config(False) is ocr_config("none") is ocr_config("off") is None
    with pytest.raises(ValueError, match="Unknown OCR engine 'tesseract'.*rapidocr, easyocr, none"):
        ocr_config("tesseract")


@pytest.mark.parametrize("engine_name, backend_type", [("rapidocr", RapidOCRBackend), ("easyocr", EasyOCRBackend)])
def test_a_pipeline_saved_with_an_engine_loads_with_it(tmp_path, engine_name, backend_type):
    import spacy

    nlp = spacy.blank("en")
    nlp.add_pipe("image_aligner", config={"backends": {"objects": None, "ocr": ocr_config(engine_name)}})
    nlp.to_disk(tmp_path / "pipeline")
    loaded = spacy.load(tmp_path / "pipeline")
    backend = loaded.get_pipe("image_aligner").backends["ocr"]
    assert type(backend) is backend_type
    assert backend.signature == nlp.get_pipe("image_aligner").backends["ocr"].signature
