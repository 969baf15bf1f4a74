"""OCR: the text printed in the image, in reading order, one string per line.

Two engines, each a registered backend: RapidOCR (`spacy_ita.RapidOCR.v1`,
PP-OCRv6 ONNX models run by onnxruntime; the default, several times faster
on CPU: BENCHMARKS.md "OCR engines") and EasyOCR (`spacy_ita.EasyOCR.v1`).
Both keep the boxes above a confidence threshold and put them in reading
order with `reading_order`.
"""

import os
import tempfile
import warnings
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy
from PIL import Image
from spacy.util import registry

from ..defaults import DEFAULT_OCR_ENGINE, OCR_ENGINES  # noqa: F401  (re-exported: the engines are named there)
from ..resources import resolve_model
from .backend import AlignmentBackend

# The OCR engines by the name `--ocr` takes, and the one used when none is named
# (chosen from BENCHMARKS.md "OCR engines").
NO_OCR = ("", "none", "off")

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
        with warnings.catch_warnings():
            # EasyOCR quantizes its CPU models with torch's deprecated quantization API:
            # torch's warnings about it are for EasyOCR's authors, not for our users.
            warnings.filterwarnings("ignore", "torch.ao.quantization is deprecated", DeprecationWarning)
            warnings.filterwarnings("ignore", "torch.quantize_per_tensor", UserWarning)
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
        image = fit_within(image, self.settings["max_side"])
        rgb = numpy.asarray(image.convert("RGB"))
        # detect + recognize is what readtext does; calling them directly lets us
        # hand the detector RGB and the recognizer a correctly weighted gray.
        horizontal, free = reader.detect(rgb)
        gray = numpy.asarray(image.convert("L"))
        with warnings.catch_warnings():
            # EasyOCR's recognizer asks for pinned memory whatever the device; on a
            # machine without a GPU torch says so once per call.
            warnings.filterwarnings("ignore", "'pin_memory' argument is set as true", UserWarning)
            results = reader.recognize(gray, horizontal[0], free[0])
        kept = [
            (box, text.strip())
            for box, text, confidence in results
            if confidence >= self.settings["min_confidence"] and text.strip()
        ]
        return reading_order(kept)


def ocr_config(engine: Union[str, bool], *, gpu: bool = False) -> Optional[Dict[str, Any]]:
    """The backend config of the OCR engine named `engine` (OCR_ENGINES; True: the
    default engine), or None for "none" / False. Raises ValueError for an unknown name."""
    if engine is True:
        engine = DEFAULT_OCR_ENGINE
    if engine is False or str(engine).lower() in NO_OCR:
        return None
    name = str(engine).lower()
    if name not in OCR_ENGINES:
        raise ValueError(f"Unknown OCR engine '{engine}': use one of {', '.join([*OCR_ENGINES, 'none'])}.")
    config: Dict[str, Any] = {"@misc": OCR_ENGINES[name]}
    if name == "easyocr":
        config["gpu"] = gpu  # RapidOCR runs on onnxruntime's CPU build
    return config


def fit_within(image: Image.Image, max_side: int) -> Image.Image:
    """`image` scaled down (aspect kept) so that neither side exceeds `max_side` pixels; 0: unchanged.

    A text detector's cost grows with the pixel count; a post's photo rarely
    has text too small to read at 1024 pixels."""
    if max_side and max(image.size) > max_side:
        image = image.copy()
        image.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    return image


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


# The model files of a RapidOCR model folder (those its wheel ships).
RAPIDOCR_MODEL_FILES = {
    "Det": "PP-OCRv6_det_small.onnx",
    "Rec": "PP-OCRv6_rec_small.onnx",
    "Cls": "ch_ppocr_mobile_v2.0_cls_mobile.onnx",
}


def intra_op_threads(threads: int) -> int:
    """Threads for one inference: `threads` when positive, else $OMP_NUM_THREADS when
    set, else 0 (onnxruntime's default, one per core). onnxruntime ignores
    OMP_NUM_THREADS, so a job pinned to one core has to say so here."""
    if threads > 0:
        return threads
    try:
        return max(int(os.environ.get("OMP_NUM_THREADS", "0")), 0)
    except ValueError:
        return 0


