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

# The encoder reads a view's rows in length-sorted chunks of this many (ITATagger.v1's
# `encoder_chunk_rows`). 16 is the training batch of configs/ita.cfg, so a training step
# is one call as before; `nlp.pipe` hands the component 32+ posts, which it splits.
DEFAULT_ROWS_PER_CHUNK = 16


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
        # Rows the encoder reads per call (`encode_rows`); 0: the whole view at once.
        self.rows_per_chunk = DEFAULT_ROWS_PER_CHUNK

    def emissions(self, view: EncodedView) -> Tensor:
        inputs = {"input_ids": view.input_ids, "attention_mask": view.attention_mask}
        if view.token_type_ids is not None and getattr(self.encoder.config, "type_vocab_size", 0) > 1:
            inputs["token_type_ids"] = view.token_type_ids
        # Only the encoder in bf16 (where `precision` says so): the emission layer, the
        # head and the loss read fp32 features.
        with encoder_autocast(self.precision, view.input_ids.device):
            hidden = self.encode_rows(inputs)
        features = hidden[view.word_rows, view.word_positions].float()  # first subwords: [docs, words, hidden]
        if self.word_shape is not None:
            features = torch.cat([features, self.word_shape(view.word_shapes)], dim=-1)
        return self.emission(self.dropout(features))

    def encode_rows(self, inputs: Dict[str, Tensor]) -> Tensor:
        """The encoder's last hidden states, [rows, width, hidden], for `inputs`
        ([rows, width] each, right-padded to the longest row: `ViewEncoder` pads so).

        Rows are read longest first in chunks of `rows_per_chunk`, each chunk
        cut to its own longest row: a view pads every row to its longest, so a
        batch of posts of 5 to 50 subwords spends up to half its encoder time on
        padding (Twitter-2017 valid, batches of 32: 1.75x the real subwords).
        What stands past a row's length (the encoder's output for padding, or 0
        past its chunk's width) is never read: pooling takes real subwords only."""
        n_rows, width = inputs["attention_mask"].shape
        if not self.rows_per_chunk or n_rows <= self.rows_per_chunk:
            return self.encoder(**inputs).last_hidden_state
        lengths = inputs["attention_mask"].sum(dim=1)
        order = torch.argsort(lengths, descending=True, stable=True)
        parts = []
        for start in range(0, n_rows, self.rows_per_chunk):
            rows = order[start : start + self.rows_per_chunk]
            used = max(1, int(lengths[rows].max()))
            parts.append((rows, self.encoder(**{k: v[rows, :used] for k, v in inputs.items()}).last_hidden_state))
        first = parts[0][1]
        hidden = first.new_zeros((n_rows, width, first.shape[-1]))
        for rows, part in parts:
            hidden[rows, : part.shape[1]] = part
        return hidden

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
