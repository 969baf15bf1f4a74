"""`knowledge`: an LLM's reading of a post and its existing contexts, PGIM's way.

PGIM (Li et al., EMNLP 2023 Findings) asked ChatGPT, for each post and its image
caption, which named entities the post mentions with a type hint and a short
reasoning, showing first the most similar hand-annotated examples. This backend
does the same with any OpenAI-compatible endpoint: the prompt is a replaceable
template, the demonstrations come from a pool file (zero-shot without one), the
answer is cleaned and capped in words, and answers are cached by content (the
model name, the full prompt and the settings; never the URL or the key).
"""

import hashlib
import json
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple, Union

from spacy.util import registry

from ..aligners.cache import AlignmentCache
from ..pipeline_data import PipelineData
from ..visual_context import CONTEXT_KINDS
from .client import ChatEndpoint, GenerationSummary
from .demonstrations import Demonstration, DemonstrationSelector, read_demonstration_posts, read_demonstrations
from .prompts import PromptTemplate, clean_answer, render_contexts

# Bump when the stored form of an answer changes, so old cache entries stop matching.
CACHE_FORMAT = 1
# The existing kinds a knowledge prompt shows (never the knowledge it is asked to write).
PROMPT_KINDS = tuple(kind for kind in CONTEXT_KINDS if kind != "knowledge")

# (post id, post text, its existing context)
PostItem = Tuple[str, str, Optional[Dict[str, Any]]]


def messages_key(messages: List[Dict[str, Any]]) -> str:
    return hashlib.sha256(json.dumps(messages, sort_keys=True, ensure_ascii=False).encode("utf8")).hexdigest()


class LLMKnowledge:
    """Writes the `knowledge` kind of posts with a chat LLM.

    endpoint (ChatEndpoint): where the model is served.
    template (Optional[PromptTemplate]): [system] instruction and [user] message with
        `$text` and `$contexts`; None: read from the file `prompt` on first use (the
        shipped knowledge.txt without one).
    selector (Optional[DemonstrationSelector]): the k most similar annotated
        examples, shown as earlier user/assistant turns; None: zero-shot, or the
        selector declared in `data` (`create_llm_knowledge`).
    max_tokens, temperature: generation settings (temperature 0: deterministic).
    max_words (int): the cleaned answer's cap in words.

    The prompt file and the demonstrations (pool and vectors) are `data`
    (pipeline_data.PipelineData): saved inside a pipeline by `to_disk`, read from
    there after `from_disk`, so that an assembled pipeline loads anywhere.
    """

    kind = "knowledge"
    # In a pipeline, asked about the docs with an image (the aligner reads this).
    needs_image = True

    def __init__(
        self,
        endpoint: ChatEndpoint,
        template: Optional[PromptTemplate] = None,
        *,
        prompt: Optional[str] = None,
        selector: Optional[DemonstrationSelector] = None,
        max_tokens: int = 256,
        temperature: float = 0.0,
        max_words: int = 100,
    ) -> None:
        self.endpoint = endpoint
        self.data = PipelineData()
        self._template = template
        if template is None:
            PromptTemplate.declare(self.data, prompt, "knowledge.txt")
        self._selector = selector
        self.max_tokens = max_tokens
        self.temperature = temperature
        self.max_words = max_words

    @property
    def template(self) -> PromptTemplate:
        return self._template or self.data.get("prompt")

    @property
    def selector(self) -> Optional[DemonstrationSelector]:
        if self._selector is None and "demonstrations" in self.data:
            return self.data.get("demonstrations")
        return self._selector

    def to_disk(self, path: Union[str, Path], *, exclude: Iterable[str] = ()) -> None:
        """Save the prompt file and the demonstrations into the folder `path`."""
        self.data.to_disk(path, exclude=exclude)

    def from_disk(self, path: Union[str, Path], *, exclude: Iterable[str] = ()) -> "LLMKnowledge":
        """Read the prompt and the demonstrations from the folder `path` from now on."""
        self.data.from_disk(path, exclude=exclude)
        return self

    @property
    def signature(self) -> str:
        """What makes an answer for a given prompt: part of the cache key (no URL, no key)."""
        described = {
            "backend": type(self).__name__,
            "kind": self.kind,
            "format": CACHE_FORMAT,
            "model": self.endpoint.model,
            "max_tokens": self.max_tokens,
            "temperature": self.temperature,
            "max_words": self.max_words,
        }
        return json.dumps(described, sort_keys=True)

    def user_message(self, text: str, context: Optional[Dict[str, Any]]) -> str:
        return self.template.render_user(text=text, contexts=render_contexts(context, PROMPT_KINDS))

    def messages(self, items: Sequence[PostItem]) -> List[List[Dict[str, Any]]]:
        """The chat messages of each post: instruction, demonstrations, the post."""
        demonstrations = self.selector.select([(t, c) for _, t, c in items]) if self.selector else [[] for _ in items]
        conversations = []
        for (_, text, context), shown in zip(items, demonstrations):
            messages = [{"role": "system", "content": self.template.system}]
            for demo in shown:
                messages.append({"role": "user", "content": self.user_message(demo.text, demo.context)})
                messages.append({"role": "assistant", "content": demo.answer})
            messages.append({"role": "user", "content": self.user_message(text, context)})
            conversations.append(messages)
        return conversations

    def generate(
        self, items: Sequence[PostItem], cache: Optional[AlignmentCache] = None
    ) -> Tuple[Dict[str, Optional[str]], GenerationSummary]:
        """({post id: cleaned knowledge, "" for an empty answer, None for a failure}, summary).

        Cached answers are reused; failures are reported (with the id and cause) and not cached.
        """
        signature = self.signature
        keys, answers, requests = {}, {}, []
        for (post_id, _, _), messages in zip(items, self.messages(items)):
            keys[post_id] = AlignmentCache.key(messages_key(messages), signature)
            found = cache.get(keys[post_id]) if cache is not None else None
            if found is not None:
                answers[post_id] = found
            else:
                requests.append((post_id, messages))

        def store(post_id: str, text: Optional[str]) -> None:
            cleaned = clean_answer(text, self.max_words) if text is not None else None
            answers[post_id] = cleaned
            if cleaned is not None and cache is not None:
                cache.set(keys[post_id], cleaned)

        _, summary = self.endpoint.complete_many(
            requests, on_answer=store, max_tokens=self.max_tokens, temperature=self.temperature
        )
        summary.cached = len(items) - len(requests)
        return answers, summary

    def __repr__(self) -> str:
        return f"LLMKnowledge({self.endpoint!r})"