class RapidOCRBackend(AlignmentBackend):
    """PP-OCR detection, angle classification and recognition (ONNX, onnxruntime)
    through RapidOCR (https://github.com/RapidAI/RapidOCR), from model files on
    disk: it never downloads."""

    kind = "ocr"
    runtime_settings = ("threads",)

    @property
    def model_key(self):
        s = self.settings
        return ("rapidocr", s["model_dir"], s["max_side"], s["use_angle_classifier"], intra_op_threads(s["threads"]))

    def load_model(self) -> Any:
        from rapidocr import RapidOCR

        folder = Path(resolve_model(self.settings["model_dir"]))
        # Named model paths: RapidOCR downloads into its package when it is given none.
        model_paths = {f"{task}.model_path": str(folder / name) for task, name in RAPIDOCR_MODEL_FILES.items()}
        missing = [path for path in model_paths.values() if not Path(path).is_file()]
        if missing:
            raise FileNotFoundError(f"RapidOCR model files missing (nothing is downloaded): {missing}")
        params: Dict[str, Union[str, int]] = dict(model_paths)
        if self.settings["max_side"]:
            # The detector's input: RapidOCR's default scales the short side up to 736 pixels,
            # which makes a 400x100 banner 2944x736: 23x the CPU time on bench_ocr.py's
            # rendered images for the same word recall. PaddleOCR's classic setting only
            # scales down.
            params["Det.limit_type"] = "max"
            params["Det.limit_side_len"] = self.settings["max_side"]
        threads = intra_op_threads(self.settings["threads"])
        if threads:
            params["EngineConfig.onnxruntime.intra_op_num_threads"] = threads
            params["EngineConfig.onnxruntime.inter_op_num_threads"] = 1
        params["Global.log_level"] = "error"  # it logs every call and warns on an image without text
        return RapidOCR(params=params)

    def __call__(self, images: List[Image.Image]) -> List[List[str]]:
        return [self.read(image) for image in images]

    def read(self, image: Image.Image) -> List[str]:
        image = fit_within(image, self.settings["max_side"])
        result = self.model(
            image.convert("RGB"),
            use_cls=self.settings["use_angle_classifier"],
            text_score=self.settings["min_confidence"],
        )
        if result.boxes is None or result.txts is None:
            return []  # no text found
        kept = [
            (box, text.strip())
            for box, text, confidence in zip(result.boxes, result.txts, result.scores)
            if confidence >= self.settings["min_confidence"] and text.strip()
        ]
        return reading_order(kept)


@registry.misc("spacy_ita.RapidOCR.v1")
def create_rapidocr_backend(
    model_dir: str = "rapidocr-pp-ocrv6-small",
    min_confidence: float = 0.5,
    max_side: int = 1024,
    use_angle_classifier: bool = True,
    threads: int = 0,
) -> RapidOCRBackend:
    """OCR with RapidOCR; one list of lines (str, reading order) per image.

    model_dir: a known model name (resources.KNOWN_MODELS; the default is the
        models RapidOCR's wheel ships) or a directory holding the files of
        RAPIDOCR_MODEL_FILES. Nothing is downloaded: missing files raise
        FileNotFoundError on the first image.
    min_confidence: a line's recognition score (0-1) below which it is dropped.
    max_side: larger images are scaled down to this many pixels first, smaller
        ones are read at their size (0: RapidOCR's own sizing).
    use_angle_classifier: turn upside-down lines before reading them.
    threads: onnxruntime's intra-op threads (0: $OMP_NUM_THREADS when set, else
        one per core); not part of the cache signature.
    """
    return RapidOCRBackend(
        model_dir=model_dir,
        min_confidence=min_confidence,
        max_side=max_side,
        use_angle_classifier=use_angle_classifier,
        threads=threads,
    )
