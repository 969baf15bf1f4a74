"""Per-image visual context sources: a captions CSV, a context JSONL, an image folder.

`VisualSources` joins them and answers, for one image id, its visual context
(None when no source knows the image: the post is text-only) and its image path.
"""
import csv
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterable, Optional, Union

from ..visual_context import has_context, merge_contexts, normalize_context
from .mner_format import MNERFormatError

logger = logging.getLogger("spacy_ita")

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".gif", ".bmp", ".webp")
# How many unused ids a warning names before it just counts them.
_SHOWN_IDS = 5


def image_id_from_name(name: str) -> str:
    """`1015799.jpg` -> `1015799`; a name without an image suffix is already an id."""
    path = Path(name.strip())
    return path.stem if path.suffix.lower() in IMAGE_SUFFIXES else path.name


def read_captions(path: Union[str, Path]) -> Dict[str, str]:
    """`image_name;caption` CSV (with header) -> {image_id: caption}.

    Captions that contain `;` are quoted (`"the book & amp ; quot ; ..."`), so the
    file is read as CSV rather than split on the first `;`.
    """
    path = Path(path)
    captions: Dict[str, str] = {}
    with path.open(encoding="utf8", newline="") as handle:
        rows = csv.reader(handle, delimiter=";")
        header = next(rows, None)
        if header is None:
            raise MNERFormatError(path, 1, "empty captions file: expected header 'image_name;caption'")
        if [h.strip().lower() for h in header] != ["image_name", "caption"]:
            raise MNERFormatError(path, 1, f"expected header 'image_name;caption', found {';'.join(header)!r}")
        for row in rows:
            if not row or not any(cell.strip() for cell in row):
                continue
            if len(row) != 2:
                raise MNERFormatError(
                    path, rows.line_num, f"expected 2 fields 'image_name;caption', found {len(row)}: {row!r}"
                )
            name, caption = row
            # The file lists a few images twice with the same caption; the last one wins.
            captions[image_id_from_name(name)] = caption.strip()
    return captions


def read_context_jsonl(path: Union[str, Path]) -> Dict[str, Dict[str, Any]]:
    """One `{"image_id", "objects", "caption", "ocr"}` object a line -> {image_id: context}.

    An image listed twice is merged: kinds in the later line override earlier ones.
    """
    path = Path(path)
    contexts: Dict[str, Dict[str, Any]] = {}
    with path.open(encoding="utf8") as handle:
        for line_number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                entry = json.loads(line)
            except json.JSONDecodeError as err:
                raise MNERFormatError(path, line_number, f"invalid JSON: {err.msg}") from None
            if not isinstance(entry, dict) or not str(entry.get("image_id") or "").strip():
                raise MNERFormatError(path, line_number, "expected a JSON object with a non-empty 'image_id'")
            image_id = image_id_from_name(str(entry["image_id"]))
            try:
                context = normalize_context(entry)
            except (KeyError, TypeError, ValueError) as err:
                raise MNERFormatError(path, line_number, f"malformed context for image {image_id!r}: {err!r}") from None
            contexts[image_id] = merge_contexts(contexts.get(image_id), context)
    return contexts


def index_images(folder: Union[str, Path]) -> Dict[str, Path]:
    """{image_id: path} for the image files in `folder`; `.jpg` wins over other suffixes."""
    folder = Path(folder)
    if not folder.is_dir():
        raise NotADirectoryError(f"image folder not found: {folder}")
    preference = {suffix: rank for rank, suffix in enumerate(IMAGE_SUFFIXES)}
    found: Dict[str, Path] = {}
    for path in sorted(folder.iterdir()):
        rank = preference.get(path.suffix.lower())
        if rank is None or not path.is_file():
            continue
        known = found.get(path.stem)
        if known is None or rank < preference[known.suffix.lower()]:
            found[path.stem] = path
    return found


@dataclass
class VisualSources:
    """Everything we know about the images, by image id."""

    captions: Dict[str, str] = field(default_factory=dict)
    contexts: Dict[str, Dict[str, Any]] = field(default_factory=dict)
    images: Dict[str, Path] = field(default_factory=dict)
    contexts_path: Optional[Path] = None
    # A corpus reads its file every epoch; the unused-ids warning is said once.
    _warned_unused: bool = field(default=False, init=False, repr=False)

    @classmethod
    def load(
        cls,
        captions: Optional[Union[str, Path]] = None,
        contexts: Optional[Union[str, Path]] = None,
        images: Optional[Union[str, Path]] = None,
    ) -> "VisualSources":
        return cls(
            captions=read_captions(captions) if captions else {},
            contexts=read_context_jsonl(contexts) if contexts else {},
            images=index_images(images) if images else {},
            contexts_path=Path(contexts) if contexts else None,
        )

    def __bool__(self) -> bool:
        return bool(self.captions or self.contexts or self.images)

    def context_for(self, image_id: str) -> Optional[Dict[str, Any]]:
        """The caption CSV's caption, overridden kind by kind by the JSONL context; None if neither."""
        caption = self.captions.get(image_id)
        context = merge_contexts({"caption": caption} if caption else None, self.contexts.get(image_id))
        return context if has_context(context) else None

    def image_for(self, image_id: str) -> Optional[Path]:
        return self.images.get(image_id)

    def warn_unused_contexts(self, used_image_ids: Iterable[str]) -> int:
        """Warn (not fail) about context-file ids that no post uses; return how many.

        The captions CSV covers both datasets at once, so its unused ids are expected.
        """
        unused = sorted(set(self.contexts) - set(used_image_ids))
        if unused and not self._warned_unused:
            self._warned_unused = True
            shown = ", ".join(unused[:_SHOWN_IDS]) + (" ..." if len(unused) > _SHOWN_IDS else "")
            logger.warning(
                "%s: %d image id(s) in the context file are used by no post: %s",
                self.contexts_path or "contexts",
                len(unused),
                shown,
            )
        return len(unused)
