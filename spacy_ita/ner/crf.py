"""The linear-chain CRF tag head, batched and masked, in torch.

Every tag head (`heads.py`: this one, or the softmax) has one interface, so
that a config can swap them:
- `nll(emissions, mask, allowed)`: per-sequence negative log-likelihood of the
  tag paths allowed by the boolean `allowed` [B, T, L] (one tag per known token,
  every tag where the gold tag is missing, so missing labels are marginalized);
- `log_marginals(emissions, mask, temperature)`: per-token log label
  distributions (CRF posterior marginals by forward-backward);
- `decode(emissions, mask)`: best tag sequence per sequence (Viterbi for the CRF).

Masks are left-aligned: `mask[b, :n_b]` is True and the rest False.
"""

from typing import List, Optional, Tuple

import torch
from torch import Tensor, nn

# A finite "impossible" score: -inf would turn logsumexp over all-impossible
# rows into NaN; e^-10000 is exactly 0 in float32.
IMPOSSIBLE = -1e4


def _reverse_padded(values: Tensor, lengths: Tensor) -> Tensor:
    """Reverse each sequence within its own length; padding stays in place."""
    steps = torch.arange(values.shape[1], device=values.device)
    index = lengths[:, None] - 1 - steps[None, :]
    index = torch.where(index >= 0, index, steps[None, :].expand_as(index))
    index = index.view(*index.shape, *([1] * (values.dim() - 2))).expand_as(values)
    return values.gather(1, index)


class LinearChainCRF(nn.Module):
    # The constraint buffers (register_buffer), typed here: nn.Module's __getattr__ is not.
    transition_penalty: Tensor
    start_penalty: Tensor
    end_penalty: Tensor

    def __init__(
        self,
        n_labels: int,
        allowed_transitions: Optional[Tensor] = None,
        allowed_start: Optional[Tensor] = None,
        allowed_end: Optional[Tensor] = None,
    ):
        super().__init__()
        self.n_labels = n_labels
        self.transitions = nn.Parameter(torch.zeros(n_labels, n_labels))
        self.start_transitions = nn.Parameter(torch.zeros(n_labels))
        self.end_transitions = nn.Parameter(torch.zeros(n_labels))
        # Hard constraints (e.g. O -> I-PER is impossible in BIO) as constant
        # additive penalties, kept as buffers so they travel with the weights.
        self.register_buffer("transition_penalty", self._penalty(allowed_transitions, (n_labels, n_labels)))
        self.register_buffer("start_penalty", self._penalty(allowed_start, (n_labels,)))
        self.register_buffer("end_penalty", self._penalty(allowed_end, (n_labels,)))

    @staticmethod
    def _penalty(allowed: Optional[Tensor], shape: Tuple[int, ...]) -> Tensor:
        if allowed is None:
            return torch.zeros(shape)
        return torch.where(allowed.bool(), 0.0, IMPOSSIBLE).float()

    def _potentials(self, temperature: float = 1.0) -> Tuple[Tensor, Tensor, Tensor]:
        trans = self.transitions + self.transition_penalty
        start = self.start_transitions + self.start_penalty
        end = self.end_transitions + self.end_penalty
        return trans / temperature, start / temperature, end / temperature

    @staticmethod
    def _forward_scores(emissions: Tensor, mask: Tensor, trans: Tensor, start: Tensor) -> Tensor:
        """alpha[b, t, j] = log-sum of scores of all prefixes ending in tag j at t."""
        alpha = start[None, :] + emissions[:, 0]
        alphas = [alpha]
        for t in range(1, emissions.shape[1]):
            step = torch.logsumexp(alpha[:, :, None] + trans[None, :, :], dim=1) + emissions[:, t]
            alpha = torch.where(mask[:, t, None], step, alpha)
            alphas.append(alpha)
        return torch.stack(alphas, dim=1)

    @staticmethod
    def _last(values: Tensor, lengths: Tensor) -> Tensor:
        return values[torch.arange(values.shape[0], device=values.device), lengths - 1]

    def log_partition(self, emissions: Tensor, mask: Tensor, temperature: float = 1.0) -> Tensor:
        trans, start, end = self._potentials(temperature)
        alphas = self._forward_scores(emissions / temperature, mask, trans, start)
        return torch.logsumexp(self._last(alphas, mask.sum(1)) + end[None, :], dim=1)

    def nll(self, emissions: Tensor, mask: Tensor, allowed: Tensor) -> Tensor:
        gold_emissions = emissions.masked_fill(~allowed, IMPOSSIBLE)
        return self.log_partition(emissions, mask) - self.log_partition(gold_emissions, mask)

    def log_marginals(self, emissions: Tensor, mask: Tensor, temperature: float = 1.0) -> Tensor:
        """Posterior log p(y_t = j | x) by forward-backward; 0-prob rows at padding."""
        trans, start, end = self._potentials(temperature)
        scaled = emissions / temperature
        lengths = mask.sum(1)
        alphas = self._forward_scores(scaled, mask, trans, start)
        log_z = torch.logsumexp(self._last(alphas, lengths) + end[None, :], dim=1)
        # The backward pass is the forward pass over each reversed sequence
        # with transposed transitions and start/end swapped; it includes
        # the emission at t, which alpha already counts once.
        reversed_alphas = self._forward_scores(_reverse_padded(scaled, lengths), mask, trans.t(), end)
        betas_with_emission = _reverse_padded(reversed_alphas, lengths)
        log_marginals = alphas + betas_with_emission - scaled - log_z[:, None, None]
        return log_marginals.masked_fill(~mask[:, :, None], IMPOSSIBLE)

    def decode(self, emissions: Tensor, mask: Tensor) -> List[List[int]]:
        trans, start, end = self._potentials()
        n_batch, n_steps, n_labels = emissions.shape
        score = start[None, :] + emissions[:, 0]
        identity = torch.arange(n_labels, device=emissions.device).expand(n_batch, n_labels)
        backpointers = []
        for t in range(1, n_steps):
            best, best_prev = (score[:, :, None] + trans[None, :, :]).max(dim=1)
            step_mask = mask[:, t, None]
            score = torch.where(step_mask, best + emissions[:, t], score)
            backpointers.append(torch.where(step_mask, best_prev, identity))
        last_tag = (score + end[None, :]).argmax(dim=1)
        reversed_path = [last_tag]
        for pointers in reversed(backpointers):
            last_tag = pointers.gather(1, last_tag[:, None]).squeeze(1)
            reversed_path.append(last_tag)
        path: List[List[int]] = torch.stack(reversed_path[::-1], dim=1).tolist()
        return [seq[:n] for seq, n in zip(path, mask.sum(1).tolist())]
