"""The measured training schedules: one owner (spacy_ita/schedules.py) for the benchmark and the workflow."""

import importlib.util
import sys
from argparse import Namespace
from pathlib import Path

import pytest
import spacy
from spacy.tokens import DocBin

from spacy_ita.schedules import DATASET_EPOCHS, linear_schedule, steps_per_epoch

REPO = Path(__file__).resolve().parent.parent


def load_script(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_linear_schedule_warms_up_a_tenth_and_evaluates_once_an_epoch():
    assert steps_per_epoch(3373, 16) == 211  # Twitter-2017 train
    assert linear_schedule(10, 211) == {
        "training.max_epochs": 10,
        "training.max_steps": 0,
        "training.eval_frequency": 211,
        "training.optimizer.learn_rate.total_steps": 2110,
        "training.optimizer.learn_rate.warmup_steps": 211,
    }
    assert linear_schedule(1, 2)["training.optimizer.learn_rate.warmup_steps"] == 1  # never 0
    with pytest.raises(ValueError, match="at least one epoch"):
        linear_schedule(0, 211)


def test_the_benchmark_trains_each_dataset_with_its_schedule():
    sys.path.insert(0, str(REPO / "benchmarks"))
    try:
        from bench_systems import DEFAULT_EPOCHS, epochs_for
    finally:
        sys.path.remove(str(REPO / "benchmarks"))
    default = Namespace(epochs=None)
    assert epochs_for(default, "twitter2017") == DATASET_EPOCHS["twitter2017"] == 10
    assert epochs_for(default, "twitter2015") == DEFAULT_EPOCHS == 3
    assert epochs_for(Namespace(epochs=1), "twitter2017") == 1  # --epochs (and quick/smoke) win


def test_the_workflow_sizes_the_schedule_to_the_train_split(tmp_path):
    sys.path.insert(0, str(REPO / "scripts"))
    try:
        script = load_script(REPO / "scripts" / "train_pipeline.py", "train_pipeline_under_test")
    finally:
        sys.path.remove(str(REPO / "scripts"))
    nlp = spacy.blank("en")
    train = tmp_path / "train.spacy"
    DocBin(docs=[nlp.make_doc(f"post {i}") for i in range(33)]).to_disk(train)
    schedule = script.dataset_schedule("twitter2017", REPO / "configs" / "ita.cfg", train)
    assert schedule == linear_schedule(10, 3)  # 33 posts in batches of 16 (configs/ita.cfg)
    assert schedule["training.optimizer.learn_rate.total_steps"] == 30
