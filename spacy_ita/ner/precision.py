"""The numeric precision the encoder computes in: bf16 autocast where the
hardware has native bf16 matrix units, fp32 elsewhere.

`ita_ner`'s `precision` setting is "auto", "bf16" or "fp32". It is resolved on
the machine that runs, per device, every time a pipeline is loaded or built:
a saved pipeline stores the setting ("auto"), never what one machine made of it,
so a pipeline trained in bf16 loads and predicts in fp32 and the other way round
(weights are always stored in fp32).

Only the transformer encoder runs under autocast (`torch.autocast`, bf16): its
matrix products are what the bf16 units speed up. Everything after it stays in
fp32 and outside autocast: the emission layer, the CRF (forward-backward,
Viterbi, marginals), the NLL and KL terms and the optimizer, which keeps fp32
master weights (thinc's Adam on the fp32 parameters). bf16 has fp32's exponent
range, so unlike fp16 it needs no loss scaling.

- CPU: native means AMX-BF16 or AVX512-BF16 (torch's own CPU feature checks,
  `torch.cpu._is_amx_tile_supported` / `_is_avx512_bf16_supported`; on Linux the
  `amx_bf16` / `avx512_bf16` flags of `lscpu`). Without either, bf16 is emulated
  and slower than fp32, so "auto" stays in fp32 there.
- CUDA: native means `torch.cuda.is_bf16_supported()` (Ampere and newer). bf16
  autocast there is what thinc's `mixed_precision` does with fp16, without the
  grad scaler that fp16 needs.
"""

import logging
import warnings
from contextlib import AbstractContextManager
from functools import lru_cache
from typing import Tuple

import torch

AUTO, BF16, FP32 = "auto", "bf16", "fp32"
PRECISIONS = (AUTO, BF16, FP32)

logger = logging.getLogger(__name__)


def check_precision(precision: str) -> str:
    """`precision` if it is one of PRECISIONS; ValueError naming them otherwise."""
    if precision not in PRECISIONS:
        raise ValueError(f"ita_ner precision must be one of {PRECISIONS}, got {precision!r}")
    return precision


def cpu_bf16_units() -> Tuple[str, ...]:
    """The native bf16 matrix units of this CPU as `lscpu` names them: a subset of
    ("amx_bf16", "avx512_bf16"); () on a CPU with neither (or a torch without the checks)."""
    checks = (("amx_bf16", "_is_amx_tile_supported"), ("avx512_bf16", "_is_avx512_bf16_supported"))
    found = []
    for name, check in checks:
        is_supported = getattr(torch.cpu, check, None)
        if is_supported is not None and is_supported():
            found.append(name)
    return tuple(found)


@lru_cache(maxsize=None)
def native_bf16(device_type: str) -> bool:
    """Whether a device of this type ("cpu", "cuda", …) computes bf16 matrix products natively."""
    if device_type == "cpu":
        return bool(cpu_bf16_units())
    if device_type == "cuda":
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    return False


@lru_cache(maxsize=None)
def resolve_precision(precision: str, device_type: str) -> str:
    """What `precision` means on a device of `device_type`: "bf16" or "fp32".
    "auto" is bf16 where the device has native bf16 units (`native_bf16`), else fp32.
    A forced "bf16" without them works, slower than fp32, with a warning (once)."""
    check_precision(precision)
    native = native_bf16(device_type)
    if precision == AUTO:
        resolved = BF16 if native else FP32
        logger.info("ita_ner precision 'auto' on %s: %s", device_type, resolved)
        return resolved
    if precision == BF16 and not native:
        warnings.warn(
            f"ita_ner precision 'bf16' on a {device_type} without native bf16 matrix units: it is emulated "
            'and slower than fp32 (set precision = "auto" to use fp32 here)',
            stacklevel=2,
        )
    return precision


def encoder_autocast(precision: str, device: torch.device) -> AbstractContextManager:
    """The context the encoder runs in: bf16 autocast on `device` when `precision`
    resolves to bf16 there, a disabled autocast (fp32) otherwise."""
    enabled = resolve_precision(precision, device.type) == BF16
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=enabled)
