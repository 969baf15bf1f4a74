"""Batch jobs from files to files, on either engine.

The driver does what must happen once: check the inputs, read and validate
the rows (bad ones reported with file:line), skip the ids already in the
output (resume), write the results as they come and count them. Only the
computing of result batches differs between engines: a loop over the
per-batch step here (`local`), or pools of Ray actors (`ray`).
"""

import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Container, Dict, Iterable, Iterator, List, Optional, Sequence, Union

from spacy.util import is_package, minibatch
from tqdm import tqdm

from ..data.contexts import VisualSources
from ..image_folder import index_images
from ..ner.views import CROSS_MODAL
from ..visual_context import CONTEXT_KINDS
from .outputs import ResultWriter, check_output_apart, is_single_file
from .pools import PoolSpec
from .posts import BadRow, Post, PostColumns, PostReadReport, check_post_input, read_post_file
from .schema import ANNOTATION_FIELDS, annotation_schema, context_schema

logger = logging.getLogger("spacy_ita")

ENGINES = ("local", "ray")
NER_STAGE = "ner"


@dataclass
class JobTiming:
    """Rows written and when: the first batch carries the start-up (model loads, Ray actors)."""

    rows: int = 0
    seconds: float = 0.0
    first_batch_seconds: float = 0.0
    first_batch_rows: int = 0

    @property
    def rate(self) -> float:
        """Rows per second over the whole job, start-up included."""
        return self.rows / self.seconds if self.seconds else 0.0


@dataclass
class AnnotateSummary(PostReadReport):
    """The counts of an annotate job; what its read found, skipped and repaired: `PostReadReport`'s."""

    with_image: int = 0
    cross_modal: int = 0
    entities: int = 0
    timing: JobTiming = field(default_factory=JobTiming)

    @property
    def annotated(self) -> int:
        return self.timing.rows


@dataclass
class RayOptions:
    address: Optional[str] = None
    pools: Dict[str, PoolSpec] = field(default_factory=dict)


def check_model(model: str) -> str:
    """A folder (made absolute: workers may start elsewhere) or an installed package; else a clear error."""
    path = Path(model)
    if path.exists():
        if not (path / "config.cfg").is_file():
            raise FileNotFoundError(f"Model {model}: no config.cfg in it, not a saved spaCy pipeline")
        return str(path.resolve())
    if is_package(model):
        return model
    raise FileNotFoundError(f"Model not found: {model} is neither a folder nor an installed pipeline package")


def pipeline_config_path(model: str) -> Path:
    """The config.cfg of a checked model (`check_model`): a folder's, or an installed package's data folder's."""
    path = Path(model)
    if path.is_dir():
        return path / "config.cfg"
    from spacy.util import get_package_path

    found = sorted(get_package_path(model).glob("*/config.cfg"))
    if not found:
        raise FileNotFoundError(f"Model {model}: the package holds no config.cfg")
    return found[0]


def check_tagger(model: str) -> None:
    """A ValueError naming the pipeline's components when it has no enabled `ita_ner`
    (annotate would write 0 entities for every post). Reads the config, not the weights."""
    from spacy.util import load_config

    config = load_config(pipeline_config_path(model), interpolate=False)
    disabled = set(config["nlp"].get("disabled") or [])
    pipeline = [name for name in config["nlp"].get("pipeline", []) if name not in disabled]
    factories = {name: config["components"].get(name, {}).get("factory", "?") for name in pipeline}
    if "ita_ner" not in factories.values():
        has = ", ".join(f"{name} ({factory})" for name, factory in factories.items()) or "no component"
        raise ValueError(
            f"Model {model} has no enabled ita_ner to tag posts with; its pipeline: {has}. "
            "Annotate with a pipeline trained from configs/ita.cfg (and assembled for images)."
        )


def check_engine(engine: str) -> None:
    if engine not in ENGINES:
        raise ValueError(f"Unknown engine {engine!r}: expected one of {', '.join(ENGINES)}")


def absolute(path: Optional[Union[str, Path]]) -> Optional[str]:
    return None if path is None else str(Path(path).resolve())


def annotate_posts(
    model: str,
    input_path: Path,
    output: Path,
    *,
    engine: str = "local",
    columns: PostColumns = PostColumns(),
    image_root: Optional[Path] = None,
    batch_size: int = 32,
    output_format: Optional[str] = None,
    code: Optional[str] = None,
    gpu_id: int = -1,
    ray: Optional[RayOptions] = None,
    progress: bool = True,
) -> AnnotateSummary:
    """Tag every post of INPUT that is not yet in OUTPUT; return the counts. Raises
    FileNotFoundError (no such model or input), ValueError (a model without ita_ner, an
    output suffix that is not written, an output that is or holds the input, ...)."""
    check_engine(engine)
    model = check_model(model)
    check_tagger(model)
    check_post_input(input_path)  # a missing or empty input fails here, before any work
    input_path = Path(input_path).resolve()
    check_annotate_output(output, input_path)
    summary = AnnotateSummary()
    with ResultWriter(
        output, id_column="id", schema=annotation_schema, output_format_name=output_format, fields=ANNOTATION_FIELDS
    ) as writer:
        todo = posts_to_do(input_path, columns, writer.written, summary, image_root=absolute(image_root))
        summary.with_image = sum(post.image is not None for post in todo)
        if engine == "local":
            batches = annotate_locally(todo, model, batch_size=batch_size, code=absolute(code), gpu_id=gpu_id)
        else:
            batches = annotate_on_ray(todo, model, batch_size=batch_size, code=absolute(code), ray=ray or RayOptions())
        for rows in write_all(writer, batches, len(todo), "annotate", progress, summary.timing):
            summary.entities += sum(len(row["entities"]) for row in rows)
            summary.cross_modal += sum(row["view"] == CROSS_MODAL for row in rows)
    return summary


