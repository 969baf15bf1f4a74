"""One pipeline served from several threads (a web server) predicts exactly as
when called sequentially: no dropout at inference, whatever else is in flight."""

import threading
from concurrent.futures import ThreadPoolExecutor

import torch

from spacy_ita import make_doc
from spacy_ita.ner.architecture import tagger_shim

from reliability_support import CONTEXT, trained_nlp

NAMES = ("Obama", "Paris", "Google", "Messi", "Trump", "London", "Miami", "Apple")
TEXTS = [f"RT @user : I love {name} so much # fun" for name in NAMES] + [
    f"{a} and {b} in {c} tonight" for a, b, c in zip(NAMES, NAMES[3:] + NAMES[:3], NAMES[5:] + NAMES[:5])
]
THREADS = 4


def with_dropout(nlp, p=0.5):
    """Dropout large enough that one forward pass in training mode changes the output."""
    module = tagger_shim(nlp.get_pipe("ita_ner").model)._model
    for layer in module.modules():
        if isinstance(layer, torch.nn.Dropout):
            layer.p = p
        if hasattr(layer, "dropout_prob"):  # BERT's attention dropout is an attribute
            layer.dropout_prob = p
    return nlp


def prediction(nlp, i):
    """Tags and confidences of post i (every other one with a visual context)."""
    doc = nlp(make_doc(nlp, TEXTS[i], visual_context=CONTEXT if i % 2 else None))
    return [(e.start, e.end, e.label_, e._.confidence) for e in doc.ents], [t.ent_iob_ for t in doc]


def test_four_threads_predict_exactly_as_sequential_calls():
    nlp = with_dropout(trained_nlp())
    sequential = [prediction(nlp, i) for i in range(len(TEXTS))]
    assert sequential == [prediction(nlp, i) for i in range(len(TEXTS))]  # deterministic alone
    start = threading.Barrier(THREADS)

    def worker(offset):
        start.wait()  # all four in flight together
        return [(i, prediction(nlp, i)) for i in [*range(offset, len(TEXTS)), *range(offset)]]

    with ThreadPoolExecutor(THREADS) as pool:
        results = list(pool.map(worker, range(THREADS)))
    differing = {i for thread in results for i, got in thread if got != sequential[i]}
    assert not differing, f"{len(differing)} of {len(TEXTS)} docs differ from sequential calls"
