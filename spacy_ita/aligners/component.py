"""The `image_aligner` pipeline component: doc._.image → doc._.visual_context.

Each backend is a registered function chosen in the config; any subset can be
enabled. The defaults are OCR and object tags (both have offline weights); a
captioner is added by naming a model:

    [components.image_aligner.backends.caption]
    @misc = "spacy_ita.HFCaptioner.v1"
    model = "Salesforce/blip-image-captioning-base"

and a default backend is turned off with `objects = null` under
[components.image_aligner.backends]. Post backends read the post's text and the
contexts the image backends made (the `knowledge` of an LLM, PGIM's way), or,
for every doc with text, image or not, what knowledge bases say about the post's
entities (`kb`):

    [components.image_aligner.post_backends.kb]
    @misc = "spacy_ita.KBRetriever.v1"
    sources = ["players.jsonl", "geonames"]

The LLM's `knowledge`:

    [components.image_aligner.post_backends.knowledge]
    @misc = "spacy_ita.LLMKnowledge.v1"
    k = 2
    examples = "pool.jsonl"

    [components.image_aligner.post_backends.knowledge.endpoint]
    @misc = "spacy_ita.ChatEndpoint.v1"
    base_url = "http://127.0.0.1:8080/v1"
    model = "qwen2.5-coder-1.5b-instruct"
    api_key_env = "OPENAI_API_KEY"
"""

import logging
from pathlib import Path
from typing import Any, Dict, Iterable, Iterator, List, Optional, Tuple, Union

from PIL import Image
from spacy.language import Language
from spacy.tokens import Doc
from spacy.util import minibatch

from .. import extensions  # noqa: F401  (declares doc._.image and doc._.visual_context)
from ..pipeline_data import load_backend_data
from ..visual_context import empty_context, merge_contexts
from .backend import AlignmentBackend
from .cache import AlignmentCache
from .images import DEFAULT_MAX_PIXELS, load_image
from .ocr import DEFAULT_OCR_ENGINE, ocr_config

logger = logging.getLogger("spacy_ita")

DEFAULT_CONFIG: Dict[str, Any] = {
    "backends": {
        "objects": {"@misc": "spacy_ita.YOLODetector.v1"},
        "ocr": ocr_config(DEFAULT_OCR_ENGINE),
    },
    "post_backends": {},
    "cache": None,
    "batch_size": 16,
    "max_image_pixels": DEFAULT_MAX_PIXELS,
}


@Language.factory(
    "image_aligner",
    default_config=DEFAULT_CONFIG,
    requires=["doc._.image"],
    assigns=["doc._.visual_context"],
)
def make_image_aligner(
    nlp: Language,
    name: str,
    backends: Dict[
        str, Any
    ],  # AlignmentBackend or None; checked in ImageAligner (config validation cannot see inside dicts)
    post_backends: Dict[str, Any],  # LLMKnowledge-like or None
    cache: Optional[AlignmentCache],
    batch_size: int,
    max_image_pixels: int,
) -> "ImageAligner":
    """Construct the image aligner, which turns `doc._.image` (a path,
    bytes or PIL image) into `doc._.visual_context`, the text that `ita_ner`
    reads after the post in its cross view.

    backends (Dict[str, Optional[AlignmentBackend]]): the registered backends
        to run, by key; each fills one context kind. Default: object tags
        (`spacy_ita.YOLODetector.v1`) and OCR (`spacy_ita.RapidOCR.v1`, or
        `spacy_ita.EasyOCR.v1`); a
        captioner is `spacy_ita.HFCaptioner.v1`. A key set to null turns a
        default backend off. A VLM description is `spacy_ita.VLMDescription.v1`.
    post_backends (Dict[str, Optional[Any]]): backends that read the post's
        text and the contexts above and write one kind (`generate(items, cache)`
        like `spacy_ita.LLMKnowledge.v1`); run after `backends`, on the docs
        with an image, or on every doc with text for a backend whose
        `needs_image` is False (`spacy_ita.KBRetriever.v1`). Default: none.
    cache (Optional[AlignmentCache]): a directory cache of backend outputs by
        image content and backend settings (`spacy_ita.AlignmentCache.v1`), so
        that an image is aligned once across runs; None: no cache.
    batch_size (int): images per backend call in `nlp.pipe`.
    max_image_pixels (int): a larger image is refused (decompression-bomb
        guard); such a doc gets an empty context and a logged warning. Default
        400 MP (images.DEFAULT_MAX_PIXELS); images past about 89 MP, such as a
        108 MP phone photo, are read shrunk to that size (images.DOWNSCALE_PIXELS).
    """
    return ImageAligner(
        name=name,
        backends=backends,
        post_backends=post_backends,
        cache=cache,
        batch_size=batch_size,
        max_image_pixels=max_image_pixels,
    )


