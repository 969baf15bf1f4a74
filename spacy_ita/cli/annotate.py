"""`python -m spacy_ita annotate MODEL INPUT OUTPUT`: tag a file of posts, no Python needed.

INPUT is JSONL, CSV or Parquet (or a folder of them) with an id and a text per
row, optionally an image path (relative to the file's folder, or --image-root)
and a precomputed visual context (an object; in CSV, JSON text); or an MNER `.txt`
file (id: the image id). `generate-contexts` reads its INPUT the same way
(`batch.posts.read_post_file`). OUTPUT gets one
row per post: {id, entities: [{text, label, start_char, end_char, confidence}],
view: cross_modal | text_only, visual_context (the aligned one, when the post
had an image)}. A rerun skips the ids already in OUTPUT. The job is
`batch.jobs.annotate_posts`.
"""

from pathlib import Path
from typing import Annotated, List, Optional

import typer
from wasabi import msg

from .options import (
    WORKERS_HELP,
    AddressOption,
    CodeOption,
    ContextColumnOption,
    CpusOption,
    EngineOption,
    GpusOption,
    IdColumnOption,
    ImageColumnOption,
    ImageRootOption,
    OutputFormatOption,
    TextColumnOption,
)

BATCH_HELP = "Posts per batch; a Parquet output writes one part file per batch."


def annotate_command(
    model: Annotated[str, typer.Argument(help="Trained pipeline: a folder or an installed package name.")],
    input_path: Annotated[
        Path, typer.Argument(help="Posts: .jsonl, .csv or .parquet (or a folder of them), or an MNER .txt.")
    ],
    output: Annotated[Path, typer.Argument(help="A .jsonl file, or a folder of part files (resumed on rerun).")],
    engine: EngineOption = "local",
    id_column: IdColumnOption = "id",
    text_column: TextColumnOption = "text",
    image_column: ImageColumnOption = "image",
    context_column: ContextColumnOption = "visual_context",
    image_root: ImageRootOption = None,
    output_format: OutputFormatOption = None,
    batch_size: Annotated[int, typer.Option("--batch-size", "-b", min=1, help=BATCH_HELP)] = 32,
    gpu_id: Annotated[int, typer.Option("--gpu-id", "-g", help="Local engine: GPU id, or -1 for CPU.")] = -1,
    code: CodeOption = None,
    address: AddressOption = None,
    workers: Annotated[Optional[List[str]], typer.Option(help="--engine ray: " + WORKERS_HELP)] = None,
    cpus_per_worker: CpusOption = None,
    gpus_per_worker: GpusOption = None,
) -> None:
    """Tag every post of INPUT with MODEL and write one row per post to OUTPUT."""
    from ..batch.jobs import NER_STAGE, RayOptions, annotate_posts
    from ..batch.pools import stage_pools
    from ..batch.posts import PostColumns

    try:
        pools = stage_pools([NER_STAGE], workers or (), cpus_per_worker or (), gpus_per_worker or ())
        summary = annotate_posts(
            model,
            input_path,
            output,
            engine=engine,
            columns=PostColumns(id=id_column, text=text_column, image=image_column, visual_context=context_column),
            image_root=image_root,
            batch_size=batch_size,
            output_format=output_format,
            code=str(code) if code else None,
            gpu_id=gpu_id,
            ray=RayOptions(address=address, pools=pools),
        )
    except (FileNotFoundError, ValueError, ImportError) as err:
        msg.fail(str(err), exits=1)
    msg.info(
        f"{summary.posts} posts ({summary.with_image} with an image to align), {summary.bad_rows} unreadable "
        f"rows skipped, {summary.repaired_rows} with undecodable characters replaced by U+FFFD, "
        f"{summary.already_done} already in {output}"
    )
    msg.good(
        f"Annotated {summary.annotated} posts ({summary.cross_modal} cross-modal): {summary.entities} entities, "
        f"{summary.timing.rate:.1f} docs/s, the first after {summary.timing.first_batch_seconds:.1f} s"
    )
