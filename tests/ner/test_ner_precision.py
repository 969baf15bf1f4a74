"""ita_ner's `precision`: bf16 autocast of the encoder against fp32, on a real batch.

The agreement test trains all-MiniLM-L6-v2 briefly on real Twitter-2017 posts
with their real contexts (BLIP-2 captions, GPT-4 descriptions, PGIM knowledge),
in bf16, then reads 64 valid posts in both precisions. Measured when it was
written (Intel Xeon with AMX-BF16): the same entities on 64 of 64 posts, the CRF
marginals at most 0.006 apart (mean 4e-5); the stated tolerance is 0.02.
"""

import random

import pytest
import spacy
import srsly
import torch
from safetensors.torch import load as load_safetensors

import spacy_ita  # noqa: F401
from spacy_ita.data.corpus import create_mner_corpus
from spacy_ita.ner.architecture import tagger_shim
from spacy_ita.ner.precision import PRECISIONS, check_precision, encoder_autocast, resolve_precision

from reliability_support import make_examples, tiny_nlp

MARGINAL_TOLERANCE = 0.02
TRAIN_POSTS, DEV_POSTS = 320, 64


def test_unknown_precision_is_refused_naming_the_choices():
    with pytest.raises(ValueError, match="precision must be one of .*'fp16'"):
        check_precision("fp16")
    with pytest.raises(Exception, match="precision must be one of"):
        tiny_nlp(precision="fp16")


def test_auto_follows_the_hardware_and_forced_settings_do_not(monkeypatch):
    import spacy_ita.ner.precision as precision

    monkeypatch.setattr(precision, "native_bf16", lambda device_type: True)
    assert resolve_precision("auto", "cpu") == "bf16"
    assert resolve_precision("fp32", "cpu") == "fp32"
    monkeypatch.setattr(precision, "native_bf16", lambda device_type: False)
    assert resolve_precision("auto", "cpu") == "fp32"
    with pytest.warns(UserWarning, match="emulated"):
        assert resolve_precision("bf16", "cpu") == "bf16"


@pytest.mark.parametrize("setting, dtype", [("bf16", torch.bfloat16), ("fp32", torch.float32)])
def test_only_the_encoder_computes_in_bf16(setting, dtype):
    """The encoder's matrix products are bf16 under "bf16" (its LayerNorms stay fp32 in autocast,
    so its last hidden state is fp32 either way); what the head and the loss read is fp32."""
    nlp = tiny_nlp(precision=setting)
    nlp.initialize(lambda: make_examples(nlp, 2))
    pipe = nlp.get_pipe("ita_ner")
    module = tagger_shim(pipe.model)._model
    seen = {}
    first_linear = next(m for m in module.encoder.modules() if isinstance(m, torch.nn.Linear))
    first_linear.register_forward_hook(lambda mod, args, out: seen.update(hidden=out.dtype))
    view = tagger_shim(pipe.model).view_encoder.encode([["Obama", "in", "Paris"]], [None], device=torch.device("cpu"))
    emissions = module.emissions(view)
    assert seen["hidden"] == dtype
    assert emissions.dtype == torch.float32
    assert pipe.compute_precision == setting
    with encoder_autocast("fp32", torch.device("cpu")):
        assert not torch.is_autocast_enabled("cpu")


def read(nlp, docs):
    return [[(e.start, e.end, e.label_) for e in doc.ents] for doc in nlp.pipe([d.copy() for d in docs])]


def marginals(pipe, docs) -> torch.Tensor:
    """The CRF marginals [docs, words, tags] of `docs` read as `pipe` reads them."""
    shim = tagger_shim(pipe.model)
    module = shim._model
    module.eval()
    view = shim.view_encoder.encode(
        [[t.text for t in doc] for doc in docs], [pipe.read_with(doc) for doc in docs], device=torch.device("cpu")
    )
    with torch.no_grad():
        return module.head.log_marginals(module.emissions(view), view.word_mask).exp()


