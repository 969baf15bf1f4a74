"""One transport for every OpenAI-compatible chat endpoint (OpenAI, Azure, vLLM,
llama.cpp's server, Ollama, LM Studio, TGI), with the `openai` client.

The API key is read from an environment variable whose *name* is a setting; the
key itself is never a setting, so it never reaches a config, a saved pipeline, a
cache key, a log line or an output. Retries (exponential backoff with jitter,
honouring Retry-After, on 408/409/429/5xx, connection errors and timeouts) and the
per-request timeout are the `openai` client's own (`max_retries`, `timeout`).
Requests in flight are bounded by `max_in_flight` threads: this stage waits on the
network, not on the CPU.
"""

import logging
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from spacy.util import registry

logger = logging.getLogger("spacy_ita")

# Sent when the named variable is unset: local servers (llama.cpp, vLLM, Ollama) ignore the key,
# and the openai client refuses to start without one.
NO_KEY = "no-key"


@dataclass
class GenerationSummary:
    """What a run of requests cost: counts, tokens from `usage`, seconds. Each request is
    answered (a text), an empty answer (the model answered nothing: `empty`, with the id) or
    failed (no usable answer came: `failures`, with the id and the cause)."""

    requests: int = 0
    failures: List[Tuple[str, str]] = field(default_factory=list)
    empty: List[str] = field(default_factory=list)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0
    cached: int = 0

    def add(self, other: "GenerationSummary") -> None:
        self.requests += other.requests
        self.failures += other.failures
        self.empty += other.empty
        self.prompt_tokens += other.prompt_tokens
        self.completion_tokens += other.completion_tokens
        self.seconds += other.seconds
        self.cached += other.cached

    def as_dict(self) -> Dict[str, Any]:
        return {
            "requests": self.requests,
            "answered": self.answered,
            "empty answer": len(self.empty),
            "failed": len(self.failures),
            "cached": self.cached,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "seconds": round(self.seconds, 2),
        }

    @property
    def answered(self) -> int:
        return self.requests - len(self.failures) - len(self.empty)

    def causes(self, most: int = 3) -> str:
        """The most frequent causes of failure, with their counts: "request failed: ... (12)"."""
        counts: Dict[str, int] = {}
        for _, problem in self.failures:
            counts[problem] = counts.get(problem, 0) + 1
        ranked = sorted(counts.items(), key=lambda item: -item[1])[:most]
        return "; ".join(f"{problem} ({count})" for problem, count in ranked)

    def __str__(self) -> str:
        return ", ".join(f"{key} {value}" for key, value in self.as_dict().items())


@dataclass
class ChatAnswer:
    """One request's outcome: the answer text ("" for an empty answer: the model answered
    nothing), or None when no usable answer came (`problem` says why: a failure)."""

    text: Optional[str]
    problem: str = ""
    prompt_tokens: int = 0
    completion_tokens: int = 0


