"""Images through a whole pipeline, image_aligner then ita_ner: a bad image costs
the post its visual context, never its entities or the run; odd but valid images
are aligned; URLs are refused without touching the network; a repeated image is
aligned once."""

import logging
import socket
from importlib import resources as importlib_resources

import numpy
import pytest
from PIL import Image, ImageDraw, ImageFont
from spacy.util import registry

from spacy_ita.aligners import AlignmentBackend
from spacy_ita.aligners.ocr import OCR_ENGINES, ocr_config
from spacy_ita.visual_context import empty_context

from reliability_support import ents, trained_nlp
from test_aligner_images import png_header_only  # a decompression bomb's shape in a few bytes

BUS_JPG = importlib_resources.files("ultralytics") / "assets" / "bus.jpg"
POST = "RT @user : I love Obama so much # fun"
CAPTION = "a photo of a person"


class CountingCaptioner(AlignmentBackend):
    """A cheap stand-in for a captioner that records every batch it is given."""

    kind = "caption"
    calls = []  # class-wide: the pipeline builds its own instance from the config

    def load_model(self):
        return CAPTION

    def __call__(self, images):
        CountingCaptioner.calls.append(len(images))
        return [self.model for _ in images]


@registry.misc("test_reliability.CountingCaptioner.v1")
def make_counting_captioner() -> CountingCaptioner:
    return CountingCaptioner()


