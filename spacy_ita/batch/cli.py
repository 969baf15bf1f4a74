"""`python -m spacy_ita annotate MODEL INPUT OUTPUT`: tag a file of posts, no Python needed.

INPUT is JSONL, CSV or Parquet (or a folder of them) with an id and a text per
row, optionally an image path (relative to the file's folder, or --image-root)
and a precomputed visual context (an object; in CSV, JSON text). OUTPUT gets one
row per post: {id, entities: [{text, label, start_char, end_char, confidence}],
view: cross_modal | text_only, visual_context (the aligned one, when the post
had an image)}. A rerun skips the ids already in OUTPUT.
"""

from pathlib import Path
from typing import Annotated, List, Optional

import typer
from wasabi import msg

ENGINE_HELP = "local: one process (nlp.pipe); ray: pools of Ray actors (needs the ray extra of spacy-ita)."
OUTPUT_FORMAT_HELP = "jsonl or parquet; default: parquet for a *.parquet folder, else jsonl."
ADDRESS_HELP = "Ray cluster to join (e.g. ray://head:10001 or auto); default: start a local one."
WORKERS_HELP = "Workers per stage: N, or MIN-MAX for an autoscaling pool; STAGE=... for one stage."
CPUS_HELP = "Logical CPUs per worker (torch threads follow); STAGE=... for one stage."
GPUS_HELP = "GPUs per worker, fractional (0.25: four workers share a GPU); STAGE=... for one stage."
IMAGE_ROOT_HELP = "Folder relative image paths start from; default: the posts file's."
BATCH_HELP = "Posts per batch; a Parquet output writes one part file per batch."
CODE_HELP = "Python file with custom components or backends, imported in every worker."


def annotate(
    model: Annotated[str, typer.Argument(help="Trained pipeline: a folder or an installed package name.")],
    input_path: Annotated[Path, typer.Argument(help="Posts: .jsonl, .csv or .parquet, or a folder of them.")],
    output: Annotated[Path, typer.Argument(help="A .jsonl file, or a folder of part files (resumed on rerun).")],
    engine: Annotated[str, typer.Option(help=ENGINE_HELP)] = "local",
    id_column: Annotated[str, typer.Option(help="Column of the post id.")] = "id",
    text_column: Annotated[str, typer.Option(help="Column of the post text.")] = "text",
    image_column: Annotated[str, typer.Option(help="Column of the image path (optional per post).")] = "image",
    context_column: Annotated[str, typer.Option(help="Column of a precomputed visual context.")] = "visual_context",
    image_root: Annotated[Optional[Path], typer.Option(help=IMAGE_ROOT_HELP)] = None,
    output_format: Annotated[Optional[str], typer.Option("--output-format", help=OUTPUT_FORMAT_HELP)] = None,
    batch_size: Annotated[int, typer.Option("--batch-size", "-b", min=1, help=BATCH_HELP)] = 32,
    gpu_id: Annotated[int, typer.Option("--gpu-id", "-g", help="Local engine: GPU id, or -1 for CPU.")] = -1,
    code: Annotated[Optional[Path], typer.Option(help=CODE_HELP)] = None,
    address: Annotated[Optional[str], typer.Option(help=ADDRESS_HELP)] = None,
    workers: Annotated[Optional[List[str]], typer.Option(help=WORKERS_HELP)] = None,
    cpus_per_worker: Annotated[Optional[List[str]], typer.Option(help=CPUS_HELP)] = None,
    gpus_per_worker: Annotated[Optional[List[str]], typer.Option(help=GPUS_HELP)] = None,
) -> None:
    """Tag every post of INPUT with MODEL and write one row per post to OUTPUT."""
    from .jobs import NER_STAGE, RayOptions, annotate_posts
    from .pools import stage_pools
    from .posts import PostColumns

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


def ray_options_for_align(address: Optional[str], stages: List[str], workers, cpus, gpus):
    """align-images' --engine ray options, one pool per enabled backend."""
    from .jobs import RayOptions
    from .pools import stage_pools

    return RayOptions(address=address, pools=stage_pools(stages, workers or (), cpus or (), gpus or ()))
