"""`python -m spacy_ita build-demo-images SPEC OUTPUT_DIR`: the demo set's images, rendered
and copied from their spec (`demo.build_images`)."""

from pathlib import Path
from typing import Annotated

import typer
from wasabi import msg


def build_demo_images_command(
    spec: Annotated[
        Path,
        typer.Argument(exists=True, dir_okay=False, help="Image spec, one JSON per line (assets/demo/images.jsonl)."),
    ],
    output_dir: Annotated[Path, typer.Argument(file_okay=False, help="Where <id>.png / <id>.jpg go.")],
) -> None:
    """Render the demo images (text on signs, posters, banners, logos) and copy the demo photos."""
    from ..demo import build_images

    try:
        written = build_images(spec, output_dir)
    except (OSError, ValueError, KeyError) as err:  # an unreadable spec, a bad line, a package not installed
        msg.fail(f"{type(err).__name__}: {err}", exits=1)
    msg.good(f"DEMO images: wrote {len(written)} images to {output_dir}")
