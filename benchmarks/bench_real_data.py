"""ITA vs spaCy's transformer NER on the real Twitter-2015 / Twitter-2017 data.

Each run is a plain `python -m spacy train` subprocess (the command a user
would type, plus timing hooks that change nothing: benchmarks/bench_hooks.py),
then an evaluation of its checkpoints in this process:

    ita       configs/ita.cfg, both views + lambda*T^2*KL, git-base captions attached
              (T = 4 on Twitter-2015, 2 on Twitter-2017, as in the paper);
              scored cross-modal and text-only (spacy_ita.evaluate.score_views)
    ita_blip2, ita_image, ita_knowledge, ita_all
              the same with the richer contexts of ../shared/data/contexts
              (CONTEXT_SETS): BLIP-2 captions; image-derived (BLIP-2 + a
              description: mPLUG-Owl on Twitter-2015, GPT-4 on Twitter-2017);
              PGIM's ChatGPT knowledge; all of these
    ita_text  configs/ita.cfg with views = ["text"], no KL, no captions: the text-only model
    trf_ner   configs/trf_ner.cfg: spaCy's `transformer` + `ner`, same encoder,
              epochs, batches, learning-rate schedule and seed

Twitter-2015: train -> valid (model selection) -> valid and test; Twitter-2017:
train -> valid. Model selection: spaCy evaluates on valid once per epoch and
keeps model-best; as the last epoch's end is not evaluated by spaCy, model-best
and model-last are both scored on valid here and the better one is reported.

Reported per dataset, system, split and view: P/R/F1 overall and per type,
training seconds per epoch (dev evaluations and checkpoint writes excluded),
peak RSS of the training process, and inference docs/s with one thread on
1000 (quick: 200) test posts (Twitter-2017: valid) — text-only for every
system, cross-modal for the ITA systems: with the run's real contexts for the
CONTEXT_SETS and KB_SYSTEMS systems, and for `ita` with a deterministic synthesized visual
context of about 40 words (object tags, caption, OCR; its git-base captions are
only ~7 words and the data has no images).
With several seeds a cell reads mean ± std. Everything raw goes to
OUTPUT_DIR/results.json, the table to OUTPUT_DIR/table.md; each finished run
keeps its own run.json and train.log, and a rerun with the same settings
reuses them (--no-resume to retrain).

Usage (from the repo root):

    # full: all data, 10 epochs on Twitter-2017 and 3 on Twitter-2015, hours on CPU -- in the background
    nohup .venv/bin/python -m benchmarks.bench_real_data --seeds 0,1,2 \\
        > training/bench_real_data.log 2>&1 &
    # quick look (a few minutes): 1 epoch, 300 train posts, 200 eval posts
    .venv/bin/python -m benchmarks.bench_real_data --quick --datasets twitter2015
    # smoke (tiny encoder, tens of posts; what tests/test_bench_smoke.py runs)
    .venv/bin/python -m benchmarks.bench_real_data --smoke

As a project command (project.yml):

    - name: benchmark
      script:
        - "python -m benchmarks.bench_real_data --output-dir training/bench_real_data/full"

Options: --datasets twitter2015,twitter2017  --systems ita,ita_text,trf_ner (default; all: systems.SYSTEMS)
--encoder all-MiniLM-L6-v2  --epochs N (default per dataset: spacy_ita/schedules.py)
--seeds 0  --data-dir ../shared/data
--output-dir training/bench_real_data/<mode>  --threads 1 (OMP_NUM_THREADS and
torch threads of every training subprocess and of the evaluation)
--train-limit / --eval-limit / --speed-docs (0 = all; defaults per mode)
--eval-frequency (steps; default: one evaluation per epoch)
--table-only (train nothing: one table of the runs already finished, e.g. by
several invocations run side by side on the same --output-dir).

This file drives the runs (train, select, score, time, record); the pieces:
systems.py (datasets, systems, their files and training command),
speed.py (docs/s per view), table.py (machine line, the table),
bench_hooks.py (the timing callbacks of the training process). Scoring and view
switching are spacy_ita.evaluate's (score_views, score, reading).
"""

import argparse
import os
import sys


def _threads_from_argv(argv) -> str:
    for i, arg in enumerate(argv):
        if arg == "--threads" and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith("--threads="):
            return arg.split("=", 1)[1]
    return "1"


