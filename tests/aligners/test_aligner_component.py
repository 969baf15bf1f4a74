"""The image_aligner component: config, merging, batching, caching, failures."""

import logging

import pytest
import spacy
from PIL import Image
from spacy.util import registry

from spacy_ita.aligners import AlignmentBackend, AlignmentCache, ImageAligner


class ColourNamer(AlignmentBackend):
    """A cheap, deterministic backend that counts its calls: names the image's colour."""

    kind = "caption"

    def __init__(self, fail_on_red: bool = False):
        super().__init__(fail_on_red=fail_on_red)
        self.calls = []

    def load_model(self):
        return {(255, 0, 0): "red", (0, 0, 255): "blue"}

    def __call__(self, images):
        self.calls.append(len(images))
        names = [self.model.get(image.getpixel((0, 0)), "other") for image in images]
        if self.settings["fail_on_red"] and "red" in names:
            raise RuntimeError("red hurts")
        return [f"a {name} square" for name in names]


@registry.misc("test_aligner.ColourNamer.v1")
def make_colour_namer(fail_on_red: bool = False) -> ColourNamer:
    return ColourNamer(fail_on_red)


def square(colour):
    return Image.new("RGB", (8, 8), colour)


def test_default_config_builds_without_loading_models():
    nlp = spacy.blank("en")
    aligner = nlp.add_pipe("image_aligner")
    assert sorted(aligner.backends) == ["objects", "ocr"]  # no captioner by default: no offline weights
    assert "backends.objects" in nlp.config.to_str().replace("components.image_aligner.", "")


def test_backend_can_be_turned_off_and_added_in_config(tmp_path):
    nlp = spacy.blank("en")
    config = {
        "backends": {"objects": None, "ocr": None, "colour": {"@misc": "test_aligner.ColourNamer.v1"}},
        "cache": {"@misc": "spacy_ita.AlignmentCache.v1", "directory": str(tmp_path)},
    }
    aligner = nlp.add_pipe("image_aligner", config=config)
    assert list(aligner.backends) == ["colour"] and isinstance(aligner.cache, AlignmentCache)
    doc = nlp.make_doc("hi")
    doc._.image = square("red")
    assert nlp(doc)._.visual_context["caption"] == "a red square"


def test_produced_kinds_override_and_others_are_kept():
    aligner = ImageAligner(backends={"colour": ColourNamer()})
    nlp = spacy.blank("en")
    doc = nlp.make_doc("hi")
    doc._.image = square("blue")
    doc._.visual_context = {"caption": "old caption", "ocr": ["KEEP ME"]}
    aligner(doc)
    assert doc._.visual_context == {
        "objects": [],
        "caption": "a blue square",
        "ocr": ["KEEP ME"],
        "description": "",
        "knowledge": "",
        "kb": "",
    }


def test_one_backend_call_per_batch_and_identical_images_once():
    backend = ColourNamer()
    aligner = ImageAligner(backends={"colour": backend}, batch_size=1000)
    nlp = spacy.blank("en")
    docs = []
    for i in range(100):
        doc = nlp.make_doc(f"post {i}")
        doc._.image = square("red")  # a fresh but identical image each time
        docs.append(doc)
    out = list(aligner.pipe(docs))
    assert backend.calls == [1]
    assert {doc._.visual_context["caption"] for doc in out} == {"a red square"}


def test_pipe_batches_by_batch_size():
    backend = ColourNamer()
    aligner = ImageAligner(backends={"colour": backend})
    nlp = spacy.blank("en")
    docs = [nlp.make_doc(str(i)) for i in range(5)]
    for i, doc in enumerate(docs):
        doc._.image = square((0, i, 0))
    list(aligner.pipe(docs, batch_size=2))
    assert backend.calls == [2, 2, 1]


def test_cache_hit_skips_the_backend(tmp_path):
    cache = AlignmentCache(tmp_path)
    first, second = ColourNamer(), ColourNamer()
    assert ImageAligner(backends={"c": first}, cache=cache).align([square("red")])[0]["caption"] == "a red square"
    assert ImageAligner(backends={"c": second}, cache=cache).align([square("red")])[0]["caption"] == "a red square"
    assert first.calls == [1] and second.calls == []
    # Other settings, other signature: no stale hit.
    third = ColourNamer(fail_on_red=True)
    ImageAligner(backends={"c": third}, cache=cache).align([square("blue")])
    assert third.calls == [1]


def test_a_failing_image_does_not_cost_the_batch(caplog):
    backend = ColourNamer(fail_on_red=True)
    aligner = ImageAligner(backends={"c": backend})
    with caplog.at_level(logging.WARNING, logger="spacy_ita"):
        contexts = aligner.align([square("blue"), square("red"), square((0, 255, 0))])
    assert [c["caption"] for c in contexts] == ["a blue square", "", "a other square"]
    assert "retrying one by one" in caplog.text


def test_missing_weights_fail_loudly():
    class Unloadable(ColourNamer):
        def load_model(self):
            raise FileNotFoundError("no weights")

    with pytest.raises(FileNotFoundError):
        ImageAligner(backends={"c": Unloadable()}).align([square("red")])


def test_non_backend_is_rejected():
    with pytest.raises(ValueError, match="not an AlignmentBackend"):
        ImageAligner(backends={"c": lambda images: images})
