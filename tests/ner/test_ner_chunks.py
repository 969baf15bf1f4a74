"""The encoder reads a view's rows longest first in chunks (`encoder_chunk_rows`, issue #29):
the same hidden states at every real position as one call padded to the longest row,
gradients included; pipelines saved before the setting read in chunks of the default."""

import srsly
import torch

import spacy_ita  # noqa: F401
from spacy_ita.ner.architecture import tagger_shim
from spacy_ita.ner.tagger import DEFAULT_ROWS_PER_CHUNK

from reliability_support import make_examples, tiny_nlp

POSTS = [
    ["Obama"],
    ["Obama", "visits", "Paris", "today", "with", "Angela", "Merkel", "and", "the", "press", "corps", "!"],
    ["RT", "@user", ":", "Paris"],
    ["Merkel", "in", "Berlin", "#", "Germany", "and", "elsewhere"],
    ["a", "b"],
]


def built(rows_per_chunk: int):
    torch.manual_seed(0)
    nlp = tiny_nlp(model={"encoder": "tiny-bert-2l", "max_length": 64, "encoder_chunk_rows": rows_per_chunk})
    nlp.initialize(lambda: make_examples(nlp, 4))
    shim = tagger_shim(nlp.get_pipe("ita_ner").model)
    return nlp, shim, shim._model


def test_chunked_rows_give_the_hidden_states_of_one_padded_call():
    _, shim, module = built(2)
    module.eval()
    view = shim.view_encoder.encode(POSTS, [None, "a man at a desk", None, None, None], device=torch.device("cpu"))
    inputs = {"input_ids": view.input_ids, "attention_mask": view.attention_mask, "token_type_ids": view.token_type_ids}
    lengths = view.attention_mask.sum(dim=1)
    assert len(set(lengths.tolist())) > 2  # rows of different lengths, in no sorted order
    with torch.no_grad():
        chunked = module.encode_rows(inputs)
        module.rows_per_chunk = 0
        whole = module.encode_rows(inputs)
    assert chunked.shape == whole.shape
    for row, length in enumerate(lengths.tolist()):
        assert torch.allclose(chunked[row, :length], whole[row, :length], atol=1e-5)


def test_gradients_flow_through_every_chunk():
    _, shim, module = built(2)
    module.train()
    view = shim.view_encoder.encode(POSTS, [None] * len(POSTS), device=torch.device("cpu"))
    module.emissions(view).sum().backward()
    grad = module.encoder.get_input_embeddings().weight.grad
    for post_ids, mask in zip(view.input_ids, view.attention_mask):
        assert grad[post_ids[mask.bool()]].abs().sum(dim=1).gt(0).all()  # every row's subwords got a gradient


def test_one_call_and_chunks_tag_alike():
    entities = {}
    for rows in (0, 2):
        nlp, *_ = built(rows)
        docs = [ex.predicted for ex in make_examples(nlp, 12)]
        entities[rows] = [[(e.start, e.end, e.label_) for e in doc.ents] for doc in nlp.pipe(docs, batch_size=12)]
    assert entities[0] == entities[2]


def test_a_model_saved_without_the_setting_reads_in_default_chunks():
    nlp, shim, _ = built(4)
    message = srsly.msgpack_loads(shim.to_bytes())
    assert message["settings"]["encoder_chunk_rows"] == 4
    del message["settings"]["encoder_chunk_rows"]  # as written before the setting existed
    shim.from_bytes(srsly.msgpack_dumps(message))
    assert shim._model.rows_per_chunk == DEFAULT_ROWS_PER_CHUNK
