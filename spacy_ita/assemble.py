"""Put an `image_aligner` in front of a trained `ita_ner` (`python -m spacy_ita assemble`, cli/assemble.py).

Training reads visual contexts precomputed by `align-images`, so the trained
pipeline has no aligner (and training never loads the vision models). Users
have images, not contexts: the assembled pipeline gets the aligner with the
backends that made the training contexts, so that

    doc = nlp.make_doc(text); doc._.image = "photo.jpg"; doc = nlp(doc)

tags the post cross-modally, and `nlp(text)` still tags it text-only (the
aligner leaves docs without an image, and their contexts, untouched).
The vision models load on the first image, not at `spacy.load`.

A model trained on generated contexts (`generate-contexts`: an LLM's `knowledge`,
a VLM's `description`, the `kb` texts of knowledge bases) gets the same generators,
so that it reads on new posts the kinds it was trained on; without an endpoint or a
KB named, nothing changes. With a KB, `nlp(text)` reads the `kb` kind too. The
generators' files (prompt templates, the demonstration pool and its vectors, KB
files) are saved inside the pipeline (pipeline_data.py), so that it loads anywhere,
e.g. after `spacy package`.
"""

from pathlib import Path
from typing import Dict, List, Optional, Tuple, Union, cast

from spacy.language import Language

from .aligners.component import ImageAligner
from .aligners.configs import backend_configs
from .aligners.detector import DEFAULT_DETECTOR
from .aligners.ocr import DEFAULT_OCR_ENGINE
from .api import ALIGNER_FACTORY
from .ner.component import ITANER


def assemble_pipeline(
    model_dir: Union[str, Path],
    output_dir: Union[str, Path],
    *,
    ocr: Union[str, bool] = DEFAULT_OCR_ENGINE,
    detector: str = DEFAULT_DETECTOR,
    caption_model: Optional[str] = None,
    gpu: bool = False,
    generators: Optional[Dict[str, Optional[dict]]] = None,
) -> Language:
    """Load `model_dir`, put an image_aligner with these backends first, save it to `output_dir`.

    `ocr`: an OCR engine name ("rapidocr", "easyocr"), "none", or True/False.
    generators: the registered generators' configs by kind (`generator_configs`):
    a `description` VLM joins the image backends, a `knowledge` LLM and a `kb` retriever
    the post backends (the retriever reads every doc, image or not).
    Their files are read before anything is saved, and saved inside the pipeline.
    Raises ValueError when no backend is enabled or the OCR engine is unknown,
    FileNotFoundError / IsADirectoryError / ValueError for a generator file that is
    missing, a folder or unreadable."""
    import spacy

    generators = generators or {}
    backends = backend_configs(ocr=ocr, detector=detector, caption_model=caption_model or None, gpu=gpu)
    if generators.get("description"):
        backends["description"] = generators["description"]
    # The kb retriever first: the knowledge prompt then shows its text, as generate-contexts made it.
    post_backends = {kind: generators[kind] for kind in ("kb", "knowledge") if generators.get(kind)}
    if not any(backends.values()) and not post_backends:
        raise ValueError("No backend enabled: use OCR, a detector, a caption model or a generator.")
    nlp = spacy.load(model_dir)
    if ALIGNER_FACTORY in nlp.pipe_names:
        nlp.remove_pipe(ALIGNER_FACTORY)  # reassembling replaces it, so the options always apply
    aligner = nlp.add_pipe(ALIGNER_FACTORY, first=True, config={"backends": backends, "post_backends": post_backends})
    cast(ImageAligner, aligner).load_data()
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
