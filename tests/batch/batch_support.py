"""Test helpers for the batch jobs, imported by the tests *and* by every worker
process (through the jobs' `code` setting, as users load custom components):
model-free image backends and a probe component that records what it tags
and can fail or kill its process on cue."""

import json
import os
from pathlib import Path

from PIL import Image
from spacy.language import Language
from spacy.util import registry

from spacy_ita.aligners import AlignmentBackend

CODE = str(Path(__file__).resolve())
RED, BLUE, WHITE = (255, 0, 0), (0, 0, 255), (255, 255, 255)


def square(colour, size=(16, 16)) -> Image.Image:
    return Image.new("RGB", size, colour)


class ColourObjects(AlignmentBackend):
    """Objects from the top-left colour: a red image has a 'red thing', others none."""

    kind = "objects"

    def load_model(self):
        return {RED: "red thing"}

    def __call__(self, images):
        labels = [self.model.get(image.getpixel((0, 0))) for image in images]
        return [[{"label": label, "count": 1, "score": 0.9}] if label else [] for label in labels]


class ColourOCR(AlignmentBackend):
    """OCR lines from the top-left colour: blue reads 'PARIS', others nothing."""

    kind = "ocr"

    def load_model(self):
        return {BLUE: ["PARIS"]}

    def __call__(self, images):
        return [list(self.model.get(image.getpixel((0, 0)), [])) for image in images]


@registry.misc("batch_support.ColourObjects.v1")
def make_colour_objects() -> ColourObjects:
    return ColourObjects()


@registry.misc("batch_support.ColourOCR.v1")
def make_colour_ocr() -> ColourOCR:
    return ColourOCR()


BACKENDS = {"objects": {"@misc": "batch_support.ColourObjects.v1"}, "ocr": {"@misc": "batch_support.ColourOCR.v1"}}


class Probe:
    """Appends each doc's text to `log`; raises on a doc containing `fail_on`;
    kills its process (os._exit) once, the first time, if `die_once` names a marker file."""

    def __init__(self, log: str, fail_on: str, die_once: str) -> None:
        self.log, self.fail_on, self.die_once = log, fail_on, die_once

    def __call__(self, doc):
        if self.die_once and not os.path.exists(self.die_once):
            Path(self.die_once).touch()
            os._exit(1)
        if self.fail_on and self.fail_on in doc.text:
            raise ValueError(f"probe: failing on {doc.text!r} as asked")
        if self.log:
            with open(self.log, "a", encoding="utf8") as handle:
                handle.write(doc.text.replace("\n", " ") + "\n")
        return doc


@Language.factory("batch_support_probe", default_config={"log": "", "fail_on": "", "die_once": ""})
def make_probe(nlp, name, log: str, fail_on: str, die_once: str) -> Probe:
    return Probe(log, fail_on, die_once)


# --- posts and models for the annotate tests (driver side) ---

LONG = " ".join(["RT @user : I love Obama so much # fun"] * 12)  # 120 words: past the 64-subword window
POSTS = [
    {"id": "p1", "text": "RT @user : I love Obama so much # fun", "image": "img/red.png"},
    {"id": "p2", "text": "RT @user : I love Paris so much # fun"},
    {"id": "p3", "text": "Messi and Trump in London", "visual_context": {"caption": "a photo of Messi"}},
    {"id": "p4", "text": "I love Google", "image": "img/blue.png"},
    {"id": "p5", "text": "Apple in Berlin", "image": "img/broken.jpg"},
    {"id": "p6", "text": LONG},
    {"id": "p7", "text": "RT @user : I love Berlin so much # fun", "image": "img/white.png"},
]
BAD_LINES = [
    '{"id": "b1", "text": 42}',
    '{"id": "b2"}',
    '{"id": "b3", "text": "x", "visual_context": [1]}',
    "{not json",
    '{"id": "p1", "text": "a second p1"}',
]


def save_model(path, **probe):
    """The tiny trained ita_ner behind an image_aligner with the model-free test backends, plus the probe."""
    from reliability_support import trained_nlp  # the driver only: workers import this file too

    nlp = trained_nlp()
    nlp.add_pipe("image_aligner", first=True, config={"backends": BACKENDS})
    nlp.add_pipe("batch_support_probe", config=probe)
    nlp.to_disk(path)
    return str(path)


def write_posts(folder, posts=POSTS, bad_lines=()):
    images = folder / "img"
    images.mkdir(parents=True, exist_ok=True)
    for name, colour in (("red", RED), ("blue", BLUE), ("white", WHITE)):
        square(colour).save(images / f"{name}.png")
    (images / "broken.jpg").write_bytes(b"not an image")
    path = folder / "posts.jsonl"
    path.write_text(
        "".join(json.dumps(p) + "\n" for p in posts) + "".join(line + "\n" for line in bad_lines), encoding="utf8"
    )
    return path


def read_rows(output):
    if output.suffix == ".jsonl":
        return [json.loads(line) for line in output.read_text(encoding="utf8").splitlines()]
    import pyarrow.dataset

    return pyarrow.dataset.dataset(output, format="parquet").to_table().to_pylist()
