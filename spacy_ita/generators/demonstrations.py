"""In-context demonstrations chosen by similarity, as PGIM (Li et al., EMNLP 2023
Findings) chose its few hand-annotated examples for each post.

A pool is a list of annotated posts: the text, the contexts it had (e.g. its
image caption) and the answer written for it. For a new post the k pool posts
whose embedding (post text and caption) is nearest by cosine come first in the
prompt, nearest last (closest to the question). The embeddings are
all-MiniLM-L6-v2 sentence embeddings (mean pooling, L2-normalized: what its
sentence-transformers config does), computed with transformers.
"""

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Union

from ..aligners.backend import shared_model
from ..batch.posts import Post, read_post_file
from ..data.contexts import VisualSources, read_context_jsonl
from ..pipeline_data import PipelineData, check_data_file
from ..resources import resolve_model
from ..visual_context import normalize_context

logger = logging.getLogger("spacy_ita")

DEFAULT_EMBEDDER = "all-MiniLM-L6-v2"
# A selector saved in a pipeline (DemonstrationSelector.to_disk): the pool as a pool file,
# its embeddings, and the embedder and pool size they were made with.
POOL_FILE = "pool.jsonl"
VECTORS_FILE = "vectors.npy"
VECTORS_META = "vectors.json"


@dataclass
class Demonstration:
    text: str
    answer: str
    context: Dict[str, Any] = field(default_factory=dict)
    id: str = ""


def similarity_text(text: str, context: Optional[Dict[str, Any]]) -> str:
    """What is embedded: the post and its caption (PGIM's choice), or the post alone."""
    caption = (context or {}).get("caption") or ""
    return f"{text} {caption}".strip()


def read_demonstrations(path: Union[str, Path], answer_field: str = "knowledge") -> List[Demonstration]:
    """A pool file: one JSON object a line with `text`, the answer in `answer_field`
    and any context kinds (`caption`, `ocr`, ...). Lines without text or answer are
    skipped with a warning. Raises FileNotFoundError / ValueError (invalid JSON, file:line)."""
    path = check_data_file(path, "demonstration pool")
    pool = []
    with path.open(encoding="utf8") as handle:
        for line_number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as err:
                raise ValueError(f"{path}:{line_number}: invalid JSON: {err.msg}") from None
            text, answer = record.get("text"), record.get(answer_field)
            if not isinstance(text, str) or not text.strip() or not isinstance(answer, str) or not answer.strip():
                logger.warning("%s:%d: a demonstration needs 'text' and '%s'; skipped", path, line_number, answer_field)
                continue
            context = normalize_context({k: v for k, v in record.items() if k not in ("text", answer_field)})
            context["knowledge"] = ""  # the answer is not a context of its own demonstration
            pool.append(Demonstration(text=text, answer=answer, context=context, id=str(record.get("id", ""))))
    return pool


def read_demonstration_posts(
    answers: Union[str, Path],
    posts: Union[str, Path],
    sources: Optional[VisualSources] = None,
    answer_field: str = "knowledge",
) -> List[Demonstration]:
    """A demonstration pool from answers keyed by post id (`{"image_id", "knowledge"}` lines,
    as PGIM's hand-written examples are) joined with the posts file they answer (read as
    `annotate` and `generate-contexts` read posts: `batch.posts.read_post_file`) and its
    context sources. Answers whose post is not in `posts` are skipped with a warning."""
    written = {image_id: ctx.get(answer_field) for image_id, ctx in read_context_jsonl(answers).items()}
    pool = []
    for post in read_post_file(posts, sources=sources or VisualSources()):
        if isinstance(post, Post) and written.get(post.id):
            context = normalize_context(post.visual_context)
            context[answer_field] = ""
            pool.append(Demonstration(text=post.text, answer=str(written.pop(post.id)), context=context, id=post.id))
    if any(written.values()):
        logger.warning("%s: %d answers name posts that are not in %s; skipped", answers, len(written), posts)
    return pool


def write_demonstrations(
    pool: Sequence[Demonstration], path: Union[str, Path], answer_field: str = "knowledge"
) -> None:
    """Write `pool` as a pool file `read_demonstrations` reads back (the empty kinds left out)."""
    with Path(path).open("w", encoding="utf8") as handle:
        for demo in pool:
            kinds = {kind: value for kind, value in demo.context.items() if value and kind != answer_field}
            record = {"id": demo.id, "text": demo.text, answer_field: demo.answer, **kinds}
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")


