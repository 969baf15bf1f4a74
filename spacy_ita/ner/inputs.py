"""Build encoder inputs for the two views of a batch of posts.

A post's words, the encoder's separator, then its context: one pair
sequence through the tokenizer's own special-token layout. Only the post's
words are tagged, pooled at their first subword. The post is never truncated:
a post longer than the window is split into overlapping windows and every word
is read from the window where it sits most centrally; the context fills what
room is left and is truncated instead.

A context is a list of (kind, text) pieces. Each piece is cut at a word boundary
to its kind's token budget (`context_budget`), so that one 120-word description
cannot crowd out the OCR or the caption; the pieces, joined by `;`, are then cut
(again at a word) to `max_context_tokens` in all.
"""

from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
from torch import Tensor
from transformers import PreTrainedTokenizerBase

from ..text_repair import repair_text
from .word_shape import word_shapes

# Only the first subword of a word is read out; later ones just give the
# encoder context. Capping them keeps a 300-character token from filling a window.
MAX_SUBWORDS_PER_WORD = 16
# Between two context pieces, as `visual_context.context_text` joins them.
PIECE_SEPARATOR = ";"

# (kind, text) pieces, or one plain text (a piece without a kind: only the total cap applies).
Context = Union[str, Sequence[Tuple[Optional[str], str]]]


@dataclass
class EncodedView:
    input_ids: Tensor  # [rows, seq]
    attention_mask: Tensor  # [rows, seq]
    token_type_ids: Optional[Tensor]  # [rows, seq]
    word_rows: Tensor  # [docs, words]: which row each word is read from
    word_positions: Tensor  # [docs, words]: the position of its first subword
    word_mask: Tensor  # [docs, words] bool
    word_shapes: Tensor  # [docs, words]: coarse casing class of each word

    @property
    def n_rows(self) -> int:
        return self.input_ids.shape[0]


def tokenizable(words: Sequence[str]) -> List[str]:
    """Words the subword tokenizer takes: a lone surrogate (a doc made from a cut emoji
    in Python) is read as U+FFFD, one character for one, instead of raising."""
    return [repair_text(word)[0] for word in words]


def take_words(words: List[List[int]], budget: int) -> List[List[int]]:
    """The longest prefix of `words` (each a list of subword ids) within `budget` subwords."""
    kept, used = [], 0
    for ids in words:
        if used + len(ids) > budget:
            break
        kept.append(ids)
        used += len(ids)
    return kept


