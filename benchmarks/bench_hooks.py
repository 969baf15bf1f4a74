"""Timing hooks for `python -m spacy train --code benchmarks/bench_hooks.py`.

They change nothing in training; they write one JSON line per event to the
file named by $SPACY_ITA_BENCH_EVENTS (no file, no output):

    {"event": "step", "step": 0, "epoch": 0, "t": ...}   before every update
        (through `--training.before_update '{"@callbacks": "spacy_ita_bench.step_clock.v1"}'`)
    {"event": "evaluate", "start": ..., "end": ..., "ents_f": ...}
                                                           every dev evaluation (Language.evaluate)
    {"event": "to_disk", "start": ..., "end": ...}         every checkpoint written (Language.to_disk)
    {"event": "end", "t": ...}                             at interpreter exit

`epoch_seconds` turns them into training seconds per epoch: the wall time from
an epoch's first update to the next epoch's (or the end), less the dev
evaluations and checkpoint writes that fell inside it.
"""

import atexit
import functools
import json
import os
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

from spacy.language import Language
from spacy.util import registry

EVENTS_ENV = "SPACY_ITA_BENCH_EVENTS"


def _write(record: Dict[str, Any]) -> None:
    path = os.environ.get(EVENTS_ENV)
    if path:
        with open(path, "a", encoding="utf8") as handle:
            handle.write(json.dumps(record) + "\n")


def _timed(method, event: str):
    @functools.wraps(method)
    def wrapper(*args, **kwargs):
        start = time.perf_counter()
        result = None
        try:
            result = method(*args, **kwargs)
            return result
        finally:
            record = {"event": event, "start": start, "end": time.perf_counter()}
            if isinstance(result, dict) and "ents_f" in result:
                record["ents_f"] = result["ents_f"]
            _write(record)

    wrapper.__bench_timed__ = True
    return wrapper


if os.environ.get(EVENTS_ENV) and not getattr(Language.evaluate, "__bench_timed__", False):
    Language.evaluate = _timed(Language.evaluate, "evaluate")
    Language.to_disk = _timed(Language.to_disk, "to_disk")
    atexit.register(lambda: _write({"event": "end", "t": time.perf_counter()}))


@registry.callbacks("spacy_ita_bench.step_clock.v1")
def create_step_clock():
    def step_clock(nlp: Language, args: Dict[str, Any]) -> None:
        _write({"event": "step", "step": args["step"], "epoch": args["epoch"], "t": time.perf_counter()})

    return step_clock


def read_events(path: Path) -> List[Dict[str, Any]]:
    if not Path(path).exists():
        return []
    return [json.loads(line) for line in Path(path).read_text(encoding="utf8").splitlines() if line.strip()]


def epoch_seconds(events: List[Dict[str, Any]]) -> Dict[str, Any]:
    """Per-epoch training seconds (dev evaluation and checkpoint writes excluded)."""
    steps = [e for e in events if e["event"] == "step"]
    excluded = [(e["start"], e["end"]) for e in events if e["event"] in ("evaluate", "to_disk")]
    ends = [e["t"] for e in events if e["event"] == "end"]
    if not steps:
        return {"epochs": [], "eval_seconds": sum(b - a for a, b in excluded)}
    starts: Dict[int, float] = {}
    for e in steps:
        starts.setdefault(e["epoch"], e["t"])
    epochs = sorted(starts)
    end: Optional[float] = ends[-1] if ends else steps[-1]["t"]
    per_epoch = []
    for i, epoch in enumerate(epochs):
        lo = starts[epoch]
        hi = starts[epochs[i + 1]] if i + 1 < len(epochs) else end
        # The final model-last write after the loop counts for nobody either.
        inside = sum(max(0.0, min(b, hi) - max(a, lo)) for a, b in excluded)
        per_epoch.append(
            {
                "epoch": epoch,
                "steps": sum(1 for e in steps if e["epoch"] == epoch),
                "seconds": hi - lo - inside,
                "wall_seconds": hi - lo,
            }
        )
    evals = [(a, b) for e in events if e["event"] == "evaluate" for a, b in [(e["start"], e["end"])]]
    return {"epochs": per_epoch, "eval_seconds": sum(b - a for a, b in evals), "n_evaluations": len(evals)}


def best_checkpoint_step(events: List[Dict[str, Any]]) -> Optional[int]:
    """The step whose evaluation spaCy saved as model-best: the best dev ents_f
    (the main score of ita.cfg and trf_ner.cfg), the later one on a tie, as
    spaCy copies model-best whenever a score equals the best so far.
    None when no evaluation was recorded."""
    step, scored = None, []
    for e in events:
        if e["event"] == "step":
            step = e["step"]
        elif e["event"] == "evaluate" and e.get("ents_f") is not None and step is not None:
            scored.append((e["ents_f"], step))
    return max(scored)[1] if scored else None