# Threads are pinned before torch is imported (here and in every subprocess).
THREADS = _threads_from_argv(sys.argv[1:])
THREAD_ENV = {
    "OMP_NUM_THREADS": THREADS,
    "MKL_NUM_THREADS": THREADS,
    "OPENBLAS_NUM_THREADS": THREADS,
    "TOKENIZERS_PARALLELISM": "false",
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
}
os.environ.update(THREAD_ENV)

import hashlib  # noqa: E402
import shlex  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any, Dict, List, Optional  # noqa: E402

import spacy  # noqa: E402
import srsly  # noqa: E402
import torch  # noqa: E402
from thinc.api import Config  # noqa: E402

from benchmarks import bench_hooks  # noqa: E402
from benchmarks.speed import CONTEXT_WORDS, measure_speed  # noqa: E402
from benchmarks.systems import (  # noqa: E402
    CONTEXT_SETS,
    DATASETS,
    DEFAULT_CONTEXT_TOKENS,
    DEFAULT_SYSTEMS,
    KB_SYSTEMS,
    REPO,
    SYSTEMS,
    context_sources,
    count_docs,
    epochs_for,
    main_view,
    prepare_splits,
    read_examples,
    train_command,
)
from benchmarks.table import aggregate, machine_info, machine_line, markdown_table  # noqa: E402
from spacy_ita import schedules  # noqa: E402
from spacy_ita.evaluate import ita_pipe_names, score, score_views  # noqa: E402
from spacy_ita.ner.precision import PRECISIONS  # noqa: E402
from spacy_ita.ner.views import REPORTED_AS, TEXT  # noqa: E402
from spacy_ita.resources import check_encoder_name, spacy_transformers_refusal  # noqa: E402

torch.set_num_threads(int(THREADS))

MODES = {
    # Epochs per dataset (systems.epochs_for): Twitter-2017 10 (spacy_ita.schedules, issue
    # #23), Twitter-2015 3, the setting of every figure recorded before.
    "full": {
        "epochs": None,
        "train_limit": 0,
        "eval_limit": 0,
        "speed_docs": 1000,
        "encoder": "all-MiniLM-L6-v2",
        "datasets": "twitter2015,twitter2017",
    },
    "quick": {
        "epochs": 1,
        "train_limit": 300,
        "eval_limit": 200,
        "speed_docs": 200,
        "encoder": "all-MiniLM-L6-v2",
        "datasets": "twitter2015,twitter2017",
    },
    "smoke": {
        "epochs": 1,
        "train_limit": 24,
        "eval_limit": 12,
        "speed_docs": 12,
        "encoder": "tiny-bert-2l",
        "datasets": "twitter2015",
    },
}


def run_training(cmd: List[str], log_path: Path, events_path: Path) -> Dict[str, Any]:
    """Run `cmd`; wall seconds and the peak RSS of that one process (wait4)."""
    import subprocess

    env = dict(os.environ, **THREAD_ENV, SPACY_ITA_BENCH_EVENTS=str(events_path))
    events_path.unlink(missing_ok=True)
    start = time.perf_counter()
    with log_path.open("w", encoding="utf8") as log:
        log.write("$ " + shlex.join(cmd) + "\n")
        log.flush()
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=str(REPO), env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        tail = "\n".join(log_path.read_text(encoding="utf8").splitlines()[-30:])
        raise RuntimeError(f"training failed (exit {proc.returncode}), log {log_path}:\n{tail}")
    events = bench_hooks.read_events(events_path)
    return {
        "wall_seconds": seconds,
        "peak_rss_mib": usage.ru_maxrss / 1024.0,  # Linux: KiB
        "best_step": bench_hooks.best_checkpoint_step(events),
        **bench_hooks.epoch_seconds(events),
    }


# --- evaluation -------------------------------------------------------------------
def evaluate_split(nlp, args, dataset: str, system: str, path: Path, limit: int = 0) -> Dict[str, Dict[str, Any]]:
    """{view: scores} of the system's views: both for an ITA pipeline (spacy_ita.evaluate.score_views),
    text_only for another."""
    # Fresh examples every time: a pipeline writes its entities into the predicted docs.
    examples = read_examples(nlp, path, context_sources(args, dataset, system), limit)
    scores = score_views(nlp, examples) if ita_pipe_names(nlp) else {REPORTED_AS[TEXT]: score(nlp, examples)}
    return {view: scores[view] for view in SYSTEMS[system]["views"]}


