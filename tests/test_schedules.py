"""The measured training schedules: one owner (spacy_ita/schedules.py) for the benchmark and the workflow."""

from argparse import Namespace
from pathlib import Path

import pytest
import spacy
from spacy.tokens import DocBin

from spacy_ita.schedules import DATASET_EPOCHS, corpus_schedule, linear_schedule, steps_per_epoch

REPO = Path(__file__).resolve().parent.parent


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
    from benchmarks.systems import DATASETS, epochs_for

    default = Namespace(epochs=None)
    assert epochs_for(default, "twitter2017") == DATASET_EPOCHS["twitter2017"] == 10
    assert epochs_for(default, "twitter2015") == DATASET_EPOCHS["twitter2015"] == 3
    assert set(DATASETS) <= set(DATASET_EPOCHS)  # the workflow trains every benchmark dataset alike
    assert epochs_for(Namespace(epochs=1), "twitter2017") == 1  # --epochs (and quick/smoke) win


def corpus(tmp_path, n: int) -> Path:
    nlp = spacy.blank("en")
    path = tmp_path / "train.spacy"
    DocBin(docs=[nlp.make_doc(f"post {i}") for i in range(n)]).to_disk(path)
    return path


def run_workflow_train(tmp_path, monkeypatch, dataset: str, *extra: str):
    """`python -m spacy_ita train` (the workflow's train step) with `spacy train` replaced by a
    recorder: the overrides it gets."""
    import spacy.cli.train
    from typer.testing import CliRunner

    from spacy_ita.cli import app, register_commands

    register_commands()
    seen = {}
    monkeypatch.setattr(spacy.cli.train, "train", lambda config, output, use_gpu, overrides: seen.update(overrides))
    train = corpus(tmp_path, 33)  # 3 batches of 16 (configs/ita.cfg) an epoch
    args = ["train", str(REPO / "configs" / "ita.cfg"), "--output", str(tmp_path / "out")]
    args += ["--paths.train", str(train), "--paths.dev", str(train)]
    result = CliRunner().invoke(app, args + ["--dataset", dataset, *extra])
    assert result.exit_code == 0, result.output
    return seen


def test_the_workflow_sizes_the_schedule_to_the_train_split(tmp_path, monkeypatch):
    seen = run_workflow_train(tmp_path, monkeypatch, "twitter2017")
    assert {k: seen[k] for k in linear_schedule(10, 3)} == linear_schedule(10, 3)
    seen = run_workflow_train(tmp_path, monkeypatch, "twitter2015")
    assert seen["training.max_epochs"] == 3 and seen["training.optimizer.learn_rate.total_steps"] == 9


def test_a_users_epoch_count_resizes_the_whole_schedule(tmp_path, monkeypatch):
    """--training.max_epochs alone must not leave the decay sized for the default epochs
    (it ended at 78% of the peak rate); an explicit total_steps still wins."""
    seen = run_workflow_train(tmp_path, monkeypatch, "twitter2017", "--training.max_epochs", "4")
    assert {k: seen[k] for k in linear_schedule(4, 3)} == linear_schedule(4, 3)
    seen = run_workflow_train(
        tmp_path,
        monkeypatch,
        "mydata",
        "--training.max_epochs",
        "2",
        "--training.optimizer.learn_rate.total_steps",
        "7",
    )
    assert seen["training.max_epochs"] == 2 and seen["training.optimizer.learn_rate.total_steps"] == 7


def test_the_schedule_command_prints_the_overrides_for_spacy_train(tmp_path):
    from typer.testing import CliRunner

    from spacy_ita.cli import app, register_commands

    register_commands()
    train = corpus(tmp_path, 33)
    config = str(REPO / "configs" / "ita.cfg")
    result = CliRunner().invoke(app, ["schedule", str(train), "--epochs", "10", "--config", config])
    assert result.exit_code == 0, result.output
    assert result.output.split() == [x for k, v in linear_schedule(10, 3).items() for x in (f"--{k}", str(v))]
    by_dataset = CliRunner().invoke(app, ["schedule", str(train), "--dataset", "twitter2017", "--config", config])
    assert by_dataset.output == result.output
    for bad in (["--dataset", "nope"], []):
        failed = CliRunner().invoke(app, ["schedule", str(train), "--config", config, *bad])
        assert failed.exit_code == 2
    assert corpus_schedule(10, train, config) == linear_schedule(10, 3)


def test_the_schedule_command_counts_any_corpus_spacy_train_reads_and_names_a_bad_one(tmp_path):
    """A folder of .spacy files and an MNER .txt are corpora `spacy train` reads with
    configs/ita.cfg; a corpus it cannot count is TRAIN's fault, not the config's."""
    from typer.testing import CliRunner

    from spacy_ita.cli import app, register_commands
    from spacy_ita.data import MNERRecord, write_mner
    from spacy_ita.schedules import count_train_docs

    register_commands()
    folder = tmp_path / "corpus"
    folder.mkdir()
    corpus(folder, 20)
    (folder / "train.spacy").rename(folder / "a.spacy")
    corpus(folder, 13)
    assert count_train_docs(folder) == 33
    mner = tmp_path / "train.txt"
    write_mner([MNERRecord(image_id=str(i), tokens=["post", str(i)], tags=["O", "O"]) for i in range(33)], mner)
    assert count_train_docs(mner) == 33
    config = str(REPO / "configs" / "ita.cfg")
    for train in (folder, mner):
        result = CliRunner().invoke(app, ["schedule", str(train), "-e", "10", "--config", config])
        assert result.exit_code == 0, result.output
        assert "--training.optimizer.learn_rate.total_steps 30" in result.output
    empty = tmp_path / "empty"
    empty.mkdir()
    for bad in (empty, tmp_path / "a.spacy"):
        bad.touch() if bad.suffix else None
        result = CliRunner().invoke(app, ["schedule", str(bad), "-e", "3", "--config", config])
        assert result.exit_code == 2 and "TRAIN" in result.output and "--config" not in result.output


def test_the_demo_trains_its_short_schedule_and_a_plain_run_the_config_as_written(tmp_path, monkeypatch):
    from spacy_ita.schedules import DEMO_OVERRIDES

    seen = run_workflow_train(tmp_path, monkeypatch, "demo")
    assert {k: seen[k] for k in DEMO_OVERRIDES} == DEMO_OVERRIDES
    seen = run_workflow_train(tmp_path, monkeypatch, "mydata", "--system.seed", "3")
    assert "training.max_epochs" not in seen and seen["system.seed"] == 3
    seen = run_workflow_train(tmp_path, monkeypatch, "mydata", "--epochs", "2")
    assert {k: seen[k] for k in linear_schedule(2, 3)} == linear_schedule(2, 3)


def test_train_names_a_missing_train_corpus(tmp_path):
    from typer.testing import CliRunner

    from spacy_ita.cli import app, register_commands

    register_commands()
    result = CliRunner().invoke(app, ["train", str(REPO / "configs" / "ita.cfg"), "--epochs", "2"])
    assert result.exit_code == 1 and "--paths.train" in result.output
