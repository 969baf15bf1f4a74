"""Per-image context sources: a captions CSV, context JSONL files, an image folder.

`VisualSources` joins them and answers, for one image id, its context (None
when no source knows the image: the post is text-only) and its image path.

Several context sources may be given (files, or folders of JSONL / Parquet part
files such as `align-images --engine ray` writes). The rule where two of them
give the same kind for one image: **the later source wins for that kind**, and
kinds only the earlier one has are kept (as within one file, where a later line
for the same image overrides an earlier one kind by kind). The captions CSV
comes first of all, so a context source's `caption` overrides it.
"""

import csv
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple, Union

from ..image_folder import IMAGE_SUFFIXES, index_images
from ..text_repair import parquet_rows, repair_value
from ..visual_context import has_context, merge_contexts, normalize_context, warn_unknown_fields
from .mner_format import MNERFormatError, utf8_lines

logger = logging.getLogger("spacy_ita")

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
    # csv reads the decoded lines (BOM dropped, non-UTF-8 a file:line error); a quoted caption may span lines.
    rows = csv.reader((line for _, line in utf8_lines(path)), delimiter=";")
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


ContextPath = Union[str, Path]
CONTEXT_FILE_SUFFIXES = (".jsonl", ".parquet")


def files_below(
    path: Union[str, Path], suffixes: Sequence[str], what: str, skip_prefixes: Tuple[str, ...] = (".",)
) -> List[Path]:
    """The file itself, or the files with one of `suffixes` below a folder (sorted, like
    spaCy's walk_corpus; names starting with `skip_prefixes` are skipped)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{what} not found: {path}")
    if path.is_file():
        return [path]
    files = sorted(
        p for p in path.rglob("*") if p.is_file() and p.suffix in suffixes and not p.name.startswith(skip_prefixes)
    )
    if not files:
        raise FileNotFoundError(f"no {' or '.join(suffixes)} files in {path}")
    return files


def context_files(path: ContextPath) -> List[Path]:
    """The file itself, or the JSONL / Parquet part files below a folder (hidden and
    `_`-prefixed bookkeeping files such as `_SUCCESS` skipped)."""
    return files_below(path, CONTEXT_FILE_SUFFIXES, "context source", skip_prefixes=(".", "_"))


def context_records(path: Path) -> Iterator[Tuple[int, Any]]:
    """(line or row number, decoded record) of one JSONL or Parquet context file;
    undecodable characters (a lone surrogate, bytes that are not UTF-8) replaced with
    U+FFFD and named in a warning."""
    for number, record in _raw_context_records(path):
        record, repaired = repair_value(record)
        if repaired:
            logger.warning("%s:%d: %d undecodable character(s) replaced with U+FFFD", path, number, repaired)
        yield number, record


def _raw_context_records(path: Path) -> Iterator[Tuple[int, Any]]:
    if path.suffix == ".parquet":
        try:
            import pyarrow.parquet  # noqa: F401
        except ImportError:
            raise MNERFormatError(path, 1, "reading Parquet needs pyarrow (pip install spacy-ita[ray])") from None
        for row_number, row in parquet_rows(path):
            if isinstance(row, str):
                raise MNERFormatError(path, row_number, row)
            yield row_number, {key: value for key, value in row.items() if value is not None}
        return
    for line_number, line in utf8_lines(path):
        if not line.strip():
            continue
        try:
            yield line_number, json.loads(line)
        except json.JSONDecodeError as err:
            raise MNERFormatError(path, line_number, f"invalid JSON: {err.msg}") from None


def read_context_jsonl(path: ContextPath) -> Dict[str, Dict[str, Any]]:
    """One `{"image_id", <kind>: ...}` object a line (or a Parquet row; or a folder of
    such part files) -> {image_id: context}. Kinds: see visual_context.CONTEXT_KINDS.

    An image listed twice is merged: kinds in the later line override earlier ones.
    A field that is no kind is named in a warning (once per file), not read.
    """
    contexts: Dict[str, Dict[str, Any]] = {}
    for file in context_files(path):
        for line_number, entry in context_records(file):
            if not isinstance(entry, dict) or not str(entry.get("image_id") or "").strip():
                raise MNERFormatError(file, line_number, "expected a JSON object with a non-empty 'image_id'")
            image_id = image_id_from_name(str(entry["image_id"]))
            warn_unknown_fields(entry, where=str(file))
            try:
                context = normalize_context(entry)
            except (KeyError, TypeError, ValueError) as err:
                raise MNERFormatError(file, line_number, f"malformed context for image {image_id!r}: {err!r}") from None
            contexts[image_id] = merge_contexts(contexts.get(image_id), context)
    return contexts


def as_path_list(paths: Union[None, ContextPath, Sequence[ContextPath]]) -> List[Path]:
    """None, one path or a list of paths (a config may give either) -> a list of paths."""
    if not paths:
        return []
    if isinstance(paths, (str, Path)):
        return [Path(paths)]
    return [Path(p) for p in paths]


@dataclass
class VisualSources:
    """Everything we know about the images, by image id."""

    captions: Dict[str, str] = field(default_factory=dict)
    # All context sources merged, the later source winning kind by kind (module docstring).
    contexts: Dict[str, Dict[str, Any]] = field(default_factory=dict)
    images: Dict[str, Path] = field(default_factory=dict)
    # Each context source and the image ids it holds, for the unused-ids warning.
    context_sources: List[Tuple[Path, frozenset]] = field(default_factory=list)
    # A corpus reads its file every epoch; the unused-ids warning is said once.
    _warned_unused: bool = field(default=False, init=False, repr=False)

    @classmethod
    def load(
        cls,
        captions: Optional[Union[str, Path]] = None,
        contexts: Union[None, ContextPath, Sequence[ContextPath]] = None,
        images: Optional[Union[str, Path]] = None,
    ) -> "VisualSources":
        """`contexts`: one context source or a list of them (files or folders), in increasing priority."""
        merged: Dict[str, Dict[str, Any]] = {}
        sources = []
        for path in as_path_list(contexts):
            source = read_context_jsonl(path)
            sources.append((path, frozenset(source)))
            for image_id, context in source.items():
                merged[image_id] = merge_contexts(merged.get(image_id), context)
        return cls(
            captions=read_captions(captions) if captions else {},
            contexts=merged,
            images=index_images(images) if images else {},
            context_sources=sources,
        )

    def __bool__(self) -> bool:
        return bool(self.captions or self.contexts or self.images)

    def context_for(self, image_id: str) -> Optional[Dict[str, Any]]:
        """The caption CSV's caption, overridden kind by kind by the context sources; None if none."""
        caption = self.captions.get(image_id)
        context = merge_contexts({"caption": caption} if caption else None, self.contexts.get(image_id))
        return context if has_context(context) else None

    def image_for(self, image_id: str) -> Optional[Path]:
        return self.images.get(image_id)

    def warn_unused_contexts(self, used_image_ids: Iterable[str]) -> int:
        """Report context-source ids that no post uses; return how many.

        A context file usually covers every split of a dataset, so unused ids alone
        are expected: they are logged at INFO. They ask the user to act (a WARNING,
        once) only when posts went without a context at the same time, which is
        what image ids that do not match look like (`123` against `img_123`).
        The captions CSV covers both datasets at once, so its ids are not counted.
        """
        used = set(used_image_ids)
        unused_total = set()
        for path, ids in self.context_sources:
            unused = sorted(ids - used)
            unused_total.update(unused)
            if unused and not self._warned_unused:
                logger.info(
                    "%s: %d image id(s) in the context source are used by no post (other splits?): %s",
                    path,
                    len(unused),
                    shown_ids(unused),
                )
        without = sorted(image_id for image_id in used if image_id not in self.contexts)
        if unused_total and without and not self._warned_unused:
            logger.warning(
                "%d post(s) have no context in %s (e.g. %s), while %d id(s) there are used by no post (e.g. %s): "
                "check that the image ids match",
                len(without),
                ", ".join(str(path) for path, _ in self.context_sources),
                shown_ids(without),
                len(unused_total),
                shown_ids(sorted(unused_total)),
            )
        self._warned_unused = self._warned_unused or bool(unused_total)
        return len(unused_total)


def shown_ids(ids: List[str]) -> str:
    return ", ".join(ids[:_SHOWN_IDS]) + (" ..." if len(ids) > _SHOWN_IDS else "")
