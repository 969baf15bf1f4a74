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
