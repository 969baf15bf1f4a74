"""Read and write the Twitter-2015 / Twitter-2017 / SNAP MNER text format.

    IMGID:1015799
    George<TAB>B-PER
    Zimmerman<TAB>I-PER
    got<TAB>O
    <blank line>
    IMGID:1109405
    ...

Lenient where the real files need it: `\\r\\n` endings, whitespace-only or
repeated blank lines, trailing whitespace around tags and ids. Tokens are kept
byte for byte: the data holds tokens such as `\\xa0`, `\\u200b` or `\\x92` that
any stripping or `str.splitlines` would lose or split.
"""

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator, List, Tuple, Union

IMGID_PREFIX = "IMGID:"
# O, or B-/I- and a type without whitespace; BILUO tags (E-, S-, L-, U-) are not this format.
TAG_PATTERN = re.compile(r"^(O|[BI]-\S+)$")


class MNERFormatError(ValueError):
    """Malformed MNER input; the message starts with `file:line:`."""

    def __init__(self, path: Union[str, Path], line: int, message: str):
        super().__init__(f"{path}:{line}: {message}")
        self.path = str(path)
        self.line = line


@dataclass
class MNERRecord:
    """One post: its image id, tokens and BIO tags, and the line of its `IMGID:` line."""

    image_id: str
    tokens: List[str]
    tags: List[str]
    line: int = 0

    def token_line(self, index: int) -> int:
        """The line of token `index` in the file it was read from."""
        return self.line + 1 + index


def utf8_lines(path: Union[str, Path]) -> Iterator[Tuple[int, str]]:
    """(line number, line with its ending) of a UTF-8 text file; only `\\n` ends a
    line, so tokens like `\\x85` or `\\u2028` stay inside theirs. A byte-order mark
    at the start is dropped; a line that is not UTF-8 is a `file:line` error."""
    path = Path(path)
    with path.open("rb") as handle:
        for line_number, raw in enumerate(handle, start=1):
            if line_number == 1 and raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]
            try:
                line = raw.decode("utf8")
            except UnicodeDecodeError as err:
                raise MNERFormatError(
                    path,
                    line_number,
                    f"not UTF-8: byte 0x{raw[err.start]:02x} at byte {err.start + 1} of the line "
                    "(save the file as UTF-8)",
                ) from None
            yield line_number, line


def read_mner(path: Union[str, Path]) -> Iterator[MNERRecord]:
    """Yield the posts of an MNER file, raising MNERFormatError on malformed input."""
    path = Path(path)
    current = None
    seen_any_line = False
    for line_number, raw_line in utf8_lines(path):
        line = raw_line.rstrip("\n").rstrip("\r")
        # Blank: nothing but ASCII spaces/tabs. Not str.strip(): "\xa0\t" is a token without a tag.
        if not line.strip(" \t"):
            if current is not None:
                yield _finished(path, current)
                current = None
            continue
        seen_any_line = True
        if line.startswith(IMGID_PREFIX):
            if current is not None:  # no blank line before the next post: still a new post
                yield _finished(path, current)
            image_id = line[len(IMGID_PREFIX) :].strip()
            if not image_id:
                raise MNERFormatError(path, line_number, "empty image id in 'IMGID:' line")
            current = MNERRecord(image_id=image_id, tokens=[], tags=[], line=line_number)
            continue
        if current is None:
            raise MNERFormatError(
                path, line_number, f"post has no 'IMGID:<id>' line before its first token line {line!r}"
            )
        token, tag = _parse_token_line(path, line_number, line)
        current.tokens.append(token)
        current.tags.append(tag)
    if current is not None:
        yield _finished(path, current)
    if not seen_any_line:
        raise MNERFormatError(path, 1, "empty file: expected 'IMGID:<id>' lines followed by 'token<TAB>tag' lines")


def _parse_token_line(path: Path, line_number: int, line: str):
    if "\t" not in line:
        raise MNERFormatError(path, line_number, f"expected 'token<TAB>tag', found no tab in {line!r}")
    token, tag = line.split("\t", 1)
    tag = tag.strip()
    if not token:
        raise MNERFormatError(path, line_number, f"empty token in {line!r}")
    if not TAG_PATTERN.match(tag):
        raise MNERFormatError(
            path, line_number, f"unknown tag {tag!r}: expected 'O' or 'B-<TYPE>' / 'I-<TYPE>' (BIO scheme)"
        )
    return token, tag


def _finished(path: Path, record: MNERRecord) -> MNERRecord:
    if not record.tokens:
        raise MNERFormatError(path, record.line, f"post IMGID:{record.image_id} has no token lines")
    return record


def format_mner(records: Iterable[MNERRecord]) -> str:
    """The text of `records` in the MNER format: posts separated by one blank line."""
    blocks = []
    for record in records:
        if len(record.tokens) != len(record.tags):
            raise ValueError(f"post IMGID:{record.image_id}: {len(record.tokens)} tokens but {len(record.tags)} tags")
        lines = [f"{IMGID_PREFIX}{record.image_id}"]
        lines.extend(f"{token}\t{tag}" for token, tag in zip(record.tokens, record.tags))
        blocks.append("\n".join(lines) + "\n")
    return "\n".join(blocks)


def write_mner(records: Iterable[MNERRecord], path: Union[str, Path]) -> None:
    # newline="": write "\n" as is on every platform, like the source files.
    with Path(path).open("w", encoding="utf8", newline="") as handle:
        handle.write(format_mner(records))
