"""The service's settings as plain values (light: the CLI reads the defaults without FastAPI)."""

import json
from dataclasses import asdict, dataclass, field
from typing import Optional

from .limits import ServeLimits

SETTINGS_ENV = "SPACY_ITA_SERVE_SETTINGS"  # how `serve --processes N` hands the settings to each worker process
DEFAULT_API_KEY_ENV = "SPACY_ITA_API_KEY"


@dataclass(frozen=True)
class ServeSettings:
    """Everything `serve` runs with, as plain values (they travel to worker processes as JSON).

    model: a pipeline folder or installed package. max_batch_posts / max_wait_ms: the
    dynamic batching; max_queue_posts: posts waiting at most (then 503); request_timeout_s:
    a request not answered by then gets 504. api_key_env: the environment variable that
    holds the API key (unset or empty: no key needed); the key itself is never stored here.
    """

    model: str
    code: Optional[str] = None
    gpu_id: int = -1
    torch_threads: Optional[int] = None
    max_batch_posts: int = 16
    max_wait_ms: float = 10.0
    max_queue_posts: int = 256
    request_timeout_s: float = 60.0
    api_key_env: str = DEFAULT_API_KEY_ENV
    limits: ServeLimits = field(default_factory=ServeLimits)

    def check(self) -> None:
        """Raise ValueError for settings that cannot work together."""
        if self.max_queue_posts < self.limits.max_posts:
            raise ValueError(
                f"max_queue_posts ({self.max_queue_posts}) must be at least max_posts ({self.limits.max_posts}): "
                "a request of max_posts posts must fit in the queue"
            )

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> "ServeSettings":
        values = json.loads(text)
        return cls(**{**values, "limits": ServeLimits(**values.get("limits", {}))})
