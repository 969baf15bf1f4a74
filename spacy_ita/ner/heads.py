"""The tag heads the architecture's `head` setting names: a registry, like the
other swappable pieces, with the CRF (`crf.py`) and a per-token softmax.

`head` stays a name rather than a config block (`@...`): the head is built
inside the model once the labels are known, and rebuilt from the saved model's
own settings on load, which must stay plain data. Because a saved pipeline
stores the name, the names are versioned as spaCy's registered functions are
(`spacy_ita.crf.v1`): a head that changes what it computes gets a new version
and the old one stays, so old pipelines load as they were trained. Another head
is added with

    @spacy_ita.ner.heads.tag_heads.register("my_package.my_head.v1")
    class MyHead(torch.nn.Module): ...  # (n_labels, **constraints), with nll / log_marginals / decode

(or the `spacy_ita_heads` entry point) and chosen with `head = "my_package.my_head.v1"`.
"""

import warnings
from typing import Callable, Dict, List, Optional, Protocol

import catalogue
import torch
from torch import Tensor, nn

from .crf import IMPOSSIBLE, LinearChainCRF

CRF_HEAD = "spacy_ita.crf.v1"
SOFTMAX_HEAD = "spacy_ita.softmax.v1"
# The unversioned names of the first release: pipelines saved with them load
# with the head they were trained with.
DEPRECATED_HEADS: Dict[str, str] = {"crf": CRF_HEAD, "softmax": SOFTMAX_HEAD}


class TagHead(Protocol):
    """What the tagger and the two-view loss call on a head (an `nn.Module`).
    emissions: [docs, words, tags] float; mask: [docs, words] bool; allowed: [docs, words, tags] bool."""

    def nll(self, emissions: Tensor, mask: Tensor, allowed: Tensor) -> Tensor:
        """[docs]: minus the log-probability of the tag paths `allowed` (missing labels allow several)."""
        ...

    def log_marginals(self, emissions: Tensor, mask: Tensor, temperature: float = 1.0) -> Tensor:
        """[docs, words, tags]: log p(tag at word) at `temperature`."""
        ...

    def decode(self, emissions: Tensor, mask: Tensor) -> List[List[int]]:
        """The best tag ids per doc, one per unmasked word."""
        ...


tag_heads = catalogue.create("spacy_ita", "heads", entry_points=True)
tag_heads.register(CRF_HEAD, func=LinearChainCRF)


@tag_heads.register(SOFTMAX_HEAD)
class SoftmaxHead(nn.Module):
    """Independent per-token softmax: the config alternative to the CRF."""

    def __init__(self, n_labels: int, **_constraints: Optional[Tensor]) -> None:
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


def tag_head(name: str) -> Callable[..., TagHead]:
    """The head class registered as `name`, or a ValueError naming the known ones.
    A deprecated unversioned name ("crf") gives its first version, with a DeprecationWarning."""
    if name in DEPRECATED_HEADS:
        new = DEPRECATED_HEADS[name]
        warnings.warn(
            f'ita_ner head "{name}" is deprecated and reads as "{new}"; set head = "{new}"', DeprecationWarning
        )
        name = new
    known = tag_heads.get_all()
    if name not in known:
        raise ValueError(f"Unknown head '{name}': expected one of {sorted(known)}")
    return known[name]