def epochs_text(args) -> str:
    return ", ".join(f"{dataset} {epochs_for(args, dataset)}" for dataset in args.datasets)


def run_settings(args, dataset: str, system: str, seed: int, splits: Dict[str, Optional[Path]], n_train: int):
    """The run's folder, training command, steps per epoch and the settings a finished run must match."""
    run_dir = args.output_dir / dataset / system / f"seed{seed}"
    batch_size = Config().from_disk(REPO / SYSTEMS[system]["config"])["training"]["batcher"]["size"]
    steps_per_epoch = schedules.steps_per_epoch(n_train, batch_size)
    cmd = train_command(args, dataset, system, seed, run_dir / "model", steps_per_epoch, splits)
    settings = {
        "cmd": cmd,
        "threads": THREADS,
        "eval_limit": args.eval_limit,
        "speed_docs": args.speed_docs,
        "config_sha1": config_fingerprint(REPO / SYSTEMS[system]["config"]),
    }
    return run_dir, cmd, steps_per_epoch, settings


def config_fingerprint(path: Path) -> str:
    """SHA-1 of the parsed config: a comment or layout edit leaves finished runs reusable
    (the raw text's hash once orphaned three Twitter-2017 runs over a new comment)."""
    text = Config().from_disk(path, interpolate=False).to_str()
    return hashlib.sha1(text.encode("utf8")).hexdigest()


def finished_record(run_dir: Path, settings: Dict[str, Any]) -> Optional[Dict[str, Any]]:
    """The run.json of a finished run made with `settings`, or None."""
    record_path = run_dir / "run.json"
    if record_path.exists():
        record = srsly.read_json(record_path)
        if record.get("settings") == settings:
            return record
    return None


def run_one(
    args, dataset: str, system: str, seed: int, splits: Dict[str, Optional[Path]], n_train: int
) -> Dict[str, Any]:
    run_dir, cmd, steps_per_epoch, settings = run_settings(args, dataset, system, seed, splits, n_train)
    run_dir.mkdir(parents=True, exist_ok=True)
    record_path = run_dir / "run.json"
    record = finished_record(run_dir, settings) if args.resume else None
    if record is not None:
        print(f"[bench] {dataset} {system} seed {seed}: reusing {record_path}", flush=True)
        return record

    training_path = run_dir / "training.json"
    model_last = run_dir / "model" / "model-last"
    previous = srsly.read_json(training_path) if training_path.exists() else {}
    if args.resume and previous.get("settings") == settings and model_last.exists():
        print(f"[bench] {dataset} {system} seed {seed}: reusing the trained model in {run_dir}", flush=True)
        training = previous["training"]
    else:
        print(
            f"[bench] {dataset} {system} seed {seed}: training ({n_train} posts, {steps_per_epoch} steps/epoch, "
            f"{epochs_for(args, dataset)} epochs), log {run_dir / 'train.log'}",
            flush=True,
        )
        training_path.unlink(missing_ok=True)
        training = run_training(cmd, run_dir / "train.log", run_dir / "events.jsonl")
        srsly.write_json(training_path, {"settings": settings, "training": training})
    epoch_secs = [e["seconds"] for e in training["epochs"]]
    print(
        f"[bench]   {training['wall_seconds']:.0f} s wall, {statistics.mean(epoch_secs):.1f} s/epoch, "
        f"peak RSS {training['peak_rss_mib']:.0f} MiB",
        flush=True,
    )

    # Model selection on valid: model-best (spaCy's per-epoch evaluations) vs model-last.
    # A model-best from the evaluation at step 0 -- the initial weights, as the
    # warmup's rate is 0 there -- is no trained model: then model-last alone.
    names = ["model-last"] if training.get("best_step") == 0 else ["model-best", "model-last"]
    candidates = {}
    for name in names:
        if (run_dir / "model" / name).exists():
            nlp = spacy.load(run_dir / "model" / name)
            candidates[name] = (nlp, evaluate_split(nlp, args, dataset, system, splits["valid"]))
    view = main_view(system)
    selected = max(candidates, key=lambda n: (candidates[n][1][view]["ents_f"], n == "model-best"))
    nlp, valid_scores = candidates[selected]
    checkpoint_valid_f = {n: c[1][view]["ents_f"] for n, c in candidates.items()}
    candidates.clear()
    scores = {"valid": valid_scores}
    if splits["test"]:
        scores["test"] = evaluate_split(nlp, args, dataset, system, splits["test"], limit=args.eval_limit)
    speed_path = splits["test"] or splits["valid"]
    speed = measure_speed(nlp, args, dataset, system, speed_path)
    print(
        f"[bench]   selected {selected}; valid F1 {100 * valid_scores[view]['ents_f']:.2f} ({view}); "
        + ", ".join(f"{v} {s['docs_per_second']:.1f} docs/s" for v, s in speed.items()),
        flush=True,
    )
    record = {
        "dataset": dataset,
        "system": system,
        "seed": seed,
        "settings": settings,
        "command": shlex.join(cmd),
        "n_train": n_train,
        "steps_per_epoch": steps_per_epoch,
        "training": training,
        "seconds_per_epoch": statistics.mean(epoch_secs),
        "checkpoint_valid_f": checkpoint_valid_f,
        "selected": selected,
        "scores": scores,
        "speed": speed,
        "speed_split": speed_path.name,
    }
    srsly.write_json(record_path, record)
    return record


