"""Shared by the tests/test_reliability_*.py modules: one tiny trained ita_ner per
test session (training it is the slow part), handed out as fresh copies."""

import functools
import random

import spacy
import torch
from spacy.tokens import Doc, Span
from spacy.training import Example

import spacy_ita  # noqa: F401

NAMES = {
    "Obama": "PER",
    "Paris": "LOC",
    "Google": "ORG",
    "Messi": "PER",
    "London": "LOC",
    "Apple": "ORG",
    "Trump": "PER",
    "Berlin": "LOC",
}
TEMPLATE = ["RT", "@user", ":", "I", "love", None, "so", "much", "#", "fun"]
CONTEXT = {
    "caption": "a photo of a man in a city",
    "objects": [{"label": "person", "count": 1, "score": 0.9}],
    "ocr": ["NEWS"],
}


def tiny_nlp(**config) -> spacy.Language:
    nlp = spacy.blank("en")
    nlp.add_pipe("ita_ner", config={"model": {"encoder": "tiny-bert-2l", "max_length": 64}, **config})
    return nlp


def make_examples(nlp, n: int = 20):
    """Template posts, one name each; every other one carries a visual context."""
    examples = []
    for i in range(n):
        name = list(NAMES)[i % len(NAMES)]
        words = [w or name for w in TEMPLATE]
        reference = Doc(nlp.vocab, words=words)
        reference.ents = [Span(reference, 5, 6, NAMES[name])]
        predicted = Doc(nlp.vocab, words=words)
        context = dict(CONTEXT, caption=f"a photo of {name}") if i % 2 else None
        reference._.visual_context = predicted._.visual_context = context
        examples.append(Example(predicted, reference))
    return examples


@functools.lru_cache(maxsize=1)
def _trained_bytes(epochs: int = 20, seed: int = 0) -> bytes:
    random.seed(seed)
    torch.manual_seed(seed)
    nlp = tiny_nlp()
    examples = make_examples(nlp)
    optimizer = nlp.initialize(lambda: examples)
    optimizer.learn_rate = 2e-3
    for _ in range(epochs):
        random.shuffle(examples)
        for start in range(0, len(examples), 5):
            nlp.update(examples[start : start + 5], sgd=optimizer)
    return nlp.to_bytes()


def trained_nlp() -> spacy.Language:
    """A fresh copy of the tiny model trained once per session on the template posts."""
    return tiny_nlp().from_bytes(_trained_bytes())


def ents(doc):
    return [(e.start, e.end, e.label_) for e in doc.ents]
