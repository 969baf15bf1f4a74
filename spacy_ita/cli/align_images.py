"""`python -m spacy_ita align-images IMAGES_DIR OUTPUT`: precompute visual contexts.

Writes one row per image, {"image_id": <file stem>, "objects", "caption", "ocr"},
the per-image context file the data converter reads: a .jsonl file, or a folder
of part files. Resumable: ids already in the output are skipped, and a line cut
short by an interruption is dropped and redone. Unreadable images get an empty
context (and a warning), so a rerun does not retry them forever. With
`--engine ray` each backend is a stage of Ray actors. The job is
`batch.jobs.align_image_folder`, the same for both engines. For a workflow whose datasets may
come without images, `--allow-no-images` writes an empty OUTPUT where there are none, and
`--overwrite` starts OUTPUT afresh instead of resuming (the content-hash cache still spares
recomputing unchanged images).
"""

from pathlib import Path
from typing import Annotated, Dict, List, Optional

import typer
from wasabi import msg

from ..defaults import DEFAULT_DETECTOR, DEFAULT_OCR_ENGINE
from .options import (
    WORKERS_HELP,
    AddressOption,
    CaptionModelOption,
    CodeOption,
    CpusOption,
    DetectorOption,
    EngineOption,
    GpuFlag,
    GpusOption,
    NoOcrFlag,
    OcrOption,
    OutputFormatOption,
    chosen_ocr,
)

STAGES_HELP = " Stages: objects, ocr, caption. OUTPUT may then be a folder of part files."


def align_images_command(
    images_dir: Annotated[Path, typer.Argument(help="Folder of images; the file stem is the image id.")],
    output_jsonl: Annotated[
        Path, typer.Argument(help="Output JSONL, one visual context per image (appended to on resume).")
    ],
    ocr: OcrOption = DEFAULT_OCR_ENGINE,
    no_ocr: NoOcrFlag = False,
    detector: DetectorOption = DEFAULT_DETECTOR,
    caption_model: CaptionModelOption = None,
    cache_dir: Annotated[
        Optional[Path], typer.Option(help="Content-hash cache of backend outputs, shared across runs.")
    ] = None,
    batch_size: Annotated[int, typer.Option(min=1, help="Images per backend call.")] = 16,
    gpu: GpuFlag = False,
    engine: EngineOption = "local",
    address: AddressOption = None,
    workers: Annotated[Optional[List[str]], typer.Option(help="--engine ray: " + WORKERS_HELP + STAGES_HELP)] = None,
    cpus_per_worker: CpusOption = None,
    gpus_per_worker: GpusOption = None,
    output_format: OutputFormatOption = None,
    code: CodeOption = None,
    allow_no_images: Annotated[
        bool,
        typer.Option(
            "--allow-no-images", help="An absent or image-less IMAGES_DIR writes an empty OUTPUT, not an error."
        ),
    ] = False,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Start a file OUTPUT afresh instead of resuming by image id.")
    ] = False,
) -> None:
    """Turn every image of a folder into text: object tags, a caption and OCR."""
    from ..aligners.configs import backend_configs
    from ..batch.jobs import RayOptions, align_image_folder
    from ..batch.pools import stage_pools
    from ..image_folder import index_images

    if overwrite and output_jsonl.is_dir():
        msg.fail(f"--overwrite starts a file afresh; {output_jsonl} is a folder (remove its parts yourself)", exits=1)
    if overwrite:
        output_jsonl.unlink(missing_ok=True)
    has_images = images_dir.is_dir() and bool(index_images(images_dir))
    if images_dir.is_dir() and not has_images and not allow_no_images:
        msg.fail(f"No images in {images_dir} (--allow-no-images writes an empty OUTPUT instead)", exits=1)
    if allow_no_images and not has_images:
        if not output_jsonl.exists():
            output_jsonl.parent.mkdir(parents=True, exist_ok=True)
            output_jsonl.write_text("", encoding="utf8")
        msg.info(f"No images in {images_dir}: nothing to align; {output_jsonl} holds no new context")
        return
    listed: Dict[str, int] = {}
    try:
        ocr = chosen_ocr(ocr, no_ocr)
        backends = backend_configs(ocr=ocr, detector=detector, caption_model=caption_model, gpu=gpu)
        stages = [name for name, config in backends.items() if config]
        pools = stage_pools(stages, workers or (), cpus_per_worker or (), gpus_per_worker or ())
        timing = align_image_folder(
            images_dir,
            output_jsonl,
            backends=backends,
            engine=engine,
            gpu_backends=backend_configs(ocr=ocr, detector=detector, caption_model=caption_model, gpu=True),
            ray=RayOptions(address=address, pools=pools),
            batch_size=batch_size,
            cache_dir=cache_dir,
            output_format=output_format,
            code=str(code) if code else None,
            on_listed=lambda total, todo: (
                listed.update(todo=todo)
                or msg.info(
                    f"{total} images in {images_dir}: {total - todo} already in {output_jsonl}, {todo} to align"
                )
            ),
        )
    except (FileNotFoundError, ValueError, ImportError) as err:
        msg.fail(str(err), exits=1)
    skipped = listed.get("todo", 0) - timing.rows
    if skipped > 0:
        msg.warn(
            f"{skipped} images not aligned (unreadable, or past the pixel limit: named in the log above); "
            "not recorded, so a rerun tries them again"
        )
    msg.good(f"Wrote visual contexts for {timing.rows} images to {output_jsonl} ({timing.rate:.2f} images/s)")
