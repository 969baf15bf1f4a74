"""The structured context of one post and its rendering as text.

A context is a plain dict so that it serializes with msgpack (DocBin,
Doc.to_bytes) and JSON (the per-image context files) without custom code:

    {"objects": [{"label": "person", "count": 2, "score": 0.91}, ...],
     "caption": "a man standing in front of a bus",
     "ocr": ["STOP", "Main St"],
     "description": "A long description of the image ...",
     "knowledge": "Auxiliary text about the post, e.g. an LLM's reading of it ...",
     "kb": "Taylor Swift: American singer-songwriter; London: city, United Kingdom"}

`objects`, `ocr` and `caption` are what the aligner computes from an image;
`description` (a long text about the image) and `knowledge` (text about the
post that is not from the image alone) come from elsewhere; `kb` is what knowledge
bases say about the entities the post (and its OCR lines) name, retrieved for every
post with text, image or not (`generators/kb.py`). The tagger does not
care where a kind came from: each is one piece of text after the post.
"""

import logging
from typing import Any, Dict, Iterable, List, Optional, Set, Tuple

logger = logging.getLogger("spacy_ita")

# Kinds holding one string, and kinds holding a list.
TEXT_KINDS = ("caption", "description", "knowledge", "kb")
LIST_KINDS = ("objects", "ocr")
CONTEXT_KINDS = ("caption", "objects", "ocr", "description", "knowledge", "kb")
# Fields a context record may carry beside its kinds without a warning.
RECORD_FIELDS = ("image_id",)

# Unknown field sets already warned about: a corpus is read every epoch.
_warned_unknown_fields: Set[Tuple[str, Tuple[str, ...]]] = set()


def empty_context() -> Dict[str, Any]:
    return {kind: [] if kind in LIST_KINDS else "" for kind in CONTEXT_KINDS}


def unknown_fields(raw: Dict[str, Any]) -> List[str]:
    return sorted(str(key) for key in raw if key not in CONTEXT_KINDS and key not in RECORD_FIELDS)


def warn_unknown_fields(raw: Dict[str, Any], where: str = "visual context") -> List[str]:
    """Log once per set of fields that a context carries and no kind reads (a typo like
    `captions`, or a kind this version does not know); they are not read."""
    unknown = unknown_fields(raw)
    key = (where, tuple(unknown))
    if unknown and key not in _warned_unknown_fields:
        _warned_unknown_fields.add(key)
        logger.warning(
            "%s: field(s) %s are not context kinds and are not read (known kinds: %s)",
            where,
            ", ".join(repr(u) for u in unknown),
            ", ".join(CONTEXT_KINDS),
        )
    return unknown


def _text(value: Any) -> str:
    return value if isinstance(value, str) else " ".join(map(str, value))


def normalize_context(raw: Optional[Dict[str, Any]]) -> Dict[str, Any]:
    """Fill missing kinds and coerce loose input (a list of strings for a text kind,
    bare tag strings for objects, one OCR string)."""
    ctx = empty_context()
    if not raw:
        return ctx
    for kind in TEXT_KINDS:
        ctx[kind] = _text(raw.get(kind) or "")
    objects = []
    for obj in raw.get("objects") or []:
        if isinstance(obj, str):
            objects.append({"label": obj, "count": 1, "score": 1.0})
        else:
            objects.append(
                {"label": str(obj["label"]), "count": int(obj.get("count", 1)), "score": float(obj.get("score", 1.0))}
            )
    ctx["objects"] = objects
    ocr = raw.get("ocr") or []
    ctx["ocr"] = [ocr] if isinstance(ocr, str) else [str(s) for s in ocr]
    return ctx


def merge_contexts(base: Optional[Dict[str, Any]], extra: Optional[Dict[str, Any]]) -> Dict[str, Any]:
    """Kinds present in `extra` override those in `base`; nothing else is lost."""
    merged = normalize_context(base)
    extra_ctx = normalize_context(extra)
    for kind in CONTEXT_KINDS:
        if extra_ctx[kind]:
            merged[kind] = extra_ctx[kind]
    return merged


def present_kinds(ctx: Optional[Dict[str, Any]]) -> List[str]:
    """The kinds with content, in CONTEXT_KINDS order."""
    return [kind for kind in CONTEXT_KINDS if ctx and ctx.get(kind)]


def has_context(ctx: Optional[Dict[str, Any]]) -> bool:
    return bool(present_kinds(ctx))


def objects_text(objects: List[Dict[str, Any]]) -> str:
    return ", ".join(o["label"] if o.get("count", 1) == 1 else f"{o['count']} {o['label']}" for o in objects)


def check_kinds(kinds: Iterable[str], what: str = "visual context kind") -> List[str]:
    kinds = list(kinds)
    unknown = [kind for kind in kinds if kind not in CONTEXT_KINDS]
    if unknown:
        raise ValueError(f"Unknown {what} {unknown}: expected some of {CONTEXT_KINDS}")
    return kinds


def context_pieces(ctx: Optional[Dict[str, Any]], order: Iterable[str] = CONTEXT_KINDS) -> List[Tuple[str, str]]:
    """(kind, text) for the non-empty kinds of a context, in the configured order."""
    order = check_kinds(order)
    if not ctx:
        return []
    pieces = []
    for kind in order:
        value = ctx.get(kind)
        if not value:
            continue
        if kind == "objects":
            text = objects_text(value)
        elif kind == "ocr":
            text = " ".join(value)
        else:
            text = _text(value)
        if text.strip():
            pieces.append((kind, text.strip()))
    return pieces


def context_text(ctx: Optional[Dict[str, Any]], order: Iterable[str] = CONTEXT_KINDS, separator: str = " ; ") -> str:
    return separator.join(text for _, text in context_pieces(ctx, order))
