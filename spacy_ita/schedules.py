"""Training schedules per dataset, as measured here (BENCHMARKS.md, "Training schedule"):
one owner for the benchmark (benchmarks/systems.py), `python -m spacy_ita train` (the project
workflow's train step) and `python -m spacy_ita schedule`, so that they train a dataset alike.

Every schedule is the one of configs/ita.cfg: `warmup_linear.v1`, a warm-up of
WARMUP_FRACTION of the steps, then linear decay to 0 at the last step; a dataset
listed in DATASET_EPOCHS trains that many epochs, evaluated once an epoch. The demo set
(assets/demo) trains a fixed number of steps instead (DEMO_OVERRIDES): configs/ita.cfg is sized
for Twitter-2015 (~250 steps an epoch, first evaluation at step 250) and the demo has 5 batches
an epoch, so with that schedule its model-best would be the untrained step-0 checkpoint.
"""

import math
from pathlib import Path
from typing import Any, Dict, Mapping, Optional, Tuple, Union

# Twitter-2017: 10 epochs paid +1.8 F1 (ITA, every kind) and +1.3 (the text-only model) over 3
# on valid, seed 0 (issue #23). Twitter-2015: 3 epochs, the schedule of every figure measured on it.
DATASET_EPOCHS: Dict[str, int] = {"twitter2015": 3, "twitter2017": 10}
WARMUP_FRACTION = 0.1
# ~13 epochs of the 72 demo posts: minutes on 2 CPU cores, evaluated every 2 epochs.
DEMO_OVERRIDES: Dict[str, Any] = {
    "training.max_epochs": 0,
    "training.max_steps": 64,
    "training.eval_frequency": 10,
    "training.optimizer.learn_rate.warmup_steps": 6,
    "training.optimizer.learn_rate.total_steps": 64,
    "training.optimizer.learn_rate.initial_rate": 0.0001,
}


def steps_per_epoch(n_train: int, batch_size: int) -> int:
    """Optimizer steps in one pass over `n_train` docs in batches of `batch_size` docs."""
    return math.ceil(n_train / batch_size)


def linear_schedule(epochs: int, steps: int) -> Dict[str, int]:
    """`spacy train` overrides for `epochs` passes of `steps` steps each (`steps_per_epoch`):
    warm-up WARMUP_FRACTION of all steps, decay to 0 at the last, one evaluation per epoch.
    Raises ValueError unless both are positive."""
    if epochs < 1 or steps < 1:
        raise ValueError(f"A schedule needs at least one epoch and one step, not {epochs} and {steps}")
    total = epochs * steps
    return {
        "training.max_epochs": epochs,
        "training.max_steps": 0,
        "training.eval_frequency": steps,
        "training.optimizer.learn_rate.total_steps": total,
        "training.optimizer.learn_rate.warmup_steps": max(1, round(WARMUP_FRACTION * total)),
    }


class CorpusError(ValueError):
    """A training corpus that cannot be counted (the corpus's fault, not the config's)."""


def count_train_docs(train_path: Union[str, Path]) -> int:
    """Docs in a training corpus as `spacy train` reads it: a .spacy DocBin, a folder of them,
    or an MNER text file (`configs/ita.cfg`'s reader takes those too). Raises CorpusError (a
    ValueError) for a path that is none of these, or holds no docs."""
    from spacy.tokens import DocBin
    from spacy.training.corpus import walk_corpus

    path = Path(train_path)
    try:
        if path.is_dir():
            count = sum(len(DocBin().from_disk(f)) for f in walk_corpus(path, ".spacy"))
        elif path.suffix == ".spacy":
            count = len(DocBin().from_disk(path))
        else:
            from .data import read_mner

            count = sum(1 for _ in read_mner(path))
    except (OSError, ValueError) as err:
        raise CorpusError(f"{path} is no training corpus (.spacy, a folder of them, or an MNER .txt): {err}") from err
    if not count:
        raise CorpusError(f"{path} holds no docs to train on")
    return count


def corpus_schedule(epochs: int, train_path: Union[str, Path], config_path: Union[str, Path]) -> Dict[str, int]:
    """`linear_schedule` for `epochs` passes over the corpus at `train_path` (`count_train_docs`)
    in the batches of the config at `config_path` (`[training.batcher] size`, an integer).
    Raises ValueError for a batch size that is no integer (a schedule of sizes) and, from
    `count_train_docs`, CorpusError for a corpus it cannot count."""
    from spacy.util import load_config

    size = load_config(Path(config_path))["training"]["batcher"]["size"]
    if not isinstance(size, int):
        raise ValueError(f"[training.batcher] size of {config_path} is {size!r}: a fixed number of docs is needed")
    return linear_schedule(epochs, steps_per_epoch(count_train_docs(train_path), size))


def training_overrides(
    config_path: Union[str, Path],
    explicit: Mapping[str, Any],
    dataset: Optional[str] = None,
    epochs: Optional[int] = None,
) -> Tuple[Dict[str, Any], str]:
    """The `spacy train` overrides of a run, and a line saying which schedule it got: the
    demo set's DEMO_OVERRIDES; else `epochs` (or `training.max_epochs` among `explicit`, or the
    dataset's DATASET_EPOCHS) passes over the train corpus (`paths.train` of `explicit`, else
    of the config), the whole schedule sized to it (`corpus_schedule`), so a user's epoch
    count also moves the decay's end; else the config as written. `explicit` overrides win
    over all. Raises CorpusError / ValueError as `corpus_schedule` does."""
    from spacy.util import load_config

    from .demo import is_demo

    overrides: Dict[str, Any] = {}
    chosen = epochs or explicit.get("training.max_epochs")
    if dataset is not None and is_demo(dataset) and not chosen:
        overrides.update(DEMO_OVERRIDES)
        said = f"the demo set's schedule: {DEMO_OVERRIDES}"
    elif chosen or (dataset in DATASET_EPOCHS):
        chosen = int(chosen or DATASET_EPOCHS[str(dataset)])
        train_path = explicit.get("paths.train") or load_config(Path(config_path))["paths"]["train"]
        if not train_path:
            raise ValueError("a schedule sized to the corpus needs the train corpus: give --paths.train")
        overrides.update(corpus_schedule(chosen, train_path, config_path))
        said = f"{chosen} epochs over {train_path} (spacy_ita/schedules.py): {overrides}"
    else:
        said = f"the schedule of {config_path} as written"
    overrides.update(explicit)
    return overrides, said
