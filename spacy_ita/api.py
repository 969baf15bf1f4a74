"""Run a pipeline on posts with their images: one doc, or a batch.

A packaged spacy-ita pipeline is `image_aligner` → `ita_ner`: the aligner turns
`doc._.image` into `doc._.visual_context`, the tagger reads the context (and
falls back to text-only where there is none). These helpers only put the image
or a precomputed context on the doc before the pipeline runs:

    doc = nlp(make_doc(nlp, "Welcome to Jordan !", image="sign.jpg"))
    doc = nlp("Welcome to Jordan !")                        # text-only
    for doc in pipe_with_images(nlp, [(text, {"image": path}), ...]):
        ...

which is the same as `nlp.pipe` over docs built by `make_doc`.
"""

import warnings
from typing import Any, Dict, Iterable, Iterator, Optional, Tuple, Union

from spacy.language import Language
from spacy.tokens import Doc

from . import extensions  # noqa: F401  (declares doc._.image, visual_context, ...)
from .text_repair import repair_text
from .visual_context import normalize_context, warn_unknown_fields

ALIGNER_FACTORY = "image_aligner"
ItemContext = Dict[str, Any]  # {"image": ..., "visual_context": ...}, both optional
Item = Union[str, Tuple[str, Optional[ItemContext]]]


def has_aligner(nlp: Language) -> bool:
    """Whether an enabled component turns doc._.image into a visual context."""
    return any(nlp.get_pipe_meta(name).factory == ALIGNER_FACTORY for name in nlp.pipe_names)


def make_doc(nlp: Language, text: str, image: Any = None, visual_context: Optional[Dict[str, Any]] = None) -> Doc:
    """A tokenized doc carrying its image (path, bytes or PIL image) and/or a
    precomputed visual context; run the pipeline on it with `nlp(doc)`."""
    if image is not None and not has_aligner(nlp):
        # Without an aligner nobody reads the image: the doc would be tagged
        # text-only although the caller meant it to be cross-modal.
        warnings.warn(
            f"The pipeline ({', '.join(nlp.pipe_names)}) has no enabled '{ALIGNER_FACTORY}': the image is ignored. "
            "Add one (`python -m spacy_ita assemble MODEL OUTPUT`) or pass visual_context.",
            stacklevel=2,
        )
    doc = tokenize(nlp, text)
    doc._.image = image
    if visual_context is not None:
        warn_unknown_fields(visual_context, where="make_doc visual_context")
        doc._.visual_context = normalize_context(visual_context)
    return doc


def tokenize(nlp: Language, text: str) -> Doc:
    """`nlp.make_doc`, after replacing lone surrogates (an emoji cut in half), which
    spaCy cannot store, with U+FFFD: one character for one, so offsets still hold."""
    repaired, count = repair_text(text)
    if count:
        warnings.warn(
            f"{count} undecodable character(s) (a lone surrogate: an emoji cut in half?) replaced with U+FFFD "
            f"in {text[:40]!r}",
            stacklevel=3,
        )
    return nlp.make_doc(repaired)


def _as_doc(nlp: Language, item: Item) -> Doc:
    if isinstance(item, str):
        return tokenize(nlp, item)
    text, context = item
    context = context or {}
    unknown = set(context) - {"image", "visual_context"}
    if unknown:
        raise ValueError(
            f"Unknown keys {sorted(unknown)} in the context of {text[:40]!r}: expected 'image', 'visual_context'"
        )
    return make_doc(nlp, text, image=context.get("image"), visual_context=context.get("visual_context"))


def pipe_with_images(
    nlp: Language, items: Iterable[Item], batch_size: Optional[int] = None, **pipe_kwargs: Any
) -> Iterator[Doc]:
    """Docs for `text` or `(text, {"image": ..., "visual_context": ...})` items, in order.

    Batched like `nlp.pipe` (the aligner runs its models once per batch); docs
    are built lazily, so a large stream of images is never held in memory.
    """
    docs = (_as_doc(nlp, item) for item in items)
    yield from nlp.pipe(docs, batch_size=batch_size, **pipe_kwargs)
