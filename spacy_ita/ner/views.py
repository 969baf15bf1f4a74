"""The two views of ITA and what each of them learns from: the whole training
rule in one place.

- The **cross view** (`"cross"`) reads a post with its visual context after it
  (post [SEP] context; see `inputs.ViewEncoder`). Only a post with a context has one.
- The **text view** (`"text"`) reads the post alone.

One encoder and one CRF serve both views. Training (`ita_ner`'s `views`, both by
default; `ViewTraining`):

- the cross view is supervised (CRF NLL x `cross_nll_weight`) on the posts with
  a context;
- the text view is supervised (CRF NLL x `text_nll_weight`) on every post; with
  `views = ["cross"]` only on the posts without a context, for which it is the
  only view there is (weight 1);
- with both views, on the posts with a context, the text view also learns the
  cross view's token distributions: lambda * T^2 * KL(p_cross || p_text) over the
  CRF marginals at temperature T, the cross view a detached teacher
  (`cross_view_kl`, `two_view_loss`).

Inference (`inference_view`): `"auto"` reads a doc in the cross view when it has
a context and in the text view otherwise; `"text"` reads every doc in the text
view. Which view read a given doc is `ITANER.view_for`; reports
(`spacy_ita.evaluate`, the batch rows, the benchmarks) name the two readings
`REPORTED_AS`.
"""

import warnings
from dataclasses import dataclass
from typing import Any, ClassVar, Dict, List, Mapping, Optional, Sequence, Tuple

from torch import Tensor

from .heads import TagHead

CROSS = "cross"
TEXT = "text"
VIEWS = (CROSS, TEXT)

AUTO = "auto"  # the cross view where the doc has a context, else the text view
INFERENCE_VIEWS = (AUTO, TEXT)
# "cross" read exactly like "auto" (a doc without a context has no cross view):
# pipelines saved with it still load, as "auto".
DEPRECATED_INFERENCE_VIEWS = {CROSS: AUTO}
# The names reports give a reading: a doc's `view` in the batch rows, and each
# inference view in evaluation (results.json keys, table rows).
CROSS_MODAL, TEXT_ONLY = "cross_modal", "text_only"
REPORTED_AS = {AUTO: CROSS_MODAL, TEXT: TEXT_ONLY}


def check_views(views: Sequence[str]) -> Tuple[str, ...]:
    unknown = [v for v in views if v not in VIEWS]
    if unknown or not views:
        raise ValueError(f"ita_ner views must be a non-empty subset of {VIEWS}, got {list(views)}")
    return tuple(views)


def check_inference_view(view: str) -> str:
    """`view` as one of INFERENCE_VIEWS; a deprecated name is mapped with a warning."""
    if view in DEPRECATED_INFERENCE_VIEWS:
        new = DEPRECATED_INFERENCE_VIEWS[view]
        warnings.warn(
            f"ita_ner inference_view '{view}' is deprecated and reads like '{new}'; set inference_view = \"{new}\"",
            DeprecationWarning,
            stacklevel=3,
        )
        return new
    if view not in INFERENCE_VIEWS:
        raise ValueError(f"ita_ner inference_view must be one of {INFERENCE_VIEWS}, got '{view}'")
    return view


@dataclass(frozen=True)
class LossWeights:
    """The weights of the training loss as configured (the defaults of `ita_ner`)."""

    cross_nll: float = 1.0
    text_nll: float = 1.0
    kl: float = 0.5  # lambda
    temperature: float = 4.0  # T: the paper used 4 on Twitter-2015 and 2 on Twitter-2017

    # Each weight's `ita_ner` setting (factory argument and `cfg` key): the one mapping between them.
    SETTINGS: ClassVar[Dict[str, str]] = {
        "kl": "kl_weight",
        "temperature": "temperature",
        "cross_nll": "cross_nll_weight",
        "text_nll": "text_nll_weight",
    }

    def __post_init__(self) -> None:
        if self.temperature <= 0:
            raise ValueError(f"ita_ner temperature must be positive, got {self.temperature}")

    def settings(self) -> Dict[str, float]:
        """The weights as `ita_ner` settings: {"kl_weight": ..., "temperature": ..., ...}."""
        return {setting: getattr(self, field) for field, setting in self.SETTINGS.items()}

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> "LossWeights":
        """The weights from `ita_ner` settings (the factory's arguments or the saved `cfg`);
        keys other than the weights' are ignored. KeyError if a weight is missing."""
        return cls(**{field: settings[setting] for field, setting in cls.SETTINGS.items()})


