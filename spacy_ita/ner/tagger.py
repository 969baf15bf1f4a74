"""The torch module of the ITA tagger: encoder, first-subword pooling,
emission layer and a tag head (`heads.py`); its training loss is the two-view
loss of `views.py`."""

from typing import Any, Dict, List, Optional

import torch
from torch import Tensor, nn
from transformers import PreTrainedModel

from .heads import CRF_HEAD, TagHead, tag_head
from .inputs import EncodedView
from .precision import AUTO, encoder_autocast
from .views import ViewTraining, two_view_loss
from .word_shape import N_SHAPES


class ITATaggerModule(nn.Module):
    def __init__(
        self,
        encoder: PreTrainedModel,
        n_tags: int,
        head: str = CRF_HEAD,
        dropout: float = 0.1,
        allowed_transitions: Optional[Tensor] = None,
        allowed_start: Optional[Tensor] = None,
        word_shape_dim: int = 0,
    ):
        super().__init__()
        head_class = tag_head(head)
        self.encoder = encoder
        self.dropout = nn.Dropout(dropout)
        self.word_shape = nn.Embedding(N_SHAPES, word_shape_dim) if word_shape_dim else None
        self.emission = nn.Linear(encoder.config.hidden_size + word_shape_dim, n_tags)
        self.head: TagHead = head_class(n_tags, allowed_transitions=allowed_transitions, allowed_start=allowed_start)
        # "auto" / "bf16" / "fp32" (`precision.py`): a run-time choice the shim sets, not a weight.
        self.precision = AUTO

    def emissions(self, view: EncodedView) -> Tensor:
        inputs = {"input_ids": view.input_ids, "attention_mask": view.attention_mask}
        if view.token_type_ids is not None and getattr(self.encoder.config, "type_vocab_size", 0) > 1:
            inputs["token_type_ids"] = view.token_type_ids
        # Only the encoder in bf16 (where `precision` says so): the emission layer, the
        # head and the loss read fp32 features.
        with encoder_autocast(self.precision, view.input_ids.device):
            hidden = self.encoder(**inputs).last_hidden_state
        features = hidden[view.word_rows, view.word_positions].float()  # first subwords: [docs, words, hidden]
        if self.word_shape is not None:
            features = torch.cat([features, self.word_shape(view.word_shapes)], dim=-1)
        return self.emission(self.dropout(features))

    def forward(
        self,
        view: EncodedView,
        *,
        training: Optional[ViewTraining] = None,
        gold_allowed: Optional[Tensor] = None,
        cross_view: Optional[EncodedView] = None,
        cross_posts: Optional[Tensor] = None,
    ) -> Dict[str, Any]:
        """Predictions for `view`; with `training`, the loss terms of `view` (the
        text view of every post) and `cross_view` (the posts `cross_posts`)."""
        if training is None:
            return self.predict(view)
        if gold_allowed is None or cross_posts is None:
            raise ValueError("ita_ner: a training step needs the gold tags and the cross view's posts")
        text_emissions = self.emissions(view)
        cross_emissions = self.emissions(cross_view) if cross_view is not None and len(cross_posts) else None
        return two_view_loss(
            self.head,
            training,
            gold_allowed,
            text_emissions,
            view.word_mask,
            cross_emissions,
            cross_view.word_mask if cross_view is not None else None,
            cross_posts,
        )

    def predict(self, view: EncodedView) -> Dict[str, Any]:
        emissions = self.emissions(view)
        tags: List[List[int]] = self.head.decode(emissions, view.word_mask)
        probs = self.head.log_marginals(emissions, view.word_mask).exp().clamp(0.0, 1.0)
        tag_probs = []
        for d, seq in enumerate(tags):
            index = torch.tensor(seq, dtype=torch.long, device=probs.device)
            tag_probs.append(probs[d, torch.arange(len(seq), device=probs.device), index].tolist())
        return {"tags": tags, "tag_probs": tag_probs}
