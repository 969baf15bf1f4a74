"""`python -m spacy_ita convert`: MNER text file <-> DocBin, with visual contexts attached;
or a dataset folder's splits (train, dev/valid, test) to <split>.spacy in one call."""

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, List, Optional, Tuple

import typer
from wasabi import msg

if TYPE_CHECKING:
    from ..data.convert import ConversionStats


def convert_command(
    input_path: Annotated[
        Path,
        typer.Argument(
            exists=True,
            help="MNER text file (IMGID:/token<TAB>tag); a .spacy file to export to text; or a dataset folder "
            "(train.txt, dev.txt or valid.txt, test.txt)",
        ),
    ],
    output_path: Annotated[
        Path,
        typer.Argument(
            help="Output .spacy file (a text file when the input is .spacy; a folder of <split>.spacy for a "
            "dataset folder)"
        ),
    ],
    captions: Annotated[
        Optional[Path],
        typer.Option("--captions", "-c", dir_okay=False, help="Captions CSV 'image_name;caption'"),
    ] = None,
    contexts: Annotated[
        Optional[List[str]],
        typer.Option(
            "--contexts",
            "-x",
            help="Per-image context JSONL, or a folder of JSONL/Parquet part files (align-images); repeat, or "
            "separate with commas, for several sources: where two give the same kind for an image, the later wins",
        ),
    ] = None,
    images: Annotated[
        Optional[Path],
        typer.Option("--images", "-i", file_okay=False, help="Image folder: <IMGID>.jpg -> doc._.image"),
    ] = None,
    skip_missing: Annotated[
        bool,
        typer.Option(
            "--skip-missing",
            help="Skip (with a warning) a --captions/--contexts/--images path that does not exist, instead of "
            "failing: for workflows whose optional sources may be absent",
        ),
    ] = False,
    dataset: Annotated[Optional[str], typer.Option(help="Dataset name (demo: the demo set's notice)")] = None,
) -> None:
    """Convert an MNER text file (or every split of a dataset folder) to a DocBin
    (doc._.image_id / visual_context / image set), or a .spacy file back to text."""
    from ..batch.outputs import check_output_apart
    from ..data.contexts import VisualSources
    from ..data.convert import docbin_to_mner, find_splits, mner_to_docbin
    from ..data.mner_format import MNERFormatError
    from ..demo import announce_if_demo

    announce_if_demo(dataset or "")
    context_paths = [Path(part.strip()) for value in contexts or () for part in value.split(",") if part.strip()]
    captions, images, context_paths = present_sources(captions, images, context_paths, skip_missing)
    inputs = [input_path, captions, *context_paths, images]
    try:
        if input_path.suffix == ".spacy":
            check_output_apart(output_path, inputs)
            if captions or context_paths or images:
                msg.warn("--captions/--contexts/--images are ignored when exporting a .spacy file to text")
            posts = docbin_to_mner(input_path, output_path)
            msg.good(f"Wrote {posts} posts to {output_path}")
            return
        if input_path.is_dir():
            splits = find_splits(input_path)
            if "train" not in splits or "dev" not in splits:
                found = ", ".join(path.name for path in splits.values()) or "none"
                inside = sorted(
                    d.name for d in input_path.iterdir() if d.is_dir() and {"train", "dev"} <= set(find_splits(d))
                )
                hint = f" (datasets inside it: {', '.join(inside)})" if inside else ""
                raise ValueError(f"{input_path} needs train.txt and dev.txt (or valid.txt); found {found}{hint}")
            if output_path.suffix == ".spacy" or output_path.is_file():
                raise ValueError(f"A dataset folder converts into a folder of <split>.spacy files, not {output_path}")
            check_output_apart(output_path, list(splits.values()))  # not into the dataset's own folder
            targets = {split: output_path / f"{split}.spacy" for split in splits}
        else:
            if output_path.is_dir():
                raise ValueError(f"{output_path} is a folder: name the .spacy file to write")
            splits, targets = {"": input_path}, {"": output_path}
        for target in targets.values():  # before any work: no output may overwrite an input
            check_output_apart(target, inputs)
        sources = VisualSources.load(captions, context_paths, images)
        for split, path in splits.items():
            if split:
                msg.divider(f"{split}: {path}")
            targets[split].parent.mkdir(parents=True, exist_ok=True)
            stats = mner_to_docbin(path, targets[split], sources)
            print_stats(stats)
            msg.good(f"Saved {stats.docs} docs to {targets[split]}")
        if input_path.is_dir() and "test" not in splits:
            msg.info(f"No test split in {input_path}: train and dev converted")
    except MNERFormatError as err:
        msg.fail("Malformed input")
        typer.echo(str(err))  # unwrapped, so that file:line stays one clickable piece
        raise typer.Exit(1)
    except (FileNotFoundError, ValueError) as err:
        msg.fail(str(err))
        raise typer.Exit(1)


def present_sources(
    captions: Optional[Path], images: Optional[Path], contexts: List[Path], skip_missing: bool
) -> Tuple[Optional[Path], Optional[Path], List[Path]]:
    """The sources that exist; one that does not fails the command, or with `skip_missing`
    is named in a warning and left out."""
    missing = [str(path) for path in (captions, images, *contexts) if path is not None and not path.exists()]
    if missing and not skip_missing:
        msg.fail(f"Not found: {', '.join(missing)} (--skip-missing leaves absent sources out)", exits=1)
    if missing:
        msg.warn(f"Left out, not found: {', '.join(missing)}")
    kept = [path for path in contexts if path.exists()]
    return (captions if captions and captions.exists() else None, images if images and images.exists() else None, kept)


def print_stats(stats: "ConversionStats") -> None:
    per_type = ", ".join(f"{label} {count}" for label, count in sorted(stats.entities.items()))
    msg.info(f"{stats.docs} docs, {stats.tokens} tokens, {stats.total_entities} entities ({per_type})")
    if stats.repaired_tags:
        by_type = ", ".join(f"{label} {count}" for label, count in sorted(stats.repaired_by_type.items()))
        msg.warn(
            f"{stats.repaired_tags} stray I- tags read as entity starts, as conlleval does ({by_type}); "
            "exported back they read B-"
        )
    else:
        msg.info("0 repaired I- tags")
    kinds = ", ".join(f"{kind} {count}" for kind, count in sorted(stats.with_kind.items())) or "none"
    msg.info(
        f"with visual context: {stats.with_context} ({kinds}), with caption: {stats.with_caption}, "
        f"with image: {stats.with_image}"
    )