@pytest.fixture(scope="module")
def trained_bf16(shared_data, tmp_path_factory):
    """MiniLM ITA trained in bf16 on 320 real posts (2 epochs), saved; and 64 valid posts."""
    contexts = [
        str(shared_data / "contexts" / name)
        for name in ("blip2-captions.jsonl", "gpt4-descriptions-twitter2017.jsonl", "pgim-knowledge/twitter2017")
    ]
    reader = lambda split, limit: list(  # noqa: E731
        create_mner_corpus(str(shared_data / "twitter2017" / f"{split}.txt"), limit=limit, contexts=contexts)(
            spacy.blank("en")
        )
    )
    train, dev = reader("train", TRAIN_POSTS), reader("valid", DEV_POSTS)
    random.seed(0)
    torch.manual_seed(0)
    nlp = spacy.blank("en")
    model = {"encoder": "all-MiniLM-L6-v2"}  # the figures of the module docstring
    nlp.add_pipe("ita_ner", config={"precision": "bf16", "temperature": 2.0, "model": model})
    optimizer = nlp.initialize(lambda: train)
    optimizer.learn_rate = 1e-4  # constant: the config's warm-up would spend these few steps near 0
    for _ in range(2):
        for start in range(0, len(train), 16):
            nlp.update(train[start : start + 16], sgd=optimizer)
    path = tmp_path_factory.mktemp("precision") / "bf16-trained"
    nlp.to_disk(path)
    return path, [example.predicted for example in dev]


def test_bf16_and_fp32_read_a_real_batch_alike(trained_bf16):
    path, docs = trained_bf16
    nlp = spacy.load(path)
    pipe = nlp.get_pipe("ita_ner")
    assert pipe.precision == "bf16"
    assert sum(bool(pipe.read_with(doc)) for doc in docs) > DEV_POSTS // 2  # the cross view is read too
    entities, probs = {}, {}
    for setting in ("bf16", "fp32"):
        pipe.precision = setting
        entities[setting], probs[setting] = read(nlp, docs), marginals(pipe, docs)
    assert sum(map(len, entities["fp32"])) > 20  # a model that finds entities, not an empty agreement
    assert entities["bf16"] == entities["fp32"]
    assert (probs["bf16"] - probs["fp32"]).abs().max().item() <= MARGINAL_TOLERANCE


def test_a_pipeline_trained_in_bf16_loads_in_fp32_with_fp32_weights(trained_bf16):
    path, docs = trained_bf16
    trained = spacy.load(path)
    fp32 = spacy.load(path, config={"components": {"ita_ner": {"precision": "fp32"}}})
    assert fp32.get_pipe("ita_ner").precision == "fp32"
    assert fp32.get_pipe("ita_ner").compute_precision == "fp32"
    trained.get_pipe("ita_ner").precision = "fp32"
    assert read(fp32, docs) == read(trained, docs)
    # The weights on disk are fp32 whatever the training precision (the message written by ITATaggerShim).
    config = spacy.util.load_config(path / "config.cfg")  # the saved setting is the user's, not the machine's
    assert config["components"]["ita_ner"]["precision"] == "bf16"
    shim = tagger_shim(fp32.get_pipe("ita_ner").model)
    weights = load_safetensors(bytes(srsly.msgpack_loads(shim.to_bytes())["weights"]))
    assert {tensor.dtype for tensor in weights.values()} == {torch.float32}


@pytest.mark.parametrize("setting", PRECISIONS)
def test_a_pipeline_saved_in_one_precision_takes_the_loading_setting(setting, tmp_path):
    nlp = tiny_nlp(precision="fp32")
    nlp.initialize(lambda: make_examples(nlp, 2))
    nlp.to_disk(tmp_path / "model")
    loaded = spacy.load(tmp_path / "model", config={"components": {"ita_ner": {"precision": setting}}})
    assert loaded.get_pipe("ita_ner").precision == setting
    doc = loaded("Obama visits Paris")
    assert doc[0].ent_iob_ in ("B", "O")  # read: every token tagged


@pytest.mark.parametrize("setting", ["bf16", "fp32"])
def test_reading_in_chunks_reads_a_real_batch_as_one_call(trained_bf16, setting):
    """`encoder_chunk_rows` (the encoder reads rows longest first, 16 a call) against one call
    padded to the batch's longest row: 64 real posts, most with every kind of context."""
    path, docs = trained_bf16
    nlp = spacy.load(path, config={"components": {"ita_ner": {"precision": setting}}})
    pipe = nlp.get_pipe("ita_ner")
    module = tagger_shim(pipe.model)._model
    assert module.rows_per_chunk == 16
    entities, probs = {}, {}
    for rows in (16, 0):
        module.rows_per_chunk = rows
        entities[rows] = read(nlp, docs)  # nlp.pipe's batches of 32: two chunks each
        probs[rows] = marginals(pipe, docs)
    assert entities[16] == entities[0]
    tolerance = MARGINAL_TOLERANCE if setting == "bf16" else 1e-4
    assert (probs[16] - probs[0]).abs().max().item() <= tolerance
