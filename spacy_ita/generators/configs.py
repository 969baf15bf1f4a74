"""The registered generators' configs from plain settings, as `generate-contexts` and
`assemble` build them (the same generators in a job and in a pipeline), the `kb`
retriever's too."""

from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

TRANSPORT_SETTINGS = ("max_in_flight", "timeout", "max_retries")  # spacy_ita.ChatEndpoint.v1
KNOWLEDGE_SETTINGS = ("max_tokens", "max_words")  # spacy_ita.LLMKnowledge.v1


def generator_configs(
    *,
    base_url: Optional[str],
    model: Optional[str],
    description_model: Optional[str] = None,
    description_base_url: Optional[str] = None,
    api_key_env: str = "OPENAI_API_KEY",
    prompt: Optional[Path] = None,
    description_prompt: Optional[Path] = None,
    examples: Optional[Path] = None,
    examples_posts: Optional[Path] = None,
    examples_contexts: Optional[Sequence[Path]] = None,
    k: int = 2,
    kb: Optional[Sequence[str]] = None,
    **settings: Any,
) -> Dict[str, Optional[Dict[str, Any]]]:
    """{"knowledge": config or None, "description": config or None, "kb": config or None}:
    `model` writes `knowledge` (spacy_ita.LLMKnowledge.v1), `description_model` writes
    `description` (spacy_ita.VLMDescription.v1), `kb` (KB files or packaged sources, in
    priority order) writes `kb` (spacy_ita.KBRetriever.v1); unset, the kind is off.

    settings: max_tokens, max_words (knowledge), max_in_flight, timeout, max_retries (both);
    unset or None, the registered functions' defaults apply. The key is never in a config,
    only the name of its environment variable. Raises ValueError for a model without endpoint.
    """
    transport = {
        "@misc": "spacy_ita.ChatEndpoint.v1",
        "api_key_env": api_key_env,
        **{key: settings[key] for key in TRANSPORT_SETTINGS if settings.get(key) is not None},
    }
    generation = {key: settings[key] for key in KNOWLEDGE_SETTINGS if settings.get(key) is not None}
    configs: Dict[str, Optional[Dict[str, Any]]] = {"knowledge": None, "description": None, "kb": None}
    if kb:
        configs["kb"] = {"@misc": "spacy_ita.KBRetriever.v1", "sources": [str(source) for source in kb]}
    if model:
        if not base_url:
            raise ValueError("--model needs --base-url (the endpoint, e.g. http://127.0.0.1:8080/v1)")
        configs["knowledge"] = {
            "@misc": "spacy_ita.LLMKnowledge.v1",
            "endpoint": {**transport, "base_url": base_url, "model": model},
            "prompt": _path(prompt),
            "examples": _path(examples),
            "examples_posts": _path(examples_posts),
            "examples_contexts": _paths(examples_contexts),
            "k": k,
            **generation,
        }
    if description_prompt and not description_model:
        raise ValueError("--description-prompt needs --description-model (the VLM that reads it)")
    if description_model:
        if not (description_base_url or base_url):
            raise ValueError("--description-model needs --description-base-url or --base-url")
        configs["description"] = {
            "@misc": "spacy_ita.VLMDescription.v1",
            "endpoint": {**transport, "base_url": description_base_url or base_url, "model": description_model},
            "prompt": _path(description_prompt),
        }
    return configs


def _path(path: Optional[Path]) -> Optional[str]:
    return str(path) if path else None


def _paths(paths: Optional[Sequence[Path]]) -> Optional[List[str]]:
    return [str(p) for p in paths] if paths else None
