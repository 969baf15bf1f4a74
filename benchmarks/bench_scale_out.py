"""Local engine vs Ray with 1 and 2 workers, side by side on the same input.

    OMP_NUM_THREADS=1 python -m benchmarks.bench_scale_out [--posts 300] [--images 36] [--ocr-images 6]

Three workloads: annotation (`annotate`: an ita_ner pipeline, all-MiniLM-L6-v2 by
default, initialized not trained: speed does not depend on the weights; posts
are text-only), detection (yolov10n) and OCR (EasyOCR), each a one-backend
`align-images` stage. Each workload runs on the local engine (in a child
process, so its peak RSS is its own) and on Ray with 1 and 2 workers of 1 CPU
each (on one local cluster of 4 logical CPUs: pools never take every CPU).

Batches of 16 posts, 4 images to detect, 1 to OCR. Each engine runs each workload twice: a short
job of one batch per worker (its wall time is the start-up: model loads, Ray
actor starts), then the full job. Wall times run from the first batch submitted
to the last row written. The steady rate is the full job's rows after the first
written batch over the time after it (the throughput once loaded; with a model
as fast as the tiny test BERT, Ray hands results back in bursts and this rate
means nothing: use real models). Peak RSS per worker: the local child's own,
Ray's map workers sampled every 0.2 s. Ray's own start-up is timed once
(ray.init) with the RSS of the processes it starts. Then a projection for 10^6
images and 10^6 posts from the local engine's steady per-item cost. Every
figure printed is measured here; the raw runs go to --results (JSON), and
--table-only RESULTS prints the tables again from such a file.
"""

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("YOLO_OFFLINE", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import argparse  # noqa: E402
import json  # noqa: E402
import multiprocessing  # noqa: E402
import platform  # noqa: E402
import resource  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from importlib import resources as importlib_resources  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any, Dict, List  # noqa: E402

TMP = Path(tempfile.mkdtemp(prefix="bench-scale-out-"))
os.environ.setdefault("YOLO_CONFIG_DIR", str(TMP / "yolo-settings"))

NAMES = ["Obama", "Paris", "Google", "Messi", "London", "Apple", "Trump", "Berlin", "Jordan", "Houston"]
WORDS = (
    "RT @user : so happy to see {0} tonight with friends , what a day in {1} # fun # news "
    "can not wait for more of {0} and the team from {1} !"
).split()
DETECTOR = {"@misc": "spacy_ita.YOLODetector.v1", "model": "yolov10n"}
OCR = {"@misc": "spacy_ita.EasyOCR.v1"}
WORKLOADS = ("annotate", "objects", "ocr")
UNITS = {"annotate": "posts", "objects": "images", "ocr": "images"}
ENGINES = ("local", "ray-1", "ray-2")


# --- inputs ----------------------------------------------------------------------
def write_posts(path: Path, count: int) -> Path:
    with path.open("w", encoding="utf8") as out:
        for i in range(count):
            words = [w.format(NAMES[i % len(NAMES)], NAMES[(i * 3 + 1) % len(NAMES)]) for w in WORDS]
            out.write(json.dumps({"id": f"post{i}", "text": " ".join(words)}) + "\n")
    return path


def write_photos(folder: Path, count: int) -> List[Path]:
    """Copies of ultralytics' bus.jpg and zidane.jpg, each one pixel different (distinct content hashes)."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    assets = importlib_resources.files("ultralytics") / "assets"
    sources = [Image.open(assets / name).convert("RGB") for name in ("bus.jpg", "zidane.jpg")]
    paths = []
    for i in range(count):
        image = sources[i % 2].copy()
        image.putpixel((0, 0), (i % 256, i // 256, 7))
        paths.append(folder / f"photo{i:04d}.png")
        image.save(paths[-1])
    return paths


def write_text_images(folder: Path, count: int) -> List[Path]:
    """Signs with two lines of text (OCR's work), 640x240, each different."""
    from PIL import Image, ImageDraw, ImageFont

    folder.mkdir(parents=True, exist_ok=True)
    font = ImageFont.load_default(size=40)
    paths = []
    for i in range(count):
        image = Image.new("RGB", (640, 240), "white")
        text = f"WELCOME TO\n{NAMES[i % len(NAMES)].upper()} {i}"
        ImageDraw.Draw(image).multiline_text((20, 30), text, fill="black", font=font, spacing=30)
        paths.append(folder / f"sign{i:04d}.png")
        image.save(paths[-1])
    return paths


def build_model(path: Path, encoder: str) -> str:
    import spacy
    from spacy.tokens import Doc, Span
    from spacy.training import Example

    import spacy_ita  # noqa: F401

    nlp = spacy.blank("en")
    nlp.add_pipe("ita_ner", config={"model": {"encoder": encoder}})
    examples = []
    for label, name in (("PER", "Obama"), ("LOC", "Paris"), ("ORG", "Google"), ("OTHER", "Olympics")):
        reference = Doc(nlp.vocab, words=["I", "love", name])
        reference.ents = [Span(reference, 2, 3, label)]
        examples.append(Example(Doc(nlp.vocab, words=["I", "love", name]), reference))
    nlp.initialize(lambda: examples)
    nlp.to_disk(path)
    return str(path)


# --- one run ---------------------------------------------------------------------
def local_run(
    workload: str,
    inputs: Dict[str, Any],
    batch_size: int,
    tag: str,
    queue,
    gpu_id: int = -1,
    detector: Dict[str, Any] = DETECTOR,
) -> None:
    """In a child process: the local engine on one workload; reports timing and this process's peak RSS."""
    import torch

    torch.set_num_threads(1)
    if workload == "annotate":
        from spacy_ita.batch.jobs import annotate_posts

        timing = annotate_posts(
            inputs["model"],
            inputs["posts"],
            TMP / f"local-{workload}-{tag}.jsonl",
            batch_size=batch_size,
            gpu_id=gpu_id,
            progress=False,
        ).timing
    else:
        # align-images' local engine is ImageAligner.align over minibatches: ContextAligner is that call.
        from spacy.util import minibatch

        from spacy_ita.batch.jobs import JobTiming
        from spacy_ita.batch.steps import ContextAligner

        timing, start = JobTiming(), time.perf_counter()
        aligner = ContextAligner({workload: detector if workload == "objects" else OCR}, batch_size=batch_size)
        for batch in minibatch(inputs[workload], size=batch_size):
            aligner([{"image_id": p.stem, "image": str(p)} for p in batch])
            if not timing.rows:
                timing.first_batch_seconds, timing.first_batch_rows = time.perf_counter() - start, len(batch)
            timing.rows += len(batch)
        timing.seconds = time.perf_counter() - start
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    queue.put({"timing": timing.__dict__, "peak_rss_mib": [peak_mib]})


def run_local(workload: str, inputs: Dict[str, Any], batch_size: int, tag: str, **settings) -> Dict[str, Any]:
    """local_run in a fresh process (spawned: its RSS and its model loads are its own)."""
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    child = context.Process(target=local_run, args=(workload, inputs, batch_size, tag, queue), kwargs=settings)
    child.start()
    result = queue.get()
    child.join()
    return result


class WorkerRSS:
    """Samples the RSS of Ray's map workers (their process title names MapWorker) while a job runs."""

    def __init__(self) -> None:
        self.peak: Dict[int, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._earlier = set()  # workers of an earlier job still shutting down are not this job's

    @staticmethod
    def map_workers():
        import psutil

        for proc in psutil.Process().children(recursive=True):
            try:
                if "MapWorker" in " ".join(proc.cmdline()):
                    yield proc
            except psutil.Error:
                continue

    def _sample(self) -> None:
        import psutil

        while not self._stop.is_set():
            for proc in self.map_workers():
                if proc.pid not in self._earlier:
                    try:
                        self.peak[proc.pid] = max(self.peak.get(proc.pid, 0), proc.memory_info().rss)
                    except psutil.Error:
                        continue
            time.sleep(0.2)

    def __enter__(self) -> "WorkerRSS":
        self._earlier = {proc.pid for proc in self.map_workers()}
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def run_ray(workload: str, inputs: Dict[str, Any], batch_size: int, workers: int, tag: str) -> Dict[str, Any]:
    from spacy_ita.batch.jobs import RayOptions, align_image_folder, annotate_posts
    from spacy_ita.batch.pools import PoolSpec

    pool = PoolSpec(min_workers=workers, max_workers=workers, cpus_per_worker=1)
    output = TMP / f"ray{workers}-{workload}-{tag}"
    with WorkerRSS() as rss:
        if workload == "annotate":
            timing = annotate_posts(
                inputs["model"],
                inputs["posts"],
                output,
                engine="ray",
                batch_size=batch_size,
                ray=RayOptions(pools={"ner": pool}),
                progress=False,
            ).timing
        else:
            backends = {workload: DETECTOR if workload == "objects" else OCR}
            timing = align_image_folder(
                inputs[workload],
                output,
                backends=backends,
                engine="ray",
                ray=RayOptions(pools={workload: pool}),
                batch_size=batch_size,
                progress=False,
            )
    return {"timing": timing.__dict__, "peak_rss_mib": [v / 2**20 for v in rss.peak.values()]}


def ray_processes_rss_mib() -> float:
    import psutil

    total = 0
    for proc in psutil.Process().children(recursive=True):
        try:
            total += proc.memory_info().rss
        except psutil.Error:
            continue
    return total / 2**20


# --- report ----------------------------------------------------------------------
def job_rate(run: Dict[str, Any]) -> float:
    return run["timing"]["rows"] / run["timing"]["seconds"]


def steady_rate(run: Dict[str, Any]) -> float:
    """Rows per second after the first written batch: the throughput once everything is loaded."""
    t = run["timing"]
    seconds = t["seconds"] - t["first_batch_seconds"]
    return (t["rows"] - t["first_batch_rows"]) / seconds if seconds > 0 else 0.0


def ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}" if a and b else "-"


def machine_line() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        cpu = next(
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        )
    except (OSError, StopIteration):
        pass
    from importlib.metadata import version

    return (
        f"{os.cpu_count()} cores ({cpu}), OMP_NUM_THREADS={os.environ['OMP_NUM_THREADS']}, Python "
        f"{platform.python_version()}, ray {version('ray')}, torch {version('torch')}, spaCy {version('spacy')}"
    )


def print_report(saved: Dict[str, Any]) -> None:
    results, startup, loads, workloads = saved["runs"], saved["ray_startup"], saved["loads"], saved["workloads"]
    print()
    print(f"Machine: {saved['machine']}")
    print(f"Load average (1 min) before each run: {', '.join(f'{k} {v:.1f}' for k, v in loads.items())}")
    print(f"Command: `{saved['command']}`")
    print(
        f"Ray start-up (ray.init, local cluster, 4 logical CPUs): {startup['seconds']:.1f} s, "
        f"{startup['rss_mib']:.0f} MiB RSS in Ray's own processes"
    )
    print()
    print(
        "| workload | engine | items | job s | first rows after s | start-up s (short job) | items/s (job) "
        "| items/s (steady) | × local (steady) | peak RSS per worker MiB |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    rates = {}
    for workload in workloads:
        for engine in ENGINES:
            short, full = results[f"{workload}/{engine}/short"], results[f"{workload}/{engine}/full"]
            rates[(workload, engine)] = steady_rate(full)
            rss = "/".join(f"{v:.0f}" for v in sorted(full["peak_rss_mib"])) or "-"
            print(
                f"| {workload} | {engine} | {full['timing']['rows']} {UNITS[workload]} | "
                f"{full['timing']['seconds']:.1f} | {full['timing']['first_batch_seconds']:.1f} | "
                f"{short['timing']['seconds']:.1f} | {job_rate(full):.2f} | {rates[(workload, engine)]:.2f} | "
                f"{ratio(rates[(workload, engine)], rates[(workload, 'local')])} | {rss} |"
            )
    print()
    jobs = {(w, e): job_rate(results[f"{w}/{e}/full"]) for w in workloads for e in ENGINES}
    for name, values in (("steady rates", rates), ("whole-job rates", jobs)):
        print(
            f"Scaling of the {name}: "
            + "; ".join(
                f"{w}: ray-1 / local {ratio(values[(w, 'ray-1')], values[(w, 'local')])}, "
                f"ray-2 / ray-1 {ratio(values[(w, 'ray-2')], values[(w, 'ray-1')])}"
                for w in workloads
            )
        )
    print()
    print(
        "Projection for 10^6 items on CPU, 1 thread per worker, from the local engine's steady rate here "
        "(start-up and scheduling not included; wall = core-hours / workers):"
    )
    print("| workload | s per item | core-hours | wall with 16 workers | with 64 | with 256 | workers for 24 h |")
    print("|---|---|---|---|---|---|---|")
    for workload in workloads:
        if not rates[(workload, "local")]:
            continue
        per_item = 1 / rates[(workload, "local")]
        core_hours = per_item * 1e6 / 3600
        walls = " | ".join(f"{core_hours / n:.1f} h" for n in (16, 64, 256))
        print(f"| {workload} | {per_item:.3f} | {core_hours:.0f} | {walls} | {int(core_hours / 24 + 0.999)} |")


def subset(inputs: Dict[str, Any], workload: str, args, workers: int, tag: str) -> Dict[str, Any]:
    """The full input, or one batch per worker of it (the short job)."""
    if tag == "full":
        return inputs
    count = batch_size(args, workload) * workers
    if workload == "annotate":
        lines = inputs["posts"].read_text(encoding="utf8").splitlines(keepends=True)[:count]
        short = inputs["posts"].with_name(f"posts-{count}.jsonl")
        short.write_text("".join(lines), encoding="utf8")
        return {**inputs, "posts": short}
    return {**inputs, workload: inputs[workload][:count]}


def batch_size(args, workload: str) -> int:
    return {"annotate": args.batch_size, "objects": args.image_batch_size, "ocr": args.ocr_batch_size}[workload]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--posts", type=int, default=300)
    parser.add_argument("--images", type=int, default=36, help="photos for the detector")
    parser.add_argument("--ocr-images", type=int, default=6, help="text images for OCR (slow)")
    parser.add_argument("--batch-size", type=int, default=16, help="posts per batch")
    parser.add_argument("--image-batch-size", type=int, default=4, help="images per detector batch")
    parser.add_argument(
        "--ocr-batch-size",
        type=int,
        default=1,
        help="images per OCR batch (EasyOCR reads one at a time anyway; more batches, steadier rates)",
    )
    parser.add_argument("--encoder", default="all-MiniLM-L6-v2", help="tiny-bert-2l for a smoke run")
    parser.add_argument("--workloads", default=",".join(WORKLOADS))
    parser.add_argument(
        "--results",
        type=Path,
        default=Path("training/bench_scale_out/results.json"),
        help="where the raw runs are saved",
    )
    parser.add_argument("--table-only", type=Path, help="print the tables of a saved results file; run nothing")
    args = parser.parse_args()
    if args.table_only:
        print_report(json.loads(args.table_only.read_text(encoding="utf8")))
        return
    args.workloads = [w for w in args.workloads.split(",") if w]
    unknown = set(args.workloads) - set(WORKLOADS)
    if unknown:
        parser.error(f"unknown workloads {sorted(unknown)}; expected some of {WORKLOADS}")

    inputs = {
        "posts": write_posts(TMP / "posts.jsonl", args.posts),
        "objects": write_photos(TMP / "photos", args.images),
        "ocr": write_text_images(TMP / "signs", args.ocr_images),
    }
    if "annotate" in args.workloads:
        inputs["model"] = build_model(TMP / "model", args.encoder)
    results, loads = {}, {}
    for workload in args.workloads:
        for tag in ("short", "full"):
            loads[f"{workload}/local/{tag}"] = os.getloadavg()[0]
            run = run_local(workload, subset(inputs, workload, args, 1, tag), batch_size(args, workload), tag)
            results[f"{workload}/local/{tag}"] = run
            print(f"{workload} local {tag}: {run}", flush=True)

    import ray

    os.environ.setdefault("RAY_AUTH_MODE", "disabled")  # a loopback benchmark cluster
    start = time.perf_counter()
    ray.init(
        num_cpus=4,
        include_dashboard=False,
        log_to_driver=False,
        runtime_env={"env_vars": {"OMP_NUM_THREADS": "1", "PYTHONPATH": str(Path(__file__).resolve().parents[1])}},
    )
    startup = {"seconds": time.perf_counter() - start}
    time.sleep(2)  # let the prestarted idle workers come up before measuring Ray's own memory
    startup["rss_mib"] = ray_processes_rss_mib()
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False
    try:
        for workload in args.workloads:
            for workers in (1, 2):
                for tag in ("short", "full"):
                    loads[f"{workload}/ray-{workers}/{tag}"] = os.getloadavg()[0]
                    run = run_ray(
                        workload, subset(inputs, workload, args, workers, tag), batch_size(args, workload), workers, tag
                    )
                    results[f"{workload}/ray-{workers}/{tag}"] = run
                    print(f"{workload} ray-{workers} {tag}: {run}", flush=True)
    finally:
        ray.shutdown()
    saved = {
        "machine": machine_line(),
        "command": " ".join(["python -m benchmarks.bench_scale_out", *sys.argv[1:]]),
        "workloads": args.workloads,
        "ray_startup": startup,
        "loads": loads,
        "runs": results,
    }
    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.write_text(json.dumps(saved, indent=1), encoding="utf8")
    print_report(saved)


if __name__ == "__main__":
    main()
