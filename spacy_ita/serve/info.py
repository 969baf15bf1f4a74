"""What `GET /v1/model` says about a loaded pipeline, with no server path in it."""

import os
from typing import Any, Dict, List, Optional

from spacy.language import Language

from ..api import ALIGNER_FACTORY
from ..ner.component import ita_pipes

# Backend settings that name a model (a short name, a hub id, or a local folder).
MODEL_SETTINGS = ("model", "model_dir", "model_name")


def public_name(value: Any) -> Optional[str]:
    """A model's name as a client may see it: a local path is cut to its last part."""
    if value is None:
        return None
    text = str(value)
    if os.path.isabs(text) or text.startswith((".", "~")) or os.sep + os.sep in text:
        return os.path.basename(text.rstrip("/\\")) or None
    return text


def backend_info(config: Any) -> Optional[Dict[str, Any]]:
    if not isinstance(config, dict):
        return None
    info: Dict[str, Any] = {"backend": config.get("@misc")}
    for key in MODEL_SETTINGS:
        if config.get(key):
            info["model"] = public_name(config[key])
            break
    return info


def aligner_info(nlp: Language) -> List[Dict[str, Any]]:
    """Each enabled image_aligner: its image backends by context kind, its post backends, its pixel limit."""
    aligners = []
    for name in nlp.pipe_names:
        if nlp.get_pipe_meta(name).factory != ALIGNER_FACTORY:
            continue
        config = nlp.config["components"][name]
        pipe = nlp.get_pipe(name)
        aligners.append(
            {
                "name": name,
                "backends": {
                    backend.kind: backend_info(config["backends"].get(key))
                    for key, backend in getattr(pipe, "backends", {}).items()
                },
                "post_backends": {
                    backend.kind: backend_info(config.get("post_backends", {}).get(key))
                    for key, backend in getattr(pipe, "post_backends", {}).items()
                },
                "max_image_pixels": getattr(pipe, "max_image_pixels", None),
            }
        )
    return aligners


def pipeline_info(nlp: Language) -> Dict[str, Any]:
    """{name, version, lang, pipeline, labels, taggers: [{name, encoder, views, inference_view,
    trained_context_kinds, context_order}], aligners: [...]}"""
    taggers = []
    for tagger in ita_pipes(nlp):
        model_config = nlp.config["components"][tagger.name].get("model", {})
        taggers.append(
            {
                "name": tagger.name,
                "encoder": public_name(model_config.get("encoder")),
                "head": model_config.get("head"),
                "views": list(tagger.cfg["views"]),
                "inference_view": tagger.inference_view,
                # {kind: training docs that had it}: what the cross view learned to read
                "trained_context_kinds": dict(tagger.cfg.get("trained_context_kinds", {})),
                "context_order": list(tagger.cfg["context_order"]),
            }
        )
    return {
        "name": f"{nlp.meta.get('lang', nlp.lang)}_{nlp.meta.get('name', 'pipeline')}",
        "version": nlp.meta.get("version"),
        "lang": nlp.lang,
        "pipeline": list(nlp.pipe_names),
        "labels": sorted({label for tagger in ita_pipes(nlp) for label in tagger.labels}),
        "taggers": taggers,
        "aligners": aligner_info(nlp),
    }