@registry.misc("spacy_ita.LLMKnowledge.v1")
def create_llm_knowledge(
    endpoint: ChatEndpoint,
    prompt: Optional[str] = None,
    examples: Optional[str] = None,
    examples_posts: Optional[str] = None,
    examples_contexts: Optional[List[str]] = None,
    k: int = 2,
    embedder: str = "all-MiniLM-L6-v2",
    max_tokens: int = 256,
    temperature: float = 0.0,
    max_words: int = 100,
) -> LLMKnowledge:
    """The knowledge generator. `prompt`: a template file (default: the shipped
    knowledge.txt); `examples`: a demonstration pool JSONL (`text`, `knowledge`, context
    kinds), the `k` nearest shown; None: zero-shot. With `examples_posts` (a posts file,
    e.g. the MNER train.txt) `examples` holds answers keyed by post id (`image_id`,
    `knowledge`), joined with those posts and their `examples_contexts` sources (PGIM's
    hand-written examples with the train text and BLIP-2 captions). `endpoint`:
    spacy_ita.ChatEndpoint.v1 (where the model is, and the name of the key's variable)."""
    from .demonstrations import SentenceEmbedder

    knowledge = LLMKnowledge(
        endpoint, prompt=prompt, max_tokens=max_tokens, temperature=temperature, max_words=max_words
    )
    if examples and k > 0:

        def load_pool() -> List[Demonstration]:
            if not examples_posts:
                return read_demonstrations(examples)
            from ..data.contexts import VisualSources

            sources = VisualSources.load(contexts=examples_contexts or None)
            return read_demonstration_posts(examples, examples_posts, sources)

        source = {"examples": examples, "examples_posts": examples_posts, "examples_contexts": examples_contexts}
        DemonstrationSelector.declare(
            knowledge.data, load_pool, source=source, k=k, embedder=SentenceEmbedder(embedder)
        )
    return knowledge
