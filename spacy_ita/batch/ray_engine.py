"""The Ray Data engine: the per-batch steps of steps.py in pools of Ray actors.

For users who already hold a Ray Dataset:

    from spacy_ita.batch import align_images, annotate
    contexts = align_images(images_ds)                        # {image_id, image} rows
    entities = annotate(posts_ds, "training/demo/model-best")  # {id, text, image?, visual_context?} rows

Each call returns a lazy Ray Dataset (`write_parquet`, `iter_batches`, ...).
Every actor loads the pipeline or backend itself, by path or config, and
imports spacy_ita (the doc extensions); each vision backend is its own stage
with its own pool (OCR is 20-70x slower than detection). Batches cross stages
as Arrow tables built with the fixed schemas of schema.py.

Ray is imported inside the functions only: spacy_ita works without it.
"""

import contextlib
import logging
import os
from types import ModuleType
from typing import TYPE_CHECKING, Any, Dict, Iterator, List, Optional, Type

from .pools import PoolSpec, cpus_needed
from .posts import BadRow, Post, PostColumns, post_from_record
from .schema import annotation_schema, context_schema, to_table
from .schema import pyarrow as pyarrow_module
from .steps import ContextAligner, PostAnnotator

if TYPE_CHECKING:
    import pyarrow
    from ray.data import Dataset

logger = logging.getLogger("spacy_ita")


def require_ray() -> ModuleType:
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError as err:
        raise ImportError("The Ray engine needs the ray extra: pip install 'spacy-ita[ray]'") from err
    return ray


class AnnotateActor:
    """One pool worker: posts (Arrow) -> annotation rows (Arrow, fixed schema)."""

    def __init__(self, model: str, columns: PostColumns, settings: Dict[str, Any]) -> None:
        self.annotator = PostAnnotator(model, **settings)
        self.columns = columns

    def __call__(self, batch: "pyarrow.Table") -> "pyarrow.Table":
        posts: List[Post] = []
        for row in batch.to_pylist():
            item = post_from_record(row, self.columns, where=f"row with id {row.get(self.columns.id)!r}")
            if isinstance(item, BadRow):
                # Raising would abort the whole dataset: skip the row, loudly.
                logger.warning("Skipping %s", item)
                continue
            posts.append(item)
        return to_table(self.annotator(posts), annotation_schema())


class AlignStageActor:
    """One pool worker of one backend's stage: adds that backend's kinds to each row."""

    def __init__(
        self, backends: Dict[str, dict], id_column: str, image_column: str, keep_image: bool, settings: Dict[str, Any]
    ) -> None:
        self.aligner = ContextAligner(backends, id_column=id_column, **settings)
        self.id_column = id_column
        self.image_column = image_column
        self.keep_image = keep_image

    def __call__(self, batch: "pyarrow.Table") -> "pyarrow.Table":
        rows = [{**row, "image": row[self.image_column]} for row in batch.to_pylist()]
        aligned = self.aligner(rows)  # an image that gave nothing has no row (not recorded as aligned)
        table = to_table(aligned, context_schema(self.id_column))
        if not self.keep_image:
            return table
        # The next stage reads the image again (cheap next to any model).
        position = {str(row[self.id_column]): i for i, row in enumerate(rows)}
        kept = [position[str(row[self.id_column])] for row in aligned]
        indices = pyarrow_module().array(kept, type=pyarrow_module().int64())  # typed even when empty
        return table.append_column(self.image_column, batch.column(self.image_column).take(indices))


def map_pool(ds: "Dataset", actor: Type, pool: PoolSpec, batch_size: int, **constructor_kwargs: Any) -> "Dataset":
    ray = require_ray()
    return ds.map_batches(
        actor,
        fn_constructor_kwargs=constructor_kwargs,
        compute=ray.data.ActorPoolStrategy(min_size=pool.min_workers, max_size=pool.max_workers),
        num_cpus=pool.cpus_per_worker,
        num_gpus=pool.gpus_per_worker,
        batch_size=int(batch_size),  # an explicit integer: required with GPUs
        batch_format="pyarrow",
    )


