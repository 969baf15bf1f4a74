"""The `kb` retriever on the real posts: recall of gold entity spans, false matches, speed, memory.

    OMP_NUM_THREADS=1 python -m benchmarks.bench_kb [--data ../shared/data] [--matchers 1000000]

For Twitter-2015 and Twitter-2017, train and valid (never test), per KB source
(`geonames`, `wikipedia-vital`: the kb extra; both; and `train-gold`, a user's own
list made here from the gold entities of the dataset's train split, so measured on
valid only), through `KBRetriever.mentions` with its default settings, and with
`require_capital` off (`+lower`):

- recall: gold entity spans (token ranges of the MNER file) that a kept post mention
  covers exactly, over all gold spans;
- false/post: kept post mentions that are not exactly a gold span, per post;
- with kb: posts whose `kb` text is not empty; words: mean words of the text;
- posts/s: `retrieve` over every post of the split after the KB is built, one thread;
- a table of each KB built in a fresh process: entities, load and index seconds, RSS growth.

`--matchers N`: N made-up names (1-3 words) indexed by ahocorasick-rs (what the
retriever uses) and by spaCy's PhraseMatcher (attr ORTH on pre-folded words, one
pattern Doc per name), with the build time, RSS growth and posts/s of each on 2,000
made-up 25-word posts: why the retriever does not use the PhraseMatcher.
"""

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse  # noqa: E402
import json  # noqa: E402
import random  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Dict, List, Set, Tuple  # noqa: E402

import psutil  # noqa: E402

from benchmarks.results import Tables, add_json_option  # noqa: E402
from spacy_ita.data.mner_format import read_mner  # noqa: E402
from spacy_ita.generators.kb import KBRetriever  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
DATASETS = ("twitter2015", "twitter2017")
SPLITS = ("train", "valid")  # never test


def gold_spans(tags: List[str]) -> List[Tuple[int, int, str]]:
    """(start, end, label) of BIO tags; a stray I- starts an entity, as conlleval reads it."""
    spans, start, label = [], None, ""
    for i, tag in enumerate([*tags, "O"]):
        if start is not None and not (tag.startswith("I-") and tag[2:] == label):
            spans.append((start, i, label))
            start = None
        if tag.startswith("B-") or (tag.startswith("I-") and start is None):
            start, label = i, tag[2:]
    return spans


def train_gold_kb(path: Path, out: Path) -> Path:
    """A user's list from the gold entities of a train split: name, type (the label)."""
    seen: Dict[str, str] = {}
    for record in read_mner(path):
        for start, end, label in gold_spans(record.tags):
            name = " ".join(token.lstrip("#@") for token in record.tokens[start:end])
            seen.setdefault(name, label)
    out.write_text("".join(json.dumps({"name": n, "type": t}) + "\n" for n, t in seen.items()), encoding="utf8")
    return out


def rss() -> float:
    return psutil.Process().memory_info().rss / 2**20


def measure(retriever: KBRetriever, posts) -> Dict[str, float]:
    gold_total = hit = false = with_kb = words = 0
    for record in posts:
        text = " ".join(record.tokens)
        gold: Set[Tuple[int, int]] = {(s, e) for s, e, _ in gold_spans(record.tags)}
        found = {m.tokens for m in retriever.mentions(text) if m.tokens is not None}
        gold_total += len(gold)
        hit += len(gold & found)
        false += len(found - gold)
    began = time.perf_counter()
    for record in posts:
        kb_text = retriever.retrieve(" ".join(record.tokens))
        with_kb += bool(kb_text)
        words += len(kb_text.split())
    seconds = time.perf_counter() - began
    return {
        "gold": gold_total,
        "recall": 100 * hit / max(gold_total, 1),
        "false": false / len(posts),
        "with_kb": 100 * with_kb / len(posts),
        "words": words / len(posts),
        "posts_s": len(posts) / seconds,
    }


SIZE_PROBE = """
import json, sys, time, psutil
from spacy_ita.generators.kb import KBRetriever
retriever = KBRetriever(json.loads(sys.argv[1]))
retriever.identities
before, began = psutil.Process().memory_info().rss, time.perf_counter()
index = retriever.index
print(json.dumps([len(index), time.perf_counter() - began, (psutil.Process().memory_info().rss - before) / 2**20]))
"""


