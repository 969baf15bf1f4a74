"""The trainable `ita_ner` component: one transformer + CRF trained on the
cross-modal view (post + visual context) and the text-only view at once,
aligned by KL(p_cross || p_text) over the CRF marginals. Which view learns from
which post, and the loss, are in `views.py`; this module turns docs and
examples into the model's `TaggerBatch` and its output into entities, and
decides which view reads each doc (`view_for`). What it reads of a context is
`reading.ContextReading`."""

from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple, Union

from spacy.language import Language
from spacy.pipeline import TrainablePipe
from spacy.tokens import Doc
from spacy.training import Example, validate_examples, validate_get_examples
from spacy.vocab import Vocab
from thinc.api import Config, Model, Optimizer, get_torch_default_device

from .. import extensions  # noqa: F401  (declares the doc extensions it reads)
from .architecture import TaggerBatch, TaggerOutput, built_parts, model_tag_set, tagger_shim
from .precision import AUTO as AUTO_PRECISION
from .precision import resolve_precision
from .reading import ContextReading, Pieces
from .tags import TagSet
from .views import (
    AUTO,
    CROSS_MODAL,
    TEXT,
    TEXT_ONLY,
    VIEWS,
    LossWeights,
    ViewTraining,
    check_inference_view,
    check_views,
)

# One doc's prediction: {"tags": [tag id per token], "tag_probs": [probability per token]};
# None for an empty doc.
Prediction = Optional[Dict[str, List[Any]]]

# Short kinds first: what the total cap cuts is the end of the longest texts.
DEFAULT_CONTEXT_ORDER = ("caption", "objects", "ocr", "kb", "knowledge", "description")
DEFAULT_WEIGHTS = LossWeights()

