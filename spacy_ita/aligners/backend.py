"""What every image-to-text backend shares: a context kind, a settings
signature for the cache, and a model loaded on first use, once per process."""

import json
import threading
from pathlib import Path
from typing import Any, Callable, Dict, Hashable, Iterable, List, Tuple, Union

from PIL import Image

from ..pipeline_data import PipelineData

# Bump when the stored form of a backend's output changes, so old cache entries
# stop matching instead of being misread.
CACHE_FORMAT = 1

_LOADED_MODELS: Dict[Hashable, Any] = {}
_LOADED_MODELS_LOCK = threading.Lock()


def shared_model(key: Hashable, load: Callable[[], Any]) -> Any:
    """Load a model once per process: pipelines naming the same weights share it."""
    with _LOADED_MODELS_LOCK:
        if key not in _LOADED_MODELS:
            _LOADED_MODELS[key] = load()
        return _LOADED_MODELS[key]


class AlignmentBackend:
    """Turns a batch of RGB images into one value of `kind` per image.

    Subclasses set `kind` ("objects", "caption" or "ocr"), keep every setting
    that changes their output in `settings` (and those that do not, such as
    threads, there too, named in `runtime_settings`), and implement `load_model` and
    `__call__`. Building one is cheap: nothing loads until `model` is read.
    Files a backend reads (a prompt template, ...) are declared in `data`
    (pipeline_data.PipelineData): read on first use, saved inside the pipeline by
    the aligner's `to_disk` and read from there after `spacy.load`.
    """

    kind: str = ""
    # Settings that change how fast the output comes, never what it is (threads):
    # left out of the cache signature, so that changing them keeps the cache.
    runtime_settings: Tuple[str, ...] = ()

    def __init__(self, **settings: Any) -> None:
        self.settings = settings
        self.data = PipelineData()

    def to_disk(self, path: Union[str, Path], *, exclude: Iterable[str] = ()) -> None:
        """Save the backend's data files into the folder `path` (the aligner's, per backend)."""
        self.data.to_disk(path, exclude=exclude)

    def from_disk(self, path: Union[str, Path], *, exclude: Iterable[str] = ()) -> "AlignmentBackend":
        """Read the backend's data files from the folder `path` from now on."""
        self.data.from_disk(path, exclude=exclude)
        return self

    @property
    def signature(self) -> str:
        """Identifies the output for a given image: part of the cache key."""
        output_settings = {k: v for k, v in self.settings.items() if k not in self.runtime_settings}
        described = {"backend": type(self).__name__, "kind": self.kind, "format": CACHE_FORMAT, **output_settings}
        return json.dumps(described, sort_keys=True, default=str)

    @property
    def model_key(self) -> Hashable:
        """What identifies the loaded model; by default every setting."""
        return (type(self).__name__, self.signature)

    @property
    def model(self) -> Any:
        return shared_model(self.model_key, self.load_model)

    def load_model(self) -> Any:
        raise NotImplementedError

    def __call__(self, images: List[Image.Image]) -> List[Any]:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.settings})"
