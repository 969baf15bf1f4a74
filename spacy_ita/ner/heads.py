"""The tag heads the architecture's `head` setting names: a registry, like the
other swappable pieces, with the CRF (`crf.py`) and a per-token softmax.

`head` stays a name rather than a config block (`@...`): the head is built
inside the model once the labels are known, and rebuilt from the saved model's
own settings on load, which must stay plain data. Another head is added with

    @spacy_ita.ner.heads.tag_heads.register("my_head")
    class MyHead(torch.nn.Module): ...  # (n_labels, **constraints), with nll / log_marginals / decode

(or the `spacy_ita_heads` entry point) and chosen with `head = "my_head"`.
"""

from typing import Callable, List

import catalogue
import torch
from torch import Tensor, nn

from .crf import IMPOSSIBLE, LinearChainCRF

tag_heads = catalogue.create("spacy_ita", "heads", entry_points=True)
tag_heads.register("crf", func=LinearChainCRF)


@tag_heads.register("softmax")
class SoftmaxHead(nn.Module):
    """Independent per-token softmax: the config alternative to the CRF."""

    def __init__(self, n_labels: int, **_constraints):
        super().__init__()
        self.n_labels = n_labels

    def nll(self, emissions: Tensor, mask: Tensor, allowed: Tensor) -> Tensor:
        log_probs = emissions.log_softmax(-1)
        gold = torch.logsumexp(log_probs.masked_fill(~allowed, IMPOSSIBLE), dim=-1)
        return -(gold * mask).sum(1)

    def log_marginals(self, emissions: Tensor, mask: Tensor, temperature: float = 1.0) -> Tensor:
        return (emissions / temperature).log_softmax(-1).masked_fill(~mask[:, :, None], IMPOSSIBLE)

    def decode(self, emissions: Tensor, mask: Tensor) -> List[List[int]]:
        best = emissions.argmax(-1).tolist()
        return [seq[:n] for seq, n in zip(best, mask.sum(1).tolist())]


def tag_head(name: str) -> Callable[..., nn.Module]:
    """The head class registered as `name`, or a ValueError naming the known ones."""
    known = tag_heads.get_all()
    if name not in known:
        raise ValueError(f"Unknown head '{name}': expected one of {sorted(known)}")
    return known[name]
