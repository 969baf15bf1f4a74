"""spacy-ita: multimodal NER after ITA (Image-Text Alignments) as spaCy components."""

import os

# Ultralytics probes DNS and sends analytics unless told it is offline; set it
# before anything imports ultralytics. A user who wants it online can set 0.
os.environ.setdefault("YOLO_OFFLINE", "1")

from . import extensions  # noqa: E402,F401  (declares the Doc/Span extensions)
from .api import make_doc, pipe_with_images  # noqa: E402,F401  (the user entry points)

__version__ = "0.1.0"