class ImageAligner:
    """Fills doc._.visual_context from doc._.image with the enabled backends.

    The kinds the backends produce replace those already in the doc's context
    (an empty result keeps what was there); other kinds are kept. Docs without
    an image are left untouched by all but the post backends that need none
    (`kb`); a doc whose image cannot be read gets an empty context and a logged
    warning.
    """

    def __init__(
        self,
        name: str = "image_aligner",
        *,
        backends: Dict[str, Optional[AlignmentBackend]],
        post_backends: Optional[Dict[str, Any]] = None,
        cache: Optional[AlignmentCache] = None,
        batch_size: int = 16,
        max_image_pixels: int = DEFAULT_MAX_PIXELS,
    ) -> None:
        self.name = name
        self.backends = {key: backend for key, backend in backends.items() if backend is not None}
        for key, backend in self.backends.items():
            if not isinstance(backend, AlignmentBackend):
                raise ValueError(
                    f"Backend '{key}' of {name} is {backend!r}, not an AlignmentBackend (a registered @misc backend)."
                )
        self.post_backends = {key: backend for key, backend in (post_backends or {}).items() if backend is not None}
        for key, backend in self.post_backends.items():
            if not callable(getattr(backend, "generate", None)) or not getattr(backend, "kind", ""):
                raise ValueError(
                    f"Post backend '{key}' of {name} is {backend!r}: expected a registered generator with `kind` "
                    "and `generate` (e.g. spacy_ita.LLMKnowledge.v1)."
                )
        self.cache = cache
        self.batch_size = batch_size
        self.max_image_pixels = max_image_pixels

    def __call__(self, doc: Doc) -> Doc:
        self.set_contexts([doc])
        return doc

    def _backend_folders(self, path: Path) -> Iterator[Tuple[Any, Path]]:
        """(backend, its folder) of every backend that serializes data (pipeline_data.py)."""
        for group, backends in (("backends", self.backends), ("post_backends", self.post_backends)):
            for key, backend in backends.items():
                if callable(getattr(backend, "to_disk", None)) and callable(getattr(backend, "from_disk", None)):
                    yield backend, path / group / key

    def load_data(self) -> None:
        """Read every backend's data files now (prompt templates, demonstration pools, KBs):
        a missing or unreadable one fails here, before anything is saved or asked.
        Raises FileNotFoundError, IsADirectoryError or ValueError naming the file."""
        for backend in [*self.backends.values(), *self.post_backends.values()]:
            load_backend_data(backend)

    def to_disk(self, path: Union[str, Path], *, exclude: Iterable[str] = ()) -> None:
        """Save the data files the backends read (prompt templates, demonstration pools and
        their vectors, ...) into the pipeline, `path/<backends|post_backends>/<key>/`, so that
        the pipeline loads anywhere. Raises what a backend raises for a missing or unreadable file."""
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        for backend, folder in self._backend_folders(path):
            backend.to_disk(folder)

    def from_disk(self, path: Union[str, Path], *, exclude: Iterable[str] = ()) -> "ImageAligner":
        """Read the backends' data from the pipeline from now on (a pipeline saved without
        any, e.g. by an older spacy-ita, reads the files its config names)."""
        path = Path(path)
        for backend, folder in self._backend_folders(path):
            if folder.is_dir():
                backend.from_disk(folder)
        return self

    def pipe(self, stream: Iterable[Doc], *, batch_size: Optional[int] = None) -> Iterator[Doc]:
        for docs in minibatch(stream, size=batch_size or self.batch_size):
            self.set_contexts(docs)
            yield from docs

    def set_contexts(self, docs: List[Doc]) -> None:
        with_image = [doc for doc in docs if doc._.image is not None]
        contexts = self.align([doc._.image for doc in with_image])
        for doc, context in zip(with_image, contexts):
            doc._.visual_context = merge_contexts(doc._.visual_context, context)
        for backend in self.post_backends.values():
            # Unusable answers are logged by the backend and leave the kind as it was.
            # A backend that reads the post alone (needs_image False: the `kb` retriever) runs on every doc.
            read = with_image if getattr(backend, "needs_image", True) else [doc for doc in docs if doc.text.strip()]
            items = [(str(i), doc.text, doc._.visual_context) for i, doc in enumerate(read)]
            answers, _ = backend.generate(items, self.cache)
            for (key, _, _), doc in zip(items, read):
                doc._.visual_context = merge_contexts(doc._.visual_context, {backend.kind: answers.get(key)})

    def align(self, sources: List[Any]) -> List[Dict[str, Any]]:
        """One context per image source (path, bytes or PIL image); each backend
        runs once on the distinct, uncached, readable images."""
        return [context for context, _ in self.align_reporting(sources)]

    def align_reporting(self, sources: List[Any]) -> List[Tuple[Dict[str, Any], List[str]]]:
        """(context, the kinds left out) per image source: a kind is left out when its
        backend gave no value (it failed on the image) or the image was not read
        (unreadable, or past `max_image_pixels`): all kinds then. A job records only
        sources with nothing left out as aligned, so that a rerun tries the others again."""
        loaded = [load_image(source, self.max_image_pixels) for source in sources]
        distinct = {item.digest: item.image for item in loaded if item is not None}
        outputs = {key: self._run_backend(backend, distinct) for key, backend in self.backends.items()}
        results = []
        for item in loaded:
            context, missing = empty_context(), []
            for key, backend in self.backends.items():
                value = outputs[key].get(item.digest) if item is not None else None
                if value is None:
                    missing.append(backend.kind)
                context = merge_contexts(context, {backend.kind: value})
            results.append((context, missing))
        return results

    def _run_backend(self, backend: AlignmentBackend, images: Dict[str, Image.Image]) -> Dict[str, Any]:
        signature = backend.signature
        found: Dict[str, Any] = {}
        if self.cache is not None:
            for digest in images:
                value = self.cache.get(self.cache.key(digest, signature))
                if value is not None:
                    found[digest] = value
        missing = [digest for digest in images if digest not in found]
        if not missing:
            return found
        backend.model  # load outside the guarded call: missing weights must fail loudly
        for digest, value in zip(missing, self._call_guarded(backend, [images[d] for d in missing])):
            if value is None:
                continue
            found[digest] = value
            if self.cache is not None:
                self.cache.set(self.cache.key(digest, signature), value)
        return found

    def _call_guarded(self, backend: AlignmentBackend, images: List[Image.Image]) -> List[Any]:
        """A model that chokes on one odd image must not cost the batch: retry
        one by one and give up (None, not cached) on the images that fail."""
        try:
            return list(backend(images))
        except Exception:  # noqa: BLE001
            if len(images) > 1:
                logger.warning("%s failed on a batch of %d images; retrying one by one.", backend, len(images))
            values = []
            for image in images:
                try:
                    values.extend(backend([image]))
                except Exception as err:  # noqa: BLE001
                    logger.warning("%s failed on a %dx%d image: %s", backend, *image.size, err)
                    values.append(None)
            return values