class ViewEncoder:
    def __init__(
        self,
        tokenizer: PreTrainedTokenizerBase,
        max_length: int = 256,
        max_context_tokens: int = 128,
        window_overlap: float = 0.5,
        context_budget: Optional[Dict[str, int]] = None,
    ):
        self.tokenizer = tokenizer
        model_max = getattr(tokenizer, "model_max_length", max_length) or max_length
        self.max_length = int(min(max_length, model_max))
        self.max_context_tokens = max_context_tokens
        self.context_budget = {str(kind): int(tokens) for kind, tokens in (context_budget or {}).items()}
        self.separator_ids = tokenizer(PIECE_SEPARATOR, add_special_tokens=False)["input_ids"]
        self.window_overlap = window_overlap
        self.single_offset, self.n_special_single = self._layout(pair=False)
        self.pair_offset, self.n_special_pair = self._layout(pair=True)
        self.unk_id = tokenizer.unk_token_id if tokenizer.unk_token_id is not None else 0
        self.pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0

    def _layout(self, pair: bool) -> Tuple[int, int]:
        """Where the post starts and how many special tokens the layout adds,
        probed with sentinel ids so any tokenizer's template is respected."""
        post_sentinel, context_sentinel = -101, -202
        ids = self.tokenizer.build_inputs_with_special_tokens([post_sentinel], [context_sentinel] if pair else None)
        return ids.index(post_sentinel), len(ids) - (2 if pair else 1)

    def _build(self, post_ids: List[int], context_ids: List[int]) -> Tuple[List[int], Optional[List[int]], int]:
        tok = self.tokenizer
        if context_ids:
            ids = tok.build_inputs_with_special_tokens(post_ids, context_ids)
            types = tok.create_token_type_ids_from_sequences(post_ids, context_ids)
            return ids, types, self.pair_offset
        ids = tok.build_inputs_with_special_tokens(post_ids)
        types = tok.create_token_type_ids_from_sequences(post_ids)
        return ids, types, self.single_offset

    def word_subwords(self, docs_words: Sequence[Sequence[str]]) -> List[List[List[int]]]:
        """Subword ids per word; a word the tokenizer drops (whitespace,
        zero-width or control characters) gets the unknown token so it is
        still tagged."""
        out: List[List[List[int]]] = [[] for _ in docs_words]
        nonempty = [i for i, words in enumerate(docs_words) if len(words)]
        if not nonempty:
            return out
        encoded = self.tokenizer(
            [tokenizable(docs_words[i]) for i in nonempty], is_split_into_words=True, add_special_tokens=False
        )
        for row, doc_index in enumerate(nonempty):
            per_word: List[List[int]] = [[] for _ in docs_words[doc_index]]
            for token_id, word_id in zip(encoded["input_ids"][row], encoded.word_ids(row)):
                if word_id is not None and len(per_word[word_id]) < MAX_SUBWORDS_PER_WORD:
                    per_word[word_id].append(token_id)
            out[doc_index] = [ids or [self.unk_id] for ids in per_word]
        return out

    def context_ids(self, contexts: Sequence[Optional[Context]]) -> List[List[int]]:
        """Subword ids of each doc's context (empty for None), every piece cut at a
        word to its kind's budget, the whole cut at a word to `max_context_tokens`."""
        pieces = [[(None, c)] if isinstance(c, str) else list(c or []) for c in contexts]
        flat = [(d, kind, tokenizable(text.split())) for d, piece in enumerate(pieces) for kind, text in piece]
        flat = [(d, kind, words) for d, kind, words in flat if words]
        out: List[List[int]] = [[] for _ in contexts]
        if not flat:
            return out
        encoded = self.tokenizer([words for _, _, words in flat], is_split_into_words=True, add_special_tokens=False)
        # Per doc, the context as a list of word chunks (separators are chunks too).
        chunks: List[List[List[int]]] = [[] for _ in contexts]
        for row, (d, kind, words) in enumerate(flat):
            per_word: List[List[int]] = [[] for _ in words]
            for token_id, word_id in zip(encoded["input_ids"][row], encoded.word_ids(row)):
                if word_id is not None:
                    per_word[word_id].append(token_id)
            budget = self.max_context_tokens if kind is None else self.context_budget.get(kind, self.max_context_tokens)
            kept = take_words(per_word, budget)
            if kept:
                if chunks[d]:
                    chunks[d].append(self.separator_ids)
                chunks[d].extend(kept)
        for d, doc_chunks in enumerate(chunks):
            kept = take_words(doc_chunks, self.max_context_tokens)
            if kept and kept[-1] is self.separator_ids:
                kept.pop()
            out[d] = [i for chunk in kept for i in chunk]
        return out

    def windows(self, lengths: List[int], budget: int) -> List[Tuple[int, int]]:
        """Word windows [start, end) of at most `budget` subwords, overlapping."""
        n = len(lengths)
        starts = [0]
        for length in lengths:
            starts.append(starts[-1] + length)
        if starts[-1] <= budget:
            return [(0, n)]
        stride = max(1, int(budget * (1 - self.window_overlap)))
        windows, start = [], 0
        while True:
            end = start
            while end < n and starts[end + 1] - starts[start] <= budget:
                end += 1
            end = max(end, start + 1)  # a single over-long word still gets a window
            windows.append((start, end))
            if end >= n:
                return windows
            next_start = start
            while next_start < end and starts[next_start] - starts[start] < stride:
                next_start += 1
            start = max(next_start, start + 1)

    def encode(
        self,
        docs_words: Sequence[Sequence[str]],
        contexts: Sequence[Optional[Context]],
        device: Optional[torch.device] = None,
        subwords: Optional[List[List[List[int]]]] = None,
    ) -> EncodedView:
        """One EncodedView for a batch; a doc whose context is None or empty
        is encoded text-only, so one batch can mix the two views. `subwords`
        (from `word_subwords`) saves tokenizing posts a second time when the
        same posts are encoded in two views."""
        if subwords is None:
            subwords = self.word_subwords(docs_words)
        contexts_ids = self.context_ids(contexts)
        rows_ids: List[List[int]] = []
        rows_types: List[Optional[List[int]]] = []
        word_rows: List[List[int]] = []
        word_positions: List[List[int]] = []
        for words_subwords, context in zip(subwords, contexts_ids):
            lengths = [len(s) for s in words_subwords]
            # A long post keeps at least half of each window: the context is
            # the part that gets truncated, never the post's own words.
            reserve = min(len(context), self.max_context_tokens, (self.max_length - self.n_special_pair) // 2)
            budget = self.max_length - (self.n_special_pair + reserve if reserve else self.n_special_single)
            doc_rows, doc_positions = [0] * len(lengths), [0] * len(lengths)
            best_centrality = [-1] * len(lengths)
            for start, end in self.windows(lengths, max(1, budget)):
                post_ids = [i for s in words_subwords[start:end] for i in s][: max(1, budget)]
                room = self.max_length - len(post_ids) - self.n_special_pair
                ids, types, offset = self._build(post_ids, context[: max(0, room)])
                row = len(rows_ids)
                rows_ids.append(ids)
                rows_types.append(types)
                position = offset
                for w in range(start, end):
                    centrality = min(w - start, end - 1 - w)
                    if centrality > best_centrality[w] and position < offset + len(post_ids):
                        best_centrality[w] = centrality
                        doc_rows[w], doc_positions[w] = row, position
                    position += lengths[w]
            word_rows.append(doc_rows)
            word_positions.append(doc_positions)
        shapes = [word_shapes(words) for words in docs_words]
        return self._to_tensors(rows_ids, rows_types, word_rows, word_positions, shapes, device)

    def _to_tensors(
        self,
        rows_ids: List[List[int]],
        rows_types: List[Optional[List[int]]],
        word_rows: List[List[int]],
        word_positions: List[List[int]],
        shapes: List[List[int]],
        device: Optional[torch.device],
    ) -> EncodedView:
        n_rows = max(1, len(rows_ids))
        seq_len = max([len(r) for r in rows_ids] + [1])
        input_ids = torch.full((n_rows, seq_len), self.pad_id, dtype=torch.long)
        attention = torch.zeros((n_rows, seq_len), dtype=torch.long)
        types = torch.zeros((n_rows, seq_len), dtype=torch.long)
        for r, (ids, tt) in enumerate(zip(rows_ids, rows_types)):
            input_ids[r, : len(ids)] = torch.tensor(ids)
            attention[r, : len(ids)] = 1
            if tt is not None:
                types[r, : len(tt)] = torch.tensor(tt)
        n_docs = len(word_rows)
        n_words = max([len(w) for w in word_rows] + [1])
        rows = torch.zeros((n_docs, n_words), dtype=torch.long)
        positions = torch.zeros((n_docs, n_words), dtype=torch.long)
        mask = torch.zeros((n_docs, n_words), dtype=torch.bool)
        shape_ids = torch.zeros((n_docs, n_words), dtype=torch.long)
        for d, (wr, wp, ws) in enumerate(zip(word_rows, word_positions, shapes)):
            rows[d, : len(wr)] = torch.tensor(wr, dtype=torch.long)
            positions[d, : len(wp)] = torch.tensor(wp, dtype=torch.long)
            shape_ids[d, : len(ws)] = torch.tensor(ws, dtype=torch.long)
            mask[d, : len(wr)] = True
        tensors = [input_ids, attention, types, rows, positions, mask, shape_ids]
        if device is not None:
            tensors = [t.to(device) for t in tensors]
        return EncodedView(*tensors)
