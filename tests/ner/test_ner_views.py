"""The view rule of spacy_ita/ner/views.py and the one API that switches the view read."""

import pytest
import spacy
import torch

from spacy_ita.evaluate import ita_pipe_names, reading
from spacy_ita.ner.crf import LinearChainCRF
from spacy_ita.ner.heads import SoftmaxHead, tag_head
from spacy_ita.ner.views import LossWeights, ViewTraining, two_view_loss

from reliability_support import tiny_nlp


@pytest.mark.parametrize(
    "views, text_weight, kl_weight, cross_posts",
    [
        (("cross", "text"), 2.0, 0.5, [1, 2]),
        (("text",), 2.0, 0.0, []),
        (("cross",), 1.0, 0.0, [1, 2]),  # the posts without a context train on their only view, weight 1
    ],
)
def test_which_view_supervises_which_post(views, text_weight, kl_weight, cross_posts):
    training = ViewTraining(views, LossWeights(text_nll=2.0))
    contexts = [None, [("caption", "a")], "a plain context", []]
    assert training.text_nll_weight == text_weight and training.kl_weight == kl_weight
    assert training.cross_posts(contexts) == cross_posts
    assert training.text_only_without_context == ("text" not in views)


def test_two_view_loss_is_nll_terms_plus_lambda_t2_kl():
    torch.manual_seed(0)
    head = LinearChainCRF(3)
    text, cross = torch.randn(2, 4, 3), torch.randn(1, 4, 3)
    mask = torch.ones(2, 4, dtype=torch.bool)
    gold = torch.ones(2, 4, 3, dtype=torch.bool)
    training = ViewTraining(("cross", "text"), LossWeights(cross_nll=0.7, text_nll=0.3, kl=0.5, temperature=2.0))
    with torch.no_grad():
        losses = {
            k: float(v)
            for k, v in two_view_loss(head, training, gold, text, mask, cross, mask[:1], torch.tensor([1])).items()
        }
        teacher, student = head.log_marginals(cross, mask[:1], 2.0), head.log_marginals(text[1:], mask[:1], 2.0)
        kl = float((teacher.exp() * (teacher - student)).sum(-1).mean() * 4.0)
        cross_nll = float(head.nll(cross, mask[:1], gold[:1]).sum() / 2)
    assert losses["kl"] == pytest.approx(kl, rel=1e-5)
    assert losses["cross_nll"] == pytest.approx(cross_nll, rel=1e-5)
    expected = 0.3 * losses["text_nll"] + 0.7 * losses["cross_nll"] + 0.5 * losses["kl"]
    assert losses["loss"] == pytest.approx(expected, rel=1e-6)
    with pytest.raises(ValueError, match="temperature"):
        LossWeights(temperature=0.0)


def test_loss_weights_map_to_the_component_settings_and_back():
    weights = LossWeights(cross_nll=0.7, text_nll=0.3, kl=0.2, temperature=2.0)
    settings = weights.settings()
    assert settings == {"cross_nll_weight": 0.7, "text_nll_weight": 0.3, "kl_weight": 0.2, "temperature": 2.0}
    assert LossWeights.from_settings({**settings, "views": ["text"]}) == weights
    nlp = tiny_nlp(kl_weight=0.2, temperature=2.0)
    pipe = nlp.get_pipe("ita_ner")
    assert pipe.view_training.weights == LossWeights(kl=0.2, temperature=2.0)
    assert {key: pipe.cfg[key] for key in settings} == LossWeights(kl=0.2, temperature=2.0).settings()


def test_heads_are_registered_by_versioned_name_and_the_old_names_still_resolve():
    assert tag_head("spacy_ita.crf.v1") is LinearChainCRF and tag_head("spacy_ita.softmax.v1") is SoftmaxHead
    for old, head in [("crf", LinearChainCRF), ("softmax", SoftmaxHead)]:
        with pytest.warns(DeprecationWarning, match=f'head "{old}" is deprecated'):
            assert tag_head(old) is head
    with pytest.raises(ValueError, match="Unknown head 'mlp'.*spacy_ita.crf.v1"):
        tag_head("mlp")


def test_reading_switches_validates_and_restores():
    nlp = tiny_nlp()
    pipe = nlp.get_pipe("ita_ner")
    with pipe.reading("text"):
        assert pipe.inference_view == "text"
    assert pipe.inference_view == "auto"
    with pytest.raises(ValueError, match="inference_view"):
        with pipe.reading("image"):
            pass
    with pytest.raises(RuntimeError):
        with reading(nlp, "text"):
            assert pipe.inference_view == "text"
            raise RuntimeError("inside the block")
    assert pipe.inference_view == "auto"
    assert ita_pipe_names(nlp) == ["ita_ner"]
    with pytest.raises(ValueError, match="no ita_ner"):
        with reading(spacy.blank("en"), "text"):
            pass


def test_deprecated_cross_inference_view_reads_as_auto_and_still_loads(tmp_path):
    with pytest.warns(DeprecationWarning, match="'cross' is deprecated"):
        nlp = tiny_nlp(inference_view="cross")
    assert nlp.get_pipe("ita_ner").inference_view == "auto"
    # A pipeline saved before: "cross" in its config and in the component's cfg.
    nlp.get_pipe("ita_ner").cfg["inference_view"] = "cross"
    nlp.config["components"]["ita_ner"]["inference_view"] = "cross"
    nlp.to_disk(tmp_path / "old")
    with pytest.warns(DeprecationWarning, match="'cross' is deprecated"):
        loaded = spacy.load(tmp_path / "old")
    assert loaded.get_pipe("ita_ner").inference_view == "auto"
