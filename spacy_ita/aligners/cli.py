"""`python -m spacy_ita align-images IMAGES_DIR OUT.jsonl`: precompute visual contexts.

Writes one JSON line per image, {"image_id": <file stem>, "objects", "caption",
"ocr"}, the per-image context file the data converter reads. Resumable: ids
already in the output are skipped, and a line cut short by an interruption is
dropped and redone. Unreadable images get an empty context (and a warning), so
a rerun does not retry them forever. With `--engine ray` each backend is a stage
of Ray actors (spacy_ita/batch) and OUT may also be a folder of part files.
"""

from pathlib import Path
from typing import Annotated, Dict, List, Optional, Union, cast

import typer
from wasabi import msg

from ..batch.cli import (
    ADDRESS_HELP,
    CODE_HELP,
    CPUS_HELP,
    ENGINE_HELP,
    GPUS_HELP,
    OUTPUT_FORMAT_HELP,
    WORKERS_HELP,
)
from ..batch.outputs import check_output_apart
from ..image_folder import index_images
from .ocr import DEFAULT_OCR_ENGINE, OCR_ENGINES, ocr_config

NO_DETECTOR = ("", "none", "off")
STAGES_HELP = " Stages: objects, ocr, caption. OUTPUT may then be a folder of part files."
# The backend options, shared by align-images and assemble (which builds the same aligner).
OcrOption = Annotated[
    str, typer.Option(help=f"OCR engine: {', '.join(OCR_ENGINES)} or 'none' (BENCHMARKS.md: OCR engines).")
]
NoOcrFlag = Annotated[bool, typer.Option("--no-ocr", help="No OCR (the same as --ocr none).")]
DetectorOption = Annotated[str, typer.Option(help="YOLO weights: yolov8s-world, yolov10n, a .pt path, or 'none'.")]
CaptionModelOption = Annotated[
    Optional[str], typer.Option(help="Image-to-text model (hub name or directory); off if unset.")
]
GpuFlag = Annotated[bool, typer.Option("--gpu/--cpu", help="Run the vision models on CUDA.")]


def align_images(
    images_dir: Annotated[Path, typer.Argument(help="Folder of images; the file stem is the image id.")],
    output_jsonl: Annotated[
        Path, typer.Argument(help="Output JSONL, one visual context per image (appended to on resume).")
    ],
    ocr: OcrOption = DEFAULT_OCR_ENGINE,
    no_ocr: NoOcrFlag = False,
    detector: DetectorOption = "yolov8s-world",
    caption_model: CaptionModelOption = None,
    cache_dir: Annotated[
        Optional[Path], typer.Option(help="Content-hash cache of backend outputs, shared across runs.")
    ] = None,
    batch_size: Annotated[int, typer.Option(min=1, help="Images per backend call.")] = 16,
    gpu: GpuFlag = False,
    engine: Annotated[str, typer.Option(help=ENGINE_HELP)] = "local",
    address: Annotated[Optional[str], typer.Option(help="--engine ray: " + ADDRESS_HELP)] = None,
    workers: Annotated[Optional[List[str]], typer.Option(help="--engine ray: " + WORKERS_HELP + STAGES_HELP)] = None,
    cpus_per_worker: Annotated[Optional[List[str]], typer.Option(help="--engine ray: " + CPUS_HELP)] = None,
    gpus_per_worker: Annotated[Optional[List[str]], typer.Option(help="--engine ray: " + GPUS_HELP)] = None,
    output_format: Annotated[Optional[str], typer.Option(help="--engine ray: " + OUTPUT_FORMAT_HELP)] = None,
    code: Annotated[Optional[Path], typer.Option(help=CODE_HELP)] = None,
) -> None:
    """Turn every image of a folder into text: object tags, a caption and OCR."""
    import spacy

    from .. import extensions  # noqa: F401  (doc extensions the component reads)
    from . import component  # noqa: F401  (registers the factory)

    if not images_dir.is_dir():
        msg.fail(f"Not a folder: {images_dir}", exits=1)
    try:
        check_output_apart(output_jsonl, [images_dir])
    except ValueError as err:
        msg.fail(str(err), exits=1)
    if code is not None:
        from ..batch.steps import import_code

        import_code(str(code))  # custom backends named in the configs below
    ocr = chosen_ocr(ocr, no_ocr)
    try:
        backends = backend_configs(ocr=ocr, detector=detector, caption_model=caption_model, gpu=gpu)
    except ValueError as err:  # an unknown OCR engine
        msg.fail(str(err), exits=1)
    if not any(backends.values()):
        msg.fail("No backend enabled: use --ocr, --detector or --caption-model.", exits=1)
    cache = None if cache_dir is None else {"@misc": "spacy_ita.AlignmentCache.v1", "directory": str(cache_dir)}
    aligner = cast(
        component.ImageAligner,
        spacy.blank("xx").add_pipe(
            "image_aligner", config={"backends": backends, "cache": cache, "batch_size": batch_size}
        ),
    )
    images = list(index_images(images_dir).values())  # the files `convert` attaches, one per id
    if engine != "local":
        align_on_ray(
            images,
            output_jsonl,
            engine=engine,
            backends=backends,
            ocr=ocr,
            detector=detector,
            caption_model=caption_model,
            cache_dir=cache_dir,
            batch_size=batch_size,
            address=address,
            workers=workers,
            cpus=cpus_per_worker,
            gpus=gpus_per_worker,
            output_format=output_format,
            code=code,
        )
        return
    from ..batch.jobs import align_images_locally

    try:
        timing = align_images_locally(
            aligner,
            images,
            output_jsonl,
            batch_size=batch_size,
            output_format=output_format,
            on_listed=lambda total, todo: msg.info(
                f"{total} images in {images_dir}: {total - todo} already in {output_jsonl}, {todo} to align"
            ),
        )
    except ValueError as err:
        msg.fail(str(err), exits=1)
    msg.good(f"Wrote visual contexts for {timing.rows} images to {output_jsonl}")