def bad_images(folder):
    folder.mkdir(parents=True, exist_ok=True)
    jpeg = BUS_JPG.read_bytes()
    (folder / "zero.jpg").write_bytes(b"")
    (folder / "truncated.jpg").write_bytes(jpeg[: len(jpeg) // 2])
    (folder / "corrupt.jpg").write_bytes(b"\xff\xd8\xff\xe0" + bytes(range(256)) * 8)
    (folder / "bomb.png").write_bytes(png_header_only(50_000, 50_000))
    (folder / "folder.jpg").mkdir()
    return {
        "missing file": folder / "nope.jpg",
        "zero bytes": folder / "zero.jpg",
        "truncated jpeg": folder / "truncated.jpg",
        "corrupt bytes": folder / "corrupt.jpg",
        "decompression bomb": folder / "bomb.png",
        "directory": str(folder / "folder.jpg"),
        "url": "https://example.com/cat.jpg",
    }


def odd_images(folder):
    folder.mkdir(parents=True, exist_ok=True)
    base = Image.open(BUS_JPG).convert("RGB").resize((96, 128))
    images = {
        "cmyk.jpg": base.convert("CMYK"),
        "alpha.png": base.convert("RGBA"),
        "gray.png": base.convert("L"),
        "gray16.png": Image.fromarray(numpy.asarray(base.convert("L"), dtype=numpy.uint16) * 257),
        "unicode ☃ Zürich 東京.jpg": base,
    }
    paths = {name: folder / name for name in images}
    for name, image in images.items():
        image.save(paths[name])
    paths["animated.gif"] = folder / "animated.gif"
    base.save(paths["animated.gif"], save_all=True, append_images=[base.rotate(180)], duration=50)
    return paths


@pytest.fixture(scope="module")
def nlp():
    nlp = trained_nlp()
    nlp.add_pipe(
        "image_aligner",
        first=True,
        config={
            "backends": {"objects": None, "ocr": None, "caption": {"@misc": "test_reliability.CountingCaptioner.v1"}}
        },
    )
    return nlp


@pytest.fixture
def no_network(monkeypatch):
    """Any attempt to resolve a host or open a connection is recorded and fails."""
    attempts = []

    def refuse(*args, **kwargs):
        attempts.append(args)
        raise OSError("network access attempted in a test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    return attempts


def post(nlp, image):
    doc = nlp.make_doc(POST)
    doc._.image = image
    return doc


@pytest.fixture(scope="module")
def text_only_ents(nlp):
    doc = nlp(nlp.make_doc(POST))
    assert doc.ents  # the posts below are not vacuous: the model tags this one
    return ents(doc)


@pytest.mark.parametrize(
    "case", ["missing file", "zero bytes", "truncated jpeg", "corrupt bytes", "decompression bomb", "directory", "url"]
)
def test_bad_image_costs_the_context_not_the_entities(nlp, text_only_ents, tmp_path, caplog, no_network, case):
    CountingCaptioner.calls.clear()
    with caplog.at_level(logging.WARNING, logger="spacy_ita"):
        doc = nlp(post(nlp, bad_images(tmp_path)[case]))
    assert doc._.visual_context == empty_context()
    assert ents(doc) == text_only_ents
    assert "Skipping image" in caplog.text
    assert CountingCaptioner.calls == []  # nothing readable reached the backend
    assert no_network == []


def test_url_is_refused_clearly_and_never_fetched(nlp, caplog, no_network):
    with caplog.at_level(logging.WARNING, logger="spacy_ita"):
        docs = list(nlp.pipe([post(nlp, "http://example.com/a.jpg"), post(nlp, "ftp://example.com/b.png")]))
    assert [d._.visual_context for d in docs] == [empty_context()] * 2
    assert caplog.text.count("never fetched") == 2
    assert no_network == []


@pytest.mark.parametrize(
    "name", ["cmyk.jpg", "alpha.png", "gray.png", "gray16.png", "animated.gif", "unicode ☃ Zürich 東京.jpg"]
)
def test_odd_image_is_aligned_and_the_post_tagged_cross_modal(nlp, text_only_ents, tmp_path, name):
    CountingCaptioner.calls.clear()
    doc = nlp(post(nlp, odd_images(tmp_path)[name]))
    assert doc._.visual_context["caption"] == CAPTION
    assert CountingCaptioner.calls == [1]
    assert nlp.get_pipe("ita_ner").context_of(doc) == [("caption", CAPTION)]  # read cross-modal
    assert ents(doc) == text_only_ents


def test_same_image_in_a_batch_of_100_is_aligned_once(nlp, tmp_path):
    path = odd_images(tmp_path)["unicode ☃ Zürich 東京.jpg"]
    CountingCaptioner.calls.clear()
    # Paths as str and Path, and the raw bytes: one image, one backend call.
    sources = [path, str(path), path.read_bytes()]
    docs = list(nlp.pipe([post(nlp, sources[i % 3]) for i in range(100)], batch_size=100))
    assert CountingCaptioner.calls == [1]
    assert all(d._.visual_context["caption"] == CAPTION for d in docs)
    assert len({tuple(ents(d)) for d in docs}) == 1 and docs[0].ents


def test_a_cache_aligns_a_repeated_image_once_across_batches(tmp_path):
    nlp = trained_nlp()
    nlp.add_pipe(
        "image_aligner",
        first=True,
        config={
            "backends": {"objects": None, "ocr": None, "caption": {"@misc": "test_reliability.CountingCaptioner.v1"}},
            "cache": {"@misc": "spacy_ita.AlignmentCache.v1", "directory": str(tmp_path / "cache")},
        },
    )
    path = odd_images(tmp_path)["gray.png"]
    CountingCaptioner.calls.clear()
    docs = list(nlp.pipe([post(nlp, path) for _ in range(100)], batch_size=16))
    assert CountingCaptioner.calls == [1]
    assert all(d._.visual_context["caption"] == CAPTION for d in docs)


def test_real_detector_pipeline_over_good_bad_and_url_images(tmp_path, caplog, no_network):
    """yolov10n, then ita_ner, over one batch: good images get objects, bad ones
    (and the URL) go on text-only, every post is tagged, nothing is fetched."""
    nlp = trained_nlp()
    nlp.add_pipe("image_aligner", first=True, config={"backends": {"ocr": None, "objects": {"model": "yolov10n"}}})
    bad = bad_images(tmp_path / "bad")
    odd = odd_images(tmp_path / "odd")
    sources = [
        BUS_JPG,
        bad["url"],
        bad["truncated jpeg"],
        odd["cmyk.jpg"],
        bad["decompression bomb"],
        odd["unicode ☃ Zürich 東京.jpg"],
        bad["missing file"],
    ]
    with caplog.at_level(logging.WARNING, logger="spacy_ita"):
        docs = list(nlp.pipe([post(nlp, source) for source in sources], batch_size=4))
    alone = ents(nlp(nlp.make_doc(POST)))
    for doc, source in zip(docs, sources):
        labels = {o["label"] for o in doc._.visual_context["objects"]}
        if source in (BUS_JPG, odd["cmyk.jpg"], odd["unicode ☃ Zürich 東京.jpg"]):
            assert "bus" in labels, source
        else:
            assert doc._.visual_context == empty_context(), source
            assert ents(doc) == alone  # text-only, exactly as without an image
        assert doc.ents and all(t.ent_iob_ in ("B", "I", "O") for t in doc)
    assert caplog.text.count("Skipping image") == 4
    assert no_network == []


@pytest.mark.parametrize("engine", sorted(OCR_ENGINES))
def test_real_ocr_pipeline_over_text_bad_odd_and_url_images(tmp_path, caplog, no_network, engine):
    """Each OCR engine, then ita_ner, over one batch: the text image is read, odd images
    (CMYK, alpha, 16-bit, animated, unicode names) are aligned, bad ones and the URL go
    on text-only, every post is tagged, nothing is fetched."""
    nlp = trained_nlp()
    nlp.add_pipe("image_aligner", first=True, config={"backends": {"objects": None, "ocr": ocr_config(engine)}})
    sign = Image.new("RGB", (320, 120), "white")
    ImageDraw.Draw(sign).text((20, 30), "OPEN", fill="black", font=ImageFont.load_default(size=48))
    sign.save(tmp_path / "sign.png")
    bad = bad_images(tmp_path / "bad")
    odd = odd_images(tmp_path / "odd")
    sources = [tmp_path / "sign.png", *bad.values(), *odd.values()]
    with caplog.at_level(logging.WARNING, logger="spacy_ita"):
        docs = list(nlp.pipe([post(nlp, source) for source in sources], batch_size=4))
    alone = ents(nlp(nlp.make_doc(POST)))
    assert [line.upper() for line in docs[0]._.visual_context["ocr"]] == ["OPEN"]
    for doc, source in zip(docs[1 : 1 + len(bad)], bad.values()):
        assert doc._.visual_context == empty_context(), source
        assert ents(doc) == alone
    for doc in docs[1 + len(bad) :]:
        assert isinstance(doc._.visual_context["ocr"], list)  # aligned (a bus photo crop: text or not)
    assert all(doc.ents for doc in docs)
    assert caplog.text.count("Skipping image") == len(bad)
    assert no_network == []
