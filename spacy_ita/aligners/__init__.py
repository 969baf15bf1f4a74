"""Image → text alignments (object tags, caption, OCR) as a spaCy component."""

from .backend import AlignmentBackend, shared_model
from .cache import AlignmentCache, create_alignment_cache
from .captioner import HFCaptioner, create_hf_captioner
from .component import ImageAligner, make_image_aligner
from .detector import YOLODetector, create_yolo_backend
from .images import LoadedImage, load_image, to_rgb
from .ocr import EasyOCRBackend, RapidOCRBackend, create_easyocr_backend, create_rapidocr_backend

__all__ = [
    "AlignmentBackend",
    "AlignmentCache",
    "EasyOCRBackend",
    "HFCaptioner",
    "ImageAligner",
    "LoadedImage",
    "RapidOCRBackend",
    "YOLODetector",
    "create_alignment_cache",
    "create_easyocr_backend",
    "create_hf_captioner",
    "create_rapidocr_backend",
    "create_yolo_backend",
    "load_image",
    "make_image_aligner",
    "shared_model",
    "to_rgb",
]
