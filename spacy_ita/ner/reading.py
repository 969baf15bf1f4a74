"""What `ita_ner` reads of a doc's visual context: its kinds in the configured
order, kind dropout in training, and a warning when the kinds read at inference
are none of those seen in training. The component's pipe contract (predict,
update, serialization) is in `component.py`; which view reads a doc is
`ITANER.view_for`."""

import logging
import random
from collections import Counter
from typing import Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

from spacy.tokens import Doc

from .. import extensions  # noqa: F401  (declares the doc extensions it reads)
from ..visual_context import check_kinds, context_pieces

logger = logging.getLogger("spacy_ita")

# A doc's context as (kind, text) pieces (`visual_context.context_pieces`): one
# form of the tagger's `inputs.Context`.
Pieces = List[Tuple[str, str]]


class ContextReading:
    """The context policy of one `ita_ner` component.

    order: the context kinds read, in this order after the post (others ignored).
    kind_dropout: in training, each kind is left out of a post's cross view with
        this probability; in [0, 1), else ValueError.
    trained_kinds: {kind: training docs with it}, as `initialize` recorded them
        ({} before, or in older pipelines: no warning).
    """

    def __init__(
        self, order: Sequence[str], kind_dropout: float = 0.0, trained_kinds: Optional[Mapping[str, int]] = None
    ) -> None:
        check_kinds(order)
        if not 0.0 <= kind_dropout < 1.0:
            raise ValueError(f"ita_ner context_kind_dropout must be in [0, 1), got {kind_dropout}")
        self.order = tuple(order)
        self.kind_dropout = kind_dropout
        self.trained_kinds = dict(trained_kinds or {})
        self._warned_unseen_kinds = False

    def pieces(self, doc: Doc) -> Optional[Pieces]:
        """The doc's context as (kind, text) pieces in `order`, or None (no context)."""
        return context_pieces(doc._.visual_context, self.order) or None

    def drop_kinds(self, context: Optional[Pieces]) -> Optional[Pieces]:
        """Kind dropout: each piece left out with probability `kind_dropout`
        (Python's `random`, which spaCy seeds from `[training] seed`); None when all are."""
        if not context or not self.kind_dropout:
            return context
        return [piece for piece in context if random.random() >= self.kind_dropout] or None

    def count_kinds(self, docs: Iterable[Doc]) -> Tuple[Dict[str, int], int]:
        """({kind: docs with a piece of it}, sorted by kind; the number of docs), in one
        pass over `docs`: what `initialize` records as the trained kinds."""
        kinds: Counter = Counter()
        n_docs = 0
        for doc in docs:
            n_docs += 1
            kinds.update(kind for kind, _ in self.pieces(doc) or [])
        return dict(sorted(kinds.items())), n_docs

    def warn_unseen_kinds(self, contexts: Sequence[Optional[Pieces]], name: str) -> None:
        """Once: docs are read cross-modal with contexts of none of the kinds the
        model saw in training (e.g. trained on captions, fed only YOLO tags and OCR)."""
        trained = {kind for kind, count in self.trained_kinds.items() if count}
        if self._warned_unseen_kinds or not trained:
            return
        unseen = Counter(
            kind for pieces in contexts if pieces and not trained & {k for k, _ in pieces} for kind, _ in pieces
        )
        if unseen:
            self._warned_unseen_kinds = True
            logger.warning(
                "%s was trained on context kinds %s but reads contexts of only %s, which it never saw in "
                "training: its cross-modal predictions may be worse than text-only. Train on contexts of those "
                "kinds (align the training images with the same aligner: align-images, then convert --contexts), "
                'add the trained kinds to what the aligner produces, or read text-only (inference_view = "text").',
                name,
                sorted(trained),
                sorted(unseen),
            )
