"""One HTML page that shows what the model saw and what it found.

For each doc: the image (inlined as a base64 data URI so the page is a single
self-contained file), the visual contexts the aligner extracted from it, and
the entities drawn by displaCy. `python -m spacy_ita render` (cli/render.py)
writes it for one post.
"""

import base64
import html
import io
import warnings
from typing import Any, Dict, Iterable, Optional

from . import extensions  # noqa: F401  (declares the doc extensions it reads)
from .visual_context import normalize_context

MAX_IMAGE_SIDE = 480  # px; keeps pages light without making text in images unreadable

PAGE_STYLE = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 24px; color: #222; }
.ita-doc { display: flex; gap: 24px; border: 1px solid #ddd; border-radius: 6px; padding: 16px; margin-bottom: 24px; }
.ita-image { flex: 0 0 auto; max-width: 480px; }
.ita-image img { max-width: 100%; border-radius: 4px; }
.ita-no-image { width: 200px; height: 120px; background: #f3f3f3; color: #888; display: flex;
  align-items: center; justify-content: center; border-radius: 4px; }
.ita-body { flex: 1 1 auto; min-width: 0; }
.ita-body h2 { font-size: 1em; color: #666; margin: 0 0 8px 0; }
.ita-context { margin: 0 0 12px 0; }
.ita-context dt { font-weight: bold; font-size: 0.85em; text-transform: uppercase; color: #555; margin-top: 6px; }
.ita-context dd { margin: 2px 0 0 0; }
.ita-chip { display: inline-block; background: #eef3fb; border: 1px solid #c9d8f0; border-radius: 12px;
  padding: 1px 8px; margin: 2px 4px 2px 0; font-size: 0.9em; }
.ita-empty { color: #999; font-style: italic; }
"""


def image_data_uri(image: Any, max_side: int = MAX_IMAGE_SIDE) -> Optional[str]:
    """A data URI for a path, raw bytes or PIL image; None when there is none or it can't be read.

    Reads through the aligner's safe loader, so a bad image here fails the same
    way it does in the pipeline: a logged warning, never an exception."""
    if image is None:
        return None
    from .aligners.images import load_image

    loaded = load_image(image)
    if loaded is None:
        return None
    picture = loaded.image.copy()
    picture.thumbnail((max_side, max_side))
    buffer = io.BytesIO()
    picture.save(buffer, format="JPEG")  # the loader hands back RGB: JPEG keeps the page small
    return f"data:image/jpeg;base64,{base64.b64encode(buffer.getvalue()).decode('ascii')}"


def _chips(texts: Iterable[str]) -> str:
    return "".join(f'<span class="ita-chip">{html.escape(t)}</span>' for t in texts)


# The kinds shown only when present, and their headings.
EXTRA_LABELS = {"description": "Description", "knowledge": "Knowledge", "kb": "Knowledge base"}


def context_html(context: Optional[Dict[str, Any]]) -> str:
    """The visual contexts as a definition list; every string from the image is escaped."""
    ctx = normalize_context(context)
    empty = '<span class="ita-empty">none</span>'
    objects = _chips(f"{o['label']} ×{o['count']} ({o['score']:.2f})" for o in ctx["objects"])
    caption = html.escape(ctx["caption"])
    ocr = _chips(ctx["ocr"])
    # Texts that come from elsewhere than the aligner: shown only when present.
    extra = "".join(
        f"<dt>{EXTRA_LABELS[kind]}</dt><dd>{html.escape(ctx[kind])}</dd>" for kind in EXTRA_LABELS if ctx[kind]
    )
    return (
        '<dl class="ita-context">'
        f"<dt>Objects</dt><dd>{objects or empty}</dd>"
        f"<dt>Caption</dt><dd>{caption or empty}</dd>"
        f"<dt>OCR</dt><dd>{ocr or empty}</dd>"
        f"{extra}"
        "</dl>"
    )


def entities_html(docs, page: bool = False) -> str:
    """displaCy's entity markup of a Doc or a list of Docs (`page`: a whole HTML page).
    spaCy's W006 ("no entities to visualize") is expected for some posts and is not shown;
    other warnings are."""
    from spacy import displacy

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"\[W006\]")
        return displacy.render(docs, style="ent", page=page, jupyter=False)


def doc_html(doc, max_side: int = MAX_IMAGE_SIDE) -> str:
    uri = image_data_uri(doc._.image, max_side=max_side)
    if uri:
        image = f'<img src="{uri}" alt="post image">'
    else:
        image = '<div class="ita-no-image">no image</div>'
    heading = f"<h2>image {html.escape(str(doc._.image_id))}</h2>" if doc._.image_id is not None else ""
    return (
        '<div class="ita-doc">'
        f'<div class="ita-image">{image}</div>'
        f'<div class="ita-body">{heading}{context_html(doc._.visual_context)}'
        f'<div class="ita-entities">{entities_html(doc)}</div></div>'
        "</div>"
    )


def render_html(docs, title: str = "spacy-ita", max_side: int = MAX_IMAGE_SIDE) -> str:
    """A self-contained HTML page for one doc or several."""
    if hasattr(docs, "ents"):  # a single Doc
        docs = [docs]
    body = "\n".join(doc_html(doc, max_side=max_side) for doc in docs)
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
        f"<style>{PAGE_STYLE}</style></head>\n"
        f"<body><h1>{html.escape(title)}</h1>\n{body}\n</body></html>\n"
    )