def annotate(
    ds: "Dataset",
    model_path: str,
    *,
    columns: PostColumns = PostColumns(),
    pool: PoolSpec = PoolSpec(),
    batch_size: int = 32,
    code: Optional[str] = None,
) -> "Dataset":
    """Posts -> {id, entities, view, visual_context} rows, tagged by a pool of actors
    that each load the pipeline at `model_path` (a path every node can read)."""
    settings = {
        "code": code,
        "batch_size": batch_size,
        "torch_threads": pool.torch_threads,
        "gpu_id": 0 if pool.gpus_per_worker > 0 else -1,
    }  # Ray gives each actor its GPU as device 0
    return map_pool(ds, AnnotateActor, pool, batch_size, model=str(model_path), columns=columns, settings=settings)


def align_images(
    ds: "Dataset",
    backends: Optional[Dict[str, Optional[dict]]] = None,
    *,
    id_column: str = "image_id",
    image_column: str = "image",
    pools: Optional[Dict[str, PoolSpec]] = None,
    batch_size: int = 16,
    cache_dir: Optional[str] = None,
    code: Optional[str] = None,
) -> "Dataset":
    """Images -> {image_id, <context kinds>} rows, one stage and pool per enabled backend.

    `backends`: the image_aligner's backends config (default: its default
    backends); `pools`: a PoolSpec per backend name (default: 1 worker, 1 CPU).
    """
    from ..aligners.component import DEFAULT_CONFIG

    backends = DEFAULT_CONFIG["backends"] if backends is None else backends
    stages = [name for name, config in backends.items() if config]
    if not stages:
        raise ValueError("No backend enabled: nothing to align.")
    for index, name in enumerate(stages):
        pool = (pools or {}).get(name, PoolSpec())
        settings = {"cache_dir": cache_dir, "batch_size": batch_size, "code": code, "torch_threads": pool.torch_threads}
        ds = map_pool(
            ds,
            AlignStageActor,
            pool,
            batch_size,
            backends={name: backends[name]},
            id_column=id_column,
            image_column=image_column,
            keep_image=index < len(stages) - 1,
            settings=settings,
        )
    return ds


@contextlib.contextmanager
def ray_cluster(address: Optional[str], pools: Dict[str, PoolSpec]) -> Iterator[None]:
    """Use the connected Ray, or the cluster at `address`, or start a local one (and stop what we started)."""
    ray = require_ray()
    if ray.is_initialized():
        yield
        return
    if address:
        ray.init(address=address)
    else:
        # Pools that reserve every logical CPU starve Ray's own tasks and hang
        # without an error: keep at least one CPU over what the pools take.
        needed = int(cpus_needed(pools) + 0.999) + 1
        ray.init(num_cpus=max(os.cpu_count() or 1, needed), include_dashboard=False)
    try:
        yield
    finally:
        ray.shutdown()


def from_rows(rows: List[Dict[str, Any]], schema: "pyarrow.Schema", block_rows: int) -> "Dataset":
    """A Ray Dataset of driver-side rows with a fixed schema, in blocks of `block_rows`.

    One block is one task: blocks of about a batch let every worker of a pool
    take work (one large block would go to one worker)."""
    ray = require_ray()
    tables = [to_table(rows[start : start + block_rows], schema) for start in range(0, len(rows), block_rows)]
    return ray.data.from_arrow(tables or [to_table([], schema)])


def result_batches(ds: "Dataset") -> Iterator[List[Dict[str, Any]]]:
    """The rows of a dataset as they are computed (in no particular order), one block at a time."""
    for table in ds.iter_batches(batch_size=None, batch_format="pyarrow"):
        yield table.to_pylist()
