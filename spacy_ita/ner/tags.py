"""The BIO tag set of the CRF, its hard constraints, and conversions to spans."""

from typing import Dict, List, Optional, Sequence

import torch
from spacy.tokens import Doc, Span
from spacy.training import biluo_tags_to_spans, iob_to_biluo


class TagSet:
    def __init__(self, labels: Sequence[str]):
        self.labels = sorted(set(labels))
        self.tags = ["O"] + [f"{prefix}-{label}" for label in self.labels for prefix in ("B", "I")]
        self.index: Dict[str, int] = {tag: i for i, tag in enumerate(self.tags)}

    def __len__(self) -> int:
        return len(self.tags)

    def allowed_transitions(self) -> torch.Tensor:
        """BIO: I-X may only follow B-X or I-X."""
        allowed = torch.ones(len(self), len(self), dtype=torch.bool)
        for j, tag in enumerate(self.tags):
            if tag.startswith("I-"):
                for i, prev in enumerate(self.tags):
                    allowed[i, j] = prev[2:] == tag[2:] and prev != "O"
        return allowed

    def allowed_start(self) -> torch.Tensor:
        return torch.tensor([not tag.startswith("I-") for tag in self.tags])

    def gold_allowed(self, biluo: Sequence[Optional[str]]) -> torch.Tensor:
        """[n_tokens, n_tags] booleans: the gold tag, or every tag where it is missing.

        `biluo` comes from `Example.get_aligned_ner()`: None or "-" is missing,
        and labels outside the tag set count as missing too.
        """
        allowed = torch.ones(len(biluo), len(self), dtype=torch.bool)
        for i, bio in enumerate(biluo_to_bio(biluo)):
            if bio is not None and bio in self.index:
                allowed[i] = False
                allowed[i, self.index[bio]] = True
        return allowed

    def spans(self, doc: Doc, tag_ids: List[int]) -> List[Span]:
        bio = [self.tags[i] for i in tag_ids]
        return biluo_tags_to_spans(doc, iob_to_biluo(bio))


def biluo_to_bio(biluo: Sequence[Optional[str]]) -> List[Optional[str]]:
    """Like spaCy's biluo_to_iob, but keeps missing tags (None / "-") as None."""
    out: List[Optional[str]] = []
    for tag in biluo:
        if tag is None or tag == "-" or tag == "":
            out.append(None)
        elif tag == "O":
            out.append("O")
        else:
            prefix, label = tag.split("-", 1)
            out.append(("B-" if prefix in ("B", "U") else "I-") + label)
    return out
