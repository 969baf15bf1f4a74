"""Ray actors on a GPU with fractional `num_gpus`: 1, 2 and 4 workers sharing one GPU.

Prepared for a machine with a CUDA GPU (not run on the 2-core CPU machine of
BENCHMARKS.md); about 5 minutes on one GPU, under 8:

    pip install 'spacy-ita[ray]' cupy-cuda12x   # spaCy moves a pipeline to the GPU through cupy
    OMP_NUM_THREADS=1 python -m benchmarks.gpu_ray_actors [--posts 4000] [--images 400]

Two workloads: annotation (an initialized all-MiniLM-L6-v2 ita_ner, text-only
posts) and detection (yolov8s-world on CUDA). For each, the local engine on the
GPU, then Ray pools of 1 x num_gpus=1, 2 x 0.5 and 4 x 0.25, each with 2 CPUs.
Like bench_scale_out.py, each setting runs a short job (one batch per worker:
the start-up) and the full job, whose steady rate counts the rows after the
first written batch. Prints one table: every figure in it is measured.
"""

import os
import sys
import time

import benchmarks.bench_scale_out as bench  # noqa: E402
from benchmarks.results import Tables, add_json_option  # noqa: E402  (sets thread and offline variables first)

GPU_FRACTIONS = (1.0, 0.5, 0.25)
DETECTOR = {"@misc": "spacy_ita.YOLODetector.v1", "model": "yolov8s-world", "device": "cuda"}


def run_ray(workload, inputs, batch_size, gpus, tag):
    from spacy_ita.batch.jobs import RayOptions, align_image_folder, annotate_posts
    from spacy_ita.batch.pools import PoolSpec

    workers = int(round(1 / gpus))
    pool = PoolSpec(min_workers=workers, max_workers=workers, cpus_per_worker=2, gpus_per_worker=gpus)
    output = bench.TMP / f"gpu-ray-{workload}-{gpus}-{tag}"
    start = time.perf_counter()
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
        cpu_config = dict(DETECTOR, device="cpu")
        timing = align_image_folder(
            inputs["objects"],
            output,
            backends={"objects": cpu_config},
            engine="ray",
            gpu_backends={"objects": DETECTOR},
            ray=RayOptions(pools={"objects": pool}),
            batch_size=batch_size,
            progress=False,
        )
    return {"timing": timing.__dict__, "wall": time.perf_counter() - start}


def main():
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--posts", type=int, default=4000)
    parser.add_argument("--images", type=int, default=400)
    parser.add_argument("--batch-size", type=int, default=64, help="posts per batch")
    parser.add_argument("--image-batch-size", type=int, default=16)
    parser.add_argument("--ocr-batch-size", type=int, default=1)  # bench.batch_size reads it; no OCR here
    add_json_option(parser)
    args = parser.parse_args()
    import torch

    if not torch.cuda.is_available():
        sys.exit("No CUDA GPU visible: this script measures GPU actors; run it on a machine with one.")
    args.workloads = ["annotate", "objects"]
    inputs = {
        "posts": bench.write_posts(bench.TMP / "posts.jsonl", args.posts),
        "objects": bench.write_photos(bench.TMP / "photos", args.images),
    }
    inputs["model"] = bench.build_model(bench.TMP / "model", "all-MiniLM-L6-v2")
    sizes = {"annotate": args.batch_size, "objects": args.image_batch_size}
    results = {}
    for workload in args.workloads:
        for tag in ("short", "full"):
            subset = bench.subset(inputs, workload, args, 1, tag)
            results[(workload, "local", tag)] = bench.run_local(
                workload, subset, sizes[workload], tag, gpu_id=0, detector=DETECTOR
            )
            print(workload, "local", tag, results[(workload, "local", tag)], flush=True)
    import ray

    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    start = time.perf_counter()
    ray.init(include_dashboard=False, log_to_driver=False, runtime_env={"env_vars": {"OMP_NUM_THREADS": "2"}})
    print(f"ray.init: {time.perf_counter() - start:.1f} s; resources {ray.cluster_resources()}", flush=True)
    ray.data.DataContext.get_current().enable_progress_bars = False
    try:
        for workload in args.workloads:
            for gpus in GPU_FRACTIONS:
                for tag in ("short", "full"):
                    workers = int(round(1 / gpus))
                    subset = bench.subset(inputs, workload, args, workers, tag)
                    results[(workload, gpus, tag)] = run_ray(workload, subset, sizes[workload], gpus, tag)
                    print(workload, gpus, tag, results[(workload, gpus, tag)], flush=True)
    finally:
        ray.shutdown()
    print(f"\nMachine: {bench.machine_line()}, GPU {torch.cuda.get_device_name(0)}")
    tables = Tables("benchmarks.gpu_ray_actors")
    print(f"Command: `{tables.command}`")
    header = ["workload", "engine", "num_gpus per worker", "workers", "items", "job s", "start-up s"]
    tables.start(header + ["items/s (steady)", "× 1 GPU worker"])
    for workload in args.workloads:
        single = bench.steady_rate(results[(workload, 1.0, "full")])
        for setting in ("local", *GPU_FRACTIONS):
            short, full = results[(workload, setting, "short")], results[(workload, setting, "full")]
            rate = bench.steady_rate(full)
            gpus, workers = ("1 (local)", 1) if setting == "local" else (setting, int(round(1 / setting)))
            tables.row(
                workload,
                "local" if setting == "local" else "ray",
                gpus,
                workers,
                full["timing"]["rows"],
                f"{full['timing']['seconds']:.1f}",
                f"{short['timing']['seconds']:.1f}",
                f"{rate:.1f}",
                bench.ratio(rate, single),
            )
    tables.write(args.json, gpu=torch.cuda.get_device_name(0))


if __name__ == "__main__":
    main()
