"""Thinc shim for the ITA tagger: builds the torch module from a Hugging Face
encoder, serializes it without pickle, and applies the optimizer with a larger
step for the freshly initialized head than for the pretrained encoder."""

import warnings
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, cast

import srsly
import torch
from safetensors.torch import load as load_safetensors
from safetensors.torch import save as save_safetensors
from spacy_transformers.util import make_tempdir
from thinc.api import ArgsKwargs, Optimizer, PyTorchShim, get_torch_default_device
from thinc.types import FloatsXd
from thinc.util import torch2xp, xp2torch
from transformers import AutoConfig, AutoModel, AutoTokenizer, PreTrainedModel, PreTrainedTokenizerBase

from .inputs import ViewEncoder
from .precision import AUTO, check_precision
from .tagger import DEFAULT_ROWS_PER_CHUNK, ITATaggerModule
from .tags import TagSet


class ITATaggerShim(PyTorchShim):
    def __init__(self, settings: Dict[str, Any]):
        super().__init__(None)
        self.settings = dict(settings)
        self.tokenizer: Optional[PreTrainedTokenizerBase] = None
        self.tag_set: Optional[TagSet] = None
        self.view_encoder: Optional[ViewEncoder] = None
        # Not in `settings` (which `to_bytes` saves): the precision is the loading
        # pipeline's setting (`ita_ner`'s `precision`), resolved on the machine that runs.
        self._precision = AUTO

    @property
    def precision(self) -> str:
        """The encoder's precision setting: "auto", "bf16" or "fp32" (`precision.py`)."""
        return self._precision

    @precision.setter
    def precision(self, precision: str) -> None:
        self._precision = check_precision(precision)
        if self._model is not None:
            self._model.precision = self._precision

    @property
    def is_built(self) -> bool:
        return self._model is not None

    def build(self, tokenizer: PreTrainedTokenizerBase, encoder: PreTrainedModel, labels: List[str]) -> None:
        self.tokenizer = tokenizer
        self.tag_set = TagSet(labels)
        self.view_encoder = ViewEncoder(
            tokenizer,
            max_length=self.settings["max_length"],
            max_context_tokens=self.settings["max_context_tokens"],
            # Pipelines saved before per-kind budgets had none: the total cap alone.
            context_budget=self.settings.get("context_budget") or {},
        )
        self._model = ITATaggerModule(
            encoder,
            len(self.tag_set),
            head=self.settings["head"],
            dropout=self.settings["dropout"],
            allowed_transitions=self.tag_set.allowed_transitions(),
            allowed_start=self.tag_set.allowed_start(),
            word_shape_dim=int(self.settings.get("word_shape_dim", 0)),
        )
        self._model.precision = self._precision
        # Pipelines saved before the setting existed read in chunks of the default.
        self._model.rows_per_chunk = int(self.settings.get("encoder_chunk_rows", DEFAULT_ROWS_PER_CHUNK))
        if self.settings.get("freeze_word_embeddings"):
            # No gradient: backward never writes the [vocab, hidden] matrix, finish_update skips it.
            encoder.get_input_embeddings().weight.requires_grad_(False)
        self._model.to(get_torch_default_device())

    def predict(self, inputs: ArgsKwargs) -> Any:
        """The module's output for `inputs` in evaluation mode (no dropout), without gradients.

        Thread-safe against other predictions: thinc's `PyTorchShim.predict` puts
        the one shared module back into training mode after each call, so a
        prediction running in another thread at that moment finished its forward
        pass with dropout on (one pipeline served from 4 threads changed 21 of 24
        docs). Here the module stays in evaluation mode; `begin_update` sets
        training mode for the next update. Training while predicting in another
        thread is not supported (README, "Threads")."""
        self._model.eval()
        with torch.no_grad(), torch.autocast(device_type="cuda", enabled=self._mixed_precision):
            return self._model(*inputs.args, **inputs.kwargs)

    def finish_update(self, optimizer: Optimizer) -> None:
        head_scale = float(self.settings.get("head_lr_scale", 1.0))
        for name, param in self._model.named_parameters():
            if param.grad is None:
                continue
            lr_scale = 1.0 if name.startswith("encoder.") else head_scale
            # Parameters and their gradients are float tensors (torch2xp is typed for any array).
            weights, gradient = cast(FloatsXd, torch2xp(param.data)), cast(FloatsXd, torch2xp(param.grad))
            data, _ = optimizer((self.id, name), weights, gradient, lr_scale=lr_scale)
            param.data = xp2torch(data, requires_grad=True, device=param.device)
            param.grad.zero_()

    # Serialization: HF config + tokenizer files + safetensors weights in a
    # msgpack message. No pickle is ever read, so a tampered model directory
    # cannot execute code; it fails to load with a clear error instead.
    def to_bytes(self) -> bytes:
        if not self.is_built or self.tokenizer is None or self.tag_set is None:
            return srsly.msgpack_dumps({"settings": self.settings, "built": False})
        tokenizer_files: Dict[str, bytes] = {}
        with make_tempdir() as tmp:
            self.tokenizer.save_pretrained(str(tmp))
            for path in Path(tmp).glob("**/*"):
                if path.is_file():
                    tokenizer_files[path.name] = path.read_bytes()
        state = {k: v.detach().contiguous().cpu() for k, v in self._model.state_dict().items()}
        return srsly.msgpack_dumps(
            {
                "settings": self.settings,
                "built": True,
                "labels": self.tag_set.labels,
                "encoder_config": self._model.encoder.config.to_dict(),
                "tokenizer": tokenizer_files,
                "weights": save_safetensors(state),
            }
        )

    def from_bytes(self, data: bytes) -> "ITATaggerShim":
        msg = srsly.msgpack_loads(data)
        self.settings = dict(msg["settings"])
        if not msg.get("built"):
            return self
        with make_tempdir() as tmp:
            srsly.write_json(Path(tmp) / "config.json", msg["encoder_config"])
            config = AutoConfig.from_pretrained(str(tmp))
            for name, content in msg["tokenizer"].items():
                (Path(tmp) / name).write_bytes(content)
            tokenizer = AutoTokenizer.from_pretrained(str(tmp))
        encoder = AutoModel.from_config(config)
        self.build(tokenizer, encoder, list(msg["labels"]))
        try:
            state = load_safetensors(bytes(msg["weights"]))
        except Exception as err:
            raise ValueError("The ita_ner weights are not a valid safetensors blob; refusing to load them.") from err
        self._model.load_state_dict(drop_unexpected_keys(state, self._model.state_dict().keys()), strict=True)
        self._model.to(get_torch_default_device())
        return self


def drop_unexpected_keys(state: Dict[str, torch.Tensor], expected: Iterable[str]) -> Dict[str, torch.Tensor]:
    """`state` without the tensors the module has no place for, which a warning names.

    As spacy-transformers' HFShim tolerates them: a model saved under another
    `transformers` version can carry buffers this one no longer has (BERT's
    `embeddings.position_ids` before 4.31), and a strict load would refuse it.
    Unlike HFShim's strict=False fallback, missing keys still fail the strict
    load: a weight the model needs is never left at its random initialization.
    """
    unexpected = sorted(set(state) - set(expected))
    if not unexpected:
        return state
    warnings.warn(
        f"Ignoring {len(unexpected)} saved ita_ner tensor(s) the model has no place for "
        f"(likely saved with another 'transformers' version): {', '.join(unexpected)}",
        stacklevel=3,
    )
    return {name: tensor for name, tensor in state.items() if name not in unexpected}
