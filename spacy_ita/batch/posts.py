"""Read posts files for batch annotation: JSONL, CSV or Parquet, or a folder of them.

Each row becomes a `Post` (id, text, optional image path, optional precomputed
visual context) or a `BadRow` that says where (`file:line`; for Parquet the
row number) and why it was skipped. A bad row never stops the read: the caller
counts and reports them. Characters that cannot be written as UTF-8 (a lone
surrogate: an emoji cut in half; a byte that is not UTF-8) are replaced with
U+FFFD (`text_repair`), and the post says how many (`Post.repaired`). Image paths are read relative to the posts file's
folder unless an image root is given, so a dataset folder can move as a whole.
"""

import csv
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Tuple, Union

from ..text_repair import parquet_rows, repair_value
from ..visual_context import normalize_context

POST_SUFFIXES = (".jsonl", ".csv", ".parquet")
# UTF-8, a byte-order mark at the start dropped: Excel's "CSV UTF-8" (and some
# Windows editors' JSONL) begin with one, which would otherwise be part of the
# first column's name ("\ufeffid") and hide that column in every row.
TEXT_ENCODING = "utf-8-sig"


@dataclass(frozen=True)
class PostColumns:
    """Which input columns hold the post's id, text, image path and precomputed context."""

    id: str = "id"
    text: str = "text"
    image: str = "image"
    visual_context: str = "visual_context"


@dataclass
class Post:
    id: str
    text: str
    image: Optional[Union[str, bytes]] = None  # a path (posts files) or the image's bytes (the service)
    visual_context: Optional[Dict[str, Any]] = None
    where: str = ""
    repaired: int = 0  # undecodable characters replaced with U+FFFD


@dataclass
class BadRow:
    where: str  # file:line
    reason: str
    columns: Tuple[str, ...] = ()  # the record's columns, where it had any: the likely cause when none is read

    def __str__(self) -> str:
        return f"{self.where}: {self.reason}"


def input_files(path: Union[str, Path]) -> List[Path]:
    """The file itself, or the posts files directly inside a folder (sorted); an error when there are none."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"Input not found: {path}")
    if path.is_file():
        if path.suffix.lower() not in POST_SUFFIXES:
            raise ValueError(
                f"{path}: unknown posts format '{path.suffix}', expected one of {', '.join(POST_SUFFIXES)}"
            )
        return [path]
    files = sorted(
        p
        for p in path.iterdir()
        if p.is_file() and p.suffix.lower() in POST_SUFFIXES and not p.name.startswith((".", "_"))
    )
    if not files:
        raise ValueError(f"{path}: no posts files ({', '.join(POST_SUFFIXES)}) in this folder")
    return files


def read_posts(
    path: Union[str, Path], columns: PostColumns = PostColumns(), image_root: Optional[Union[str, Path]] = None
) -> Iterator[Union[Post, BadRow]]:
    """Every row of every input file, in order; a repeated id is a BadRow (the output is keyed by id)."""
    first_seen: Dict[str, str] = {}
    for file_path in input_files(path):
        root = Path(image_root) if image_root is not None else file_path.parent
        for where, record in read_records(file_path):
            repaired = 0
            if not isinstance(record, BadRow):
                record, repaired = repair_value(record)
            item = record if isinstance(record, BadRow) else post_from_record(record, columns, where, root)
            if isinstance(item, Post):
                item.repaired = repaired
            if isinstance(item, Post):
                if item.id in first_seen:
                    item = BadRow(where, f"id {item.id!r} already read at {first_seen[item.id]}")
                else:
                    first_seen[item.id] = where
            yield item


def read_records(path: Path) -> Iterator[Tuple[str, Union[Dict[str, Any], BadRow]]]:
    readers = {".jsonl": _jsonl_records, ".csv": _csv_records, ".parquet": _parquet_records}
    yield from readers[path.suffix.lower()](path)


def _jsonl_records(path: Path):
    with path.open(encoding=TEXT_ENCODING, errors="surrogateescape") as handle:
        for line_number, line in enumerate(handle, start=1):
            where = f"{path}:{line_number}"
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as err:
                yield where, BadRow(where, f"invalid JSON: {err.msg}")
                continue
            yield where, record if isinstance(record, dict) else BadRow(where, "expected a JSON object")


def _csv_records(path: Path):
    with path.open(encoding=TEXT_ENCODING, errors="surrogateescape", newline="") as handle:
        reader = csv.DictReader(handle)
        start = reader.line_num + 2  # the first data row follows the header line
        for record in reader:
            where = f"{path}:{start}"
            start = reader.line_num + 1  # a quoted field may span lines: the next row starts after this one
            if None in record:
                yield where, BadRow(where, f"more fields than the header has: {record[None]!r}")
                continue
            # An empty CSV cell is "no value", as a missing key is in JSONL.
            yield where, {key: value for key, value in record.items() if value not in ("", None)}


def _parquet_records(path: Path):
    from .schema import pyarrow

    pyarrow()  # a clear error without it
    for row_number, record in parquet_rows(path):
        where = f"{path}:{row_number}"
        yield where, BadRow(where, record) if isinstance(record, str) else record


def post_from_record(
    record: Dict[str, Any], columns: PostColumns, where: str = "", image_root: Optional[Path] = None
) -> Union[Post, BadRow]:
    """A Post, or a BadRow saying what is wrong with the record."""
    post_id = record.get(columns.id)
    if post_id is None or str(post_id).strip() == "":
        return BadRow(where, f"no id (column '{columns.id}')", tuple(record))
    post_id = str(post_id)
    text = record.get(columns.text)
    if text is None or text == "":
        return BadRow(where, f"post {post_id!r} has no text (column '{columns.text}')", tuple(record))
    if not isinstance(text, str):
        return BadRow(where, f"post {post_id!r}: text is a {type(text).__name__}, not a string")
    image = record.get(columns.image)
    if image is not None:
        if not isinstance(image, str) or not image.strip():
            return BadRow(where, f"post {post_id!r}: image must be a path string, got {image!r}")
        if image_root is not None and not Path(image).is_absolute():
            image = str(image_root / image)
    try:
        context = context_value(record.get(columns.visual_context))
    except (ValueError, TypeError, KeyError) as err:
        return BadRow(where, f"post {post_id!r}: malformed visual context: {err!r}")
    return Post(post_id, text, image, context, where)


def context_value(raw: Any) -> Optional[Dict[str, Any]]:
    """A context from a dict (JSONL, Parquet struct) or a JSON string (CSV cell); None when absent."""
    if raw is None or raw == "":
        return None
    if isinstance(raw, str):
        raw = json.loads(raw)
    if not isinstance(raw, dict):
        raise TypeError(f"expected an object, got {type(raw).__name__}")
    return normalize_context(raw)