class ChatEndpoint:
    """An OpenAI-compatible chat-completions endpoint.

    base_url (str): e.g. "https://api.openai.com/v1" or "http://127.0.0.1:8080/v1".
    model (str): the model name the endpoint serves.
    api_key_env (str): the *name* of the environment variable holding the key
        (unset: a placeholder key, which local servers ignore).
    timeout (float): seconds per request attempt.
    max_retries (int): retries on 429, 5xx, connection errors and timeouts, with
        exponential backoff (the openai client's).
    max_in_flight (int): requests sent at once.
    """

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key_env: str = "OPENAI_API_KEY",
        timeout: float = 60.0,
        max_retries: int = 4,
        max_in_flight: int = 4,
    ) -> None:
        if max_in_flight < 1:
            raise ValueError(f"max_in_flight must be at least 1, not {max_in_flight}")
        self.base_url = base_url
        self.model = model
        self.api_key_env = api_key_env
        self.timeout = timeout
        self.max_retries = max_retries
        self.max_in_flight = max_in_flight
        self._client: Optional[Any] = None  # an openai.OpenAI, made on first use
        self._lock = threading.Lock()

    @property
    def client(self):
        with self._lock:
            if self._client is None:
                from openai import OpenAI

                key = os.environ.get(self.api_key_env)
                if not key:
                    # Fine for a local server; for a hosted one a misspelt variable would
                    # otherwise show only as failed requests.
                    logger.warning(
                        "%s is not set: requests to %s go without an API key", self.api_key_env, self.base_url
                    )
                self._client = OpenAI(
                    base_url=self.base_url,
                    api_key=key or NO_KEY,
                    timeout=self.timeout,
                    max_retries=self.max_retries,
                )
            return self._client

    def complete(self, messages: List[Dict[str, Any]], **settings: Any) -> ChatAnswer:
        """One chat completion; never raises for an endpoint's fault. A failure (an error
        after the retries, named down to its root cause such as "Connection refused"; a
        malformed body or no choice; an answer cut by `length`) is `ChatAnswer(None, problem)`;
        an answer without text is `ChatAnswer("", problem)` (an empty answer, not a failure)."""
        try:
            response = self.client.chat.completions.create(model=self.model, messages=messages, **settings)
        except Exception as err:  # noqa: BLE001  (any failure of one request must not stop the job)
            return ChatAnswer(None, f"request failed: {describe_error(err)}")
        usage = getattr(response, "usage", None)
        tokens: Dict[str, int] = {
            "prompt_tokens": int(getattr(usage, "prompt_tokens", 0) or 0),
            "completion_tokens": int(getattr(usage, "completion_tokens", 0) or 0),
        }
        choices = getattr(response, "choices", None)
        if not isinstance(choices, list) or not choices:
            return ChatAnswer(None, "malformed answer: no choice", **tokens)
        choice = choices[0]
        finish_reason = getattr(choice, "finish_reason", None)
        text = getattr(getattr(choice, "message", None), "content", None)
        if finish_reason == "length":
            return ChatAnswer(None, "answer cut at max_tokens (finish_reason=length)", **tokens)
        if text is not None and not isinstance(text, str):
            return ChatAnswer(None, f"malformed answer: content is {type(text).__name__}", **tokens)
        if not text or not text.strip():
            return ChatAnswer("", f"empty answer (finish_reason={finish_reason})", **tokens)
        return ChatAnswer(text, "", **tokens)

    def complete_many(
        self,
        requests: Sequence[Tuple[str, List[Dict[str, Any]]]],
        on_answer: Optional[Callable[[str, Optional[str]], None]] = None,
        **settings: Any,
    ) -> Tuple[Dict[str, Optional[str]], GenerationSummary]:
        """({request id: answer text, "" for an empty answer, None for a failure}, summary)
        for `(id, messages)` requests, at most `max_in_flight` at once. Each failure and
        empty answer is logged with its id;
        `on_answer(id, text)` is called as each answer comes (e.g. to cache it at once,
        so that an interrupted job loses no finished answer)."""
        start = time.perf_counter()
        summary = GenerationSummary()
        answers: Dict[str, Optional[str]] = {}
        if not requests:
            return answers, summary
        with ThreadPoolExecutor(max_workers=min(self.max_in_flight, len(requests))) as pool:
            outcomes = pool.map(lambda request: self.complete(request[1], **settings), requests)
            for (request_id, _), answer in zip(requests, outcomes):
                summary.requests += 1
                summary.prompt_tokens += answer.prompt_tokens
                summary.completion_tokens += answer.completion_tokens
                answers[request_id] = answer.text
                if on_answer is not None:
                    on_answer(request_id, answer.text)
                if answer.text is None:
                    summary.failures.append((request_id, answer.problem))
                    logger.warning("%s: no usable answer from %s: %s", request_id, self.model, answer.problem)
                elif not answer.text:
                    summary.empty.append(request_id)
                    logger.warning("%s: %s from %s", request_id, answer.problem, self.model)
        summary.seconds = time.perf_counter() - start
        return answers, summary

    def __repr__(self) -> str:
        # No key here: a repr lands in logs.
        return f"ChatEndpoint({self.base_url!r}, model={self.model!r}, api_key_env={self.api_key_env!r})"


def describe_error(err: BaseException) -> str:
    """`Type: message`, with the root cause when there is one (the openai client's
    "Connection error." hides "[Errno 111] Connection refused")."""
    text = f"{type(err).__name__}: {err}"
    root, seen = err, {id(err)}
    while (root.__cause__ or root.__context__) is not None and id(root.__cause__ or root.__context__) not in seen:
        root = root.__cause__ or root.__context__  # type: ignore[assignment]
        seen.add(id(root))
    if root is not err and str(root) and str(root) not in text:
        text += f" ({type(root).__name__}: {root})"
    return text


@registry.misc("spacy_ita.ChatEndpoint.v1")
def create_chat_endpoint(
    base_url: str,
    model: str,
    api_key_env: str = "OPENAI_API_KEY",
    timeout: float = 60.0,
    max_retries: int = 4,
    max_in_flight: int = 4,
) -> ChatEndpoint:
    """The endpoint of a generator (`endpoint` of spacy_ita.LLMKnowledge.v1 / VLMDescription.v1).
    `api_key_env` names the variable that holds the key; the key itself is never a setting."""
    return ChatEndpoint(
        base_url, model, api_key_env=api_key_env, timeout=timeout, max_retries=max_retries, max_in_flight=max_in_flight
    )
