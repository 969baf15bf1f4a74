"""A saved ita_ner keeps its weights as a safetensors blob, and loading a model
directory never unpickles: tampered weights fail with a clear error and the
payload never runs."""

import io
import json
import pickle
import struct
from pathlib import Path

import pytest
import spacy
import srsly
import torch
from safetensors.torch import load as load_safetensors
from safetensors.torch import save as save_safetensors

from reliability_support import make_examples, trained_nlp


class Payload:
    """Unpickling this creates `marker`: proof that code ran."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    nlp = trained_nlp()
    path = tmp_path_factory.mktemp("saved") / "model"
    nlp.to_disk(path)
    return nlp, path


def shim_message(model_file: Path):
    outer = srsly.msgpack_loads(model_file.read_bytes())
    ((shim_bytes,),) = outer["shims"]  # one node, one shim
    return outer, srsly.msgpack_loads(shim_bytes)


def write_shim_message(model_file: Path, outer, inner) -> None:
    outer["shims"] = [[srsly.msgpack_dumps(inner)]]
    model_file.write_bytes(srsly.msgpack_dumps(outer))


def copy_model(path: Path, tmp_path: Path) -> Path:
    import shutil

    return Path(shutil.copytree(path, tmp_path / "copy"))


def test_saved_weights_are_a_safetensors_blob_not_a_pickle(saved):
    nlp, path = saved
    model_file = path / "ita_ner" / "model"
    raw = model_file.read_bytes()
    assert not raw.startswith(b"\x80") and not raw.startswith(b"PK\x03\x04")  # neither pickle nor torch.save zip
    _, inner = shim_message(model_file)
    blob = bytes(inner["weights"])
    header_length = struct.unpack("<Q", blob[:8])[0]
    header = json.loads(blob[8 : 8 + header_length])  # safetensors: a JSON header, then raw tensor bytes
    state = nlp.get_pipe("ita_ner").model.shims[0]._model.state_dict()
    assert set(header) - {"__metadata__"} == set(state)
    loaded = load_safetensors(blob)
    assert all(torch.equal(loaded[name], tensor.cpu()) for name, tensor in state.items())


def test_pickle_payload_is_live(tmp_path):
    """Control: the payload used below does run when something unpickles it."""
    marker = tmp_path / "ran"
    pickle.loads(pickle.dumps(Payload(marker)))
    assert marker.exists()


def torch_saved_payload(marker: Path) -> bytes:
    buffer = io.BytesIO()
    torch.save({"emission.weight": Payload(marker)}, buffer)
    return buffer.getvalue()


@pytest.mark.parametrize("form", ["pickle", "torch.save"])
def test_pickled_weights_are_refused_without_running_them(saved, tmp_path, form):
    _, path = saved
    marker = tmp_path / "pwned"
    model_file = copy_model(path, tmp_path) / "ita_ner" / "model"
    outer, inner = shim_message(model_file)
    inner["weights"] = pickle.dumps(Payload(marker)) if form == "pickle" else torch_saved_payload(marker)
    write_shim_message(model_file, outer, inner)
    with pytest.raises(ValueError, match="not a valid safetensors blob; refusing to load"):
        spacy.load(model_file.parent.parent)
    assert not marker.exists()


def test_model_file_replaced_by_a_pickle_is_refused_without_running_it(saved, tmp_path):
    _, path = saved
    marker = tmp_path / "pwned"
    model_file = copy_model(path, tmp_path) / "ita_ner" / "model"
    model_file.write_bytes(pickle.dumps(Payload(marker)))
    with pytest.raises(ValueError, match="ita_ner: cannot load the saved component from .*nothing is ever unpickled"):
        spacy.load(model_file.parent.parent)
    assert not marker.exists()


def rewrite_weights(model_file: Path, edit) -> None:
    """Save `edit(state)` as the weights, in the safetensors form spacy-ita writes."""
    outer, inner = shim_message(model_file)
    inner["weights"] = save_safetensors(edit(load_safetensors(bytes(inner["weights"]))))
    write_shim_message(model_file, outer, inner)


def test_unexpected_weight_keys_are_dropped_with_a_warning(saved, tmp_path):
    """A model saved under another `transformers` version may carry buffers this one lacks."""
    nlp, path = saved
    model_file = copy_model(path, tmp_path) / "ita_ner" / "model"
    rewrite_weights(model_file, lambda state: {**state, "encoder.embeddings.position_ids": torch.arange(64)[None]})
    with pytest.warns(UserWarning, match="Ignoring 1 saved ita_ner tensor.*encoder.embeddings.position_ids"):
        loaded = spacy.load(model_file.parent.parent)
    expected = nlp.get_pipe("ita_ner").model.shims[0]._model.state_dict()
    got = loaded.get_pipe("ita_ner").model.shims[0]._model.state_dict()
    assert set(got) == set(expected) and all(torch.equal(got[k].cpu(), expected[k].cpu()) for k in expected)


def test_missing_weight_keys_still_fail(saved, tmp_path):
    _, path = saved
    model_file = copy_model(path, tmp_path) / "ita_ner" / "model"
    dropped = "emission.weight"
    rewrite_weights(model_file, lambda state: {k: v for k, v in state.items() if k != dropped})
    with pytest.raises(RuntimeError, match=f"Missing key.*{dropped}"):
        spacy.load(model_file.parent.parent)


def test_pipeline_saved_with_the_unversioned_head_name_loads_and_scores_the_same(saved, tmp_path):
    """Pipelines of the first release stored `head = "crf"` (config and model settings)."""
    nlp, path = saved
    copy = copy_model(path, tmp_path)
    model_file = copy / "ita_ner" / "model"
    outer, inner = shim_message(model_file)
    assert inner["settings"]["head"] == "spacy_ita.crf.v1"
    inner["settings"]["head"] = "crf"
    write_shim_message(model_file, outer, inner)
    config = (copy / "config.cfg").read_text(encoding="utf8")
    assert 'head = "spacy_ita.crf.v1"' in config
    (copy / "config.cfg").write_text(config.replace('head = "spacy_ita.crf.v1"', 'head = "crf"'), encoding="utf8")
    with pytest.warns(DeprecationWarning, match='head "crf" is deprecated'):
        old = spacy.load(copy)
    examples = make_examples(nlp, 8)
    docs = [eg.predicted for eg in examples]
    predicted = [[(e.start, e.end, e.label_, e._.confidence) for e in doc.ents] for doc in nlp.pipe(docs)]
    assert [[(e.start, e.end, e.label_, e._.confidence) for e in doc.ents] for doc in old.pipe(docs)] == predicted
    assert old.evaluate(examples)["ents_f"] == nlp.evaluate(examples)["ents_f"]
