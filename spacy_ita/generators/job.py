"""`generate-contexts`: write `knowledge`, `description` and `kb` contexts for a file of posts.

The output is context JSONL (or a folder of part files), one row per post,
`{"image_id": <post id>, "description": ..., "kb": ..., "knowledge": ...}`: what `convert
--contexts`, the corpus reader and `align-images` read and write. For an MNER
`.txt` file the post id is its image id (`IMGID:`). Resumable: ids already in
the output are skipped, and answers are cached by content (with a cache folder),
so a rerun costs nothing. Each request is answered, an empty answer (written as
"") or failed (no usable answer: the connection, an HTTP error after the retries,
a malformed answer). A post with a failed kind is not written, so a rerun asks for
it again; it is named in the summary with the cause, and never stops the job.

With `engine="ray"` the batches go to a pool of Ray actors, each of which
builds the generators from their configs and keeps `max_in_flight` requests in
flight: this stage waits on the network, so many requests per worker pay.
"""

import copy
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Sequence, Set, Union

from spacy.util import minibatch

from ..aligners.cache import AlignmentCache
from ..batch.jobs import (
    JobTiming,
    RayOptions,
    check_annotate_output,
    check_engine,
    post_input_rows,
    post_input_schema,
    posts_to_do,
    write_all,
)
from ..batch.outputs import ResultWriter
from ..batch.pools import PoolSpec
from ..batch.posts import Post, PostColumns, PostReadReport, check_post_input
from ..batch.schema import context_schema
from ..data.contexts import VisualSources
from ..pipeline_data import load_backend_data
from ..visual_context import normalize_context
from .client import GenerationSummary
from .description import VLMDescription
from .kb import KBRetriever
from .knowledge import LLMKnowledge

# In the order they are made: the knowledge prompt shows the description and the kb text.
GENERATED_KINDS = ("description", "kb", "knowledge")
GENERATE_STAGE = "generate"


@dataclass
class ContextJobSummary(PostReadReport):
    """The counts of a generate-contexts job; what its read found, skipped and repaired:
    `PostReadReport`'s (the same warnings, capped the same way, as annotate's)."""

    # {kind: summary of its requests}; `failed` names the posts whose kind failed (not written:
    # a rerun retries them), `empty` those written with an empty answer.
    kinds: Dict[str, GenerationSummary] = field(default_factory=dict)
    failed: Dict[str, List[str]] = field(default_factory=dict)
    empty: Dict[str, List[str]] = field(default_factory=dict)
    # The posts of this run not written (a kind failed), whichever engine ran them.
    unwritten: List[str] = field(default_factory=list)
    timing: JobTiming = field(default_factory=JobTiming)

    @property
    def all_failed(self) -> bool:
        """Whether posts were to be generated and not one was written."""
        return bool(self.unwritten) and not self.timing.rows

    def causes(self) -> str:
        """The most frequent causes of failure over the kinds (local engine)."""
        return "; ".join(run.causes() for run in self.kinds.values() if run.failures)


