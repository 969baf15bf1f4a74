"""Object tags with an Ultralytics YOLO detector (YOLOv8-World, YOLOv10, …)."""

import logging
from typing import Any, Dict, List, Mapping, Optional

from PIL import Image
from spacy.util import registry

from ..defaults import DEFAULT_DETECTOR  # noqa: F401  (re-exported)
from ..resources import resolve_model
from .backend import AlignmentBackend


class YOLODetector(AlignmentBackend):
    kind = "objects"

    @property
    def model_key(self):
        return ("yolo", self.settings["model"])

    def load_model(self) -> Any:
        YOLO = import_yolo()
        model = YOLO(resolve_model(self.settings["model"]))
        return model, plain_class_names(model.names)

    def __call__(self, images: List[Image.Image]) -> List[List[Dict[str, Any]]]:
        model, names = self.model
        s = self.settings
        results = model.predict(
            list(images), conf=s["confidence"], imgsz=s["image_size"], device=s["device"], verbose=False
        )
        return [fold_detections(r.boxes.cls.tolist(), r.boxes.conf.tolist(), names, s["max_tags"]) for r in results]


class _SettingsBanner(logging.Filter):
    """Ultralytics' first-run "Creating new Ultralytics Settings ... file" lines: nothing to act on."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("Creating new Ultralytics Settings")


def import_yolo():
    """`ultralytics.YOLO`, imported without the settings banner it logs on a machine's first import."""
    ultralytics_logger = logging.getLogger("ultralytics")
    banner = _SettingsBanner()
    ultralytics_logger.addFilter(banner)
    try:
        from ultralytics import YOLO
    finally:
        ultralytics_logger.removeFilter(banner)
    return YOLO


def plain_class_names(names: Mapping[int, str]) -> Dict[int, str]:
    """Class names as plain words. Some exports (our yolov10n) carry bare ids
    '0'..'79'; an 80-class model with such names is a COCO model, so map the
    ids to the COCO names Ultralytics ships."""
    names = dict(names)
    if all(str(n).isdigit() for n in names.values()) and len(names) == 80:
        from ultralytics.utils import ROOT, YAML

        names = YAML.load(ROOT / "cfg" / "datasets" / "coco.yaml")["names"]
    return {int(i): str(n).replace("_", " ").strip() for i, n in names.items()}


def fold_detections(
    class_ids: List[float], scores: List[float], names: Mapping[int, str], max_tags: Optional[int]
) -> List[Dict[str, Any]]:
    """One tag per class: {"label", "count", "score" (the best)}, best first, at most `max_tags`."""
    folded: Dict[str, Dict[str, Any]] = {}
    for class_id, score in sorted(zip(class_ids, scores), key=lambda pair: -pair[1]):
        label = names.get(int(class_id), str(int(class_id)))
        if label in folded:
            folded[label]["count"] += 1
        else:
            folded[label] = {"label": label, "count": 1, "score": round(float(score), 4)}
    tags = list(folded.values())
    return tags[:max_tags] if max_tags else tags


@registry.misc("spacy_ita.YOLODetector.v1")
def create_yolo_backend(
    model: str = DEFAULT_DETECTOR,
    confidence: float = 0.25,
    max_tags: int = 10,
    image_size: int = 640,
    device: str = "cpu",
) -> YOLODetector:
    """`model`: a known model name ("yolov8s-world", "yolov10n") or a path to .pt weights."""
    return YOLODetector(model=model, confidence=confidence, max_tags=max_tags, image_size=image_size, device=device)
