"""`python -m spacy_ita assemble MODEL OUTPUT`: an `image_aligner` put in front of a trained
`ita_ner` (`assemble.assemble_pipeline`), with the image backends and the generators the
training contexts came from."""

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from wasabi import msg

if TYPE_CHECKING:
    from spacy.language import Language

from ..defaults import DEFAULT_DETECTOR, DEFAULT_OCR_ENGINE
from .options import (
    CaptionModelOption,
    DetectorOption,
    GeneratorOptions,
    GpuFlag,
    NoOcrFlag,
    OcrOption,
    chosen_ocr,
    with_generator_options,
)


@with_generator_options
def assemble_command(
    model: Annotated[Path, typer.Argument(exists=True, file_okay=False, help="Trained pipeline (ita_ner).")],
    output: Annotated[Path, typer.Argument(file_okay=False, help="Where the assembled pipeline goes.")],
    generators: GeneratorOptions,
    ocr: OcrOption = DEFAULT_OCR_ENGINE,
    no_ocr: NoOcrFlag = False,
    detector: DetectorOption = DEFAULT_DETECTOR,
    # The captioner the training captions came from.
    caption_model: CaptionModelOption = None,
    gpu: GpuFlag = False,
) -> None:
    """Put an image_aligner (the align-images backends) in front of a trained ita_ner: it takes doc._.image."""
    from ..assemble import assemble_pipeline

    try:
        nlp = assemble_pipeline(
            model,
            output,
            ocr=chosen_ocr(ocr, no_ocr),
            detector=detector,
            caption_model=caption_model,
            gpu=gpu,
            generators=generators.configs(),
        )
    except (ValueError, OSError) as err:  # a bad option, a generator file missing or unreadable
        msg.fail(str(err), exits=1)
    msg.good(f"Saved {output}: {' -> '.join(nlp.pipe_names)}")
    report_context_kinds(nlp)


def report_context_kinds(nlp: "Language") -> None:
    """Say which kinds the aligner will produce next to those the model was trained on."""
    from ..assemble import context_kinds

    produced, trained = context_kinds(nlp)
    if trained is None:
        trained_text = "not recorded (a pipeline trained before spacy-ita recorded them)"
    else:
        trained_text = ", ".join(f"{kind} ({count} docs)" for kind, count in trained.items()) or "no context"
    msg.info(f"The aligner produces: {', '.join(produced)}; ita_ner was trained on: {trained_text}")
    if trained and not set(produced) & set(trained):
        msg.warn(
            "The aligner produces none of the kinds the model was trained on: on images it will read contexts it "
            "never saw. Train on contexts the same backends made (align-images, then convert --contexts), or "
            "add a backend of a trained kind (e.g. --caption-model for captions)."
        )
