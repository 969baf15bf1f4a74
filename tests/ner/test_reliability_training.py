"""Training data the pipeline meets in the wild: DocBins without visual contexts,
labels that only the dev set knows, and `spacy train` reproducibility."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from spacy.tokens import Doc, DocBin, Span

from spacy_ita.data import create_mner_corpus

from reliability_support import CONTEXT, NAMES, TEMPLATE, tiny_nlp
from tiny_config import tiny_config_args

DEV_ONLY = {"Tesla": "MISC"}  # a label the training set never shows


def post(vocab, name, label, context):
    doc = Doc(vocab, words=[w or name for w in TEMPLATE])
    doc.ents = [Span(doc, 5, 6, label)]
    doc._.image_id = f"img-{name}"
    doc._.visual_context = context
    return doc


def write_docbin(path, names, vocab, with_context=True, store_user_data=True):
    doc_bin = DocBin(store_user_data=store_user_data)
    for i, (name, label) in enumerate(names.items()):
        context = dict(CONTEXT, caption=f"a photo of {name}") if with_context and i % 2 else None
        doc_bin.add(post(vocab, name, label, context))
    doc_bin.to_disk(path)
    return path


@pytest.mark.parametrize("store_user_data", [True, False])
def test_docbin_without_visual_context_trains_the_text_view(tmp_path, store_user_data):
    nlp = tiny_nlp()
    path = write_docbin(tmp_path / "train.spacy", NAMES, nlp.vocab, with_context=False, store_user_data=store_user_data)
    examples = list(create_mner_corpus(path)(nlp))
    assert len(examples) == len(NAMES) and all(eg.predicted._.visual_context is None for eg in examples)
    optimizer = nlp.initialize(lambda: examples)
    losses = {}
    for _ in range(2):
        nlp.update(examples, sgd=optimizer, losses=losses)
    assert losses["ita_ner_text_nll"] > 0
    assert losses["ita_ner_cross_nll"] == 0.0 and losses["ita_ner_kl"] == 0.0
    assert nlp.evaluate(examples)["ents_f"] is not None


def test_label_seen_only_in_dev_is_scored_as_missed_not_a_crash(tmp_path):
    nlp = tiny_nlp()
    train = list(create_mner_corpus(write_docbin(tmp_path / "train.spacy", NAMES, nlp.vocab))(nlp))
    dev_names = {"Obama": "PER", **DEV_ONLY}
    dev = list(create_mner_corpus(write_docbin(tmp_path / "dev.spacy", dev_names, nlp.vocab))(nlp))
    optimizer = nlp.initialize(lambda: train)
    assert "MISC" not in nlp.get_pipe("ita_ner").labels
    nlp.update(train + dev, sgd=optimizer)  # a dev label in a training batch counts as unannotated
    scores = nlp.evaluate(dev)
    assert scores["ents_per_type"]["MISC"]["r"] == 0.0  # the gold MISC entity is a miss
    assert 0.0 <= scores["ents_f"] <= 1.0


def spacy_train(output: Path, train: Path, dev: Path, steps: int) -> subprocess.Popen:
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONHASHSEED="0")
    command = [
        sys.executable,
        "-m",
        "spacy",
        "train",
        *tiny_config_args(),
        "--output",
        str(output),
        "--paths.train",
        str(train),
        "--paths.dev",
        str(dev),
        "--training.max_steps",
        str(steps),
        "--training.eval_frequency",
        "2",
        "--training.batcher.size",
        "4",
    ]
    return subprocess.Popen(
        command, cwd=output.parent, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


def score_rows(log: str):
    """The rows of spaCy's training table: epoch, step, loss and scores (no timings)."""
    return [line.split() for line in log.splitlines() if line.strip()[:1].isdigit() and len(line.split()) >= 6]


def test_spacy_train_twice_with_one_seed_gives_identical_scores(tmp_path):
    nlp = tiny_nlp()
    train = write_docbin(tmp_path / "train.spacy", NAMES, nlp.vocab)
    dev = write_docbin(tmp_path / "dev.spacy", {"Obama": "PER", "Paris": "LOC", **DEV_ONLY}, nlp.vocab)
    runs = [spacy_train(tmp_path / f"run{i}", train, dev, steps=4) for i in range(2)]  # side by side
    logs = [run.communicate(timeout=300)[0] for run in runs]
    for run, log in zip(runs, logs):
        assert run.returncode == 0, log[-3000:]
    rows = [score_rows(log) for log in logs]
    assert len(rows[0]) >= 3 and rows[0] == rows[1], "\n".join(logs)
    performance = [
        json.loads((tmp_path / f"run{i}" / "model-best" / "meta.json").read_text())["performance"] for i in range(2)
    ]
    assert performance[0] == performance[1]
    assert "ents_f" in performance[0]
