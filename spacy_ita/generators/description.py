"""`description`: a vision-language model describes an image and transcribes its text.

What the GPT-4 descriptions of Twitter-2017 are, from any OpenAI-compatible
endpoint that takes images (GPT-4o, vLLM or llama.cpp serving a VLM, Ollama, ...).
The image is shrunk to at most `max_side` pixels on its longer side and sent
inline as a JPEG data URL (no image host needed). An image-to-text backend of the
image aligner, so its outputs are cached by image content and settings like the
others' (the model name, the prompt text, the settings; never the URL or the key).
"""

import base64
import io
import json
from typing import Any, Dict, List, Optional

from PIL import Image
from spacy.util import registry

from ..aligners.backend import AlignmentBackend
from .client import ChatEndpoint, GenerationSummary
from .prompts import PromptTemplate, clean_answer


def image_data_url(image: Image.Image, max_side: int, quality: int = 90) -> str:
    """`data:image/jpeg;base64,...` of `image` (RGB) shrunk to at most `max_side` px on its longer side."""
    image = image.copy()
    image.thumbnail((max_side, max_side))  # keeps the aspect ratio, never enlarges
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="JPEG", quality=quality)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


class VLMDescription(AlignmentBackend):
    """Images -> one cleaned description each (None when no usable answer came: not cached).

    template: the prompt; None: read from `prompt` (a template file, carried in the
    pipeline; None: the shipped description.txt) on first use.
    `summary` accumulates the requests, failures, tokens and seconds of every call.
    """

    kind = "description"

    def __init__(
        self,
        endpoint: ChatEndpoint,
        template: Optional[PromptTemplate] = None,
        *,
        prompt: Optional[str] = None,
        **settings: Any,
    ) -> None:
        super().__init__(model=endpoint.model, **settings)
        self.endpoint = endpoint
        self._template = template
        if template is None:
            PromptTemplate.declare(self.data, prompt, "description.txt")
        self.summary = GenerationSummary()

    @property
    def template(self) -> PromptTemplate:
        return self._template or self.data.get("prompt")

    @property
    def signature(self) -> str:
        # The prompt text is part of it: a new prompt must not hit answers to the old one.
        described = json.loads(super().signature)
        described.update(system=self.template.system, user=self.template.user)
        return json.dumps(described, sort_keys=True)

    @property
    def model(self) -> Any:
        return self.endpoint  # nothing to load: the model lives behind the endpoint

    def messages(self, image: Image.Image) -> List[Dict[str, Any]]:
        url = image_data_url(image, self.settings["max_side"])
        return [
            {"role": "system", "content": self.template.system},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": self.template.render_user()},
                    {"type": "image_url", "image_url": {"url": url}},
                ],
            },
        ]

    def __call__(self, images: List[Image.Image]) -> List[Optional[str]]:
        requests = [(f"image {i}", self.messages(image)) for i, image in enumerate(images)]
        answers, summary = self.endpoint.complete_many(
            requests, max_tokens=self.settings["max_tokens"], temperature=self.settings["temperature"]
        )
        self.summary.add(summary)
        cleaned = [clean_answer(answers[request_id], self.settings["max_words"]) for request_id, _ in requests]
        return [text or None for text in cleaned]

    def __repr__(self) -> str:
        return f"VLMDescription({self.endpoint!r})"


@registry.misc("spacy_ita.VLMDescription.v1")
def create_vlm_description(
    endpoint: ChatEndpoint,
    prompt: Optional[str] = None,
    max_side: int = 768,
    max_tokens: int = 300,
    temperature: float = 0.0,
    max_words: int = 120,
) -> VLMDescription:
    """The description backend. `prompt`: a template file (default: the shipped
    description.txt); `max_side`: the longer image side sent, in pixels; `endpoint`:
    spacy_ita.ChatEndpoint.v1 (where the model is, and the name of the key's variable)."""
    return VLMDescription(
        endpoint,
        prompt=prompt,
        max_side=max_side,
        max_tokens=max_tokens,
        temperature=temperature,
        max_words=max_words,
    )