def generate_contexts(
    input_path: Union[str, Path],
    output: Union[str, Path],
    *,
    knowledge: Optional[LLMKnowledge] = None,
    description: Optional[VLMDescription] = None,
    kb: Optional[KBRetriever] = None,
    configs: Optional[Dict[str, Optional[dict]]] = None,
    sources: Optional[VisualSources] = None,
    columns: PostColumns = PostColumns(),
    image_root: Optional[Union[str, Path]] = None,
    cache: Optional[AlignmentCache] = None,
    batch_size: int = 16,
    limit: Optional[int] = None,
    output_format: Optional[str] = None,
    engine: str = "local",
    ray: Optional[RayOptions] = None,
    cache_dir: Optional[Union[str, Path]] = None,
    progress: bool = True,
) -> ContextJobSummary:
    """Generate the enabled kinds for the posts of `input_path` not yet in `output`.

    The generators are given built (`knowledge`, `description`, `kb`) or as their registered
    configs (`configs`, {"knowledge": {...}, "description": {...}, "kb": {...}}: what
    `engine="ray"` needs, every worker builds its own). The description and the kb text
    come first, so that the knowledge prompt can show them. `limit`: only the first N posts of the input (a fixed
    subset). `cache_dir`: the answer cache by content (or `cache`, an AlignmentCache).
    Raises ValueError when no generator is given or the output is or holds the input,
    NoReadablePostError (a ValueError) when every row of the input was unreadable (the
    columns it found are named), FileNotFoundError for a missing input, FileNotFoundError /
    IsADirectoryError / ValueError (naming the file) for a generator file that cannot be read.
    Posts whose generation failed are not written (`summary.unwritten`): a rerun retries them."""
    check_engine(engine)
    # The same rule as annotate's: the job never writes over, or beside as posts, its input.
    check_annotate_output(Path(output), Path(input_path))
    configs = {kind: config for kind, config in (configs or {}).items() if config}
    built = {}
    if configs:
        from spacy.util import registry

        built = {kind: registry.resolve({"g": config or {}})["g"] for kind, config in configs.items()}
        if engine == "local":
            knowledge, description = knowledge or built.get("knowledge"), description or built.get("description")
            kb = kb or built.get("kb")
    none_built = knowledge is None and description is None and kb is None
    if engine == "local" and none_built or engine != "local" and not configs:
        raise ValueError("No generator enabled: configure a knowledge LLM, a description VLM or a knowledge base.")
    check_post_input(input_path)  # a missing or unreadable input fails here, before anything is asked
    # Their files (prompt templates, the demonstration pool, a KB file) are read before anything is written or asked.
    for generator in (knowledge, description, kb, *built.values()):
        if generator is not None:
            load_backend_data(generator)
    if cache is None and cache_dir is not None:
        cache = AlignmentCache(cache_dir)
    summary = ContextJobSummary()
    enabled = configs if engine != "local" else {"knowledge": knowledge, "description": description, "kb": kb}
    kinds = [kind for kind in GENERATED_KINDS if enabled.get(kind)]
    summary.kinds = {kind: GenerationSummary() for kind in kinds}
    summary.failed = {kind: [] for kind in kinds}
    summary.empty = {kind: [] for kind in kinds}
    with ResultWriter(output, id_column="image_id", schema=context_schema, output_format_name=output_format) as writer:
        todo = posts_to_do(
            input_path,
            columns,
            writer.written,
            summary,
            image_root=image_root,
            sources=sources or VisualSources(),
            limit=limit,
        )
        batches: Iterator[List[Dict[str, Any]]]
        if engine == "local":
            batches = (
                generate_batch(p, description, knowledge, cache, summary, kb=kb) for p in minibatch(todo, batch_size)
            )
        else:
            batches = generate_on_ray(todo, configs, ray or RayOptions(), batch_size=batch_size, cache_dir=cache_dir)
        for rows in write_all(writer, batches, len(todo), "generate-contexts", progress, summary.timing):
            if engine != "local":  # the workers' request counts stay with them: report what the rows show
                for kind in kinds:
                    summary.empty[kind] += [row["image_id"] for row in rows if kind in row and not row[kind]]
        summary.unwritten = [post.id for post in todo if post.id not in writer.written]
        if engine != "local" and len(kinds) == 1:  # which kind failed, where only one was asked
            summary.failed[kinds[0]] = list(summary.unwritten)
    return summary


class GenerateActor:
    """One Ray worker: post rows (Arrow) -> context rows, with generators built from their configs."""

    def __init__(self, configs: Dict[str, dict], cache_dir: Optional[str]) -> None:
        from spacy.util import registry

        from . import description, kb, knowledge  # noqa: F401  (register the generators in the worker)

        built = {kind: registry.resolve({"g": config})["g"] for kind, config in configs.items()}
        self.knowledge, self.description, self.kb = built.get("knowledge"), built.get("description"), built.get("kb")
        self.cache = AlignmentCache(cache_dir) if cache_dir else None

    def __call__(self, batch):
        from ..batch.schema import to_table

        posts = [
            Post(row["id"], row["text"], row["image"], json.loads(row["visual_context"] or "null"))
            for row in batch.to_pylist()
        ]
        summary = ContextJobSummary(
            failed={kind: [] for kind in GENERATED_KINDS}, empty={kind: [] for kind in GENERATED_KINDS}
        )
        summary.kinds = {kind: GenerationSummary() for kind in GENERATED_KINDS}
        rows = generate_batch(posts, self.description, self.knowledge, self.cache, summary, kb=self.kb)
        return to_table(rows, context_schema())


