"""The shipped configs build as documented (no training: construction only)."""

from pathlib import Path

import pytest
import spacy
from spacy.util import load_config

from spacy_ita.resources import resolve_model

from tiny_config import TINY_OVERRIDES

CONFIGS = Path(__file__).resolve().parent.parent / "configs"
NO_DATA = {"paths.train": "train.spacy", "paths.dev": "dev.spacy"}  # read lazily: never opened here


def transformer_name(overrides):
    config = load_config(CONFIGS / "trf_ner.cfg", overrides={**NO_DATA, **overrides})
    nlp = spacy.util.load_model_from_config(config, auto_fill=True)
    return nlp.get_pipe("transformer").model.attrs["name"]


@pytest.mark.parametrize(
    "overrides, expected",
    [
        ({}, resolve_model("all-MiniLM-L6-v2")),
        ({"components.transformer.model.name.name": "tiny-bert-2l"}, resolve_model("tiny-bert-2l")),
        # What benchmarks/bench_real_data.py passes: a directory replaces the whole block.
        ({"components.transformer.model.name": "/some/weights"}, "/some/weights"),
    ],
)
def test_trf_ner_resolves_its_encoder_name_to_the_installed_weights(overrides, expected):
    assert transformer_name(overrides) == expected


def flatten(section, prefix=""):
    """{"a.b.c": value} for every leaf of a config."""
    leaves = {}
    for key, value in section.items():
        if isinstance(value, dict):
            leaves.update(flatten(value, f"{prefix}{key}."))
        else:
            leaves[f"{prefix}{key}"] = value
    return leaves


def test_the_tiny_variant_is_ita_cfg_with_its_overrides_only():
    full = flatten(load_config(CONFIGS / "ita.cfg", interpolate=False))
    # load_config raises on an override for a key ita.cfg does not have.
    tiny = flatten(load_config(CONFIGS / "ita.cfg", overrides=TINY_OVERRIDES, interpolate=False))
    assert set(tiny) == set(full)
    assert {key for key in full if tiny[key] != full[key]} == set(TINY_OVERRIDES)
    assert tiny["components.ita_ner.model.encoder"] == "tiny-bert-2l"
    nlp = spacy.util.load_model_from_config(load_config(CONFIGS / "ita.cfg", overrides={**NO_DATA, **TINY_OVERRIDES}))
    assert nlp.pipe_names == ["ita_ner"]


def test_a_misspelled_model_name_is_an_error_that_names_the_right_one(tmp_path):
    """Every model a config names goes through resolve_model: a near miss of a short name
    fails there, naming it, instead of becoming a hub download that fails offline."""
    from spacy_ita.resources import check_model_name, short_names

    for typo, meant in (("multilingual-e5-smal", "multilingual-e5-small"), ("all-MiniLM-L6-v3", "all-MiniLM-L6-v2")):
        with pytest.raises(ValueError, match=f"did you mean '{meant}'"):
            resolve_model(typo)
    for fine in ("microsoft/git-base", "Salesforce/blip2-opt-2.7b", str(tmp_path), *short_names()):
        check_model_name(fine)  # hub names, folders and our own names pass
    from spacy_ita.resources import ENCODERS, check_encoder_name

    with pytest.raises(ValueError, match="'yolov10n' is not a text encoder"):
        check_encoder_name("yolov10n")  # a detector's short name as an encoder
    for encoder in ENCODERS:
        check_encoder_name(encoder)


def test_an_encoder_that_cannot_load_says_what_names_work(tmp_path):
    """An existing folder without a model (or, offline, a hub name) fails at initialize with
    the encoder's name and the short names, not only transformers' message."""
    from spacy_ita.resources import MissingModelError

    from reliability_support import make_examples

    nlp = spacy.blank("en")
    nlp.add_pipe("ita_ner", config={"model": {"encoder": str(tmp_path)}})
    with pytest.raises(MissingModelError, match="cannot load the encoder .*all-MiniLM-L6-v2"):
        nlp.initialize(lambda: make_examples(nlp, 2))
