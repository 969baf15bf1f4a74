"""`freeze_word_embeddings` (issue #29): the encoder's subword embedding matrix keeps its
pretrained values through updates, gets no gradient and no optimizer state, everything
else still learns, and the setting travels with the saved pipeline."""

import spacy
import torch

import spacy_ita  # noqa: F401
from spacy_ita.ner.architecture import tagger_shim

from reliability_support import make_examples


def frozen_nlp(freeze: bool):
    nlp = spacy.blank("en")
    model = {"encoder": "tiny-bert-2l", "max_length": 64, "freeze_word_embeddings": freeze}
    nlp.add_pipe("ita_ner", config={"model": model})
    return nlp


def trained_module(freeze: bool):
    torch.manual_seed(0)
    nlp = frozen_nlp(freeze)
    examples = make_examples(nlp, n=10)
    optimizer = nlp.initialize(lambda: examples)
    module = tagger_shim(nlp.get_pipe("ita_ner").model)._model
    before = {name: param.detach().clone() for name, param in module.named_parameters()}
    for start in range(0, 10, 5):
        nlp.update(examples[start : start + 5], sgd=optimizer)
    return nlp, module, before, optimizer


def changed(module, before):
    return {name for name, param in module.named_parameters() if not torch.equal(param.detach(), before[name])}


def test_frozen_word_embeddings_keep_their_pretrained_values_while_the_rest_learns():
    nlp, module, before, optimizer = trained_module(freeze=True)
    embedding = "encoder.embeddings.word_embeddings.weight"
    moved = changed(module, before)
    assert embedding not in moved
    assert not module.encoder.get_input_embeddings().weight.requires_grad
    # The rest of the encoder and the head still learn.
    assert "emission.weight" in moved
    assert any(name.startswith("encoder.encoder.layer.") for name in moved)
    # No Adam moments were made for the frozen matrix.
    assert not any(embedding in str(key) for key in getattr(optimizer, "mom1", {}))


def test_without_the_setting_the_word_embeddings_are_trained():
    _, module, before, _ = trained_module(freeze=False)
    assert "encoder.embeddings.word_embeddings.weight" in changed(module, before)


def test_the_setting_travels_with_the_saved_pipeline(tmp_path):
    nlp, _, _, _ = trained_module(freeze=True)
    nlp.to_disk(tmp_path / "model")
    loaded = spacy.load(tmp_path / "model")
    shim = tagger_shim(loaded.get_pipe("ita_ner").model)
    assert shim.settings["freeze_word_embeddings"] is True
    assert not shim._model.encoder.get_input_embeddings().weight.requires_grad
    assert [e.text for e in loaded("I love Obama so much").ents] == [e.text for e in nlp("I love Obama so much").ents]