DEFAULT_MODEL_CONFIG = """
[model]
@architectures = "spacy_ita.ITATagger.v1"
encoder = "multilingual-e5-small"
head = "spacy_ita.crf.v1"
dropout = 0.1
max_length = 256
max_context_tokens = 64
head_lr_scale = 20.0

[model.context_budget]
caption = 16
objects = 16
ocr = 16
kb = 32
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
        "inference_view": AUTO,
        **DEFAULT_WEIGHTS.settings(),
        "context_order": list(DEFAULT_CONTEXT_ORDER),
        "context_kind_dropout": 0.0,
        "precision": AUTO_PRECISION,
        "scorer": {"@scorers": "spacy.ner_scorer.v1"},
    },
    default_score_weights={"ents_f": 1.0, "ents_p": 0.0, "ents_r": 0.0, "ents_per_type": None},
)
def make_ita_ner(
    nlp: Language,
    name: str,
    model: Model[TaggerBatch, TaggerOutput],
    views: List[str],
    inference_view: str,
    kl_weight: float,
    temperature: float,
    cross_nll_weight: float,
    text_nll_weight: float,
    context_order: List[str],
    context_kind_dropout: float,
    precision: str,
    scorer: Optional[Callable],
) -> "ITANER":
    """Construct the ITA tagger: one transformer + CRF that reads each post in
    two views, the cross view (the post with its visual context, `doc._.visual_context`)
    and the text view (the post alone), and sets `doc.ents` with a confidence
    per entity (`span._.confidence`). The training rule is in `spacy_ita/ner/views.py`.

    model (Model): the tagger, `spacy_ita.ITATagger.v1` (encoder, head, context
        budgets; see `build_ita_tagger`).
    views (List[str]): the views trained, a non-empty subset of ["cross", "text"].
        Both: each view learns from the gold tags and the text view also from the
        cross view (KL); ["text"]: a text-only model; ["cross"]: posts with a
        context train cross-modal only, those without one text-only.
    inference_view (str): how docs are read at inference: "auto" (the cross view
        when the doc has a context, else the text view) or "text" (the context is
        ignored). Switch it for a while with `with pipe.reading("text"): ...`.
        "cross" is a deprecated name of "auto".
    kl_weight (float): lambda, the weight of the KL term (both views only).
    temperature (float): T of the CRF marginals in the KL term, which is also
        scaled by T^2 (the paper: 4 on Twitter-2015, 2 on Twitter-2017).
    cross_nll_weight (float): the weight of the cross view's CRF NLL.
    text_nll_weight (float): the weight of the text view's CRF NLL (with both views
        or ["text"]).
    context_order (List[str]): the context kinds read, in this order after the
        post (kinds not listed are ignored; see `visual_context.CONTEXT_KINDS`).
    context_kind_dropout (float): in training, each kind is left out of a post's
        cross view with this probability, so that the model keeps its gain when
        some kinds are missing at inference. In [0, 1).
    precision (str): what the encoder computes in, in training and inference:
        "auto" (bf16 autocast where the device has native bf16 matrix units,
        AMX-BF16 / AVX512-BF16 on a CPU, else fp32), "bf16" or "fp32". Resolved
        on the machine that runs; the CRF, the loss and the weights stay fp32
        (`spacy_ita/ner/precision.py`). Not a property of the weights: a pipeline
        trained in one precision loads and predicts in the other.
    scorer (Optional[Callable]): scores `doc.ents`; spaCy's NER scorer by default.
    """
    weights = LossWeights.from_settings(locals())  # the weights' arguments, by their setting names
    return ITANER(
        nlp.vocab,
        model,
        name,
        views=views,
        inference_view=inference_view,
        loss_weights=weights,
        context_order=context_order,
        context_kind_dropout=context_kind_dropout,
        precision=precision,
        scorer=scorer,
    )


@contextmanager
def clear_load_errors(name: str, source: str) -> Iterator[None]:
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
    """The `ita_ner` pipe: docs in, `doc.ents` out (see `make_ita_ner` for the settings).

    The settings live in `cfg`, which a saved pipeline stores; `view_training`
    (the training rule) and `context_reading` (the context policy) are built from
    it, again after a load (`_rules_from_cfg`).
    """

    def __init__(
        self,
        vocab: Vocab,
        model: Model[TaggerBatch, TaggerOutput],
        name: str = "ita_ner",
        *,
        views: Sequence[str] = VIEWS,
        inference_view: str = AUTO,
        loss_weights: LossWeights = DEFAULT_WEIGHTS,
        context_order: Sequence[str] = DEFAULT_CONTEXT_ORDER,
        context_kind_dropout: float = 0.0,
        precision: str = AUTO_PRECISION,
        scorer: Optional[Callable] = None,
    ) -> None:
        self.vocab = vocab
        self.model = model
        self.name = name
        self.scorer = scorer
        # Not in `cfg`, which a saved pipeline restores over the loading config: the
        # precision is always the loading pipeline's setting.
        self.precision = precision
        self.cfg: Dict[str, Any] = {
            "labels": [],
            "views": list(check_views(views)),
            "inference_view": check_inference_view(inference_view),
            **loss_weights.settings(),
            "context_order": list(context_order),
            "context_kind_dropout": context_kind_dropout,
            # {kind: training docs with it}, recorded by initialize; {} before (or in older pipelines).
            "trained_context_kinds": {},
            "trained_docs": 0,
        }
        self._rules_from_cfg()

    def _rules_from_cfg(self) -> None:
        """Build the training rule and the context policy from `cfg` (checks the settings)."""
        cfg = self.cfg
        self.view_training = ViewTraining(check_views(cfg["views"]), LossWeights.from_settings(cfg))
        self.context_reading = ContextReading(
            cfg["context_order"], cfg.get("context_kind_dropout", 0.0), cfg.get("trained_context_kinds", {})
        )

    @property
    def labels(self) -> Tuple[str, ...]:
        return tuple(self.cfg["labels"])

    @property
    def tag_set(self) -> Optional[TagSet]:
        """The model's BIO tag set; None until the model is initialized or loaded."""
        return model_tag_set(self.model)

    @property
    def precision(self) -> str:
        """The encoder's precision setting ("auto", "bf16" or "fp32"); see `make_ita_ner`."""
        return tagger_shim(self.model).precision

    @precision.setter
    def precision(self, precision: str) -> None:
        tagger_shim(self.model).precision = precision

    @property
    def compute_precision(self) -> str:
        """What the encoder computes in on this machine and the model's device: "bf16" or "fp32"."""
        shim = tagger_shim(self.model)
        device = shim.device if shim.is_built else get_torch_default_device()
        return resolve_precision(self.precision, device.type)

    @property
    def inference_view(self) -> str:
        return self.cfg["inference_view"]

    @inference_view.setter
    def inference_view(self, view: str) -> None:
        self.cfg["inference_view"] = check_inference_view(view)

    @contextmanager
    def reading(self, view: str) -> Iterator["ITANER"]:
        """Read docs in `view` ("auto" or "text") inside the block; the setting
        before it is restored after it, also on an error."""
        saved = self.inference_view
        self.inference_view = view
        try:
            yield self
        finally:
            self.cfg["inference_view"] = saved

    def add_label(self, label: str) -> int:
        if label in self.cfg["labels"]:
            return 0
        if self.tag_set is not None:
            raise ValueError("ita_ner cannot add a label after its model is built; retrain from scratch.")
        self.cfg["labels"] = sorted(self.cfg["labels"] + [label])
        return 1

    # --- the view of each doc ---------------------------------------------
    def context_of(self, doc: Doc) -> Optional[Pieces]:
        """The doc's context as (kind, text) pieces in `context_order`, or None (no context)."""
        return self.context_reading.pieces(doc)

    def read_with(self, doc: Doc) -> Optional[Pieces]:
        """The context `doc` is read with in the current `inference_view`: its
        context in the cross view ("auto" and the doc has one), None in the text
        view, and None for a component trained text-only (`views = ["text"]`), which
        never saw a context. The one rule of the per-doc view; `view_for` names it."""
        if self.inference_view == TEXT or not self.view_training.reads_context:
            return None
        return self.context_of(doc)

    def view_for(self, doc: Doc) -> str:
        """The view this component reads `doc` in, as reports name it (`REPORTED_AS`):
        "cross_modal" (post + visual context) or "text_only"."""
        return CROSS_MODAL if self.read_with(doc) else TEXT_ONLY

    # --- inference -------------------------------------------------------
    def predict(self, docs: Iterable[Doc]) -> List[Prediction]:
        docs = list(docs)
        nonempty = [i for i, doc in enumerate(docs) if len(doc)]
        predictions: List[Prediction] = [None] * len(docs)
        if not nonempty:
            return predictions
        contexts = [self.read_with(docs[i]) for i in nonempty]
        self.context_reading.warn_unseen_kinds(contexts, self.name)
        batch = TaggerBatch(words=[[t.text for t in docs[i]] for i in nonempty], contexts=contexts)
        output = self.model.predict(batch)
        for row, i in enumerate(nonempty):
            predictions[i] = {"tags": output["tags"][row], "tag_probs": output["tag_probs"][row]}
        return predictions

    def set_annotations(self, docs: Iterable[Doc], predictions: Sequence[Prediction]) -> None:
        _, tag_set = built_parts(tagger_shim(self.model))
        for doc, prediction in zip(docs, predictions):
            if prediction is None:
                doc.ents = []
                continue
            spans = tag_set.spans(doc, prediction["tags"])
            for span in spans:
                probs = prediction["tag_probs"][span.start : span.end]
                span._.confidence = float(sum(probs) / len(probs))
            doc.ents = spans

    # --- serialization ---------------------------------------------------
    def from_bytes(self, bytes_data: bytes, *, exclude: Iterable[str] = tuple()) -> "ITANER":
        with clear_load_errors(self.name, "bytes"):
            super().from_bytes(bytes_data, exclude=exclude)
        return self._settings_loaded()

    def from_disk(self, path: Union[str, Path], *, exclude: Iterable[str] = tuple()) -> "ITANER":
        with clear_load_errors(self.name, str(path)):
            super().from_disk(path, exclude=exclude)
        return self._settings_loaded()

    def _settings_loaded(self) -> "ITANER":
        """The saved cfg replaced the constructed one: build the rules from it
        again (an older pipeline may say inference_view = "cross")."""
        self.cfg["inference_view"] = check_inference_view(self.cfg["inference_view"])
        self._rules_from_cfg()
        return self

    # --- training --------------------------------------------------------
    def training_batch(self, examples: Sequence[Example]) -> TaggerBatch:
        _, tag_set = built_parts(tagger_shim(self.model))
        kept = [eg for eg in examples if len(eg.predicted)]
        contexts: List[Optional[Pieces]] = []
        for eg in kept:
            # The reader puts the context on both docs; fall back to the
            # reference in case a caller built the predicted doc bare.
            context = self.context_of(eg.predicted) or self.context_of(eg.reference)
            reads_context = self.view_training.reads_context
            contexts.append(self.context_reading.drop_kinds(context) if reads_context else None)
        return TaggerBatch(
            words=[[t.text for t in eg.predicted] for eg in kept],
            contexts=contexts,
            gold_allowed=[tag_set.gold_allowed(eg.get_aligned_ner()) for eg in kept],
            training=self.view_training,
        )

    def update(
        self,
        examples: Iterable[Example],
        *,
        drop: float = 0.0,
        sgd: Optional[Optimizer] = None,
        losses: Optional[Dict[str, float]] = None,
    ) -> Dict[str, float]:
        """One step on both views (`views.two_view_loss`); the loss and its parts
        (`_text_nll`, `_cross_nll`, `_kl`) are added to `losses`.

        `drop` (`[training] dropout`) is not read: the dropout of the emission
        layer is the architecture's own `dropout` and the encoder's is that of its
        Hugging Face config, as in training with spacy-transformers, whose
        `set_dropout_rate` does not reach into the Hugging Face model either.
        """
        if losses is None:
            losses = {}
        losses.setdefault(self.name, 0.0)
        examples = list(examples)
        validate_examples(examples, "ITANER.update")
        batch = self.training_batch(examples)
        if not batch.words:
            return losses
        loss_parts, backprop = self.model.begin_update(batch)
        loss, d_output = self.get_loss(examples, loss_parts)
        backprop(d_output)
        if sgd not in (None, False):
            self.finish_update(sgd)
        losses[self.name] += loss
        for part in ("text_nll", "cross_nll", "kl"):
            losses[f"{self.name}_{part}"] = losses.get(f"{self.name}_{part}", 0.0) + loss_parts[part]
        return losses

    def get_loss(self, examples: Iterable[Example], scores: Dict[str, float]) -> Tuple[float, Dict[str, float]]:
        """The model computes its loss in torch (CRF + KL); the gradient that
        starts backprop is d(loss)/d(loss) = 1, as the model's output {"loss": 1.0}."""
        return scores["loss"], {"loss": 1.0}

    def initialize(
        self,
        get_examples: Callable[[], Iterable[Example]],
        *,
        nlp: Optional[Language] = None,
        labels: Optional[List[str]] = None,
    ) -> None:
        validate_get_examples(get_examples, "ITANER.initialize")
        if labels is None:
            labels = sorted({ent.label_ for eg in get_examples() for ent in eg.reference.ents})
        if not labels:
            raise ValueError("ita_ner found no entity labels in the training examples.")
        self.cfg["labels"] = list(labels)
        self.model.attrs["labels"] = list(labels)
        kinds, n_docs = self.context_reading.count_kinds(eg.reference for eg in get_examples())
        self.cfg["trained_context_kinds"] = kinds if self.view_training.reads_context else {}
        self.cfg["trained_docs"] = n_docs
        self._rules_from_cfg()
        self.model.initialize()


def ita_pipes(nlp: Language) -> List[ITANER]:
    """The pipeline's ita_ner components, in pipeline order."""
    return [pipe for _, pipe in nlp.pipeline if isinstance(pipe, ITANER)]


def ita_pipe_names(nlp: Language) -> List[str]:
    """The names of the pipeline's ita_ner components, in pipeline order."""
    return [name for name, pipe in nlp.pipeline if isinstance(pipe, ITANER)]
