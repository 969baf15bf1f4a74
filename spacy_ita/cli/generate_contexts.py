"""`python -m spacy_ita generate-contexts POSTS OUTPUT`: knowledge and descriptions
from an OpenAI-compatible endpoint, and what knowledge bases say about each post's
entities (`--kb`), written as context JSONL. The job is `generators.job.generate_contexts`."""

from pathlib import Path
from typing import Annotated, List, Optional

import typer
from wasabi import msg

from .options import (
    WORKERS_HELP,
    AddressOption,
    ContextColumnOption,
    CpusOption,
    EngineOption,
    GeneratorOptions,
    IdColumnOption,
    ImageColumnOption,
    ImageRootOption,
    TextColumnOption,
    with_generator_options,
)


@with_generator_options
def generate_contexts_command(
    input_path: Annotated[
        Path, typer.Argument(help="Posts: an MNER .txt file, or .jsonl/.csv/.parquet as annotate reads.")
    ],
    output: Annotated[Path, typer.Argument(help="Context JSONL (or a folder of part files); resumed on rerun.")],
    generators: GeneratorOptions,
    contexts: Annotated[
        Optional[List[Path]], typer.Option(help="Existing context sources (JSONL/Parquet by id).")
    ] = None,
    images: Annotated[Optional[Path], typer.Option(help="Folder of images by id (for an MNER .txt input).")] = None,
    id_column: IdColumnOption = "id",
    text_column: TextColumnOption = "text",
    image_column: ImageColumnOption = "image",
    context_column: ContextColumnOption = "visual_context",
    image_root: ImageRootOption = None,
    cache_dir: Annotated[
        Optional[Path], typer.Option(help="Content-keyed cache of answers, shared across runs.")
    ] = None,
    batch_size: Annotated[int, typer.Option(min=1, help="Posts per batch (written together).")] = 16,
    limit: Annotated[Optional[int], typer.Option(min=1, help="Only the first N posts of the input.")] = None,
    engine: EngineOption = "local",
    address: AddressOption = None,
    workers: Annotated[Optional[List[str]], typer.Option(help="--engine ray: " + WORKERS_HELP)] = None,
    cpus_per_worker: CpusOption = None,
) -> None:
    """Write `knowledge` (LLM), `description` (VLM) and `kb` (knowledge bases) contexts for every post of
    INPUT_PATH."""
    from ..batch.jobs import RayOptions
    from ..batch.pools import stage_pools
    from ..batch.posts import PostColumns
    from ..data.contexts import VisualSources
    from ..generators.job import GENERATE_STAGE, generate_contexts

    try:
        pools = stage_pools([GENERATE_STAGE], workers or (), cpus_per_worker or (), ())
        summary = generate_contexts(
            input_path,
            output,
            configs=generators.configs(),
            sources=VisualSources.load(contexts=contexts or None, images=images),
            columns=PostColumns(id=id_column, text=text_column, image=image_column, visual_context=context_column),
            image_root=image_root,
            cache_dir=cache_dir,
            batch_size=batch_size,
            limit=limit,
            engine=engine,
            ray=RayOptions(address=address, pools=pools),
        )
    except (OSError, ValueError, ImportError) as err:  # a missing or unreadable file, a bad option
        msg.fail(str(err), exits=1)
    msg.info(
        f"{summary.posts} posts: {summary.already_done} already in {output}, {summary.bad_rows} bad rows, "
        f"{summary.repaired_rows} with undecodable characters replaced by U+FFFD"
    )
    for kind, run in summary.kinds.items():
        line = f"{kind}: {run}" if engine == "local" else f"{kind}: {len(summary.empty[kind])} empty answers"
        for what, ids in (("empty answer", summary.empty[kind]), ("failed", summary.failed[kind])):
            if ids:
                line += f"; {what}: {', '.join(ids[:10])}" + (" ..." if len(ids) > 10 else "")
        msg.info(line)
    causes = summary.causes() or "see the log above"
    if summary.all_failed:
        msg.fail(f"Every post failed ({len(summary.unwritten)}), nothing written to {output}: {causes}", exits=1)
    if summary.unwritten:
        msg.warn(f"{len(summary.unwritten)} posts failed and were not written ({causes}): a rerun asks for them again")
    msg.good(f"Wrote contexts for {summary.timing.rows} posts to {output}")
