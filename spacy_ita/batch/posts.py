"""Read posts files for the jobs that take posts (`annotate`, `generate-contexts`): JSONL, CSV or
Parquet, or a folder of them, or an MNER `.txt` file (`read_post_file`, the one reader both use).

Each row becomes a `Post` (id, text, optional image path, optional precomputed
visual context) or a `BadRow` that says where (`file:line`; for Parquet the
row number) and why it was skipped. A bad row never stops the read: the caller
counts and reports them (`PostReadReport`: the first `SHOWN_BAD_ROWS` logged one by one,
the rest counted). Characters that cannot be written as UTF-8 (a lone
surrogate: an emoji cut in half; a byte that is not UTF-8) are replaced with
U+FFFD (`text_repair`), and the post says how many (`Post.repaired`). Image paths are read relative to the posts file's
folder unless an image root is given, so a dataset folder can move as a whole.
"""

import csv
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterable, Iterator, List, Optional, Tuple, Union

from ..data.contexts import VisualSources
from ..data.mner_format import read_mner
from ..text_repair import parquet_rows, repair_value
from ..visual_context import merge_contexts, normalize_context

logger = logging.getLogger("spacy_ita")

POST_SUFFIXES = (".jsonl", ".csv", ".parquet")
# A single MNER file (Twitter-2015/2017 `.txt`): the post id is its image id (`IMGID:`).
MNER_SUFFIX = ".txt"
# How many bad (or repaired) rows a job logs one by one before it only counts them.
SHOWN_BAD_ROWS = 20
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


@dataclass
class PostReadReport:
    """What a job's read found: the posts, those already in the output, and what it skipped and
    repaired. The first `SHOWN_BAD_ROWS` bad rows are kept (`bad`, for the message when none was
    readable) and logged one by one, the rest counted only, so that a file of a million bad rows
    does not flood the log; repaired posts likewise."""

    posts: int = 0  # readable posts in the input (up to a job's limit)
    already_done: int = 0  # of those, already in the output (a rerun skips them)
    bad_rows: int = 0
    repaired_rows: int = 0  # posts to process with undecodable characters replaced by U+FFFD
    bad: List[BadRow] = field(default_factory=list, repr=False)

    def report_bad_row(self, bad: BadRow) -> None:
        self.bad_rows += 1
        if self.bad_rows <= SHOWN_BAD_ROWS:
            self.bad.append(bad)
            logger.warning("Skipping %s", bad)
        elif self.bad_rows == SHOWN_BAD_ROWS + 1:
            logger.warning("More unreadable rows follow; they are counted, not listed.")

    def report_repaired_post(self, post: Post) -> None:
        self.repaired_rows += 1
        if self.repaired_rows <= SHOWN_BAD_ROWS:
            logger.warning(
                "%s: post %r: %d undecodable character(s) (an emoji cut in half, or bytes that are not UTF-8) "
                "replaced with U+FFFD",
                post.where,
                post.id,
                post.repaired,
            )
        elif self.repaired_rows == SHOWN_BAD_ROWS + 1:
            logger.warning("More posts with undecodable characters follow; they are counted, not listed.")


def check_post_input(path: Union[str, Path]) -> None:
    """Fail before any work on an input `read_post_file` cannot read: FileNotFoundError for a missing
    path, ValueError for an unknown format or a folder without posts files."""
    path = Path(path)
    if not (path.is_file() and path.suffix.lower() == MNER_SUFFIX):
        input_files(path)


def read_post_file(
    path: Union[str, Path],
    columns: PostColumns = PostColumns(),
    *,
    image_root: Optional[Union[str, Path]] = None,
    sources: Optional[VisualSources] = None,
) -> Iterator[Union[Post, BadRow]]:
    """The posts of the input of `annotate` and `generate-contexts`: an MNER `.txt` file (id: the
    image id, text: the tokens joined by spaces; a malformed file raises `MNERFormatError`) or
    JSONL / CSV / Parquet files (`read_posts`), in order, a repeated id a BadRow. With `sources`,
    each post's context is its own merged with what the sources know of its id (the sources win
    kind by kind), and its image its own or the sources' image folder's."""
    path = Path(path)
    if path.suffix.lower() == MNER_SUFFIX and path.is_file():
        mner = (Post(r.image_id, " ".join(r.tokens), where=f"{path}:{r.line}") for r in read_mner(path))
        items: Iterator[Union[Post, BadRow]] = unique_ids(mner)
    else:
        items = read_posts(path, columns, image_root=image_root)
    for item in items:
        if sources is not None and isinstance(item, Post):
            item.visual_context = merge_contexts(item.visual_context, sources.context_for(item.id))
            if item.image is None and sources.image_for(item.id) is not None:
                item.image = str(sources.image_for(item.id))
        yield item


def input_files(path: Union[str, Path]) -> List[Path]:
    """The file itself, or the posts files directly inside a folder (sorted); an error when there are none."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"Input not found: {path}")
    if path.is_file():
        if path.suffix.lower() not in POST_SUFFIXES:
            known = ", ".join((*POST_SUFFIXES, f"{MNER_SUFFIX} (MNER)"))
            raise ValueError(f"{path}: unknown posts format '{path.suffix}', expected one of {known}")
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
    """Every row of every JSONL / CSV / Parquet input file, in order; a repeated id is a BadRow
    (the output is keyed by id)."""
    yield from unique_ids(_file_posts(path, columns, image_root))


def _file_posts(
    path: Union[str, Path], columns: PostColumns, image_root: Optional[Union[str, Path]]
) -> Iterator[Union[Post, BadRow]]:
    for file_path in input_files(path):
        root = Path(image_root) if image_root is not None else file_path.parent
        for where, record in read_records(file_path):
            repaired = 0
            if not isinstance(record, BadRow):
                record, repaired = repair_value(record)
            item = record if isinstance(record, BadRow) else post_from_record(record, columns, where, root)
            if isinstance(item, Post):
                item.repaired = repaired
            yield item


def unique_ids(items: Iterable[Union[Post, BadRow]]) -> Iterator[Union[Post, BadRow]]:
    """The items, a post whose id was read before turned into a BadRow naming where."""
    first_seen: Dict[str, str] = {}
    for item in items:
        if isinstance(item, Post):
            if item.id in first_seen:
                item = BadRow(item.where, f"id {item.id!r} already read at {first_seen[item.id]}")
            else:
                first_seen[item.id] = item.where
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
