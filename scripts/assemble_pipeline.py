"""`assemble` step of project.yml: `python -m spacy_ita assemble` plus the demo notice.

The logic lives in the package (spacy_ita/assemble.py, spacy_ita/cli/assemble.py), so pip users get the same command.
"""

import sys
from pathlib import Path

import typer
from wasabi import msg

sys.path.insert(0, str(Path(__file__).resolve().parent))
from demo_notice import announce_if_demo  # noqa: E402

from spacy_ita.aligners.ocr import DEFAULT_OCR_ENGINE  # noqa: E402
from spacy_ita.assemble import assemble_pipeline  # noqa: E402
from spacy_ita.cli.options import NoOcrFlag, OcrOption, chosen_ocr  # noqa: E402


def main(
    model: Path = typer.Argument(..., exists=True, file_okay=False, help="Trained pipeline (ita_ner)"),
    output: Path = typer.Argument(..., file_okay=False, help="Where the assembled pipeline goes"),
    dataset: str = typer.Option("", help="Dataset name, for the demo notice"),
    ocr: OcrOption = DEFAULT_OCR_ENGINE,
    no_ocr: NoOcrFlag = False,
    detector: str = typer.Option("yolov8s-world", help="YOLO weights, or 'none' (as in align-images)"),
    caption_model: str = typer.Option("", help="Image-to-text model; match the captions the model was trained with"),
    gpu_id: int = typer.Option(-1, help="Run the vision models on this GPU; -1: CPU"),
) -> None:
    announce_if_demo(dataset)
    nlp = assemble_pipeline(
        model, output, ocr=chosen_ocr(ocr, no_ocr), detector=detector, caption_model=caption_model, gpu=gpu_id >= 0
    )
    msg.good(f"Saved {output}: {' -> '.join(nlp.pipe_names)}")


if __name__ == "__main__":
    typer.run(main)
