"""Real YOLO detectors (offline weights) tag Ultralytics' bus.jpg."""

import os
import subprocess
import sys
from importlib import resources as importlib_resources
from pathlib import Path

import pytest
from PIL import Image

from spacy_ita.aligners.detector import create_yolo_backend, fold_detections, plain_class_names

ASSETS = importlib_resources.files("ultralytics") / "assets"
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def bus():
    return Image.open(ASSETS / "bus.jpg").convert("RGB")


@pytest.mark.parametrize("model", ["yolov8s-world", "yolov10n"])
def test_finds_bus_and_people(bus, model):
    tags = create_yolo_backend(model=model)([bus])[0]
    labels = {tag["label"] for tag in tags}
    assert {"bus", "person"} <= labels
    person = next(tag for tag in tags if tag["label"] == "person")
    assert person["count"] >= 3 and 0.25 <= person["score"] <= 1.0  # four people stand in front of the bus
    assert len(labels) == len(tags)  # duplicates folded


def test_batch_and_cap(bus):
    detector = create_yolo_backend(model="yolov10n", max_tags=1)
    zidane = Image.open(ASSETS / "zidane.jpg").convert("RGB")
    first, second = detector([bus, zidane])
    assert len(first) == 1 and len(second) == 1
    assert second[0]["label"] == "person"


def test_numeric_class_names_become_coco_words():
    names = plain_class_names({i: str(i) for i in range(80)})
    assert names[0] == "person" and names[5] == "bus" and names[79] == "toothbrush"
    assert plain_class_names({0: "traffic_light"}) == {0: "traffic light"}


def test_fold_detections():
    names = {0: "person", 1: "dog"}
    tags = fold_detections([0.0, 1.0, 0.0], [0.5, 0.7, 0.9], names, max_tags=None)
    assert tags == [{"label": "person", "count": 2, "score": 0.9}, {"label": "dog", "count": 1, "score": 0.7}]


def test_a_first_import_on_a_machine_prints_no_settings_banner(tmp_path):
    """Ultralytics announces the settings file it creates on a machine's first import: nothing to act on."""
    script = "from spacy_ita.aligners.detector import import_yolo; import_yolo(); print('imported')"
    env = {**os.environ, "YOLO_CONFIG_DIR": str(tmp_path / "fresh"), "PYTHONPATH": str(REPO)}
    result = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0 and "imported" in result.stdout, result.stderr
    assert (tmp_path / "fresh").exists()  # the settings file was created: the banner's moment
    assert "Settings" not in result.stdout + result.stderr
