"""The torch module of the ITA tagger: encoder, first-subword pooling,
emission layer and a CRF (or softmax) head, with the two-view training loss."""
from dataclasses import dataclass
from typing import Dict, List, Optional

import torch
from torch import Tensor, nn

from .crf import LinearChainCRF, SoftmaxHead, cross_view_kl
from .inputs import EncodedView
from .word_shape import N_SHAPES

HEADS = {"crf": LinearChainCRF, "softmax": SoftmaxHead}


@dataclass
class TrainingBatch:
    text_view: EncodedView
    cross_view: Optional[EncodedView]  # docs with a visual context only
    cross_docs: Tensor  # [n_cross] indices into the text view's docs
    gold_allowed: Tensor  # [docs, words, tags] bool
    text_nll_weight: float = 1.0
    cross_nll_weight: float = 1.0
    kl_weight: float = 0.5
    temperature: float = 4.0
    # Set when the text view is not trained: then only posts without a
    # context learn from it (it is the only view they have).
    text_only_when_no_context: bool = False


@dataclass
class PredictionBatch:
    view: EncodedView


class ITATaggerModule(nn.Module):
    def __init__(self, encoder: nn.Module, n_tags: int, head: str = "crf", dropout: float = 0.1,
                 allowed_transitions: Optional[Tensor] = None, allowed_start: Optional[Tensor] = None,
                 word_shape_dim: int = 0):
        super().__init__()
        if head not in HEADS:
            raise ValueError(f"Unknown head '{head}': expected one of {sorted(HEADS)}")
        self.encoder = encoder
        self.dropout = nn.Dropout(dropout)
        self.word_shape = nn.Embedding(N_SHAPES, word_shape_dim) if word_shape_dim else None
        self.emission = nn.Linear(encoder.config.hidden_size + word_shape_dim, n_tags)
        self.head = HEADS[head](n_tags, allowed_transitions=allowed_transitions, allowed_start=allowed_start)

    def emissions(self, view: EncodedView) -> Tensor:
        inputs = {"input_ids": view.input_ids, "attention_mask": view.attention_mask}
        if view.token_type_ids is not None and getattr(self.encoder.config, "type_vocab_size", 0) > 1:
            inputs["token_type_ids"] = view.token_type_ids
        hidden = self.encoder(**inputs).last_hidden_state
        features = hidden[view.word_rows, view.word_positions]  # first subwords: [docs, words, hidden]
        if self.word_shape is not None:
            features = torch.cat([features, self.word_shape(view.word_shapes)], dim=-1)
        return self.emission(self.dropout(features))

    def forward(self, batch):
        if isinstance(batch, TrainingBatch):
            return self.training_loss(batch)
        return self.predict(batch.view)

    def training_loss(self, batch: TrainingBatch) -> Dict[str, Tensor]:
        text_view, mask = batch.text_view, batch.text_view.word_mask
        n_docs = mask.shape[0]
        text_emissions = self.emissions(text_view)
        text_nll_per_doc = self.head.nll(text_emissions, mask, batch.gold_allowed)
        if batch.text_only_when_no_context:
            text_nll_per_doc = text_nll_per_doc.index_fill(0, batch.cross_docs, 0.0)
        text_nll = text_nll_per_doc.sum() / n_docs
        zero = text_nll.new_zeros(())
        losses = {"text_nll": text_nll, "cross_nll": zero, "kl": zero}
        if batch.cross_view is not None and len(batch.cross_docs):
            cross_mask = batch.cross_view.word_mask
            cross_emissions = self.emissions(batch.cross_view)
            width = cross_mask.shape[1]  # the cross view pads to its own longest post
            gold = batch.gold_allowed[batch.cross_docs, :width]
            losses["cross_nll"] = self.head.nll(cross_emissions, cross_mask, gold).sum() / n_docs
            if batch.kl_weight:
                t = batch.temperature
                teacher = self.head.log_marginals(cross_emissions, cross_mask, t)
                student = self.head.log_marginals(text_emissions[batch.cross_docs, :width], cross_mask, t)
                # T^2 keeps the gradient scale of the soft targets independent of T.
                losses["kl"] = cross_view_kl(teacher, student, cross_mask) * t * t
        text_weight = 1.0 if batch.text_only_when_no_context else batch.text_nll_weight
        losses["loss"] = (text_weight * losses["text_nll"] + batch.cross_nll_weight * losses["cross_nll"]
                          + batch.kl_weight * losses["kl"])
        return losses

    def predict(self, view: EncodedView) -> Dict[str, object]:
        emissions = self.emissions(view)
        tags: List[List[int]] = self.head.decode(emissions, view.word_mask)
        probs = self.head.log_marginals(emissions, view.word_mask).exp().clamp(0.0, 1.0)
        tag_probs = []
        for d, seq in enumerate(tags):
            index = torch.tensor(seq, dtype=torch.long, device=probs.device)
            tag_probs.append(probs[d, torch.arange(len(seq), device=probs.device), index].tolist())
        return {"tags": tags, "tag_probs": tag_probs}
