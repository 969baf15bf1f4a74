"""Inference speed of a trained pipeline, view by view: docs/s of nlp.pipe
with one thread, on real contexts or a synthesized ~40-word one."""

import random
import statistics
import time
from contextlib import nullcontext
from pathlib import Path
from typing import Any, Dict, List

import torch

from benchmarks.systems import SYSTEMS, context_sources, has_real_contexts, read_examples
from spacy_ita.data.corpus import predicted_doc
from spacy_ita.evaluate import ita_pipe_names, ita_pipes, reading
from spacy_ita.ner.architecture import tagger_shim
from spacy_ita.ner.views import AUTO, REPORTED_AS
from spacy_ita.visual_context import context_text

CONTEXT_WORDS = 40
CROSS_MODAL = REPORTED_AS[AUTO]
# The inference view each reported view is read in.
READ_IN = {reported: view for view, reported in REPORTED_AS.items()}

# --- the synthesized visual context for the speed measurement -----------------
OBJECTS = [
    "person",
    "car",
    "dog",
    "bus",
    "chair",
    "cup",
    "bottle",
    "tv",
    "cell phone",
    "book",
    "bench",
    "traffic light",
    "handbag",
    "laptop",
    "bicycle",
    "umbrella",
    "tie",
    "clock",
    "pizza",
    "horse",
]
ADJECTIVES = ["young", "large", "red", "crowded", "small", "old", "white", "dark", "smiling", "tall"]
NOUNS = [
    "man",
    "woman",
    "group",
    "crowd",
    "stage",
    "street",
    "sign",
    "building",
    "table",
    "field",
    "poster",
    "team",
    "car",
    "window",
    "banner",
]
VERBS = ["standing", "sitting", "walking", "holding", "posing", "playing", "talking", "waiting"]
PREPOSITIONS = ["in front of", "next to", "on", "near", "behind", "under"]
OCR_WORDS = [
    "OPEN",
    "SALE",
    "Main",
    "Street",
    "NEW",
    "YORK",
    "live",
    "tonight",
    "2016",
    "tickets",
    "FREE",
    "www.example.com",
    "#1",
    "Congrats",
    "Final",
    "Score",
    "Welcome",
    "to",
    "the",
    "Club",
    "@news",
    "Park",
]


def synthetic_context(index: int, n_words: int = CONTEXT_WORDS) -> Dict[str, Any]:
    """A deterministic context of about `n_words` words: ~6 object tags, a
    ~12-word caption, OCR lines filling up the rest."""
    rng = random.Random(1000003 * (index + 1))
    objects = [
        {"label": label, "count": rng.choice([1, 1, 2, 3]), "score": round(rng.uniform(0.3, 0.95), 2)}
        for label in rng.sample(OBJECTS, 5)
    ]
    caption = (
        f"a {rng.choice(ADJECTIVES)} {rng.choice(NOUNS)} {rng.choice(VERBS)} {rng.choice(PREPOSITIONS)} "
        f"a {rng.choice(ADJECTIVES)} {rng.choice(NOUNS)} with a {rng.choice(NOUNS)}"
    )
    context = {"objects": objects, "caption": caption, "ocr": []}
    while len(context_text(context).replace(" ; ", " ").split()) < n_words:
        line = " ".join(rng.choice(OCR_WORDS) for _ in range(rng.randint(2, 5)))
        context["ocr"].append(line)
    return context


def view_docs(nlp, references, view: str, synthesize: bool = True) -> List[Any]:
    """Fresh predicted docs for `references` (with their own contexts, if any);
    with `synthesize`, cross-modal ones get the synthesized context instead."""
    docs = [predicted_doc(nlp, ref) for ref in references]
    if view == CROSS_MODAL and synthesize:
        for i, doc in enumerate(docs):
            doc._.visual_context = synthetic_context(i)
    return docs


def time_view(nlp, references, view: str, synthesize: bool = True):
    """(seconds, docs): nlp.pipe over `references` read in `view` ("cross_modal"
    or "text_only"), after one warm-up batch. A pipeline without ita_ner reads text-only anyway."""
    with reading(nlp, READ_IN[view]) if ita_pipe_names(nlp) else nullcontext():
        list(nlp.pipe(view_docs(nlp, references[: nlp.batch_size], view, synthesize)))
        docs = view_docs(nlp, references, view, synthesize)
        start = time.perf_counter()
        for _ in nlp.pipe(docs):
            pass
        return time.perf_counter() - start, docs


def encoder_tokens_per_post(nlp, docs, view: str) -> float:
    """Mean subword tokens the (first) ita_ner's encoder reads per post in `view`,
    special tokens, every window of a long post and the context included, padding not.
    Inference cost follows this, not a context's raw length: the context budget cuts
    every context to about the same size, so the post's own length sets the ratio
    between the views."""
    pipe = ita_pipes(nlp)[0]
    encoder = tagger_shim(pipe.model).view_encoder
    words = [[token.text for token in doc] for doc in docs]
    with pipe.reading(READ_IN[view]):
        contexts = [pipe.read_with(doc) for doc in docs]
    total, step = 0, 64
    for start in range(0, len(docs), step):
        encoded = encoder.encode(words[start : start + step], contexts[start : start + step])
        total += int(encoded.attention_mask.sum())
    return total / max(1, len(docs))


def measure_speed(nlp, args, dataset: str, system: str, path: Path) -> Dict[str, Any]:
    """Inference docs/s with one thread on `speed_docs` posts: text-only, and
    cross-modal for ITA systems: with the real contexts where the system has
    context sources, else a synthesized ~40-word context on every post."""
    real = has_real_contexts(system)
    sources = context_sources(args, dataset, system) if real else None
    references = [eg.reference for eg in read_examples(nlp, path, sources, args.speed_docs)]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    results = {}
    try:
        for view in SYSTEMS[system]["views"]:
            seconds, docs = time_view(nlp, references, view, synthesize=not real)
            entry = {
                "docs": len(docs),
                "seconds": seconds,
                "docs_per_second": len(docs) / seconds,
                "threads": 1,
                "batch_size": nlp.batch_size,
            }
            if ita_pipe_names(nlp):
                entry["encoder_tokens_per_post"] = encoder_tokens_per_post(nlp, docs, view)
            if view == CROSS_MODAL:
                entry["context"] = "real" if real else "synthesized"
                entry["context_words_mean"] = statistics.mean(
                    len(context_text(d._.visual_context).replace(" ; ", " ").split()) for d in docs
                )
            results[view] = entry
    finally:
        torch.set_num_threads(threads)
    return results
