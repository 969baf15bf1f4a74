"""The CRF and KL maths against brute force on short random sequences."""

import itertools

import pytest
import torch

from spacy_ita.ner.crf import LinearChainCRF
from spacy_ita.ner.heads import SoftmaxHead
from spacy_ita.ner.tags import TagSet
from spacy_ita.ner.views import cross_view_kl


def random_crf(n_labels, seed, constrained=False):
    torch.manual_seed(seed)
    allowed = None
    if constrained:
        tag_set = TagSet(["PER"][: (n_labels - 1) // 2])
        allowed = tag_set.allowed_transitions()
    crf = LinearChainCRF(n_labels, allowed_transitions=allowed)
    with torch.no_grad():
        for p in crf.parameters():
            p.normal_()
    return crf


def path_score(crf, emissions, path, temperature=1.0):
    trans, start, end = crf._potentials(temperature)
    score = start[path[0]] + emissions[0, path[0]] / temperature
    for t in range(1, len(path)):
        score = score + trans[path[t - 1], path[t]] + emissions[t, path[t]] / temperature
    return score + end[path[-1]]


def brute_force(crf, emissions, length, temperature=1.0):
    n_labels = emissions.shape[-1]
    paths = list(itertools.product(range(n_labels), repeat=length))
    scores = torch.stack([path_score(crf, emissions[:length], p, temperature) for p in paths])
    probs = torch.softmax(scores, 0)
    marginals = torch.zeros(length, n_labels)
    for p, prob in zip(paths, probs):
        for t, tag in enumerate(p):
            marginals[t, tag] += prob
    return torch.logsumexp(scores, 0), marginals, list(paths[int(scores.argmax())])


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("temperature", [1.0, 2.5])
def test_marginals_partition_and_viterbi_match_brute_force(seed, temperature):
    n_labels, lengths = 3, [4, 1, 3]
    crf = random_crf(n_labels, seed)
    emissions = torch.randn(len(lengths), max(lengths), n_labels) * 2
    mask = torch.arange(max(lengths))[None, :] < torch.tensor(lengths)[:, None]
    log_z = crf.log_partition(emissions, mask, temperature)
    marginals = crf.log_marginals(emissions, mask, temperature).exp()
    paths = crf.decode(emissions, mask)
    for b, n in enumerate(lengths):
        bf_log_z, bf_marginals, bf_path = brute_force(crf, emissions[b], n, temperature)
        assert torch.allclose(log_z[b], bf_log_z, atol=1e-4)
        assert torch.allclose(marginals[b, :n], bf_marginals, atol=1e-5)
        assert torch.allclose(marginals[b, :n].sum(-1), torch.ones(n), atol=1e-5)
        assert torch.all(marginals[b, n:] < 1e-6)
        if temperature == 1.0:
            assert paths[b] == bf_path


def test_constraints_forbid_invalid_bio_and_viterbi_respects_them():
    tag_set = TagSet(["PER"])  # O, B-PER, I-PER
    crf = LinearChainCRF(
        len(tag_set), allowed_transitions=tag_set.allowed_transitions(), allowed_start=tag_set.allowed_start()
    )
    emissions = torch.tensor([[[0.0, 0.0, 9.0], [9.0, 0.0, 0.0], [0.0, 0.0, 9.0]]])  # wants I, O, I
    mask = torch.ones(1, 3, dtype=torch.bool)
    path = [tag_set.tags[i] for i in crf.decode(emissions, mask)[0]]
    assert path[0] != "I-PER" and "O I-PER" not in " ".join(path)
    marginals = crf.log_marginals(emissions, mask).exp()
    assert marginals[0, 0, tag_set.index["I-PER"]] < 1e-6


def test_nll_with_missing_labels_marginalizes_them():
    crf = random_crf(3, 7)
    emissions = torch.randn(1, 3, 3)
    mask = torch.ones(1, 3, dtype=torch.bool)
    everything_allowed = torch.ones(1, 3, 3, dtype=torch.bool)
    assert crf.nll(emissions, mask, everything_allowed).abs().item() < 1e-4
    gold = torch.zeros(1, 3, 3, dtype=torch.bool)
    gold[0, [0, 1, 2], [1, 0, 2]] = True
    expected = crf.log_partition(emissions, mask) - path_score(crf, emissions[0], [1, 0, 2])
    assert torch.allclose(crf.nll(emissions, mask, gold), expected, atol=1e-4)


def test_softmax_head_marginals_sum_to_one():
    head = SoftmaxHead(4)
    emissions = torch.randn(2, 5, 4)
    mask = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 0, 0, 0]], dtype=torch.bool)
    marginals = head.log_marginals(emissions, mask, 2.0).exp()
    assert torch.allclose(marginals[0].sum(-1), torch.ones(5))
    assert len(head.decode(emissions, mask)[1]) == 2


def test_kl_is_zero_when_views_coincide_and_grad_reaches_only_the_text_view():
    crf = random_crf(3, 3)
    mask = torch.ones(2, 4, dtype=torch.bool)
    shared = torch.randn(2, 4, 3)
    same = cross_view_kl(crf.log_marginals(shared, mask, 4.0), crf.log_marginals(shared, mask, 4.0), mask)
    assert abs(same.item()) < 1e-6

    cross = torch.randn(2, 4, 3, requires_grad=True)
    text = torch.randn(2, 4, 3, requires_grad=True)
    kl = cross_view_kl(crf.log_marginals(cross, mask, 4.0), crf.log_marginals(text, mask, 4.0), mask)
    assert kl.item() > 0
    kl.backward()
    assert cross.grad is None or torch.all(cross.grad == 0)
    assert text.grad is not None and text.grad.abs().sum() > 0
