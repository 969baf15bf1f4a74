"""A trained image_aligner + ita_ner pipeline survives `spacy package` and an
isolated install: a fresh interpreter loads it by package name and tags posts
with an image, text-only and in batches."""

import json
import os
import random
import sys
import tarfile
import textwrap
from importlib.util import find_spec
from pathlib import Path

import spacy
import torch
from package_support import package_and_install, run
from spacy.tokens import Doc, Span
from spacy.training import Example

PACKAGE = "ita_pkgtest"
VERSION = "0.0.1"

CITIES = ["London", "Paris", "Berlin", "Madrid", "Rome", "Dublin"]


def bus_image() -> Path:
    # Located through the installed package, never a machine path.
    return Path(find_spec("ultralytics").origin).parent / "assets" / "bus.jpg"


def train_tiny_pipeline(output: Path) -> None:
    """image_aligner (fast yolov10n, no OCR) -> ita_ner (tiny BERT) fitted to 'took the bus in <city>'."""
    nlp = spacy.blank("en")
    nlp.add_pipe(
        "image_aligner",
        config={"backends": {"objects": {"@misc": "spacy_ita.YOLODetector.v1", "model": "yolov10n"}, "ocr": None}},
    )
    nlp.add_pipe("ita_ner", config={"model": {"encoder": "tiny-bert-2l", "max_length": 64}})
    examples = []
    for i, city in enumerate(CITIES):
        words = ["Took", "the", "bus", "in", city, "today"]
        reference, predicted = Doc(nlp.vocab, words=words), Doc(nlp.vocab, words=words)
        reference.ents = [Span(reference, 4, 5, "LOC")]
        context = {"objects": [{"label": "bus", "count": 1, "score": 0.9}], "caption": "", "ocr": []} if i % 2 else None
        reference._.visual_context = predicted._.visual_context = context
        examples.append(Example(predicted, reference))
    random.seed(0)
    torch.manual_seed(0)
    optimizer = nlp.initialize(lambda: examples)
    optimizer.learn_rate = 2e-3
    for _ in range(15):
        random.shuffle(examples)
        for start in range(0, len(examples), 3):
            nlp.update(examples[start : start + 3], sgd=optimizer)
    nlp.to_disk(output)


LOAD_AND_TAG = textwrap.dedent(
    """
    import json, sys
    import spacy
    nlp = spacy.load(sys.argv[1])  # by package name: only PYTHONPATH can find it
    from spacy_ita import pipe_with_images
    text = "Took the bus in Paris today"
    doc = nlp.make_doc(text)
    doc._.image = sys.argv[2]
    doc = nlp(doc)
    plain = nlp(text)
    batch = list(pipe_with_images(nlp, [(text, {"image": sys.argv[2]}), text], batch_size=2))
    print(json.dumps({
        "file": nlp.path.as_posix(), "pipeline": nlp.pipe_names,
        "labels": [o["label"] for o in doc._.visual_context["objects"]],
        "ents": [(e.text, e.label_) for e in doc.ents],
        "plain_ents": [(e.text, e.label_) for e in plain.ents], "plain_context": plain._.visual_context,
        "batch": [[(e.text, e.label_) for e in d.ents] for d in batch],
        "batch_has_context": [d._.visual_context is not None for d in batch],
    }))
    """
)


def test_packaged_pipeline_installs_and_runs_in_a_fresh_interpreter(tmp_path):
    model = tmp_path / "model"
    train_tiny_pipeline(model)

    # The package must require spacy-ita (its factories): the project's meta step says so.
    sdist, site = package_and_install(model, tmp_path, PACKAGE, VERSION, dataset="pkgtest")
    with tarfile.open(sdist) as archive:
        packaged_meta = archive.extractfile(f"en_{PACKAGE}-{VERSION}/meta.json")
        requirements = json.load(packaged_meta)["requirements"]
    assert any(r.startswith("spacy-ita") for r in requirements), requirements

    # A fresh interpreter whose only way to the package is PYTHONPATH (spacy-ita itself comes from the environment).
    env = {**os.environ, "PYTHONPATH": str(site)}
    out = run(sys.executable, "-c", LOAD_AND_TAG, f"en_{PACKAGE}", bus_image(), env=env, cwd=tmp_path).stdout
    got = json.loads(out.strip().splitlines()[-1])

    assert got["file"].startswith(site.as_posix())
    assert got["pipeline"] == ["image_aligner", "ita_ner"]
    assert "bus" in got["labels"]
    assert ["Paris", "LOC"] in got["ents"]
    assert ["Paris", "LOC"] in got["plain_ents"] and got["plain_context"] is None
    assert all(["Paris", "LOC"] in ents for ents in got["batch"])
    assert got["batch_has_context"] == [True, False]