@dataclass(frozen=True)
class ViewTraining:
    """Which views are trained, with which weights; built once by the component."""

    views: Tuple[str, ...]
    weights: LossWeights

    @property
    def reads_context(self) -> bool:
        return CROSS in self.views

    @property
    def text_only_without_context(self) -> bool:
        """Without a text view, the text view still supervises the posts that have
        no context: it is the only view they have."""
        return TEXT not in self.views

    @property
    def text_nll_weight(self) -> float:
        return 1.0 if self.text_only_without_context else self.weights.text_nll

    @property
    def kl_weight(self) -> float:
        return self.weights.kl if CROSS in self.views and TEXT in self.views else 0.0

    def cross_posts(self, contexts: Sequence[Optional[object]]) -> List[int]:
        """The posts the cross view supervises: those with a context, if it is trained."""
        return [i for i, context in enumerate(contexts) if context] if self.reads_context else []


def cross_view_kl(teacher_log_marginals: Tensor, student_log_marginals: Tensor, mask: Tensor) -> Tensor:
    """Mean per-token KL(p_teacher || p_student); the teacher is detached.

    The cross view teaches the text view, so no gradient flows into the teacher:
    its marginals are a target, not something to pull towards the student.
    """
    teacher = teacher_log_marginals.detach()
    per_token = (teacher.exp() * (teacher - student_log_marginals)).sum(-1)
    n_tokens = mask.sum().clamp(min=1)
    return (per_token * mask).sum() / n_tokens


def two_view_loss(
    head: TagHead,
    training: ViewTraining,
    gold_allowed: Tensor,
    text_emissions: Tensor,
    text_mask: Tensor,
    cross_emissions: Optional[Tensor],
    cross_mask: Optional[Tensor],
    cross_posts: Tensor,
) -> Dict[str, Tensor]:
    """{"text_nll", "cross_nll", "kl", "loss"} of one batch. `cross_emissions` and
    `cross_mask` cover the posts `cross_posts` (indices into the text view's posts);
    every term is a sum over posts divided by the batch's number of posts."""
    n_docs = text_mask.shape[0]
    text_nll_per_doc = head.nll(text_emissions, text_mask, gold_allowed)
    if training.text_only_without_context:
        text_nll_per_doc = text_nll_per_doc.index_fill(0, cross_posts, 0.0)
    text_nll = text_nll_per_doc.sum() / n_docs
    zero = text_nll.new_zeros(())
    losses = {"text_nll": text_nll, "cross_nll": zero, "kl": zero}
    if cross_emissions is not None and cross_mask is not None and len(cross_posts):
        width = cross_mask.shape[1]  # the cross view pads to its own longest post
        gold = gold_allowed[cross_posts, :width]
        losses["cross_nll"] = head.nll(cross_emissions, cross_mask, gold).sum() / n_docs
        if training.kl_weight:
            t = training.weights.temperature
            teacher = head.log_marginals(cross_emissions, cross_mask, t)
            student = head.log_marginals(text_emissions[cross_posts, :width], cross_mask, t)
            # T^2 keeps the gradient scale of the soft targets independent of T.
            losses["kl"] = cross_view_kl(teacher, student, cross_mask) * t * t
    losses["loss"] = (
        training.text_nll_weight * losses["text_nll"]
        + training.weights.cross_nll * losses["cross_nll"]
        + training.kl_weight * losses["kl"]
    )
    return losses
