"""Training schedules per dataset, as measured here (BENCHMARKS.md, "Training schedule"):
one owner for the benchmark (benchmarks/bench_real_data.py), the project workflow
(scripts/train_pipeline.py) and `python -m spacy_ita schedule`, so that they train a dataset alike.

Every schedule is the one of configs/ita.cfg: `warmup_linear.v1`, a warm-up of
WARMUP_FRACTION of the steps, then linear decay to 0 at the last step; a dataset
listed in DATASET_EPOCHS trains that many epochs, evaluated once an epoch.
"""

import math
from pathlib import Path
from typing import Dict, Union

# Twitter-2017: 10 epochs paid +1.8 F1 (ITA, every kind) and +1.3 (the text-only model) over 3
# on valid, seed 0 (issue #23). Twitter-2015: 3 epochs, the schedule of every figure measured on it.
DATASET_EPOCHS: Dict[str, int] = {"twitter2015": 3, "twitter2017": 10}
WARMUP_FRACTION = 0.1


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


def corpus_schedule(epochs: int, train_path: Union[str, Path], config_path: Union[str, Path]) -> Dict[str, int]:
    """`linear_schedule` for `epochs` passes over the DocBin at `train_path` in the batches of
    the config at `config_path` (`[training.batcher] size`, an integer). Raises ValueError for a
    batch size that is no integer (a schedule of sizes) and for an empty corpus."""
    from spacy.tokens import DocBin
    from spacy.util import load_config

    size = load_config(Path(config_path))["training"]["batcher"]["size"]
    if not isinstance(size, int):
        raise ValueError(f"[training.batcher] size of {config_path} is {size!r}: a fixed number of docs is needed")
    return linear_schedule(epochs, steps_per_epoch(len(DocBin().from_disk(train_path)), size))
