"""Where batch results go, and which ids are already there (resume).

Two layouts, one per-row format each engine writes:

- a `.jsonl` file: appended to and flushed after every batch;
- a folder of part files (any other path): `part-<run>-<n>.jsonl` (one per
  run, appended to per batch) or `part-<run>-<n>.parquet` (one per batch,
  written under a hidden temporary name and renamed into place).

A killed run therefore loses at most the batch in flight: a JSONL line cut
short is dropped (and the file rewritten atomically) when the ids are read
back, a Parquet part is either whole or absent. Every id is written once: a
row whose id is already out (a retried batch on Ray) is dropped.
"""

import json
import os
import time
import uuid
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List, Optional, Set, TextIO, Union

from .schema import pyarrow, to_table

FORMATS = ("jsonl", "parquet")


def output_format(path: Union[str, Path], requested: Optional[str] = None) -> str:
    """`jsonl` or `parquet`: as requested, else from the suffix (a folder without one holds JSONL parts)."""
    path = Path(path)
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
    """The finished part files of a folder; hidden and temporary files are not parts."""
    if not folder.is_dir():
        return []
    return sorted(
        p
        for p in folder.iterdir()
        if p.is_file() and p.suffix.lower() in (".jsonl", ".parquet") and not p.name.startswith((".", "_"))
    )


def finished_ids(path: Union[str, Path], id_column: str) -> Set[str]:
    """Ids already in a JSONL file or a folder of parts; torn JSONL lines are dropped from their file."""
    path = Path(path)
    if is_single_file(path):
        return jsonl_finished_ids(path, id_column) if path.exists() else set()
    ids: Set[str] = set()
    for part in part_files(path):
        if part.suffix.lower() == ".jsonl":
            ids |= jsonl_finished_ids(part, id_column)
        else:
            import pyarrow.parquet as pq

            pyarrow()
            ids.update(str(i) for i in pq.read_table(part, columns=[id_column]).column(id_column).to_pylist())
    return ids


def jsonl_finished_ids(path: Path, id_column: str) -> Set[str]:
    """Ids of the whole lines of a JSONL file. Lines cut short by an interruption
    are dropped from the file (rewritten atomically) so that appending continues cleanly."""
    text = path.read_text(encoding="utf8", errors="replace")
    kept, ids = [], set()
    for line in text.splitlines():
        try:
            record_id = json.loads(line)[id_column]
        except (ValueError, KeyError, TypeError):
            continue
        kept.append(line)
        ids.add(str(record_id))
    cleaned = "".join(line + "\n" for line in kept)
    if cleaned != text:
        tmp = path.with_name("." + path.name + ".tmp")
        tmp.write_text(cleaned, encoding="utf8")
        os.replace(tmp, path)
    return ids


class ResultWriter:
    """Writes result rows to a JSONL file or a folder of parts, each id once.

    `schema` (a function returning the Arrow schema) is only called for Parquet.
    """

    def __init__(
        self,
        path: Union[str, Path],
        *,
        id_column: str,
        schema: Callable[[], Any],
        output_format_name: Optional[str] = None,
    ) -> None:
        self.path = Path(path)
        self.id_column = id_column
        self.schema = schema
        self.format = output_format(self.path, output_format_name)
        self.single_file = self.format == "jsonl" and is_single_file(self.path)
        if self.path.exists() and not self.single_file and not self.path.is_dir():
            raise ValueError(f"{self.path} is a file; part files need a folder (or name a .jsonl file)")
        self._drop_temporary_parts()
        self.written: Set[str] = finished_ids(self.path, id_column)
        # Parts of one run share a stamp. A random token, not the pid: a rerun in the same
        # process and second (a resumed job in a notebook) would otherwise overwrite earlier parts.
        self._run = time.strftime("%Y%m%dT%H%M%S", time.gmtime()) + f"-{uuid.uuid4().hex[:8]}"
        self._parts = 0
        self._handle: Optional[TextIO] = None

    def _drop_temporary_parts(self) -> None:
        if self.path.is_dir():
            for leftover in self.path.glob(".part-*.tmp"):
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