def size_rows(tables: Tables, sources: Dict[str, List[str]]) -> None:
    """Each KB built in a fresh process of its own: entities, build seconds, RSS growth."""
    import subprocess

    tables.start(["KB", "entities", "build s", "MiB"])
    for name, specs in sources.items():
        out = subprocess.run([sys.executable, "-c", SIZE_PROBE, json.dumps(specs)], capture_output=True, text=True)
        entities, build, grown = json.loads(out.stdout.strip().splitlines()[-1])
        tables.row(name, f"{entities:,}", f"{build:.1f}", f"{grown:.0f}")


def kb_rows(tables: Tables, data: Path) -> Dict[str, List[str]]:
    """The coverage table; returns the last dataset's sources (for `size_rows`)."""
    header = ["dataset", "split", "source", "gold spans", "recall %", "false/post", "with kb %", "words", "posts/s"]
    tables.start(header)
    scratch = Path(tempfile.mkdtemp(prefix="bench-kb-"))
    for dataset in DATASETS:
        user_kb = train_gold_kb(data / dataset / "train.txt", scratch / f"{dataset}-train-gold.jsonl")
        sources = {
            "geonames": ["geonames"],
            "wikipedia-vital": ["wikipedia-vital"],
            "geonames+wikipedia-vital": ["geonames", "wikipedia-vital"],
            "train-gold": [str(user_kb)],
        }
        for split in SPLITS:
            posts = list(read_mner(data / dataset / f"{split}.txt"))
            for name, specs in sources.items():
                if name == "train-gold" and split == "train":
                    continue  # its own entities: not a measure
                for lower in (False, True):
                    if lower and name not in ("geonames+wikipedia-vital", "train-gold"):
                        continue
                    retriever = KBRetriever(specs, require_capital=not lower)
                    retriever.index  # noqa: B018  (built before the timed loop)
                    row = measure(retriever, posts)
                    label = name + (" +lower" if lower else "")
                    tables.row(
                        dataset,
                        split,
                        label,
                        row["gold"],
                        f"{row['recall']:.1f}",
                        f"{row['false']:.2f}",
                        f"{row['with_kb']:.1f}",
                        f"{row['words']:.1f}",
                        f"{row['posts_s']:.0f}",
                    )
    print()
    return sources


def matcher_rows(tables: Tables, n_names: int) -> None:
    """ahocorasick-rs against spaCy's PhraseMatcher on n made-up names."""
    import ahocorasick_rs
    from spacy.matcher import PhraseMatcher
    from spacy.tokens import Doc
    from spacy.vocab import Vocab

    rng = random.Random(0)
    syllables = ["ka", "lo", "mi", "ra", "te", "su", "no", "vi", "de", "an", "or", "el", "is", "ur", "ba"]

    def word() -> str:
        return "".join(rng.choice(syllables) for _ in range(rng.randint(2, 4)))

    names = [" ".join(word() for _ in range(rng.randint(1, 3))) for _ in range(n_names)]
    posts = [[word() for _ in range(25)] for _ in range(2000)]
    print()
    tables.start([f"matcher ({n_names:,} names)", "build s", "MiB", "posts/s", "matches"])

    before, began = rss(), time.perf_counter()
    automaton = ahocorasick_rs.AhoCorasick([f" {n} " for n in dict.fromkeys(names)], store_patterns=False)
    build, grown = time.perf_counter() - began, rss() - before
    began, found = time.perf_counter(), 0
    for post in posts:
        found += len(automaton.find_matches_as_indexes(" " + " ".join(post) + " ", overlapping=True))
    tables.row(
        "ahocorasick-rs", f"{build:.1f}", f"{grown:.0f}", f"{len(posts) / (time.perf_counter() - began):.0f}", found
    )
    del automaton

    before, began = rss(), time.perf_counter()
    vocab = Vocab()
    matcher = PhraseMatcher(vocab)
    for i in range(0, len(names), 10000):
        matcher.add("KB", [Doc(vocab, words=name.split()) for name in names[i : i + 10000]])
    build, grown = time.perf_counter() - began, rss() - before
    began, found = time.perf_counter(), 0
    for post in posts:
        found += len(matcher(Doc(vocab, words=post)))
    rate = len(posts) / (time.perf_counter() - began)
    tables.row("spaCy PhraseMatcher", f"{build:.1f}", f"{grown:.0f}", f"{rate:.0f}", found)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--matchers", type=int, default=1_000_000, help="names for the matcher rows (0: none)")
    parser.add_argument("--no-kb", action="store_true", help="only the matcher rows")
    add_json_option(parser)
    args = parser.parse_args(argv)
    tables = Tables("benchmarks.bench_kb", argv)
    if not args.no_kb:
        size_rows(tables, kb_rows(tables, args.data))
    if args.matchers:
        matcher_rows(tables, args.matchers)
    tables.write(args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
