"""`python -m spacy_ita align-images IMAGES_DIR OUT.jsonl`: precompute visual contexts.

Writes one JSON line per image, {"image_id": <file stem>, "objects", "caption",
"ocr"}, the per-image context file the data converter reads. Resumable: ids
already in the output are skipped, and a line cut short by an interruption is
dropped and redone. Unreadable images get an empty context (and a warning), so
a rerun does not retry them forever.
"""
import json
import os
from pathlib import Path
from typing import Annotated, Dict, Optional, Set

import typer
from spacy.util import minibatch
from tqdm import tqdm
from wasabi import msg

from ..image_folder import index_images

NO_DETECTOR = ("", "none", "off")


def align_images(
    images_dir: Annotated[Path, typer.Argument(help="Folder of images; the file stem is the image id.")],
    output_jsonl: Annotated[Path, typer.Argument(help="Output JSONL, one visual context per image (appended to on resume).")],
    ocr: Annotated[bool, typer.Option("--ocr/--no-ocr", help="Read text with EasyOCR.")] = True,
    detector: Annotated[str, typer.Option(help="YOLO weights: yolov8s-world, yolov10n, a .pt path, or 'none'.")] = "yolov8s-world",
    caption_model: Annotated[Optional[str], typer.Option(help="Image-to-text model (hub name or directory); off if unset.")] = None,
    cache_dir: Annotated[Optional[Path], typer.Option(help="Content-hash cache of backend outputs, shared across runs.")] = None,
    batch_size: Annotated[int, typer.Option(min=1, help="Images per backend call.")] = 16,
    gpu: Annotated[bool, typer.Option("--gpu/--cpu", help="Run the models on CUDA.")] = False,
) -> None:
    """Turn every image of a folder into text: object tags, a caption and OCR."""
    import spacy

    from .. import extensions  # noqa: F401  (doc extensions the component reads)
    from . import component  # noqa: F401  (registers the factory)

    if not images_dir.is_dir():
        msg.fail(f"Not a folder: {images_dir}", exits=1)
    backends = backend_configs(ocr=ocr, detector=detector, caption_model=caption_model, gpu=gpu)
    if not backends:
        msg.fail("No backend enabled: use --ocr, --detector or --caption-model.", exits=1)
    cache = None if cache_dir is None else {"@misc": "spacy_ita.AlignmentCache.v1", "directory": str(cache_dir)}
    aligner = spacy.blank("xx").add_pipe(
        "image_aligner", config={"backends": backends, "cache": cache, "batch_size": batch_size}
    )
    images = list(index_images(images_dir).values())  # the files `convert` attaches, one per id
    done = finished_ids(output_jsonl)
    todo = [path for path in images if path.stem not in done]
    msg.info(f"{len(images)} images in {images_dir}: {len(images) - len(todo)} already in {output_jsonl}, {len(todo)} to align")
    output_jsonl.parent.mkdir(parents=True, exist_ok=True)
    with output_jsonl.open("a", encoding="utf8") as out, tqdm(total=len(todo), unit="img", desc="align-images") as bar:
        for batch in minibatch(todo, size=batch_size):
            for path, context in zip(batch, aligner.align(batch)):
                out.write(json.dumps({"image_id": path.stem, **context}, ensure_ascii=False) + "\n")
            out.flush()  # a crash loses at most the batch in flight
            bar.update(len(batch))
    msg.good(f"Wrote visual contexts for {len(todo)} images to {output_jsonl}")


def backend_configs(*, ocr: bool, detector: str, caption_model: Optional[str], gpu: bool) -> Dict[str, Optional[dict]]:
    """The component's `backends` config; None turns a default backend off."""
    device = "cuda" if gpu else "cpu"
    configs: Dict[str, Optional[dict]] = {"objects": None, "ocr": None}
    if detector.lower() not in NO_DETECTOR:
        configs["objects"] = {"@misc": "spacy_ita.YOLODetector.v1", "model": detector, "device": device}
    if ocr:
        configs["ocr"] = {"@misc": "spacy_ita.EasyOCR.v1", "gpu": gpu}
    if caption_model:
        configs["caption"] = {"@misc": "spacy_ita.HFCaptioner.v1", "model": caption_model, "device": device}
    return configs if any(configs.values()) else {}


def finished_ids(output_jsonl: Path) -> Set[str]:
    """Ids already written. Lines cut short by an interruption are dropped from
    the file (rewritten atomically) so that appending continues cleanly."""
    if not output_jsonl.exists():
        return set()
    text = output_jsonl.read_text(encoding="utf8", errors="replace")
    kept, ids = [], set()
    for line in text.splitlines():
        try:
            record = json.loads(line)
            image_id = record["image_id"]
        except (ValueError, KeyError, TypeError):
            continue
        kept.append(line)
        ids.add(str(image_id))
    cleaned = "".join(line + "\n" for line in kept)
    if cleaned != text:
        tmp = output_jsonl.with_name(output_jsonl.name + ".tmp")
        tmp.write_text(cleaned, encoding="utf8")
        os.replace(tmp, output_jsonl)
    return ids
