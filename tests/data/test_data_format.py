"""The MNER text format: reading, writing, and clear `file:line` errors on malformed input."""

import re

import pytest

from spacy_ita.data import MNERFormatError, MNERRecord, format_mner, read_mner, write_mner

GOOD = "IMGID:1\nGeorge\tB-PER\nZimmerman\tI-PER\nshot\tO\n\nIMGID:2\nSwan\tB-OTHER\nupping\tO\n"


def write(tmp_path, text, name="posts.txt"):
    path = tmp_path / name
    path.write_bytes(text.encode("utf8"))
    return path


def test_reads_posts_with_ids_tokens_tags_and_lines(tmp_path):
    records = list(read_mner(write(tmp_path, GOOD)))
    assert records == [
        MNERRecord("1", ["George", "Zimmerman", "shot"], ["B-PER", "I-PER", "O"], line=1),
        MNERRecord("2", ["Swan", "upping"], ["B-OTHER", "O"], line=6),
    ]
    assert records[1].token_line(1) == 8


def test_writer_gives_back_the_input(tmp_path):
    out = tmp_path / "out.txt"
    write_mner(read_mner(write(tmp_path, GOOD)), out)
    assert out.read_text(encoding="utf8") == GOOD


def test_lenient_on_crlf_stray_whitespace_and_blank_lines(tmp_path):
    messy = "\n \n" + GOOD.replace("\n\n", "\n\n\n  \n\t \n").replace("\n", "\r\n").replace("B-PER", "B-PER  ")
    messy = messy.replace("IMGID:2", "IMGID: 2 ")
    assert list(read_mner(write(tmp_path, messy))) == [
        MNERRecord("1", ["George", "Zimmerman", "shot"], ["B-PER", "I-PER", "O"], line=3),
        MNERRecord("2", ["Swan", "upping"], ["B-OTHER", "O"], line=11),
    ]


def test_odd_unicode_tokens_are_kept_exactly(tmp_path):
    # Tokens like these occur in the real files; strip() or splitlines() would lose or split them.
    odd = ["\xa0", "\u200b", "\u200d", "\x92", "#\u200edarmageddon", "a\x85b", "\u2028", " x "]
    text = "IMGID:7\n" + "".join(f"{token}\tO\n" for token in odd)
    (record,) = read_mner(write(tmp_path, text))
    assert record.tokens == odd
    assert format_mner([record]) == text


def test_a_post_without_blank_line_before_the_next_imgid_still_ends(tmp_path):
    records = list(read_mner(write(tmp_path, "IMGID:1\na\tO\nIMGID:2\nb\tO\n")))
    assert [(r.image_id, r.tokens) for r in records] == [("1", ["a"]), ("2", ["b"])]


@pytest.mark.parametrize(
    "text,line,message",
    [
        ("IMGID:1\nGeorge B-PER\n", 2, "no tab"),
        ("IMGID:1\nGeorge\tE-PER\n", 2, "unknown tag 'E-PER'"),
        ("IMGID:1\nok\tO\nGeorge\tX\n", 3, "unknown tag 'X'"),
        ("IMGID:1\nGeorge\tB-\n", 2, "unknown tag 'B-'"),
        ("IMGID:1\nGeorge\tU-PER\n", 2, "unknown tag 'U-PER'"),
        ("", 1, "empty file"),
        ("\n  \n\n", 1, "empty file"),
        ("George\tB-PER\n", 1, "no 'IMGID:<id>' line"),
        ("IMGID:1\na\tO\n\nb\tO\n", 4, "no 'IMGID:<id>' line"),
        ("IMGID:1\n\nIMGID:2\na\tO\n", 1, "IMGID:1 has no token lines"),
        ("IMGID:\na\tO\n", 1, "empty image id"),
        ("IMGID:1\n\tO\n", 2, "empty token"),
    ],
)
def test_malformed_input_fails_with_file_line_and_reason(tmp_path, text, line, message):
    path = write(tmp_path, text)
    with pytest.raises(MNERFormatError, match=re.escape(f"{path}:{line}: ")) as err:
        list(read_mner(path))
    assert message in str(err.value)
    assert err.value.line == line
