"""The trainable `ita_ner` component: one transformer + CRF trained on the
cross-modal view (post + visual context) and the text-only view at once,
aligned by KL(p_cross || p_text) over the CRF marginals."""
import logging
import random
from collections import Counter
from contextlib import contextmanager
from typing import Callable, Dict, Iterable, List, Optional, Sequence

from spacy.language import Language
from spacy.pipeline import TrainablePipe
from spacy.tokens import Doc
from spacy.training import Example, validate_examples, validate_get_examples
from thinc.api import Config, Model

from ..visual_context import check_kinds, context_pieces
from .architecture import PredictionRequest, TrainingRequest
from .inputs import Context

logger = logging.getLogger("spacy_ita")

VIEWS = ("cross", "text")
# Short kinds first: what the total cap cuts is the end of the longest texts.
DEFAULT_CONTEXT_ORDER = ("caption", "objects", "ocr", "knowledge", "description")
INFERENCE_VIEWS = ("auto", "cross", "text")

DEFAULT_MODEL_CONFIG = """
[model]
@architectures = "spacy_ita.ITATagger.v1"
encoder = "all-MiniLM-L6-v2"
head = "crf"
dropout = 0.1
max_length = 256
max_context_tokens = 64
head_lr_scale = 20.0

[model.context_budget]
caption = 16
objects = 16
ocr = 16
knowledge = 40
description = 40
"""
DEFAULT_MODEL = Config().from_str(DEFAULT_MODEL_CONFIG)["model"]


@Language.factory(
    "ita_ner",
    assigns=["doc.ents", "token.ent_iob", "token.ent_type", "span._.confidence"],
    default_config={
        "model": DEFAULT_MODEL,
        "views": list(VIEWS),
        "inference_view": "auto",
        "kl_weight": 0.5,
        "temperature": 4.0,
        "cross_nll_weight": 1.0,
        "text_nll_weight": 1.0,
        "context_order": list(DEFAULT_CONTEXT_ORDER),
        "context_kind_dropout": 0.0,
        "scorer": {"@scorers": "spacy.ner_scorer.v1"},
    },
    default_score_weights={"ents_f": 1.0, "ents_p": 0.0, "ents_r": 0.0, "ents_per_type": None},
)
def make_ita_ner(
    nlp: Language,
    name: str,
    model: Model,
    views: List[str],
    inference_view: str,
    kl_weight: float,
    temperature: float,
    cross_nll_weight: float,
    text_nll_weight: float,
    context_order: List[str],
    context_kind_dropout: float,
    scorer: Optional[Callable],
) -> "ITANER":
    """`context_order`: the context kinds read, in this order after the post
    (kinds not listed are ignored). `context_kind_dropout`: in training, each
    kind is left out of a post's cross-modal view with this probability, so
    that the model keeps its gain when some kinds are missing at inference."""
    return ITANER(
        nlp.vocab, model, name, views=views, inference_view=inference_view, kl_weight=kl_weight,
        temperature=temperature, cross_nll_weight=cross_nll_weight, text_nll_weight=text_nll_weight,
        context_order=context_order, context_kind_dropout=context_kind_dropout, scorer=scorer,
    )


@contextmanager
def clear_load_errors(name: str, source: str):
    """A damaged or foreign model file (say, a pickle) makes msgpack fail with
    messages like 'unpack(b) received extra data'; say what failed instead."""
    try:
        yield
    except (ValueError, TypeError, KeyError) as err:
        raise ValueError(
            f"{name}: cannot load the saved component from {source}: {err} "
            "(expected the msgpack + safetensors files spacy-ita writes; nothing is ever unpickled)"
        ) from err


