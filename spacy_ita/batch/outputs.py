"""Where batch results go, and which ids are already there (resume).

Two layouts, one per-row format each engine writes:

- a `.jsonl` file: appended to and flushed after every batch;
- a folder of part files (any other path): `part-<run>-<n>.jsonl` (one per
  run, appended to per batch) or `part-<run>-<n>.parquet` (one per batch,
  written under a hidden temporary name and renamed into place).

A killed run therefore loses at most the batch in flight: a JSONL line cut
short is dropped from the end of its file when the ids are read back, a
Parquet part is either whole or absent. Every id is written once: a row whose
id is already out (a retried batch on Ray) is dropped.

A job only reads and changes files it wrote itself. In a folder those are the
files named like its parts (`PART_NAME`); any other file there is left as it
is and named in a warning. A `.jsonl` output that already holds a line which
is not one of the job's rows is not appended to: `ForeignOutputError`, before
any work. `check_output_apart` refuses an output that is an input, or a
folder holding one.
"""

import json
import logging
import os
import re
import time
import uuid
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List, Optional, Set, TextIO, Union

from .schema import pyarrow, to_table

FORMATS = ("jsonl", "parquet")
OUTPUT_SUFFIXES = (".jsonl", ".parquet")
# The part files this module writes: part-<UTC time>-<run token>-<n>.<format>
# (earlier versions put the process id where the token is).
PART_NAME = re.compile(r"^part-\d{8}T\d{6}-[0-9a-z]+-\d{5}\.(jsonl|parquet)$")
TEMPORARY_PART_NAME = re.compile(r"^\.part-\d{8}T\d{6}-[0-9a-z]+-\d{5}\.parquet\.tmp$")

logger = logging.getLogger("spacy_ita")


class ForeignOutputError(ValueError):
    """The output holds data this project did not write; nothing was changed."""


def check_output_apart(output: Union[str, Path], inputs: Iterable[Union[str, Path, None]]) -> None:
    """A ValueError when OUTPUT is one of the inputs or a folder that holds one:
    writing there could overwrite or empty the input (checked before any work)."""
    out = Path(output).resolve()
    for given in inputs:
        if given is None:
            continue
        source = Path(given).resolve()
        if out == source:
            raise ValueError(f"The output {output} is the input {given}: name a separate output")
        if out in source.parents:
            raise ValueError(f"The output {output} is a folder that holds the input {given}: name a separate output")


def output_format(path: Union[str, Path], requested: Optional[str] = None) -> str:
    """`jsonl` or `parquet`: as requested, else from the suffix (a folder without one holds JSONL parts).
    Raises ValueError for another suffix (`out.csv` would be made a folder of JSONL parts)
    unless the path is a folder already."""
    path = Path(path)
    if path.suffix and path.suffix.lower() not in OUTPUT_SUFFIXES and not path.is_dir():
        raise ValueError(
            f"{path}: a {path.suffix} output is not written; name a .jsonl file, a .parquet folder "
            "(Parquet part files) or a folder without a suffix (JSONL part files)"
        )
    if requested is not None:
        if requested not in FORMATS:
            raise ValueError(f"Unknown output format {requested!r}: expected one of {FORMATS}")
        if requested == "parquet" and path.suffix.lower() == ".jsonl":
            raise ValueError(f"{path}: a .jsonl path cannot hold Parquet; name a folder")
        return requested
    return "parquet" if path.suffix.lower() == ".parquet" else "jsonl"


def is_single_file(path: Path) -> bool:
    return path.suffix.lower() == ".jsonl" and not path.is_dir()


def part_files(folder: Path) -> List[Path]:
    """The part files this module wrote in a folder (named `PART_NAME`); other files are no parts."""
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_file() and PART_NAME.match(p.name))


def foreign_files(folder: Path) -> List[Path]:
    """The files of an output folder this module did not write (left untouched)."""
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if not (PART_NAME.match(p.name) or TEMPORARY_PART_NAME.match(p.name)))


def finished_ids(path: Union[str, Path], id_column: str, fields: Optional[Iterable[str]] = None) -> Set[str]:
    """Ids already in a JSONL file or a folder of parts; a JSONL line cut short at the end of its file is dropped.

    `fields`: the keys a row may have besides the id (None: any). Raises
    ForeignOutputError when a JSONL output holds a line that is no such row."""
    path = Path(path)
    if is_single_file(path):
        return jsonl_finished_ids(path, id_column, fields) if path.exists() else set()
    ids: Set[str] = set()
    for part in part_files(path):
        if part.suffix.lower() == ".jsonl":
            ids |= jsonl_finished_ids(part, id_column, fields)
        else:
            import pyarrow.parquet as pq

            pyarrow()
            ids.update(str(i) for i in pq.read_table(part, columns=[id_column]).column(id_column).to_pylist())
    return ids