class SentenceEmbedder:
    """Mean-pooled, L2-normalized sentence embeddings of a BERT-style encoder (CPU)."""

    def __init__(self, model: str = DEFAULT_EMBEDDER, batch_size: int = 32) -> None:
        self.model_name = model
        self.batch_size = batch_size

    def _load(self):
        from transformers import AutoModel, AutoTokenizer

        path = resolve_model(self.model_name)
        return AutoTokenizer.from_pretrained(path), AutoModel.from_pretrained(path).eval()

    def __call__(self, texts: Sequence[str]):
        """(len(texts), dim) float32 numpy array of unit vectors."""
        import numpy
        import torch

        tokenizer, model = shared_model(("sentence-embedder", self.model_name), self._load)
        rows = []
        with torch.no_grad():
            for start in range(0, len(texts), self.batch_size):
                batch = tokenizer(
                    list(texts[start : start + self.batch_size]),
                    padding=True,
                    truncation=True,
                    max_length=256,
                    return_tensors="pt",
                )
                hidden = model(**batch).last_hidden_state
                mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
                rows.append(torch.nn.functional.normalize(pooled, dim=-1).numpy())
        return numpy.concatenate(rows).astype("float32") if rows else numpy.zeros((0, 0), dtype="float32")


class DemonstrationSelector:
    """The k pool demonstrations nearest to a post by cosine similarity; none for k=0 or an empty pool."""

    def __init__(self, pool: List[Demonstration], k: int, embedder: Optional[SentenceEmbedder] = None) -> None:
        if k < 0:
            raise ValueError(f"k must be 0 or more, not {k}")
        self.pool = pool
        self.k = min(k, len(pool))
        self.embedder = embedder or SentenceEmbedder()
        self._pool_vectors: Optional[Any] = None  # (pool size, dim) array, embedded on first use

    @property
    def pool_vectors(self) -> Any:
        """(pool size, dim) unit vectors of the pool, embedded on first use."""
        if self._pool_vectors is None:
            self._pool_vectors = self.embedder([similarity_text(d.text, d.context) for d in self.pool])
        return self._pool_vectors

    def select(self, items: Sequence[tuple]) -> List[List[Demonstration]]:
        """For each `(text, context)`, its demonstrations, least similar first."""
        if not self.k:
            return [[] for _ in items]
        queries = self.embedder([similarity_text(text, context) for text, context in items])
        scores = queries @ self.pool_vectors.T
        chosen = []
        for row in scores:
            nearest = row.argsort()[::-1][: self.k]
            chosen.append([self.pool[i] for i in reversed(nearest)])
        return chosen

    def to_disk(self, path: Union[str, Path]) -> None:
        """Save the pool (a pool file) and its vectors (embedded now if they were not) into the folder `path`."""
        import numpy

        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        write_demonstrations(self.pool, path / POOL_FILE)
        if self.k:
            numpy.save(path / VECTORS_FILE, self.pool_vectors, allow_pickle=False)
            meta = {"embedder": getattr(self.embedder, "model_name", None), "rows": len(self.pool)}
            (path / VECTORS_META).write_text(json.dumps(meta) + "\n", encoding="utf8")

    @classmethod
    def from_disk(
        cls, path: Union[str, Path], k: int, embedder: Optional[SentenceEmbedder] = None
    ) -> "DemonstrationSelector":
        """A selector over the pool saved in the folder `path`, with its saved vectors when they
        were made by this embedder (else the pool is embedded again on first use)."""
        import numpy

        path = Path(path)
        selector = cls(read_demonstrations(path / POOL_FILE), k, embedder)
        if (path / VECTORS_META).is_file():
            meta = json.loads((path / VECTORS_META).read_text(encoding="utf8"))
            same_embedder = meta.get("embedder") == getattr(selector.embedder, "model_name", None)
            if same_embedder and meta.get("rows") == len(selector.pool):
                selector._pool_vectors = numpy.load(path / VECTORS_FILE, allow_pickle=False)
            else:
                logger.info("%s: vectors of another embedder or pool; the pool is embedded again", path)
        return selector

    @classmethod
    def declare(
        cls,
        data: PipelineData,
        load_pool: Callable[[], List[Demonstration]],
        *,
        source: Any,
        k: int,
        embedder: Optional[SentenceEmbedder] = None,
    ) -> None:
        """Declare the selector as item "demonstrations" of a backend's `data`
        (pipeline_data.py): `load_pool()` reads the pool from the config's files on first
        use; the pipeline keeps the pool and its vectors, not the files it was joined from."""
        data.add(
            "demonstrations",
            source=source,
            load=lambda: cls(load_pool(), k, embedder),
            save=lambda selector, path: selector.to_disk(path),
            load_saved=lambda path: cls.from_disk(path, k, embedder),
        )
