"""OCR with EasyOCR: the text printed in the image, in reading order."""

import tempfile
from pathlib import Path
from typing import Any, List, Sequence, Tuple

import numpy
from PIL import Image
from spacy.util import registry

from ..resources import resolve_model
from .backend import AlignmentBackend

# A box joins the current line when its vertical centre lies within this
# fraction of the line's height from the line's centre.
SAME_LINE_TOLERANCE = 0.5


class EasyOCRBackend(AlignmentBackend):
    kind = "ocr"

    @property
    def model_key(self):
        s = self.settings
        return ("easyocr", tuple(s["languages"]), s["model_dir"], s["gpu"])

    def load_model(self) -> Any:
        import easyocr

        # EasyOCR creates and imports from a "user network" folder (~/.EasyOCR
        # by default); we use no custom networks, so keep it out of $HOME.
        user_networks = Path(tempfile.gettempdir()) / "spacy-ita-easyocr-user-network"
        return easyocr.Reader(
            list(self.settings["languages"]),
            gpu=self.settings["gpu"],
            model_storage_directory=resolve_model(self.settings["model_dir"]),
            user_network_directory=str(user_networks),
            download_enabled=False,
            verbose=False,
        )

    def __call__(self, images: List[Image.Image]) -> List[List[str]]:
        # EasyOCR's batched API needs images of one size; photos are not, so
        # one call per image (the reader itself is loaded once).
        return [self.read(image) for image in images]

    def read(self, image: Image.Image) -> List[str]:
        reader = self.model
        max_side = self.settings["max_side"]
        if max_side and max(image.size) > max_side:
            # The text detector's cost grows with the pixel count; a post's
            # photo rarely has text too small to read at this size.
            image = image.copy()
            image.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
        rgb = numpy.asarray(image.convert("RGB"))
        # detect + recognize is what readtext does; calling them directly lets us
        # hand the detector RGB and the recognizer a correctly weighted gray.
        horizontal, free = reader.detect(rgb)
        gray = numpy.asarray(image.convert("L"))
        results = reader.recognize(gray, horizontal[0], free[0])
        kept = [
            (box, text.strip())
            for box, text, confidence in results
            if confidence >= self.settings["min_confidence"] and text.strip()
        ]
        return reading_order(kept)


def reading_order(boxes: Sequence[Tuple[Sequence[Sequence[float]], str]]) -> List[str]:
    """Group word boxes into lines top to bottom, words left to right; one string per line."""
    placed = []
    for points, text in boxes:
        ys = [float(p[1]) for p in points]
        xs = [float(p[0]) for p in points]
        placed.append((min(ys), max(ys), min(xs), text))
    placed.sort(key=lambda item: (item[0] + item[1]) / 2)
    lines: List[List[Tuple[float, float, float, str]]] = []
    for item in placed:
        centre, height = (item[0] + item[1]) / 2, item[1] - item[0]
        if lines:
            line = lines[-1]
            line_centre = sum((b[0] + b[1]) / 2 for b in line) / len(line)
            line_height = max(b[1] - b[0] for b in line)
            if abs(centre - line_centre) <= SAME_LINE_TOLERANCE * max(line_height, height):
                line.append(item)
                continue
        lines.append([item])
    return [" ".join(b[3] for b in sorted(line, key=lambda b: b[2])) for line in lines]


@registry.misc("spacy_ita.EasyOCR.v1")
def create_easyocr_backend(
    languages: Sequence[str] = ("en",),
    model_dir: str = "easyocr-en",
    min_confidence: float = 0.3,
    gpu: bool = False,
    max_side: int = 1024,
) -> EasyOCRBackend:
    """`model_dir`: a known model name (see resources.KNOWN_MODELS) or a directory
    holding EasyOCR's detection and recognition weights; nothing is downloaded.
    Images larger than `max_side` pixels are scaled down before OCR (0: never)."""
    return EasyOCRBackend(
        languages=list(languages), model_dir=model_dir, min_confidence=min_confidence, gpu=gpu, max_side=max_side
    )
