"""`python -m spacy_ita assemble MODEL OUTPUT`: put an `image_aligner` in front of a trained `ita_ner`.

Training reads visual contexts precomputed by `align-images`, so the trained
pipeline has no aligner (and training never loads the vision models). Users
have images, not contexts: the assembled pipeline gets the aligner with the
backends that made the training contexts, so that

    doc = nlp.make_doc(text); doc._.image = "photo.jpg"; doc = nlp(doc)

tags the post cross-modally, and `nlp(text)` still tags it text-only (the
aligner leaves docs without an image, and their contexts, untouched).
The vision models load on the first image, not at `spacy.load`.
"""
from pathlib import Path
from typing import Annotated, Optional, Union

import typer
from spacy.language import Language
from wasabi import msg

from .aligners.cli import backend_configs
from .api import ALIGNER_FACTORY


def assemble_pipeline(
    model_dir: Union[str, Path],
    output_dir: Union[str, Path],
    *,
    ocr: bool = True,
    detector: str = "yolov8s-world",
    caption_model: Optional[str] = None,
    gpu: bool = False,
) -> Language:
    """Load `model_dir`, put an image_aligner with these backends first, save it to `output_dir`."""
    import spacy

    backends = backend_configs(ocr=ocr, detector=detector, caption_model=caption_model or None, gpu=gpu)
    if not backends:
        raise ValueError("No backend enabled: use OCR, a detector or a caption model.")
    nlp = spacy.load(model_dir)
    if ALIGNER_FACTORY in nlp.pipe_names:
        nlp.remove_pipe(ALIGNER_FACTORY)  # reassembling replaces it, so the options always apply
    nlp.add_pipe(ALIGNER_FACTORY, first=True, config={"backends": backends})
    nlp.to_disk(output_dir)
    return nlp


def assemble(
    model: Annotated[Path, typer.Argument(exists=True, file_okay=False, help="Trained pipeline (ita_ner).")],
    output: Annotated[Path, typer.Argument(file_okay=False, help="Where the assembled pipeline goes.")],
    ocr: Annotated[bool, typer.Option("--ocr/--no-ocr", help="Read text with EasyOCR (as in align-images).")] = True,
    detector: Annotated[
        str, typer.Option(help="YOLO weights: yolov8s-world, yolov10n, a .pt path, or 'none'.")
    ] = "yolov8s-world",
    caption_model: Annotated[
        Optional[str], typer.Option(help="Image-to-text model; the one the training captions came from.")
    ] = None,
    gpu: Annotated[bool, typer.Option("--gpu/--cpu", help="Run the vision models on CUDA.")] = False,
) -> None:
    """Put an image_aligner (the align-images backends) in front of a trained ita_ner: it takes doc._.image."""
    try:
        nlp = assemble_pipeline(model, output, ocr=ocr, detector=detector, caption_model=caption_model, gpu=gpu)
    except ValueError as err:
        msg.fail(str(err), exits=1)
    msg.good(f"Saved {output}: {' -> '.join(nlp.pipe_names)}")