def posts_to_do(
    input_path: Union[str, Path],
    columns: PostColumns,
    done: Container[str],
    report: PostReadReport,
    *,
    image_root: Optional[Union[str, Path]] = None,
    sources: Optional[VisualSources] = None,
    limit: Optional[int] = None,
) -> List[Post]:
    """The readable posts of INPUT (the first `limit`) whose id is not in `done` (the output's ids),
    read by `read_post_file`, the one reader of `annotate` and `generate-contexts`; bad rows and
    repaired posts reported on `report`, which counts the posts read and those already done.
    Raises NoReadablePostError (naming the columns the rows had) when no row was readable."""
    todo = []
    for item in read_post_file(input_path, columns, image_root=image_root, sources=sources):
        if isinstance(item, BadRow):
            report.report_bad_row(item)
            continue
        if limit is not None and report.posts >= limit:
            break
        report.posts += 1
        if item.id in done:
            report.already_done += 1
        else:
            if item.repaired:
                report.report_repaired_post(item)
            todo.append(item)
    if not report.posts and report.bad_rows:
        raise NoReadablePostError(no_readable_post_message(Path(input_path), report.bad, columns))
    return todo


class NoReadablePostError(ValueError):
    """Every row of the input was unreadable: most likely the wrong columns or format."""


def no_readable_post_message(input_path: Path, bad: List[BadRow], columns: PostColumns) -> str:
    """Why a job read no post at all: the first reason, and the columns the rows did have."""
    found = sorted({name for row in bad for name in row.columns})
    hint = (
        f"; the rows have the columns {', '.join(map(repr, found))}: name the id and text columns "
        f"(now {columns.id!r} and {columns.text!r}) with --id-column and --text-column"
        if found
        else ""
    )
    return f"No readable post in {input_path}: every row was skipped, the first as {bad[0]}{hint}"


def check_annotate_output(output: Path, input_path: Path) -> None:
    """OUTPUT must be neither INPUT, nor a folder holding it, nor a posts file inside
    an INPUT folder (a rerun would read its own results as posts): a ValueError."""
    check_output_apart(output, [input_path])
    output = Path(output)
    if input_path.is_dir() and output.resolve().parent == input_path and is_single_file(output):
        raise ValueError(f"The output {output} is inside the input folder {input_path}, whose files are read as posts")


def write_all(
    writer: ResultWriter,
    batches: Iterable[List[Dict[str, Any]]],
    total: int,
    desc: str,
    progress: bool,
    timing: JobTiming,
) -> Iterator[List[Dict[str, Any]]]:
    """Write each result batch as it comes; yield the rows actually written (each id once)."""
    start = time.perf_counter()
    with tqdm(total=total, unit="row", desc=desc, disable=not progress) as bar:
        for rows in batches:
            written = writer.write(rows)
            bar.update(len(written))
            if written and not timing.rows:
                timing.first_batch_seconds, timing.first_batch_rows = time.perf_counter() - start, len(written)
            timing.rows += len(written)
            timing.seconds = time.perf_counter() - start
            yield written


def annotate_locally(
    posts: List[Post], model: str, *, batch_size: int, code: Optional[str], gpu_id: int
) -> Iterator[List[Dict[str, Any]]]:
    if not posts:
        return
    from .steps import PostAnnotator

    annotator = PostAnnotator(model, code=code, gpu_id=gpu_id, batch_size=batch_size)
    for batch in minibatch(posts, size=batch_size):
        yield annotator(batch)


def post_input_rows(posts: List[Post]) -> List[Dict[str, Any]]:
    """Posts as flat rows for a Ray Dataset; the context travels as JSON text (one column type for all)."""
    return [
        {
            "id": p.id,
            "text": p.text,
            "image": p.image,
            "visual_context": None if p.visual_context is None else json.dumps(p.visual_context),
        }
        for p in posts
    ]


def post_input_schema():
    from .schema import pyarrow

    pa = pyarrow()
    return pa.schema([(name, pa.string()) for name in ("id", "text", "image", "visual_context")])