# --- command line -----------------------------------------------------------------
def csv_list(text: str) -> List[str]:
    return [item.strip() for item in text.split(",") if item.strip()]


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="1 epoch, 300 train / 200 eval posts (minutes)")
    mode.add_argument("--smoke", action="store_true", help="tiny encoder, tens of posts (the test)")
    parser.add_argument("--datasets", help="comma-separated: twitter2015,twitter2017 (smoke: twitter2015)")
    parser.add_argument(
        "--systems", help=f"comma-separated, of {','.join(SYSTEMS)} (default: {','.join(DEFAULT_SYSTEMS)})"
    )
    parser.add_argument(
        "--encoder", help="known model name or weights dir (default all-MiniLM-L6-v2; smoke tiny-bert-2l)"
    )
    parser.add_argument(
        "--epochs", type=int, help="training epochs (full: twitter2017 10, twitter2015 3; quick/smoke 1)"
    )
    parser.add_argument("--seeds", default="0", help="comma-separated seeds, e.g. 0,1,2")
    parser.add_argument("--data-dir", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--output-dir", type=Path, help="default training/bench_real_data/<mode>")
    parser.add_argument("--threads", type=int, default=1, help="OMP_NUM_THREADS / torch threads everywhere")
    parser.add_argument("--train-limit", type=int, help="first N train posts (0 = all)")
    parser.add_argument("--eval-limit", type=int, help="first N valid/test posts (0 = all)")
    parser.add_argument("--speed-docs", type=int, help="posts timed for docs/s")
    parser.add_argument("--eval-frequency", type=int, default=0, help="steps between dev evaluations (0: per epoch)")
    parser.add_argument(
        "--max-context-tokens",
        type=int,
        default=DEFAULT_CONTEXT_TOKENS,
        help=f"context tokens after the post (default {DEFAULT_CONTEXT_TOKENS}, configs/ita.cfg); "
        "every kind's budget is scaled alike",
    )
    parser.add_argument(
        "--precision",
        choices=PRECISIONS,
        default="auto",
        help="precision of the ITA systems' encoder in training and evaluation (ita_ner's precision; "
        "auto: bf16 where the CPU/GPU has native bf16 units)",
    )
    parser.add_argument(
        "--freeze-word-embeddings",
        action="store_true",
        help="ITA systems: the encoder's subword embedding matrix stays pretrained (no gradient, no optimizer step)",
    )
    parser.add_argument(
        "--kind-dropout", type=float, default=0.0, help="context_kind_dropout of the ITA systems (training only)"
    )
    parser.add_argument(
        "--gpu-id",
        type=int,
        default=-1,
        help="train and evaluate on this CUDA GPU (spacy train --gpu-id; spaCy needs cupy for it); -1: the CPU",
    )
    parser.add_argument("--no-resume", dest="resume", action="store_false", help="retrain runs already done")
    parser.add_argument(
        "--table-only", action="store_true", help="train nothing: tabulate the finished runs among --systems x --seeds"
    )
    args = parser.parse_args(argv)
    args.mode = "smoke" if args.smoke else "quick" if args.quick else "full"
    defaults = MODES[args.mode]
    for key in ("epochs", "train_limit", "eval_limit", "speed_docs", "encoder", "datasets"):
        if getattr(args, key) is None:
            setattr(args, key, defaults[key])
    args.datasets = csv_list(args.datasets)
    chosen_systems = args.systems is not None
    args.systems = csv_list(args.systems) if chosen_systems else list(DEFAULT_SYSTEMS)
    args.seeds = [int(s) for s in csv_list(args.seeds)]
    for name, known in (("dataset", DATASETS), ("system", SYSTEMS)):
        unknown = [x for x in getattr(args, f"{name}s") if x not in known]
        if unknown:
            parser.error(f"unknown {name} {unknown}: choose from {list(known)}")
    if args.epochs is not None and args.epochs < 1:
        parser.error(f"--epochs must be at least 1, not {args.epochs}")
    try:  # a misspelled encoder fails here, not as a hub download minutes into the run
        check_encoder_name(args.encoder)
    except ValueError as err:
        parser.error(str(err))
    refusal = spacy_transformers_refusal(args.encoder)
    if refusal and "trf_ner" in args.systems:
        if chosen_systems:
            parser.error(f"trf_ner cannot use {args.encoder} ({refusal}): leave it out of --systems")
        print(f"[bench] trf_ner left out: spaCy's transformer cannot use {args.encoder} ({refusal})")
        args.systems.remove("trf_ner")
    args.data_dir = args.data_dir.resolve()
    if not args.data_dir.is_dir():
        parser.error(f"data dir not found: {args.data_dir}")
    args.output_dir = (args.output_dir or REPO / "training" / "bench_real_data" / args.mode).resolve()
    return args


def main(argv=None) -> Dict[str, Any]:
    args = parse_args(argv)
    command = "python -m " + shlex.join(["benchmarks.bench_real_data"] + list(sys.argv[1:] if argv is None else argv))
    if args.gpu_id >= 0:
        spacy.require_gpu(args.gpu_id)  # the evaluation and speed runs here load their pipelines onto it
    info = machine_info()
    args.output_dir.mkdir(parents=True, exist_ok=True)
    print(f"[bench] {command}\n[bench] machine: {machine_line(info)}\n[bench] output: {args.output_dir}", flush=True)
    start = time.perf_counter()
    records = []
    for dataset in args.datasets:
        splits = prepare_splits(args, dataset)
        n_train = count_docs(splits["train"])
        for system in args.systems:
            for seed in args.seeds:
                if args.table_only:
                    run_dir, _, _, settings = run_settings(args, dataset, system, seed, splits, n_train)
                    record = finished_record(run_dir, settings)
                    if record is None:
                        print(
                            f"[bench] {dataset} {system} seed {seed}: no finished run with these settings, left out",
                            flush=True,
                        )
                        continue
                else:
                    record = run_one(args, dataset, system, seed, splits, n_train)
                records.append(record)
    if not records:
        raise SystemExit("[bench] no finished runs to tabulate")
    rows = aggregate(records)
    table = markdown_table(rows)
    total = time.perf_counter() - start
    header = (
        f"Command: `{command}`\n\nMachine: {machine_line(info)}\n\n"
        f"Mode {args.mode}: encoder {args.encoder}, epochs {epochs_text(args)}, seeds {args.seeds}, "
        f"train limit {args.train_limit or 'all'}, eval limit {args.eval_limit or 'all'}, "
        f"context tokens {args.max_context_tokens}, kind dropout {args.kind_dropout}; "
        f"docs/s on {args.speed_docs} posts "
        f"(cross-modal: the real contexts for {', '.join([*CONTEXT_SETS, *KB_SYSTEMS])}, "
        f"else a synthesized ~{CONTEXT_WORDS}-word context); "
        f"benchmark wall time {total / 60:.1f} min\n"
    )
    results = {
        "command": command,
        "machine": info,
        "mode": args.mode,
        "encoder": args.encoder,
        "epochs": {dataset: epochs_for(args, dataset) for dataset in args.datasets},
        "seeds": args.seeds,
        "train_limit": args.train_limit,
        "eval_limit": args.eval_limit,
        "speed_docs": args.speed_docs,
        "data_dir": str(args.data_dir),
        "wall_seconds": total,
        "rows": rows,
        "runs": records,
    }
    srsly.write_json(args.output_dir / "results.json", results)
    (args.output_dir / "table.md").write_text(header + "\n" + table + "\n", encoding="utf8")
    print("\n" + header + "\n" + table + "\n", flush=True)
    print(f"[bench] raw results: {args.output_dir / 'results.json'}", flush=True)
    return results


if __name__ == "__main__":
    main()
