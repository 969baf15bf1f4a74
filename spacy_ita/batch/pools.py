"""Actor pool settings per stage, parsed from the command line.

Each option takes a value for every stage, or `STAGE=VALUE` for one stage
(later values win), so that the slow OCR stage can get more workers than the
detector: `--workers 1 --workers ocr=2-6 --gpus-per-worker objects=0.25`.
A worker count is `N` (a fixed pool) or `MIN-MAX` (a pool Ray grows and shrinks).
"""

from dataclasses import dataclass
from typing import Any, Dict, Iterable, List, Optional, Tuple


@dataclass(frozen=True)
class PoolSpec:
    min_workers: int = 1
    max_workers: int = 1
    cpus_per_worker: float = 1.0
    gpus_per_worker: float = 0.0

    @property
    def torch_threads(self) -> int:
        return max(1, int(self.cpus_per_worker))


def _split(value: str, stages: Iterable[str], option: str) -> Tuple[Optional[str], str]:
    stage, sep, rest = value.partition("=")
    if not sep:
        return None, value
    if stage not in stages:
        raise ValueError(f"{option} {value!r}: unknown stage {stage!r}, expected one of {', '.join(stages)}")
    return stage, rest


def parse_workers(value: str, option: str = "--workers") -> Tuple[int, int]:
    low, sep, high = value.partition("-")
    try:
        bounds = (int(low), int(high) if sep else int(low))
    except ValueError:
        raise ValueError(f"{option} {value!r}: expected N or MIN-MAX") from None
    if bounds[0] < 1 or bounds[1] < bounds[0]:
        raise ValueError(f"{option} {value!r}: need 1 <= MIN <= MAX")
    return bounds


def parse_amount(value: str, option: str) -> float:
    try:
        amount = float(value)
    except ValueError:
        raise ValueError(f"{option} {value!r}: expected a number") from None
    if amount < 0:
        raise ValueError(f"{option} {value!r}: must not be negative")
    return amount


def stage_pools(
    stages: List[str], workers: Iterable[str] = (), cpus: Iterable[str] = (), gpus: Iterable[str] = ()
) -> Dict[str, PoolSpec]:
    """One PoolSpec per stage from the option values (defaults: 1 worker, 1 CPU, no GPU)."""
    settings: Dict[str, Dict[str, Any]] = {stage: {} for stage in stages}
    for option, values, parse, keys in (
        ("--workers", workers, parse_workers, ("min_workers", "max_workers")),
        ("--cpus-per-worker", cpus, parse_amount, ("cpus_per_worker",)),
        ("--gpus-per-worker", gpus, parse_amount, ("gpus_per_worker",)),
    ):
        for value in values:
            stage, rest = _split(value, stages, option)
            parsed = parse(rest, option)
            amounts = parsed if isinstance(parsed, tuple) else (parsed,)
            for name in [stage] if stage else stages:
                settings[name].update(zip(keys, amounts))
    pools = {stage: PoolSpec(**values) for stage, values in settings.items()}
    for stage, pool in pools.items():
        if pool.cpus_per_worker == 0 and pool.gpus_per_worker == 0:
            raise ValueError(f"stage {stage!r}: a worker needs some CPU or GPU")
    return pools


def cpus_needed(pools: Dict[str, PoolSpec]) -> float:
    """Logical CPUs the largest pools reserve together."""
    return sum(pool.max_workers * pool.cpus_per_worker for pool in pools.values())
