"""`align-images` step of project.yml: visual contexts for a dataset's images, if it has any.

weasel has no conditional steps, and a command's dependencies must exist. So
this step always writes its output: the contexts of every image in the folder,
or an empty file when the dataset comes without images (Twitter-2015/2017 as
redistributed: text and captions only). The convert step then always reads it.

The output is rewritten on every run, so that rebuilt images never keep the
contexts of their old pixels; backend outputs live in a content-hash cache
(`cache/align` by default), so a rerun costs nothing for unchanged images.
"""

import sys
from pathlib import Path
from typing import Optional

import typer
from wasabi import msg

sys.path.insert(0, str(Path(__file__).resolve().parent))
from demo_notice import announce_if_demo  # noqa: E402

from spacy_ita.image_folder import index_images  # noqa: E402


def main(
    images_dir: Path = typer.Argument(..., help="The dataset's image folder (may be absent)"),
    output_jsonl: Path = typer.Argument(..., help="Context JSONL to write (empty when there are no images)"),
    dataset: str = typer.Option("", help="Dataset name, for the demo notice"),
    caption_model: str = typer.Option("", help="Image-to-text model; empty: no captions"),
    gpu_id: int = typer.Option(-1, help="GPU to run the vision models on; -1: CPU"),
    cache_dir: Path = typer.Option(Path("cache/align"), help="Content-hash cache of backend outputs"),
) -> None:
    announce_if_demo(dataset)
    has_images = images_dir.is_dir() and bool(index_images(images_dir))  # the rule align-images applies
    if not has_images:
        output_jsonl.parent.mkdir(parents=True, exist_ok=True)
        output_jsonl.write_text("", encoding="utf8")
        msg.info(
            f"No images in {images_dir}: nothing to align; wrote an empty {output_jsonl} (text-only/captions data)."
        )
        return
    from spacy_ita.cli.align_images import align_images_command as align_images

    caption: Optional[str] = caption_model or None
    output_jsonl.unlink(missing_ok=True)  # align_images resumes by image id; we want fresh contexts
    align_images(images_dir, output_jsonl, caption_model=caption, cache_dir=cache_dir, gpu=gpu_id >= 0)


if __name__ == "__main__":
    typer.run(main)
