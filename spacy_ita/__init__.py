"""spacy-ita: multimodal NER after ITA (Image-Text Alignments) as spaCy components."""
import os

# Ultralytics probes DNS and sends analytics unless told it is offline; set it
# before anything imports ultralytics. A user who wants it online can set 0.
os.environ.setdefault("YOLO_OFFLINE", "1")

from . import extensions  # noqa: E402,F401  (declares the Doc/Span extensions)

__version__ = "0.1.0"