def align_on_ray(
    images: List[Path],
    output: Path,
    *,
    engine: str,
    backends: Dict[str, Optional[dict]],
    ocr: str,
    detector: str,
    caption_model: Optional[str],
    cache_dir: Optional[Path],
    batch_size: int,
    address: Optional[str],
    workers,
    cpus,
    gpus,
    output_format: Optional[str],
    code: Optional[Path],
) -> None:
    """--engine ray: one Ray stage per backend, written to a .jsonl file or a folder of part files."""
    from ..batch.cli import ray_options_for_align
    from ..batch.jobs import align_images_on_ray, check_engine

    try:
        check_engine(engine)
        ray = ray_options_for_align(address, [name for name, config in backends.items() if config], workers, cpus, gpus)
        timing = align_images_on_ray(
            images,
            output,
            backends=backends,
            gpu_backends=backend_configs(ocr=ocr, detector=detector, caption_model=caption_model, gpu=True),
            ray=ray,
            batch_size=batch_size,
            cache_dir=cache_dir,
            output_format=output_format,
            code=str(code) if code else None,
            on_listed=lambda total, todo: msg.info(
                f"{total} images: {total - todo} already in {output}, {todo} to align"
            ),
        )
    except (ValueError, ImportError) as err:
        msg.fail(str(err), exits=1)
    msg.good(f"Wrote visual contexts for {timing.rows} images to {output} ({timing.rate:.2f} images/s)")


def chosen_ocr(ocr: str, no_ocr: bool) -> str:
    """The OCR engine `--ocr` and `--no-ocr` name (`--no-ocr` wins: it predates `--ocr NAME`)."""
    return "none" if no_ocr else ocr


def backend_configs(
    *, ocr: Union[str, bool], detector: str, caption_model: Optional[str], gpu: bool
) -> Dict[str, Optional[dict]]:
    """The component's `backends` config, every default backend named; None turns one off
    (a backend left out would take the factory's default, e.g. YOLO, back in). `ocr`: an
    engine name (aligners/ocr.py OCR_ENGINES), "none", or True/False (the default engine / none)."""
    device = "cuda" if gpu else "cpu"
    configs: Dict[str, Optional[dict]] = {"objects": None, "ocr": None}
    if detector.lower() not in NO_DETECTOR:
        configs["objects"] = {"@misc": "spacy_ita.YOLODetector.v1", "model": detector, "device": device}
    configs["ocr"] = ocr_config(ocr, gpu=gpu)
    if caption_model:
        configs["caption"] = {"@misc": "spacy_ita.HFCaptioner.v1", "model": caption_model, "device": device}
    return configs
