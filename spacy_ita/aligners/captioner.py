"""Captions with any Hugging Face image-to-text model (BLIP, GIT, ViT-GPT2, …).

No captioning weights ship offline, so the default pipeline leaves this backend
off; name a hub model or a local directory in the config to turn it on. With
HF_HUB_OFFLINE=1 a hub name resolves from the local Hugging Face cache only.
"""

from typing import Any, List

from PIL import Image
from spacy.util import registry

from ..resources import resolve_model
from .backend import AlignmentBackend


class HFCaptioner(AlignmentBackend):
    kind = "caption"

    @property
    def model_key(self):
        return ("hf-image-to-text", self.settings["model"], self.settings["device"])

    def load_model(self) -> Any:
        from transformers import pipeline

        # The pipeline picks the right model class, image processor and
        # tokenizer for the architecture and handles batching and decoding.
        return pipeline("image-to-text", model=resolve_model(self.settings["model"]), device=self.settings["device"])

    def __call__(self, images: List[Image.Image]) -> List[str]:
        generate_kwargs = {"max_new_tokens": self.settings["max_new_tokens"], "num_beams": self.settings["num_beams"]}
        outputs = self.model(list(images), batch_size=len(images), generate_kwargs=generate_kwargs)
        return [output[0]["generated_text"].strip() if output else "" for output in outputs]


@registry.misc("spacy_ita.HFCaptioner.v1")
def create_hf_captioner(model: str, max_new_tokens: int = 30, num_beams: int = 1, device: str = "cpu") -> HFCaptioner:
    """`model`: a hub name, a local directory, or a known model name (resources.KNOWN_MODELS)."""
    return HFCaptioner(model=model, max_new_tokens=max_new_tokens, num_beams=num_beams, device=device)
