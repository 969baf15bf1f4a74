"""`python -m spacy_ita evaluate-views MODEL DATA`: score a trained pipeline in
both views — cross-modal (the post plus its visual context, where it has one)
and text-only (the context ignored) — with spaCy's own NER scorer; with
`--displacy-path DIR`, the pages `spacy evaluate --displacy-path` writes for a
`ner` component but not for `ita_ner` (`write_displacy_pages`)."""

import time
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional

import spacy
import srsly
import typer
from spacy.language import Language
from spacy.training import Example
from typing_extensions import Annotated
from wasabi import msg

from .data.corpus import create_mner_corpus
from .ner.component import ITANER
from .ner.views import REPORTED_AS
from .visual_context import has_context


def ita_pipes(nlp: Language) -> List[ITANER]:
    return [pipe for _, pipe in nlp.pipeline if isinstance(pipe, ITANER)]


def ita_pipe_names(nlp: Language) -> List[str]:
    return [name for name, pipe in nlp.pipeline if isinstance(pipe, ITANER)]


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


def score_views(nlp: Language, examples: List[Example], batch_size: int = 32) -> Dict[str, Dict[str, Any]]:
    """{"cross_modal": scores, "text_only": scores}: nlp.evaluate once per view
    (`REPORTED_AS`); the inference view is restored afterwards."""
    results = {}
    for view, reported_as in REPORTED_AS.items():
        with reading(nlp, view):
            results[reported_as] = score(nlp, examples, batch_size=batch_size)
    return results


DISPLACY_LIMIT = 25  # as `spacy evaluate --displacy-limit`


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
    from spacy import displacy

    from .visualize import render_html

    docs = list(nlp.pipe((eg.predicted.copy() for eg in examples[:limit]), batch_size=batch_size))
    directory.mkdir(parents=True, exist_ok=True)
    pages = [directory / "entities.html", directory / "contexts.html"]
    if docs:
        docs[0].user_data["title"] = title  # displaCy's page title, as spaCy sets it
    pages[0].write_text(displacy.render(docs, style="ent", page=True), encoding="utf8")
    pages[1].write_text(render_html(docs, title=title), encoding="utf8")
    return pages


def print_table(results: Dict[str, Dict[str, Any]]) -> None:
    types = sorted({t for r in results.values() for t in (r["ents_per_type"] or {})})
    header = ["view", "P", "R", "F"] + [f"F {t}" for t in types] + ["docs/s"]
    rows = []
    for view, r in results.items():
        per_type = r["ents_per_type"] or {}
        rows.append(
            [view, f"{100 * r['ents_p']:.2f}", f"{100 * r['ents_r']:.2f}", f"{100 * r['ents_f']:.2f}"]
            + [f"{100 * per_type[t]['f']:.2f}" if t in per_type else "-" for t in types]
            + [f"{r['docs_per_second']:.1f}"]
        )
    msg.table(rows, header=header, divider=True)


def evaluate_views(
    model: Annotated[str, typer.Argument(help="Trained pipeline: a directory or an installed package name")],
    data: Annotated[Path, typer.Argument(exists=True, help="DocBin (.spacy) or Twitter-format .txt file")],
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="Write the scores as JSON")] = None,
    captions: Annotated[Optional[Path], typer.Option("--captions", help="Captions CSV for a .txt input")] = None,
    contexts: Annotated[
        Optional[List[Path]],
        typer.Option("--contexts", help="Context JSONL file or folder for a .txt input; repeat for several sources"),
    ] = None,
    gpu_id: Annotated[int, typer.Option("--gpu-id", "-g", help="GPU id, or -1 for CPU")] = -1,
    batch_size: Annotated[int, typer.Option("--batch-size", "-b")] = 32,
    displacy_path: Annotated[
        Optional[Path],
        typer.Option("--displacy-path", "-dp", help="Folder for entities.html (displaCy) and contexts.html"),
    ] = None,
    displacy_limit: Annotated[int, typer.Option("--displacy-limit", "-dl", help="Docs on those pages")] = (
        DISPLACY_LIMIT
    ),
) -> None:
    """Score MODEL on DATA cross-modal and text-only (P/R/F overall and per type)."""
    if gpu_id >= 0:
        spacy.require_gpu(gpu_id)
    nlp = spacy.load(model)
    reader = create_mner_corpus(
        str(data),
        captions=str(captions) if captions else None,
        contexts=[str(c) for c in contexts] if contexts else None,
    )
    examples = list(reader(nlp))
    with_context = sum(has_context(eg.predicted._.visual_context) for eg in examples)
    msg.info(f"{len(examples)} docs, {with_context} with a visual context")
    results = score_views(nlp, examples, batch_size=batch_size)
    print_table(results)
    if output is not None:
        output.parent.mkdir(parents=True, exist_ok=True)
        srsly.write_json(
            output,
            {
                "model": str(model),
                "data": str(data),
                "n_docs": len(examples),
                "n_with_context": with_context,
                **results,
            },
        )
        msg.good(f"Saved scores to {output}")
    if displacy_path is not None:
        pages = write_displacy_pages(
            nlp, examples, displacy_path, limit=displacy_limit, title=f"spacy-ita: {model}", batch_size=batch_size
        )
        msg.good(f"Wrote {min(displacy_limit, len(examples))} docs as HTML", ", ".join(map(str, pages)))
