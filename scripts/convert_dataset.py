"""`convert` step of project.yml: `python -m spacy_ita convert` on every split a dataset has,
to corpus/<dataset>/<split>.spacy.

Datasets name their splits differently (the demo has dev.txt, Twitter-2015/2017
have valid.txt; Twitter-2017 has no test.txt here), so the splits are found,
not listed. Visual sources are used when present: the context JSONL from the
align step when it is not empty, a captions CSV, the image folder, and any
further context sources (`--extra-contexts a.jsonl,folder/`), which win kind by
kind over the align step's output in the order given.
"""

import subprocess
import sys
from pathlib import Path
from typing import List, Optional

import typer
from wasabi import msg

from scripts.demo_notice import announce_if_demo

# Output split name -> file names it may have, first found wins.
SPLIT_FILES = {"train": ("train.txt",), "dev": ("dev.txt", "valid.txt"), "test": ("test.txt",)}


def find_splits(dataset_dir: Path) -> dict:
    found = {}
    for split, names in SPLIT_FILES.items():
        for name in names:
            if (dataset_dir / name).is_file():
                found[split] = dataset_dir / name
                break
    return found


def existing(path: Optional[Path], what: str) -> Optional[Path]:
    """The path when it holds something, else None (and say so)."""
    if path is None:
        return None
    if (path.is_file() and path.stat().st_size > 0) or path.is_dir():
        msg.info(f"Using {what}: {path}")
        return path
    msg.info(f"No {what} ({path} absent or empty)")
    return None


def main(
    dataset_dir: Path = typer.Argument(
        ..., exists=True, file_okay=False, help="Folder with train.txt, dev.txt/valid.txt, test.txt"
    ),
    corpus_dir: Path = typer.Argument(..., help="Where <split>.spacy go"),
    contexts: Optional[Path] = typer.Option(None, help="Context JSONL from the align step"),
    extra_contexts: str = typer.Option("", help="Comma-separated further context sources (JSONL files or folders)"),
    captions: Optional[Path] = typer.Option(None, help="Captions CSV 'image_name;caption'"),
    images: Optional[Path] = typer.Option(None, help="Image folder, set as doc._.image"),
    dataset: str = typer.Option("", help="Dataset name, for the demo notice"),
) -> None:
    announce_if_demo(dataset)
    splits = find_splits(dataset_dir)
    if "train" not in splits or "dev" not in splits:
        msg.fail(f"{dataset_dir} needs train.txt and dev.txt (or valid.txt); found {sorted(splits) or 'none'}", exits=1)
    extra = [Path(p.strip()) for p in extra_contexts.split(",") if p.strip()]
    missing = [str(p) for p in extra if not p.exists()]
    if missing:
        msg.fail(f"context source(s) not found: {', '.join(missing)}", exits=1)
    aligned = existing(contexts, "visual contexts")
    options: List[str] = []
    for source in ([aligned] if aligned else []) + extra:  # the later wins kind by kind
        options += ["--contexts", str(source)]
    for option, found in (("--captions", existing(captions, "captions")), ("--images", existing(images, "images"))):
        options += [option, str(found)] if found else []
    corpus_dir.mkdir(parents=True, exist_ok=True)
    for split, path in splits.items():
        msg.divider(f"{split}: {path}")
        command = [sys.executable, "-m", "spacy_ita", "convert", str(path), str(corpus_dir / f"{split}.spacy")]
        returncode = subprocess.run(command + options).returncode
        if returncode:
            sys.exit(returncode)
    if "test" not in splits:
        msg.info(f"No test split in {dataset_dir}: only train and dev converted")


if __name__ == "__main__":
    typer.run(main)