def generate_on_ray(
    posts: List[Post],
    configs: Dict[str, Optional[dict]],
    ray: RayOptions,
    *,
    batch_size: int,
    cache_dir: Optional[Union[str, Path]],
) -> Iterator[List[Dict[str, Any]]]:
    """Result batches from a pool of GenerateActor (the `generate` stage of `--workers`)."""
    if not posts:
        return
    from ..batch import ray_engine

    pool = ray.pools.get(GENERATE_STAGE, PoolSpec())
    with ray_engine.ray_cluster(ray.address, {GENERATE_STAGE: pool}):
        ds = ray_engine.from_rows(post_input_rows(posts), post_input_schema(), batch_size)
        results = ray_engine.map_pool(
            ds,
            GenerateActor,
            pool,
            batch_size,
            configs=configs,
            cache_dir=str(Path(cache_dir).resolve()) if cache_dir else None,
        )
        yield from ray_engine.result_batches(results)


def generate_batch(
    posts: Sequence[Post],
    description: Optional[VLMDescription],
    knowledge: Optional[LLMKnowledge],
    cache: Optional[AlignmentCache],
    summary: ContextJobSummary,
    *,
    kb: Optional[KBRetriever] = None,
) -> List[Dict[str, Any]]:
    """The output rows of one batch: {image_id, <generated kinds>}, an empty answer (for `kb`: no
    entity found) as ""; a post whose kind failed (no usable answer, or its image unreadable) has no row."""
    contexts = {post.id: normalize_context(post.visual_context) for post in posts}
    rows = {post.id: {"image_id": post.id} for post in posts}
    failed: Set[str] = set()

    def record(kind: str, post_id: str, text: Optional[str]) -> None:
        if text is None:
            summary.failed[kind].append(post_id)
            failed.add(post_id)
            return
        rows[post_id][kind] = text
        contexts[post_id][kind] = text or contexts[post_id][kind]
        if not text:
            summary.empty[kind].append(post_id)

    if description is not None:
        from ..aligners.component import ImageAligner

        with_image = [post for post in posts if post.image]
        before = copy.deepcopy(description.summary)
        aligner = ImageAligner(backends={"description": description}, cache=cache)
        for post, (aligned, missing) in zip(with_image, aligner.align_reporting([post.image for post in with_image])):
            record("description", post.id, None if missing else aligned.get("description") or "")
        summary.kinds["description"].add(_since(description.summary, before))
    # kb first: the knowledge prompt reads what the knowledge bases say.
    for kind, backend in (("kb", kb), ("knowledge", knowledge)):
        if backend is None:
            continue
        asked = [post for post in posts if post.id not in failed]  # not written anyway: asked again on rerun
        answers, run = backend.generate([(post.id, post.text, contexts[post.id]) for post in asked], cache)
        summary.kinds[kind].add(run)
        for post in asked:
            # A KB that knows no entity of a post has answered: an empty answer, never a failure.
            answer = answers.get(post.id)
            record(kind, post.id, (answer or "") if kind == "kb" else answer)
    return [row for post_id, row in rows.items() if post_id not in failed]


def _since(total: GenerationSummary, before: GenerationSummary) -> GenerationSummary:
    """What `total` gained after `before` (a backend's summary accumulates across calls)."""
    return GenerationSummary(
        requests=total.requests - before.requests,
        failures=total.failures[len(before.failures) :],
        empty=total.empty[len(before.empty) :],
        prompt_tokens=total.prompt_tokens - before.prompt_tokens,
        completion_tokens=total.completion_tokens - before.completion_tokens,
        seconds=total.seconds - before.seconds,
    )
