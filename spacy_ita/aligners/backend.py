"""What every image-to-text backend shares: a context kind, a settings
signature for the cache, and a model loaded on first use, once per process."""

import json
import threading
from typing import Any, Callable, Dict, Hashable, List, Tuple

from PIL import Image

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
    """

    kind: str = ""
    # Settings that change how fast the output comes, never what it is (threads):
    # left out of the cache signature, so that changing them keeps the cache.
    runtime_settings: Tuple[str, ...] = ()

    def __init__(self, **settings: Any) -> None:
        self.settings = settings

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
