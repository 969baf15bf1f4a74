"""`align-images` step of project.yml: `python -m spacy_ita align-images` on a dataset's image
folder, or an empty contexts file when the dataset has no images.

weasel has no conditional steps, and a command's dependencies must exist. So this step always
writes its output: the contexts of every image in the folder, or an empty file when the dataset
comes without images (Twitter-2015/2017 as redistributed: text and captions only). The convert
step then always reads it.

The output is rewritten on every run, so that rebuilt images never keep the contexts of their
old pixels (the command itself resumes by image id); backend outputs live in a content-hash
cache (`cache/align` by default), so a rerun costs nothing for unchanged images.
"""

import subprocess
import sys
from pathlib import Path

import typer
from wasabi import msg

from scripts.demo_notice import announce_if_demo
from spacy_ita.image_folder import index_images


def main(
    images_dir: Path = typer.Argument(..., help="The dataset's image folder (may be absent)"),
    output_jsonl: Path = typer.Argument(..., help="Context JSONL to write (empty when there are no images)"),
    dataset: str = typer.Option("", help="Dataset name, for the demo notice"),
    caption_model: str = typer.Option("", help="Image-to-text model; empty: no captions"),
    gpu: bool = typer.Option(False, "--gpu/--cpu", help="Run the vision models on CUDA"),
    cache_dir: Path = typer.Option(Path("cache/align"), help="Content-hash cache of backend outputs"),
) -> None:
    announce_if_demo(dataset)
    output_jsonl.parent.mkdir(parents=True, exist_ok=True)
    if not (images_dir.is_dir() and index_images(images_dir)):  # the rule align-images applies
        output_jsonl.write_text("", encoding="utf8")
        msg.info(
            f"No images in {images_dir}: nothing to align; wrote an empty {output_jsonl} (text-only/captions data)."
        )
        return
    output_jsonl.unlink(missing_ok=True)  # align-images resumes by image id; we want fresh contexts
    command = [sys.executable, "-m", "spacy_ita", "align-images", str(images_dir), str(output_jsonl)]
    command += ["--cache-dir", str(cache_dir), "--gpu" if gpu else "--cpu"]
    command += ["--caption-model", caption_model] if caption_model else []
    sys.exit(subprocess.run(command).returncode)


if __name__ == "__main__":
    typer.run(main)
