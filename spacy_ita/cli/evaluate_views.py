"""`python -m spacy_ita evaluate-views MODEL DATA`: a trained pipeline scored cross-modal and
text-only (`evaluate.score_views`), optionally with displaCy pages (`evaluate.write_displacy_pages`)."""

from pathlib import Path
from typing import Annotated, Any, Dict, List, Optional

import typer
from wasabi import msg

from ..defaults import DISPLACY_LIMIT


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
    batch_size: Annotated[int, typer.Option("--batch-size", "-b", min=1, help="Docs per nlp.pipe batch.")] = 32,
    displacy_path: Annotated[
        Optional[Path],
        typer.Option("--displacy-path", "-dp", help="Folder for entities.html (displaCy) and contexts.html"),
    ] = None,
    displacy_limit: Annotated[int, typer.Option("--displacy-limit", "-dl", help="Docs on those pages")] = (
        DISPLACY_LIMIT
    ),
) -> None:
    """Score MODEL on DATA cross-modal and text-only (P/R/F overall and per type)."""
    import spacy
    import srsly

    from ..data.mner_format import MNERFormatError
    from ..evaluate import load_examples, pipeline_reads_context, score_views, write_displacy_pages
    from ..visual_context import has_context

    if gpu_id >= 0:
        spacy.require_gpu(gpu_id)
    try:
        nlp = spacy.load(model)
        examples = load_examples(nlp, data, captions=captions, contexts=contexts)
    except (OSError, ValueError, MNERFormatError) as err:  # no such model, empty or malformed data
        msg.fail(str(err), exits=1)
    with_context = sum(has_context(eg.predicted._.visual_context) for eg in examples)
    msg.info(f"{len(examples)} docs, {with_context} with a visual context")
    if with_context and not pipeline_reads_context(nlp):
        msg.info("The model was trained text-only (views = ['text']): it reads no context, so one view only")
    results = score_views(nlp, examples, batch_size=batch_size)
    print_table(results)
    if output is not None:
        output.parent.mkdir(parents=True, exist_ok=True)
        report = {"model": str(model), "data": str(data), "n_docs": len(examples), "n_with_context": with_context}
        srsly.write_json(output, {**report, **results})
        msg.good(f"Saved scores to {output}")
    if displacy_path is not None:
        pages = write_displacy_pages(
            nlp, examples, displacy_path, limit=displacy_limit, title=f"spacy-ita: {model}", batch_size=batch_size
        )
        msg.good(f"Wrote {min(displacy_limit, len(examples))} docs as HTML", ", ".join(map(str, pages)))


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