class ITANER(TrainablePipe):
    def __init__(self, vocab, model: Model, name: str = "ita_ner", *, views: Sequence[str] = VIEWS,
                 inference_view: str = "auto", kl_weight: float = 0.5, temperature: float = 4.0,
                 cross_nll_weight: float = 1.0, text_nll_weight: float = 1.0,
                 context_order: Sequence[str] = DEFAULT_CONTEXT_ORDER, context_kind_dropout: float = 0.0,
                 scorer: Optional[Callable] = None):
        unknown = [v for v in views if v not in VIEWS]
        if unknown or not views:
            raise ValueError(f"ita_ner views must be a non-empty subset of {VIEWS}, got {list(views)}")
        if inference_view not in INFERENCE_VIEWS:
            raise ValueError(f"ita_ner inference_view must be one of {INFERENCE_VIEWS}, got '{inference_view}'")
        if temperature <= 0:
            raise ValueError(f"ita_ner temperature must be positive, got {temperature}")
        check_kinds(context_order)
        if not 0.0 <= context_kind_dropout < 1.0:
            raise ValueError(f"ita_ner context_kind_dropout must be in [0, 1), got {context_kind_dropout}")
        self.vocab = vocab
        self.model = model
        self.name = name
        self.scorer = scorer
        self.cfg = {
            "labels": [],
            "views": list(views),
            "inference_view": inference_view,
            "kl_weight": kl_weight,
            "temperature": temperature,
            "cross_nll_weight": cross_nll_weight,
            "text_nll_weight": text_nll_weight,
            "context_order": list(context_order),
            "context_kind_dropout": context_kind_dropout,
            # {kind: training docs with it}, recorded by initialize; {} before (or in older pipelines).
            "trained_context_kinds": {},
            "trained_docs": 0,
        }
        self._warned_unseen_kinds = False

    @property
    def labels(self) -> tuple:
        return tuple(self.cfg["labels"])

    def add_label(self, label: str) -> int:
        if label in self.cfg["labels"]:
            return 0
        if self.model.shims[0].is_built:
            raise ValueError("ita_ner cannot add a label after its model is built; retrain from scratch.")
        self.cfg["labels"] = sorted(self.cfg["labels"] + [label])
        return 1

    def context_of(self, doc: Doc) -> Optional[Context]:
        """The doc's context as (kind, text) pieces in `context_order`, or None (text-only)."""
        return context_pieces(doc._.visual_context, self.cfg["context_order"]) or None

    def warn_unseen_kinds(self, contexts: Sequence[Optional[Context]]) -> None:
        """Once: docs are read cross-modal with contexts of none of the kinds the
        model saw in training (e.g. trained on captions, fed only YOLO tags and OCR)."""
        trained = {kind for kind, count in self.cfg.get("trained_context_kinds", {}).items() if count}
        if self._warned_unseen_kinds or not trained:
            return
        unseen = Counter(kind for pieces in contexts if pieces and not trained & {k for k, _ in pieces}
                         for kind, _ in pieces)
        if unseen:
            self._warned_unseen_kinds = True
            logger.warning(
                "%s was trained on context kinds %s but reads contexts of only %s, which it never saw in "
                "training: its cross-modal predictions may be worse than text-only. Train on contexts of those "
                "kinds (align the training images with the same aligner: align-images, then convert --contexts), "
                "add the trained kinds to what the aligner produces, or read text-only (inference_view = \"text\").",
                self.name, sorted(trained), sorted(unseen),
            )

    # --- inference -------------------------------------------------------
    def predict(self, docs: Iterable[Doc]):
        docs = list(docs)
        nonempty = [i for i, doc in enumerate(docs) if len(doc)]
        predictions: List[Optional[Dict]] = [None] * len(docs)
        if not nonempty:
            return predictions
        text_only = self.cfg["inference_view"] == "text"
        request = PredictionRequest(
            words=[[t.text for t in docs[i]] for i in nonempty],
            contexts=[None if text_only else self.context_of(docs[i]) for i in nonempty],
        )
        self.warn_unseen_kinds(request.contexts)
        output = self.model.predict(request)
        for row, i in enumerate(nonempty):
            predictions[i] = {"tags": output["tags"][row], "tag_probs": output["tag_probs"][row]}
        return predictions

    def set_annotations(self, docs: Iterable[Doc], predictions) -> None:
        tag_set = self.model.shims[0].tag_set
        for doc, prediction in zip(docs, predictions):
            if prediction is None:
                doc.ents = []
                continue
            spans = tag_set.spans(doc, prediction["tags"])
            for span in spans:
                probs = prediction["tag_probs"][span.start: span.end]
                span._.confidence = float(sum(probs) / len(probs))
            doc.ents = spans

    # --- serialization ---------------------------------------------------
    def from_bytes(self, bytes_data: bytes, *, exclude=tuple()) -> "ITANER":
        with clear_load_errors(self.name, "bytes"):
            return super().from_bytes(bytes_data, exclude=exclude)

    def from_disk(self, path, *, exclude=tuple()) -> "ITANER":
        with clear_load_errors(self.name, str(path)):
            return super().from_disk(path, exclude=exclude)

    # --- training --------------------------------------------------------
    def training_request(self, examples: Sequence[Example]) -> TrainingRequest:
        tag_set = self.model.shims[0].tag_set
        use_cross = "cross" in self.cfg["views"]
        use_text = "text" in self.cfg["views"]
        kept = [eg for eg in examples if len(eg.predicted)]
        contexts = []
        for eg in kept:
            # The reader puts the context on both docs; fall back to the
            # reference in case a caller built the predicted doc bare.
            context = self.context_of(eg.predicted) or self.context_of(eg.reference)
            contexts.append(self.drop_kinds(context) if use_cross else None)
        return TrainingRequest(
            words=[[t.text for t in eg.predicted] for eg in kept],
            contexts=contexts,
            gold_allowed=[tag_set.gold_allowed(eg.get_aligned_ner()) for eg in kept],
            weights={
                "text_nll_weight": self.cfg["text_nll_weight"] if use_text else 0.0,
                "cross_nll_weight": self.cfg["cross_nll_weight"],
                "kl_weight": self.cfg["kl_weight"] if (use_text and use_cross) else 0.0,
                "temperature": self.cfg["temperature"],
                # Without a text view, a post with no context still trains
                # on the only view it has.
                "text_only_when_no_context": not use_text,
            },
        )

    def drop_kinds(self, context: Optional[Context]) -> Optional[Context]:
        """Kind dropout: each piece left out with probability `context_kind_dropout`
        (Python's `random`, which spaCy seeds from `[training] seed`)."""
        rate = self.cfg.get("context_kind_dropout", 0.0)
        if not context or not rate:
            return context
        return [piece for piece in context if random.random() >= rate] or None

    def update(self, examples: Iterable[Example], *, drop: float = 0.0, sgd=None,
               losses: Optional[Dict[str, float]] = None) -> Dict[str, float]:
        if losses is None:
            losses = {}
        losses.setdefault(self.name, 0.0)
        examples = list(examples)
        validate_examples(examples, "ITANER.update")
        request = self.training_request(examples)
        if not request.words:
            return losses
        loss_parts, backprop = self.model.begin_update(request)
        loss, d_loss = self.get_loss(examples, loss_parts)
        backprop(d_loss)
        if sgd not in (None, False):
            self.finish_update(sgd)
        losses[self.name] += loss
        for part in ("text_nll", "cross_nll", "kl"):
            losses[f"{self.name}_{part}"] = losses.get(f"{self.name}_{part}", 0.0) + loss_parts[part]
        return losses

    def get_loss(self, examples: Iterable[Example], scores: Dict[str, float]):
        """The model computes its loss in torch (CRF + KL); the gradient that
        starts backprop is d(loss)/d(loss) = 1."""
        return scores["loss"], 1.0

    def initialize(self, get_examples: Callable[[], Iterable[Example]], *, nlp: Optional[Language] = None,
                   labels: Optional[List[str]] = None) -> None:
        validate_get_examples(get_examples, "ITANER.initialize")
        if labels is None:
            labels = sorted({ent.label_ for eg in get_examples() for ent in eg.reference.ents})
        if not labels:
            raise ValueError("ita_ner found no entity labels in the training examples.")
        self.cfg["labels"] = list(labels)
        self.model.attrs["labels"] = list(labels)
        kinds: Counter = Counter()
        n_docs = 0
        for eg in get_examples():
            n_docs += 1
            kinds.update(kind for kind, _ in self.context_of(eg.reference) or [])
        self.cfg["trained_context_kinds"] = dict(sorted(kinds.items())) if "cross" in self.cfg["views"] else {}
        self.cfg["trained_docs"] = n_docs
        self.model.initialize()
