"""Reading text that is not clean UTF-8: lone surrogates, and Parquet strings that are not UTF-8.

A post cut inside an emoji by a tool that counts bytes or UTF-16 units, saved as
JSON, reads back with a lone surrogate (`"... tonight \\ud83d"`); a byte that is
not UTF-8, read with `errors="surrogateescape"`, becomes one too. Python holds
such a str, but writing it as UTF-8 or tokenizing it raises. Each one is
replaced with U+FFFD, the Unicode replacement character: one character for one,
so character offsets into the text (entity spans) stay those of the input. The
readers say where (`file:line`) and the jobs count the repaired rows.
"""

import re
from pathlib import Path
from typing import Any, Dict, Iterator, Tuple, Union

REPLACEMENT_CHARACTER = "\ufffd"
LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def repair_text(text: str) -> Tuple[str, int]:
    """(text with every lone surrogate replaced by U+FFFD, how many were)."""
    return LONE_SURROGATE.subn(REPLACEMENT_CHARACTER, text)


def repair_value(value: Any) -> Tuple[Any, int]:
    """`repair_text` on every string of a decoded record (dict keys and nested lists too)."""
    if isinstance(value, str):
        return repair_text(value)
    if isinstance(value, dict):
        repaired, count = {}, 0
        for key, item in value.items():
            key, n_key = repair_value(key)
            repaired[key], n_item = repair_value(item)
            count += n_key + n_item
        return repaired, count
    if isinstance(value, (list, tuple)):
        items = [repair_value(item) for item in value]
        return type(value)(item for item, _ in items), sum(n for _, n in items)
    return value, 0


def decode_utf8(data: bytes) -> str:
    """UTF-8 bytes as text, each byte that is not UTF-8 as a lone surrogate (for `repair_text` to count)."""
    return data.decode("utf8", errors="surrogateescape")


def parquet_rows(path: Path) -> Iterator[Tuple[int, Union[Dict[str, Any], str]]]:
    """(row number from 1, record) of a Parquet file; a top-level string that is not UTF-8
    comes back decoded with surrogateescape, and a row that still cannot be read comes
    back as the reason (a str), so that one bad row does not stop the read."""
    import pyarrow.parquet as pq

    row_number = 0
    for batch in pq.ParquetFile(path).iter_batches(batch_size=1024):
        try:
            records = batch.to_pylist()
        except UnicodeDecodeError:  # a string that is not UTF-8: find its row, read the rest
            records = [_parquet_row(batch.slice(i, 1)) for i in range(batch.num_rows)]
        for record in records:
            row_number += 1
            yield row_number, record


def _parquet_row(row) -> Union[Dict[str, Any], str]:
    try:
        return row.to_pylist()[0]
    except UnicodeDecodeError:
        pass
    import pyarrow as pa

    record = {}
    for name, column in zip(row.schema.names, row.columns):
        if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
            value = column.view(pa.binary() if pa.types.is_string(column.type) else pa.large_binary())[0].as_py()
            record[name] = None if value is None else decode_utf8(value)
        else:
            try:
                record[name] = column.to_pylist()[0]
            except UnicodeDecodeError as err:
                return f"column {name!r} is not UTF-8: {err.reason}"
    return record
