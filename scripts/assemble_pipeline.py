"""`assemble` step of project.yml: put an `image_aligner` in front of the trained `ita_ner`.

Training reads visual contexts precomputed by the align-images step, so the
trained pipeline has no aligner (and training never loads the vision models).
Users have images, not contexts: the pipeline we package gets the aligner with
the same backends that made the training contexts, so that

    doc = nlp.make_doc(text); doc._.image = "photo.jpg"; doc = nlp(doc)

tags the post cross-modally, and `nlp(text)` still tags it text-only (the
aligner leaves docs without an image, and their contexts, untouched).
The vision models load on the first image, not at `spacy.load`.
"""
import sys
from pathlib import Path

import spacy
import typer
from wasabi import msg

sys.path.insert(0, str(Path(__file__).resolve().parent))
from demo_notice import announce_if_demo  # noqa: E402

ALIGNER = "image_aligner"


def assemble(model: Path, output: Path, *, ocr: bool = True, detector: str = "yolov8s-world",
             caption_model: str = "", gpu: bool = False) -> spacy.language.Language:
    from spacy_ita.aligners.cli import backend_configs

    nlp = spacy.load(model)
    if ALIGNER in nlp.pipe_names:
        nlp.remove_pipe(ALIGNER)  # reassembling replaces it, so the options always apply
    backends = backend_configs(ocr=ocr, detector=detector, caption_model=caption_model or None, gpu=gpu)
    if not backends:
        raise ValueError("No backend enabled: use OCR, a detector or a caption model.")
    nlp.add_pipe(ALIGNER, first=True, config={"backends": backends})
    nlp.to_disk(output)
    return nlp


def main(
    model: Path = typer.Argument(..., exists=True, file_okay=False, help="Trained pipeline (ita_ner)"),
    output: Path = typer.Argument(..., file_okay=False, help="Where the assembled pipeline goes"),
    dataset: str = typer.Option("", help="Dataset name, for the demo notice"),
    ocr: bool = typer.Option(True, "--ocr/--no-ocr", help="EasyOCR backend (as in align-images)"),
    detector: str = typer.Option("yolov8s-world", help="YOLO weights, or 'none' (as in align-images)"),
    caption_model: str = typer.Option("", help="Image-to-text model; match the captions the model was trained with"),
    gpu_id: int = typer.Option(-1, help="Run the vision models on this GPU; -1: CPU"),
) -> None:
    announce_if_demo(dataset)
    nlp = assemble(model, output, ocr=ocr, detector=detector, caption_model=caption_model, gpu=gpu_id >= 0)
    msg.good(f"Saved {output}: {' -> '.join(nlp.pipe_names)}")


if __name__ == "__main__":
    typer.run(main)
