"""`evaluate` step of project.yml: both views (cross-modal, text-only) on every held-out split.

Runs `python -m spacy_ita evaluate-views` on dev.spacy and, when the dataset has
one, test.spacy, writing metrics/<dataset>/<split>.json. On the demo set the
notice goes into each metrics file too, so a number read later out of context
still says what it is.
"""

import subprocess
import sys
from pathlib import Path

import srsly
import typer
from wasabi import msg

from scripts.demo_notice import DEMO_NOTICE, announce_if_demo, is_demo

HELD_OUT_SPLITS = ("dev", "test")


def main(
    model: Path = typer.Argument(..., exists=True, file_okay=False, help="Trained pipeline"),
    corpus_dir: Path = typer.Argument(..., exists=True, file_okay=False, help="Folder with dev.spacy (and test.spacy)"),
    metrics_dir: Path = typer.Argument(..., help="Where <split>.json go"),
    dataset: str = typer.Option("", help="Dataset name, for the demo notice"),
) -> None:
    announce_if_demo(dataset)
    metrics_dir.mkdir(parents=True, exist_ok=True)
    for split in HELD_OUT_SPLITS:
        data = corpus_dir / f"{split}.spacy"
        if not data.is_file():
            msg.info(f"No {split} split in {corpus_dir}: skipped")
            continue
        output = metrics_dir / f"{split}.json"
        command = [sys.executable, "-m", "spacy_ita", "evaluate-views", str(model), str(data), "--output", str(output)]
        msg.divider(f"{split}: {data}")
        subprocess.run(command, check=True)
        if is_demo(dataset):
            metrics = srsly.read_json(output)
            if isinstance(metrics, dict):
                srsly.write_json(output, {"note": DEMO_NOTICE, **metrics})


if __name__ == "__main__":
    typer.run(main)
