"""Images per second of each image_aligner backend on this machine's CPU.

    OMP_NUM_THREADS=1 python -m benchmarks.bench_aligners [--repeats 3]

cold   = the first call: loading the model + aligning the images once
         (library imports are done before timing, so they count for nobody);
warm   = the same images again with the model loaded (best of --repeats);
cached = the component with an AlignmentCache already holding the results
         (reads image files, hashes them, reads the cache).
Threads are pinned (OMP_NUM_THREADS, default 1) before torch is imported.
"""

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("YOLO_OFFLINE", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import argparse  # noqa: E402
import logging  # noqa: E402
import platform  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from importlib import resources as importlib_resources  # noqa: E402
from pathlib import Path  # noqa: E402

TMP = Path(tempfile.mkdtemp(prefix="bench-aligners-"))
os.environ.setdefault("YOLO_CONFIG_DIR", str(TMP / "yolo-settings"))

import torch  # noqa: E402
from PIL import Image, ImageDraw, ImageFont  # noqa: E402

torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))

from benchmarks.results import Tables, add_json_option  # noqa: E402
from spacy_ita.aligners import (  # noqa: E402
    AlignmentCache,
    ImageAligner,
    create_easyocr_backend,
    create_hf_captioner,
    create_yolo_backend,
)
from spacy_ita.aligners.tiny_captioner import save_tiny_captioner  # noqa: E402

TEXTS = [
    "OPEN 24 HOURS\nMain Street Market",
    "Kevin Durant signs\nwith the Warriors",
]


def write_images(folder: Path):
    """bus.jpg and zidane.jpg from Ultralytics plus two rendered text images."""
    assets = importlib_resources.files("ultralytics") / "assets"
    paths = []
    for name in ("bus.jpg", "zidane.jpg"):
        paths.append(folder / name)
        paths[-1].write_bytes((assets / name).read_bytes())
    font = ImageFont.load_default(size=40)
    for i, text in enumerate(TEXTS):
        image = Image.new("RGB", (640, 240), "white")
        ImageDraw.Draw(image).multiline_text((20, 30), text, fill="black", font=font, spacing=30)
        paths.append(folder / f"text{i}.png")
        image.save(paths[-1])
    return paths


def rate(count: int, seconds: float) -> str:
    return f"{count / seconds:8.2f}"


def bench(name, backend, paths, repeats):
    images = [Image.open(p).convert("RGB") for p in paths]
    start = time.perf_counter()
    backend(images)  # loads the model on first use
    cold = time.perf_counter() - start
    warm = min(timed(lambda: backend(images)) for _ in range(repeats))
    aligner = ImageAligner(backends={name: backend}, cache=AlignmentCache(TMP / "cache" / name))
    aligner.align(paths)  # fills the cache
    cached = min(timed(lambda: aligner.align(paths)) for _ in range(repeats))
    return [rate(len(images), cold), rate(len(images), warm), rate(len(images), cached)]


def timed(func) -> float:
    start = time.perf_counter()
    func()
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    add_json_option(parser)
    args = parser.parse_args()
    logging.getLogger("ultralytics").setLevel(logging.WARNING)
    import easyocr  # noqa: F401
    import transformers  # noqa: F401  (imported before timing: imports count for nobody)
    import ultralytics  # noqa: F401

    paths = write_images(TMP)
    tiny_dir = save_tiny_captioner(TMP / "tiny-captioner")
    backends = [
        ("OCR (EasyOCR en)", create_easyocr_backend()),
        ("detector yolov8s-world", create_yolo_backend(model="yolov8s-world")),
        ("detector yolov10n", create_yolo_backend(model="yolov10n")),
        ("captioner TINY random ViT+BERT (plumbing only)", create_hf_captioner(model=tiny_dir, max_new_tokens=20)),
    ]
    print(
        f"{len(paths)} images ({', '.join(p.name for p in paths)}), one batch per call; "
        f"OMP_NUM_THREADS={os.environ['OMP_NUM_THREADS']}, torch threads={torch.get_num_threads()}, "
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs visible"
    )
    tables = Tables("benchmarks.bench_aligners")
    tables.start(["backend", "cold img/s", "warm img/s", "cached img/s"])
    for name, backend in backends:
        tables.row(name, *bench(name, backend, paths, args.repeats))
    tables.write(args.json, images=[p.name for p in paths])


if __name__ == "__main__":
    main()
