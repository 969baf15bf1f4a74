"""The per-batch work of a batch job, with no engine in it.

`PostAnnotator` (posts -> entity rows) and `ContextAligner` (images -> context
rows) load their pipeline or aligner once, in the process that runs them, and
are then called batch after batch. The local engine calls them in a loop, the
Ray engine in each actor of a pool: the rows are the same code path's.

Both are built from plain settings (a model path, backend configs), never from
a loaded `Language`: spaCy objects do not survive pickling into another process.
"""

import logging
from typing import Any, Dict, List, Mapping, Optional, cast

import spacy
from spacy.language import Language
from spacy.tokens import Doc

from .. import extensions  # noqa: F401  (a fresh worker process needs the doc extensions)
from ..aligners import component  # noqa: F401  (registers the image_aligner factory)
from ..aligners.component import DEFAULT_CONFIG as ALIGNER_DEFAULTS
from ..aligners.component import ImageAligner
from ..api import pipe_with_images
from ..ner.component import ita_pipes
from ..ner.views import CROSS_MODAL, TEXT_ONLY
from ..visual_context import merge_contexts, normalize_context
from .posts import Post

logger = logging.getLogger("spacy_ita")


def import_code(code: Optional[str]) -> None:
    """Import a Python file of custom components or backends, as `spacy train --code` does."""
    if code:
        from spacy.util import import_file

        import_file("spacy_ita_batch_code", code)


def set_torch_threads(threads: Optional[int]) -> None:
    """A worker should use the CPUs it was given, not every core of its node."""
    if threads:
        import torch

        torch.set_num_threads(threads)


class PostAnnotator:
    """Tags batches of posts with the pipeline at `model` (a folder or an installed package)."""

    def __init__(
        self,
        model: str,
        *,
        code: Optional[str] = None,
        gpu_id: int = -1,
        torch_threads: Optional[int] = None,
        batch_size: int = 32,
    ) -> None:
        import_code(code)
        set_torch_threads(torch_threads)
        if gpu_id >= 0:
            spacy.require_gpu(gpu_id)
        self.nlp = spacy.load(model)
        self.batch_size = batch_size

    def __call__(self, posts: List[Post]) -> List[Dict[str, Any]]:
        items = [(post.text, {"image": post.image, "visual_context": post.visual_context}) for post in posts]
        docs = pipe_with_images(self.nlp, items, batch_size=self.batch_size)
        return [annotation_row(self.nlp, post, doc) for post, doc in zip(posts, docs)]


def annotation_row(nlp: Language, post: Post, doc: Doc) -> Dict[str, Any]:
    return {
        "id": post.id,
        "entities": [
            {
                "text": ent.text,
                "label": ent.label_,
                "start_char": ent.start_char,
                "end_char": ent.end_char,
                "confidence": ent._.confidence,
            }
            for ent in doc.ents
        ],
        "view": view_of(nlp, doc),
        # The aligned context, so the output says what the tagger read; a
        # precomputed one is the caller's own input and is not repeated.
        "visual_context": normalize_context(doc._.visual_context) if post.image is not None else None,
    }


def view_of(nlp: Language, doc: Doc) -> str:
    """The view the pipeline's ita_ner read this doc in (`ITANER.view_for`); with
    several, "cross_modal" if any of them read a visual context."""
    views = {tagger.view_for(doc) for tagger in ita_pipes(nlp)}
    return CROSS_MODAL if CROSS_MODAL in views else TEXT_ONLY


class ContextAligner:
    """Turns batches of `{id_column, "image"}` rows into context rows with the given backends.

    `backends` is the image_aligner's `backends` config ({"objects": {"@misc": ...}, ...});
    default backends not named are off, so one instance can run one backend
    (a Ray stage) or several (one process). Kinds already in a row (an earlier
    stage's) are kept. An image that gave nothing (unreadable, or past the pixel limit:
    logged with its reason) has no row, so it is not recorded as aligned and a rerun tries
    it again; never an exception.
    """

    def __init__(
        self,
        backends: Mapping[str, Optional[dict]],
        *,
        cache_dir: Optional[str] = None,
        batch_size: int = 16,
        code: Optional[str] = None,
        torch_threads: Optional[int] = None,
        id_column: str = "image_id",
    ) -> None:
        import_code(code)
        set_torch_threads(torch_threads)
        enabled: Dict[str, Optional[dict]] = {name: None for name in ALIGNER_DEFAULTS["backends"]}
        enabled.update(backends)
        cache = None if cache_dir is None else {"@misc": "spacy_ita.AlignmentCache.v1", "directory": str(cache_dir)}
        config = {"backends": enabled, "cache": cache, "batch_size": batch_size}
        self.aligner = cast(ImageAligner, spacy.blank("xx").add_pipe("image_aligner", config=config))
        self.id_column = id_column

    def __call__(self, rows: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
        results = self.aligner.align_reporting([row["image"] for row in rows])
        kinds = {backend.kind for backend in self.aligner.backends.values()}
        return [
            {self.id_column: str(row[self.id_column]), **merge_contexts(row, context)}
            for row, (context, missing) in zip(rows, results)
            if not kinds or set(missing) != kinds
        ]
