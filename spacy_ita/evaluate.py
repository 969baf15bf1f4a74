"""Scoring a trained pipeline in both views, cross-modal (the post plus its visual
context, where it has one) and text-only (the context ignored), with spaCy's own NER
scorer; and the displaCy pages `spacy evaluate --displacy-path` writes for a `ner`
component but not for `ita_ner` (`write_displacy_pages`). The command is
`python -m spacy_ita evaluate-views` (cli/evaluate_views.py)."""

import time
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Sequence, Union

from spacy.language import Language
from spacy.training import Example

from .data.corpus import create_mner_corpus
from .defaults import DISPLACY_LIMIT
from .ner.component import ita_pipe_names, ita_pipes
from .ner.views import REPORTED_AS, TEXT

__all__ = [
    "DISPLACY_LIMIT",
    "ita_pipe_names",
    "ita_pipes",
    "load_examples",
    "pipeline_reads_context",
    "reading",
    "score",
    "score_views",
    "write_displacy_pages",
]


def load_examples(
    nlp: Language,
    data: Union[str, Path],
    *,
    captions: Optional[Union[str, Path]] = None,
    contexts: Optional[Sequence[Union[str, Path]]] = None,
) -> List[Example]:
    """The gold examples of `data` (a DocBin .spacy file, or an MNER .txt file with its
    `captions` CSV and `contexts` sources attached), tokenized by `nlp`.
    Raises what the corpus reader raises (FileNotFoundError, MNERFormatError), ValueError
    when `data` holds no doc (an empty file or folder)."""
    reader = create_mner_corpus(
        str(data),
        captions=str(captions) if captions else None,
        contexts=[str(c) for c in contexts] if contexts else None,
    )
    examples = list(reader(nlp))
    if not examples:
        raise ValueError(f"{data} holds no doc to evaluate (a .spacy DocBin, an MNER .txt, or a folder of them)")
    return examples


@contextmanager
def reading(nlp: Language, view: str) -> Iterator[Language]:
    """Every ita_ner component of `nlp` reads in `view` ("auto" or "text") inside the block."""
    pipes = ita_pipes(nlp)
    if not pipes:
        raise ValueError("The pipeline has no ita_ner component to switch between views.")
    with ExitStack() as stack:
        for pipe in pipes:
            stack.enter_context(pipe.reading(view))
        yield nlp


def score(nlp: Language, examples: List[Example], batch_size: int = 32) -> Dict[str, Any]:
    """nlp.evaluate's entity scores (P, R, F, per type), and docs/s."""
    start = time.perf_counter()
    scores = nlp.evaluate(examples, batch_size=batch_size)
    seconds = time.perf_counter() - start
    entities = {key: scores[key] for key in ("ents_p", "ents_r", "ents_f", "ents_per_type")}
    return {**entities, "docs_per_second": len(examples) / seconds if seconds else None}


def pipeline_reads_context(nlp: Language) -> bool:
    """Whether an ita_ner component of `nlp` was trained to read visual contexts (its
    cross-modal view); a text-only model (`views = ["text"]`) never reads one."""
    return any(pipe.view_training.reads_context for pipe in ita_pipes(nlp))


def score_views(nlp: Language, examples: List[Example], batch_size: int = 32) -> Dict[str, Dict[str, Any]]:
    """{"cross_modal": scores, "text_only": scores}: nlp.evaluate once per view
    (`REPORTED_AS`); the inference view is restored afterwards. A pipeline trained
    text-only (no ita_ner reads a context) gets only "text_only": it has no other view."""
    reads_context = pipeline_reads_context(nlp)
    results = {}
    for view, reported_as in REPORTED_AS.items():
        if reported_as != REPORTED_AS[TEXT] and not reads_context:
            continue
        with reading(nlp, view):
            results[reported_as] = score(nlp, examples, batch_size=batch_size)
    return results


def write_displacy_pages(
    nlp: Language,
    examples: List[Example],
    directory: Path,
    *,
    limit: int = DISPLACY_LIMIT,
    title: str = "spacy-ita",
    batch_size: int = 32,
) -> List[Path]:
    """The first `limit` docs of `examples`, tagged as the pipeline reads them (cross-modal
    where a doc has a visual context), as two pages in `directory`: `entities.html`
    (displaCy's entity page, the file `spacy evaluate --displacy-path` writes) and
    `contexts.html` (each post with its image, visual context and entities:
    `visualize.render_html`). Returns their paths.

    Why not `spacy evaluate --displacy-path`: it renders entities only for a
    component whose factory is named `ner`, and it reads the texts alone, so
    for an `ita_ner` pipeline it writes nothing (and would lose the contexts)."""
    from .visualize import entities_html, render_html

    docs = list(nlp.pipe((eg.predicted.copy() for eg in examples[:limit]), batch_size=batch_size))
    directory.mkdir(parents=True, exist_ok=True)
    pages = [directory / "entities.html", directory / "contexts.html"]
    if docs:
        docs[0].user_data["title"] = title  # displaCy's page title, as spaCy sets it
    pages[0].write_text(entities_html(docs, page=True), encoding="utf8")
    pages[1].write_text(render_html(docs, title=title), encoding="utf8")
    return pages