def annotate_on_ray(
    posts: List[Post], model: str, *, batch_size: int, code: Optional[str], ray: RayOptions
) -> Iterator[List[Dict[str, Any]]]:
    if not posts:
        return
    from . import ray_engine

    pools = {NER_STAGE: ray.pools.get(NER_STAGE, PoolSpec())}
    with ray_engine.ray_cluster(ray.address, pools):
        ds = ray_engine.from_rows(post_input_rows(posts), post_input_schema(), batch_size)
        results = ray_engine.annotate(ds, model, pool=pools[NER_STAGE], batch_size=batch_size, code=code)
        yield from ray_engine.result_batches(results)


def align_image_folder(
    images: Union[Path, Sequence[Path]],
    output: Path,
    *,
    backends: Dict[str, Optional[dict]],
    engine: str = "local",
    gpu_backends: Optional[Dict[str, Optional[dict]]] = None,
    ray: Optional[RayOptions] = None,
    batch_size: int = 16,
    cache_dir: Optional[Path] = None,
    output_format: Optional[str] = None,
    code: Optional[str] = None,
    progress: bool = True,
    on_listed: Callable[[int, int], None] = lambda total, todo: None,
) -> JobTiming:
    """align-images on either engine: {image_id, <kinds>} rows, one per image not yet in
    OUTPUT (a .jsonl file or a folder of part files), written as the batches come.

    images: a folder (every image in it, the file stem as id: `image_folder.index_images`,
    the files `convert --images` attaches) or a list of image files. backends: the
    image_aligner's `backends` config (`aligners.configs.backend_configs`). Both engines run
    the same per-batch step (`steps.ContextAligner`): `local` one aligner with every backend
    in this process; `ray` one stage of actors per backend, where a stage given GPUs uses
    `gpu_backends`' config. `on_listed(total, todo)` is called once the output is read.
    Raises FileNotFoundError for a missing folder, ValueError for an unknown engine, no
    enabled backend or an OUTPUT that holds the images, ImportError without Ray."""
    check_engine(engine)
    if isinstance(images, (str, Path)):
        folder = Path(images)
        if not folder.is_dir():
            raise FileNotFoundError(f"Not a folder: {folder}")
        check_output_apart(output, [folder])
        images = list(index_images(folder).values())
    if not any(backends.values()):
        raise ValueError("No backend enabled: name OCR, a detector or a caption model.")
    with context_writer(output, output_format) as writer:
        todo = [
            {"image_id": path.stem, "image": str(Path(path).resolve())}
            for path in images
            if path.stem not in writer.written
        ]
        on_listed(len(images), len(todo))
        if engine == "local":
            batches = align_locally(
                todo, backends, batch_size=batch_size, cache_dir=absolute(cache_dir), code=absolute(code)
            )
        else:
            batches = align_on_ray(
                todo,
                backends,
                gpu_backends=gpu_backends,
                ray=ray or RayOptions(),
                batch_size=batch_size,
                cache_dir=absolute(cache_dir),
                code=absolute(code),
            )
        timing = JobTiming()
        for _ in write_all(writer, batches, len(todo), "align-images", progress, timing):
            pass
    return timing


def align_locally(
    rows: List[Dict[str, Any]],
    backends: Dict[str, Optional[dict]],
    *,
    batch_size: int,
    cache_dir: Optional[str],
    code: Optional[str],
) -> Iterator[List[Dict[str, Any]]]:
    if not rows:
        return  # nothing to align: no vision model is loaded
    from .steps import ContextAligner

    aligner = ContextAligner(backends, cache_dir=cache_dir, batch_size=batch_size, code=code)
    for batch in minibatch(rows, size=batch_size):
        yield aligner(batch)


def align_on_ray(
    rows: List[Dict[str, Any]],
    backends: Dict[str, Optional[dict]],
    *,
    gpu_backends: Optional[Dict[str, Optional[dict]]],
    ray: RayOptions,
    batch_size: int,
    cache_dir: Optional[str],
    code: Optional[str],
) -> Iterator[List[Dict[str, Any]]]:
    if not rows:
        return
    from . import ray_engine

    stages = [name for name, config in backends.items() if config]
    pools = {name: ray.pools.get(name, PoolSpec()) for name in stages}
    configs = {
        name: (gpu_backends or backends)[name] if pools[name].gpus_per_worker > 0 else backends[name] for name in stages
    }
    with ray_engine.ray_cluster(ray.address, pools):
        ds = ray_engine.from_rows(rows, image_input_schema(), batch_size)
        results = ray_engine.align_images(
            ds, configs, pools=pools, batch_size=batch_size, cache_dir=cache_dir, code=code
        )
        yield from ray_engine.result_batches(results)


def context_writer(output: Path, output_format: Optional[str] = None) -> ResultWriter:
    """The resumable writer of align-images rows ({image_id, <kinds>}), either engine."""
    return ResultWriter(
        output, id_column="image_id", schema=context_schema, output_format_name=output_format, fields=CONTEXT_KINDS
    )


def image_input_schema():
    from .schema import pyarrow

    pa = pyarrow()
    return pa.schema([("image_id", pa.string()), ("image", pa.string())])
