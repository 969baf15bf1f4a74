"""The structured visual context of one image and its rendering as text.

A context is a plain dict so that it serializes with msgpack (DocBin,
Doc.to_bytes) and JSON (the per-image context files) without custom code:

    {"objects": [{"label": "person", "count": 2, "score": 0.91}, ...],
     "caption": "a man standing in front of a bus",
     "ocr": ["STOP", "Main St"]}
"""
from typing import Any, Dict, Iterable, List, Optional

CONTEXT_KINDS = ("caption", "objects", "ocr")


def empty_context() -> Dict[str, Any]:
    return {"objects": [], "caption": "", "ocr": []}


def normalize_context(raw: Optional[Dict[str, Any]]) -> Dict[str, Any]:
    """Fill missing keys and coerce loose input (a string caption, bare tag strings)."""
    ctx = empty_context()
    if not raw:
        return ctx
    caption = raw.get("caption") or ""
    ctx["caption"] = caption if isinstance(caption, str) else " ".join(map(str, caption))
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


def has_context(ctx: Optional[Dict[str, Any]]) -> bool:
    return bool(ctx) and any(ctx.get(kind) for kind in CONTEXT_KINDS)


def objects_text(objects: List[Dict[str, Any]]) -> str:
    return ", ".join(o["label"] if o.get("count", 1) == 1 else f"{o['count']} {o['label']}" for o in objects)


def context_pieces(ctx: Optional[Dict[str, Any]], order: Iterable[str] = CONTEXT_KINDS) -> List[str]:
    """The non-empty texts of a context in the configured order."""
    unknown = [kind for kind in order if kind not in CONTEXT_KINDS]
    if unknown:
        raise ValueError(f"Unknown visual context kind {unknown}: expected some of {CONTEXT_KINDS}")
    if not ctx:
        return []
    pieces = []
    for kind in order:
        value = ctx.get(kind)
        if not value:
            continue
        if kind == "objects":
            pieces.append(objects_text(value))
        elif kind == "ocr":
            pieces.append(" ".join(value))
        else:
            pieces.append(value)
    return [p.strip() for p in pieces if p and p.strip()]


def context_text(ctx: Optional[Dict[str, Any]], order: Iterable[str] = CONTEXT_KINDS, separator: str = " ; ") -> str:
    return separator.join(context_pieces(ctx, order))