def jsonl_finished_ids(path: Path, id_column: str, fields: Optional[Iterable[str]] = None) -> Set[str]:
    """Ids of the rows of a JSONL output written by `ResultWriter`.

    Only the end of the file is ever changed: a last line cut short by an
    interruption (no newline, not valid JSON, starting as the writer starts
    every row) is cut off, so that appending continues cleanly; a whole last
    row without its newline gets one. Any other line that is not a row
    (`id_column`, keys within `fields`) raises ForeignOutputError naming
    `file:line`, and the file is left as it was."""
    data = path.read_bytes()
    *lines, tail = data.split(b"\n")  # tail: b"" when the file ends with a newline
    allowed = None if fields is None else {id_column, *fields}
    ids = set()
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        row = own_row(line, id_column, allowed)
        if row is None:
            raise ForeignOutputError(
                f"{path}:{number} is not a row this job writes (an object with {id_column!r}"
                + ("" if allowed is None else f" and only {sorted(allowed)}")
                + "): it holds other data, which is left untouched; name a new output"
            )
        ids.add(str(row[id_column]))
    if tail.strip():
        row = own_row(tail, id_column, allowed)
        if row is not None:  # whole, only its newline missing
            with path.open("ab") as handle:
                handle.write(b"\n")
            ids.add(str(row[id_column]))
        elif is_cut_row(tail, id_column):
            with path.open("r+b") as handle:
                handle.truncate(len(data) - len(tail))
        else:
            raise ForeignOutputError(
                f"{path}:{len(lines) + 1} is not a row this job writes (nor one cut short): "
                "it holds other data, which is left untouched; name a new output"
            )
    return ids


def own_row(line: bytes, id_column: str, allowed: Optional[Set[str]]) -> Optional[Dict[str, Any]]:
    """The row a JSONL line holds if it is one a ResultWriter writes, else None."""
    try:
        row = json.loads(line)
    except ValueError:  # also UnicodeDecodeError
        return None
    if not isinstance(row, dict) or row.get(id_column) is None:
        return None
    if allowed is not None and not set(row) <= allowed:
        return None
    return row


def is_cut_row(tail: bytes, id_column: str) -> bool:
    """Whether an unterminated last line is the start of a row (rows begin with the id), cut short."""
    start = b'{"' + id_column.encode("utf8") + b'": '
    return tail.startswith(start[: len(tail)]) and own_row(tail, id_column, None) is None


class ResultWriter:
    """Writes result rows to a JSONL file or a folder of parts, each id once.

    `schema` (a function returning the Arrow schema) is only called for Parquet;
    `fields` are the keys a row may have besides `id_column` (None: any), by
    which a JSONL output is recognised as this writer's before it is resumed.
    Raises ForeignOutputError (a ValueError) for an output that holds other data.
    """

    def __init__(
        self,
        path: Union[str, Path],
        *,
        id_column: str,
        schema: Callable[[], Any],
        output_format_name: Optional[str] = None,
        fields: Optional[Iterable[str]] = None,
    ) -> None:
        self.path = Path(path)
        self.id_column = id_column
        self.schema = schema
        self.format = output_format(self.path, output_format_name)
        self.single_file = self.format == "jsonl" and is_single_file(self.path)
        if self.path.exists() and not self.single_file and not self.path.is_dir():
            raise ValueError(f"{self.path} is a file; part files need a folder (or name a .jsonl file)")
        self.written: Set[str] = finished_ids(self.path, id_column, fields)
        self._drop_temporary_parts()
        foreign = foreign_files(self.path) if not self.single_file else []
        if foreign:
            more = f" and {len(foreign) - 5} more" if len(foreign) > 5 else ""
            shown = ", ".join(p.name for p in foreign[:5]) + more
            logger.warning("%s holds files this job did not write, left untouched: %s", self.path, shown)
        # Parts of one run share a stamp. A random token, not the pid: a rerun in the same
        # process and second (a resumed job in a notebook) would otherwise overwrite earlier parts.
        self._run = time.strftime("%Y%m%dT%H%M%S", time.gmtime()) + f"-{uuid.uuid4().hex[:8]}"
        self._parts = 0
        self._handle: Optional[TextIO] = None

    def _drop_temporary_parts(self) -> None:
        if self.path.is_dir():
            for leftover in self.path.iterdir():
                if TEMPORARY_PART_NAME.match(leftover.name):
                    leftover.unlink(missing_ok=True)

    def write(self, rows: Iterable[Dict[str, Any]]) -> List[Dict[str, Any]]:
        """Write the rows whose id is not out yet; return them."""
        new = []
        for row in rows:
            row_id = str(row[self.id_column])
            if row_id not in self.written:
                self.written.add(row_id)
                new.append(row)
        if not new:
            return new
        if self.format == "parquet":
            self._write_parquet_part(new)
        else:
            handle = self._jsonl_handle()
            handle.write("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in new))
            handle.flush()  # a crash loses at most the batch in flight
        return new

    def _jsonl_handle(self):
        if self._handle is None:
            if self.single_file:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                target = self.path
            else:
                self.path.mkdir(parents=True, exist_ok=True)
                target = self.path / f"part-{self._run}-{self._next_part():05d}.jsonl"
            self._handle = target.open("a", encoding="utf8")
        return self._handle

    def _write_parquet_part(self, rows: List[Dict[str, Any]]) -> None:
        import pyarrow.parquet as pq

        self.path.mkdir(parents=True, exist_ok=True)
        name = f"part-{self._run}-{self._next_part():05d}.parquet"
        if (self.path / name).exists():  # os.replace would silently drop the rows already there
            raise FileExistsError(f"{self.path / name} exists; refusing to overwrite finished results")
        tmp = self.path / f".{name}.tmp"
        pq.write_table(to_table(rows, self.schema()), tmp)
        os.replace(tmp, self.path / name)

    def _next_part(self) -> int:
        self._parts += 1
        return self._parts

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None

    def __enter__(self) -> "ResultWriter":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
