"""`python -m spacy_ita evaluate-views MODEL DATA`: a trained pipeline scored cross-modal and
text-only (`evaluate.score_views`), optionally with displaCy pages (`evaluate.write_displacy_pages`);
with `--splits dev,test`, each <split>.spacy of a corpus folder scored apart."""

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Dict, List, Optional

import typer
from wasabi import msg

from ..defaults import DISPLACY_LIMIT

if TYPE_CHECKING:
    from spacy.language import Language


def evaluate_views_command(
    model: Annotated[str, typer.Argument(help="Trained pipeline: a directory or an installed package name")],
    data: Annotated[
        Path, typer.Argument(exists=True, help="DocBin (.spacy), Twitter-format .txt file, or a folder of them")
    ],
    output: Annotated[
        Optional[Path], typer.Option("--output", "-o", help="Write the scores as JSON (a folder with --splits)")
    ] = None,
    splits: Annotated[
        Optional[str],
        typer.Option(
            help="Comma-separated split names, e.g. dev,test: score each DATA/<split>.spacy apart (those present), "
            "to OUTPUT/<split>.json"
        ),
    ] = None,
    dataset: Annotated[
        Optional[str], typer.Option(help="Dataset name, recorded with the scores (demo: with the demo notice)")
    ] = None,
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

    from ..demo import announce_if_demo

    announce_if_demo(dataset or "")
    if gpu_id >= 0:
        spacy.require_gpu(gpu_id)
    try:
        nlp = spacy.load(model)
    except (OSError, ValueError) as err:  # no such model
        msg.fail(str(err), exits=1)
    if splits is None:
        files = sorted(path.name for path in data.glob("*.spacy")) if data.is_dir() else []
        if len(files) > 1:  # one file or none: nothing is merged, nothing to warn of
            msg.warn(
                f"{data} is a folder: its {len(files)} .spacy files ({', '.join(files[:4])}) are scored as one "
                "corpus; --splits dev,test scores each apart"
            )
        jobs = [(data, output, displacy_path)]
    else:
        names = [name.strip() for name in splits.split(",") if name.strip()]
        if not data.is_dir() or output is None:
            msg.fail("--splits scores the <split>.spacy files of a folder DATA into a folder --output", exits=1)
        jobs = [(data / f"{n}.spacy", output / f"{n}.json", displacy_path and displacy_path / n) for n in names]
        for path, _, _ in jobs:
            if not path.is_file():
                msg.info(f"No {path.name} in {data}: skipped")
        jobs = [job for job in jobs if job[0].is_file()]
        if not jobs:
            msg.fail(f"None of {', '.join(f'{n}.spacy' for n in names)} in {data}", exits=1)
    for split_data, split_output, split_displacy in jobs:
        if splits is not None:
            msg.divider(str(split_data))
        evaluate_one(
            nlp,
            model,
            split_data,
            split_output,
            split_displacy,
            dataset,
            captions,
            contexts,
            batch_size,
            displacy_limit,
        )


def evaluate_one(
    nlp: "Language",
    model: str,
    data: Path,
    output: Optional[Path],
    displacy_path: Optional[Path],
    dataset: Optional[str],
    captions: Optional[Path],
    contexts: Optional[List[Path]],
    batch_size: int,
    displacy_limit: int,
) -> None:
    """Score `nlp` on one DATA, print the table, write what was asked for."""
    import srsly

    from ..data.mner_format import MNERFormatError
    from ..demo import DEMO_NOTICE, is_demo
    from ..evaluate import load_examples, pipeline_reads_context, score_views, write_displacy_pages
    from ..visual_context import has_context

    try:
        examples = load_examples(nlp, data, captions=captions, contexts=contexts)
    except (OSError, ValueError, MNERFormatError) as err:  # empty or malformed data
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
        if dataset:
            report = {**({"note": DEMO_NOTICE} if is_demo(dataset) else {}), "dataset": dataset, **report}
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
