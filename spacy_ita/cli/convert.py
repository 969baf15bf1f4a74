"""`python -m spacy_ita convert`: MNER text file <-> DocBin, with visual contexts attached."""

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, List, Optional

import typer
from wasabi import msg

if TYPE_CHECKING:
    from ..data.convert import ConversionStats


def convert(
    input_path: Annotated[
        Path,
        typer.Argument(
            exists=True,
            dir_okay=False,
            help="MNER text file (IMGID:/token<TAB>tag), or a .spacy file to export to text",
        ),
    ],
    output_path: Annotated[
        Path, typer.Argument(dir_okay=False, help="Output .spacy file (a text file when the input is .spacy)")
    ],
    captions: Annotated[
        Optional[Path],
        typer.Option("--captions", "-c", exists=True, dir_okay=False, help="Captions CSV 'image_name;caption'"),
    ] = None,
    contexts: Annotated[
        Optional[List[Path]],
        typer.Option(
            "--contexts",
            "-x",
            exists=True,
            help="Per-image context JSONL, or a folder of JSONL/Parquet part files (align-images); repeat for "
            "several sources: where two give the same kind for an image, the later one wins",
        ),
    ] = None,
    images: Annotated[
        Optional[Path],
        typer.Option("--images", "-i", exists=True, file_okay=False, help="Image folder: <IMGID>.jpg -> doc._.image"),
    ] = None,
) -> None:
    """Convert an MNER text file to a DocBin (doc._.image_id / visual_context / image set),
    or a .spacy file back to text."""
    from ..batch.outputs import check_output_apart
    from ..data.contexts import VisualSources
    from ..data.convert import docbin_to_mner, mner_to_docbin
    from ..data.mner_format import MNERFormatError

    try:
        check_output_apart(output_path, [input_path, captions, *(contexts or ()), images])
        if input_path.suffix == ".spacy":
            if captions or contexts or images:
                msg.warn("--captions/--contexts/--images are ignored when exporting a .spacy file to text")
            posts = docbin_to_mner(input_path, output_path)
            msg.good(f"Wrote {posts} posts to {output_path}")
            return
        stats = mner_to_docbin(input_path, output_path, VisualSources.load(captions, contexts, images))
    except MNERFormatError as err:
        msg.fail("Malformed input")
        typer.echo(str(err))  # unwrapped, so that file:line stays one clickable piece
        raise typer.Exit(1)
    except (FileNotFoundError, ValueError) as err:
        msg.fail(str(err))
        raise typer.Exit(1)
    print_stats(stats)
    msg.good(f"Saved {stats.docs} docs to {output_path}")


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
