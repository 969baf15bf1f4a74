"""Coarse word shapes: the casing an uncased encoder (like all-MiniLM-L6-v2)
never sees, although for names it is the strongest single cue."""

from typing import List, Sequence

SHAPES = ("pad", "lower", "title", "upper", "mixed", "digit", "punct", "mention", "hashtag", "other")
N_SHAPES = len(SHAPES)
_INDEX = {name: i for i, name in enumerate(SHAPES)}


def word_shape(word: str) -> int:
    if word.startswith("@") and len(word) > 1:
        return _INDEX["mention"]
    if word.startswith("#") and len(word) > 1:
        return _INDEX["hashtag"]
    letters = [c for c in word if c.isalpha()]
    if not letters:
        if any(c.isdigit() for c in word):
            return _INDEX["digit"]
        return _INDEX["punct"] if word.strip() else _INDEX["other"]
    if all(c.islower() for c in letters):
        return _INDEX["lower"]
    if len(letters) > 1 and all(c.isupper() for c in letters):
        return _INDEX["upper"]
    if letters[0].isupper() and all(c.islower() for c in letters[1:]):
        return _INDEX["title"]
    return _INDEX["mixed"]


def word_shapes(words: Sequence[str]) -> List[int]:
    return [word_shape(w) for w in words]
