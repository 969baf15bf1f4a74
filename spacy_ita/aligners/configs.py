"""The image_aligner's `backends` config from plain settings (a detector name, an OCR
engine, a captioner), as `align-images`, `assemble` and the project scripts build it."""

from typing import Dict, Optional, Union

from .ocr import ocr_config

NO_DETECTOR = ("", "none", "off")


def backend_configs(
    *, ocr: Union[str, bool], detector: str, caption_model: Optional[str], gpu: bool
) -> Dict[str, Optional[dict]]:
    """The component's `backends` config, every default backend named; None turns one off
    (a backend left out would take the factory's default, e.g. YOLO, back in).

    ocr: an engine name (aligners/ocr.py OCR_ENGINES), "none", or True/False (the default
    engine / none); detector: YOLO weights (name or .pt path) or one of NO_DETECTOR;
    caption_model: an image-to-text model, or None for no captions. Raises ValueError for an
    unknown OCR engine."""
    device = "cuda" if gpu else "cpu"
    configs: Dict[str, Optional[dict]] = {"objects": None, "ocr": None}
    if detector.lower() not in NO_DETECTOR:
        configs["objects"] = {"@misc": "spacy_ita.YOLODetector.v1", "model": detector, "device": device}
    configs["ocr"] = ocr_config(ocr, gpu=gpu)
    if caption_model:
        configs["caption"] = {"@misc": "spacy_ita.HFCaptioner.v1", "model": caption_model, "device": device}
    return configs
