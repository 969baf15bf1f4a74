"""spacy-ita: multimodal NER after ITA (Image-Text Alignments) as spaCy components.

`import spacy_ita` is light: spaCy (which imports thinc, and thinc torch) loads with the
first module that needs it, so `python -m spacy_ita --help` prints at once. The Doc
extensions are declared by every module that reads or sets them (the components, the
corpus reader, `make_doc`), so a pipeline has them from `spacy.load` on.
"""

import importlib
import os
from typing import Any

# Ultralytics probes DNS and sends analytics unless told it is offline; set it
# before anything imports ultralytics. A user who wants it online can set 0.
os.environ.setdefault("YOLO_OFFLINE", "1")

__version__ = "0.1.0"
__all__ = ["make_doc", "pipe_with_images", "extensions"]

# The user entry points, imported on first use (PEP 562).
_LAZY = {"make_doc": ".api", "pipe_with_images": ".api", "extensions": ".extensions"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        module = importlib.import_module(_LAZY[name], __name__)
        return module if name == "extensions" else getattr(module, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
