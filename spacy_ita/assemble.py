"""`python -m spacy_ita assemble MODEL OUTPUT`: put an `image_aligner` in front of a trained `ita_ner`.

Training reads visual contexts precomputed by `align-images`, so the trained
pipeline has no aligner (and training never loads the vision models). Users
have images, not contexts: the assembled pipeline gets the aligner with the
backends that made the training contexts, so that

    doc = nlp.make_doc(text); doc._.image = "photo.jpg"; doc = nlp(doc)

tags the post cross-modally, and `nlp(text)` still tags it text-only (the
aligner leaves docs without an image, and their contexts, untouched).
The vision models load on the first image, not at `spacy.load`.

A model trained on generated contexts (`generate-contexts`: an LLM's `knowledge`,
a VLM's `description`) gets the same generators, so that it reads on new posts
the kinds it was trained on; without an endpoint named, nothing changes.
"""

from pathlib import Path
from typing import Annotated, Dict, List, Optional, Tuple, Union, cast

import typer
from spacy.language import Language
from wasabi import msg

from .aligners.cli import (
    CaptionModelOption,
    DetectorOption,
    GpuFlag,
    NoOcrFlag,
    OcrOption,
    backend_configs,
    chosen_ocr,
)
from .aligners.ocr import DEFAULT_OCR_ENGINE
from .api import ALIGNER_FACTORY
from .generators.cli import (
    BaseUrlOption,
    DescriptionBaseUrlOption,
    DescriptionModelOption,
    ExamplesContextsOption,
    ExamplesOption,
    ExamplesPostsOption,
    KeyEnvOption,
    KOption,
    ModelOption,
    PromptOption,
    generator_configs,
)
from .ner.component import ITANER


def assemble_pipeline(
    model_dir: Union[str, Path],
    output_dir: Union[str, Path],
    *,
    ocr: Union[str, bool] = DEFAULT_OCR_ENGINE,
    detector: str = "yolov8s-world",
    caption_model: Optional[str] = None,
    gpu: bool = False,
    generators: Optional[Dict[str, Optional[dict]]] = None,
) -> Language:
    """Load `model_dir`, put an image_aligner with these backends first, save it to `output_dir`.

    `ocr`: an OCR engine name ("rapidocr", "easyocr"), "none", or True/False.
    generators: the registered generators' configs by kind (`generator_configs`):
    a `description` VLM joins the image backends, a `knowledge` LLM the post backends.
    Raises ValueError when no backend is enabled or the OCR engine is unknown."""
    import spacy

    generators = generators or {}
    backends = backend_configs(ocr=ocr, detector=detector, caption_model=caption_model or None, gpu=gpu)
    if generators.get("description"):
        backends["description"] = generators["description"]
    post_backends = {"knowledge": generators["knowledge"]} if generators.get("knowledge") else {}
    if not any(backends.values()) and not post_backends:
        raise ValueError("No backend enabled: use OCR, a detector, a caption model or a generator.")
    nlp = spacy.load(model_dir)
    if ALIGNER_FACTORY in nlp.pipe_names:
        nlp.remove_pipe(ALIGNER_FACTORY)  # reassembling replaces it, so the options always apply
    nlp.add_pipe(ALIGNER_FACTORY, first=True, config={"backends": backends, "post_backends": post_backends})
    nlp.to_disk(output_dir)
    return nlp


def context_kinds(nlp: Language) -> Tuple[List[str], Optional[Dict[str, int]]]:
    """(kinds the pipeline's aligner produces, {kind: training docs} of its ita_ner;
    None for a pipeline trained before the kinds were recorded)."""
    produced: List[str] = []
    trained: Optional[Dict[str, int]] = None
    for name in nlp.pipe_names:
        factory = nlp.get_pipe_meta(name).factory
        if factory == ALIGNER_FACTORY:
            config = nlp.config["components"][name]
            backends = {**(config.get("backends") or {}), **(config.get("post_backends") or {})}
            produced += [kind for kind, backend in backends.items() if backend and kind not in produced]
        elif factory == "ita_ner" and "trained_context_kinds" in cast(ITANER, nlp.get_pipe(name)).cfg:
            trained = {**(trained or {}), **cast(ITANER, nlp.get_pipe(name)).cfg["trained_context_kinds"]}
    return produced, trained


def report_context_kinds(nlp: Language) -> None:
    """Say which kinds the aligner will produce next to those the model was trained on."""
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


def assemble(
    model: Annotated[Path, typer.Argument(exists=True, file_okay=False, help="Trained pipeline (ita_ner).")],
    output: Annotated[Path, typer.Argument(file_okay=False, help="Where the assembled pipeline goes.")],
    ocr: OcrOption = DEFAULT_OCR_ENGINE,
    no_ocr: NoOcrFlag = False,
    detector: DetectorOption = "yolov8s-world",
    # The captioner the training captions came from.
    caption_model: CaptionModelOption = None,
    gpu: GpuFlag = False,
    # The generators the training's generated contexts came from (generate-contexts).
    base_url: BaseUrlOption = None,
    knowledge_model: ModelOption = None,
    description_model: DescriptionModelOption = None,
    description_base_url: DescriptionBaseUrlOption = None,
    api_key_env: KeyEnvOption = "OPENAI_API_KEY",
    prompt: PromptOption = None,
    examples: ExamplesOption = None,
    examples_posts: ExamplesPostsOption = None,
    examples_contexts: ExamplesContextsOption = None,
    k: KOption = 2,
) -> None:
    """Put an image_aligner (the align-images backends) in front of a trained ita_ner: it takes doc._.image."""
    try:
        generators = generator_configs(
            base_url=base_url,
            model=knowledge_model,
            description_model=description_model,
            description_base_url=description_base_url,
            api_key_env=api_key_env,
            prompt=prompt,
            examples=examples,
            examples_posts=examples_posts,
            examples_contexts=examples_contexts,
            k=k,
        )
        nlp = assemble_pipeline(
            model,
            output,
            ocr=chosen_ocr(ocr, no_ocr),
            detector=detector,
            caption_model=caption_model,
            gpu=gpu,
            generators=generators,
        )
    except ValueError as err:
        msg.fail(str(err), exits=1)
    msg.good(f"Saved {output}: {' -> '.join(nlp.pipe_names)}")
    report_context_kinds(nlp)
