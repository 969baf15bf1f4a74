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
CONTEXT_SETS systems, and for `ita` with a deterministic synthesized visual
context of about 40 words (object tags, caption, OCR; its git-base captions are
only ~7 words and the data has no images).
With several seeds a cell reads mean ± std. Everything raw goes to
OUTPUT_DIR/results.json, the table to OUTPUT_DIR/table.md; each finished run
keeps its own run.json and train.log, and a rerun with the same settings
reuses them (--no-resume to retrain).

Usage (from the repo root):

    # full: 3 epochs, all data, hours on CPU -- run in the background, keep the log
    nohup .venv/bin/python benchmarks/bench_real_data.py --seeds 0,1,2 \\
        > training/bench_real_data.log 2>&1 &
    # quick look (a few minutes): 1 epoch, 300 train posts, 200 eval posts
    .venv/bin/python benchmarks/bench_real_data.py --quick --datasets twitter2015
    # smoke (tiny encoder, tens of posts; what tests/test_bench_smoke.py runs)
    .venv/bin/python benchmarks/bench_real_data.py --smoke

As a project command (project.yml):

    - name: benchmark
      script:
        - "python benchmarks/bench_real_data.py --output-dir training/bench_real_data/full"

Options: --datasets twitter2015,twitter2017  --systems ita,ita_text,trf_ner
--encoder all-MiniLM-L6-v2  --epochs 3  --seeds 0  --data-dir ../shared/data
--output-dir training/bench_real_data/<mode>  --threads 1 (OMP_NUM_THREADS and
torch threads of every training subprocess and of the evaluation)
--train-limit / --eval-limit / --speed-docs (0 = all; defaults per mode)
--eval-frequency (steps; default: one evaluation per epoch)
--table-only (train nothing: one table of the runs already finished, e.g. by
several invocations run side by side on the same --output-dir).
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
import json  # noqa: E402
import math  # noqa: E402
import platform  # noqa: E402
import random  # noqa: E402
import shlex  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any, Dict, List, Optional  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
HOOKS = Path(__file__).resolve().parent / "bench_hooks.py"
sys.path.insert(0, str(HOOKS.parent))

import bench_hooks  # noqa: E402
import spacy  # noqa: E402
import srsly  # noqa: E402
import torch  # noqa: E402
from thinc.api import Config  # noqa: E402

from spacy_ita.data.corpus import create_mner_corpus, predicted_doc  # noqa: E402
from spacy_ita.data.mner_format import read_mner, write_mner  # noqa: E402
from spacy_ita.evaluate import ita_pipe_names, score_views  # noqa: E402
from spacy_ita.resources import resolve_model  # noqa: E402
from spacy_ita.visual_context import context_text  # noqa: E402

torch.set_num_threads(int(THREADS))

CAPTIONS = "captions-git-base/captions.csv"
DATASETS = {
    "twitter2015": {"train": "twitter2015/train.txt", "valid": "twitter2015/valid.txt",
                    "test": "twitter2015/test.txt", "temperature": 4.0},
    # The Twitter-2017 test split is kept aside (see its README): valid only.
    "twitter2017": {"train": "twitter2017/train.txt", "valid": "twitter2017/valid.txt",
                    "test": None, "temperature": 2.0},
}
# Context sources under the data dir, per dataset, in increasing priority (the later wins kind by kind).
BLIP2 = "contexts/blip2-captions.jsonl"
DESCRIPTIONS = {"twitter2015": "contexts/owl-descriptions.jsonl",
                "twitter2017": "contexts/gpt4-descriptions-twitter2017.jsonl"}
KNOWLEDGE = "contexts/pgim-knowledge/{dataset}"  # one folder: the split files, keyed by image id
CONTEXT_SETS = {
    "ita_blip2": lambda dataset: [BLIP2],
    "ita_image": lambda dataset: [BLIP2, DESCRIPTIONS[dataset]],
    "ita_knowledge": lambda dataset: [KNOWLEDGE.format(dataset=dataset)],
    "ita_all": lambda dataset: [BLIP2, DESCRIPTIONS[dataset], KNOWLEDGE.format(dataset=dataset)],
}
ITA_VIEWS = ["cross_modal", "text_only"]
SYSTEMS = {
    "ita": {"config": "configs/ita.cfg", "captions": True, "views": ITA_VIEWS},
    **{name: {"config": "configs/ita.cfg", "captions": False, "views": ITA_VIEWS} for name in CONTEXT_SETS},
    "ita_text": {"config": "configs/ita.cfg", "captions": False, "views": ["text_only"]},
    "trf_ner": {"config": "configs/trf_ner.cfg", "captions": False, "views": ["text_only"]},
}
# The per-kind context budget of configs/ita.cfg is for this total; --max-context-tokens scales both.
DEFAULT_CONTEXT_TOKENS = 64
MODES = {
    # 3 epochs: the setting of every recorded figure (BENCHMARKS.md); 3 seeds of ita and
    # ita_text at 5 epochs would be ~6 h of training alone on a 2-core CPU.
    "full": {"epochs": 3, "train_limit": 0, "eval_limit": 0, "speed_docs": 1000, "encoder": "all-MiniLM-L6-v2",
             "datasets": "twitter2015,twitter2017"},
    "quick": {"epochs": 1, "train_limit": 300, "eval_limit": 200, "speed_docs": 200, "encoder": "all-MiniLM-L6-v2",
              "datasets": "twitter2015,twitter2017"},
    "smoke": {"epochs": 1, "train_limit": 24, "eval_limit": 12, "speed_docs": 12, "encoder": "tiny-bert-2l",
              "datasets": "twitter2015"},
}
# Twitter-2015 calls its 4th type OTHER, Twitter-2017 MISC: one column.
TYPE_COLUMNS = [("PER", ("PER",)), ("LOC", ("LOC",)), ("ORG", ("ORG",)), ("MISC/OTHER", ("MISC", "OTHER"))]
CONTEXT_WORDS = 40


# --- the synthesized visual context for the speed measurement -----------------
OBJECTS = ["person", "car", "dog", "bus", "chair", "cup", "bottle", "tv", "cell phone", "book", "bench",
           "traffic light", "handbag", "laptop", "bicycle", "umbrella", "tie", "clock", "pizza", "horse"]
ADJECTIVES = ["young", "large", "red", "crowded", "small", "old", "white", "dark", "smiling", "tall"]
NOUNS = ["man", "woman", "group", "crowd", "stage", "street", "sign", "building", "table", "field", "poster",
         "team", "car", "window", "banner"]
VERBS = ["standing", "sitting", "walking", "holding", "posing", "playing", "talking", "waiting"]
PREPOSITIONS = ["in front of", "next to", "on", "near", "behind", "under"]
OCR_WORDS = ["OPEN", "SALE", "Main", "Street", "NEW", "YORK", "live", "tonight", "2016", "tickets", "FREE",
             "www.example.com", "#1", "Congrats", "Final", "Score", "Welcome", "to", "the", "Club", "@news", "Park"]


def synthetic_context(index: int, n_words: int = CONTEXT_WORDS) -> Dict[str, Any]:
    """A deterministic context of about `n_words` words: ~6 object tags, a
    ~12-word caption, OCR lines filling up the rest."""
    rng = random.Random(1000003 * (index + 1))
    objects = [{"label": label, "count": rng.choice([1, 1, 2, 3]), "score": round(rng.uniform(0.3, 0.95), 2)}
               for label in rng.sample(OBJECTS, 5)]
    caption = (f"a {rng.choice(ADJECTIVES)} {rng.choice(NOUNS)} {rng.choice(VERBS)} {rng.choice(PREPOSITIONS)} "
               f"a {rng.choice(ADJECTIVES)} {rng.choice(NOUNS)} with a {rng.choice(NOUNS)}")
    context = {"objects": objects, "caption": caption, "ocr": []}
    while len(context_text(context).replace(" ; ", " ").split()) < n_words:
        line = " ".join(rng.choice(OCR_WORDS) for _ in range(rng.randint(2, 5)))
        context["ocr"].append(line)
    return context


# --- machine -------------------------------------------------------------------
def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_info() -> Dict[str, Any]:
    from importlib.metadata import version

    return {
        "cores": os.cpu_count(), "cpu": cpu_model(), "torch_threads": torch.get_num_threads(),
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
        "load_average_at_start": os.getloadavg() if hasattr(os, "getloadavg") else None,
        "python": platform.python_version(), "torch": torch.__version__, "spacy": spacy.__version__,
        "spacy_transformers": version("spacy-transformers"), "transformers": version("transformers"),
    }


def machine_line(info: Dict[str, Any]) -> str:
    load = info.get("load_average_at_start")
    load_text = f", load average at start {load[0]:.2f}" if load else ""
    return (f"{info['cores']} cores, {info['cpu']}, torch threads {info['torch_threads']} "
            f"(OMP_NUM_THREADS={info['omp_num_threads']}){load_text}; torch {info['torch']}, "
            f"spaCy {info['spacy']}, spacy-transformers {info['spacy_transformers']}, "
            f"transformers {info['transformers']}")


# --- one training run ------------------------------------------------------------
def context_sources(args, dataset: str, system: str) -> Dict[str, Any]:
    """The captions CSV and context sources a system's runs read, as reader arguments."""
    contexts = [str(args.data_dir / c) for c in CONTEXT_SETS[system](dataset)] if system in CONTEXT_SETS else None
    captions = str(args.data_dir / CAPTIONS) if SYSTEMS[system]["captions"] else None
    return {"captions": captions, "contexts": contexts}


def read_examples(nlp, path: Path, sources: Optional[Dict[str, Any]] = None, limit: int = 0):
    reader = create_mner_corpus(str(path), **(sources or {}), limit=limit)
    return list(reader(nlp))


def count_docs(path: Path) -> int:
    return len(read_examples(spacy.blank("en"), path))


def prepare_splits(args, dataset: str) -> Dict[str, Optional[Path]]:
    """The split files a run reads: the dataset's own, or with a limit, a copy of
    its first N posts under OUTPUT_DIR/data (the reader parses a whole file even
    for a few posts, and training re-reads it for every pass and evaluation)."""
    limits = {"train": args.train_limit, "valid": args.eval_limit,
              "test": max(args.eval_limit, args.speed_docs) if args.eval_limit else 0}
    splits: Dict[str, Optional[Path]] = {}
    for split, limit in limits.items():
        source = DATASETS[dataset][split]
        if source is None or not limit:
            splits[split] = args.data_dir / source if source else None
            continue
        target = args.output_dir / "data" / dataset / f"{split}.first{limit}.txt"
        target.parent.mkdir(parents=True, exist_ok=True)
        records = []
        for record in read_mner(args.data_dir / source):
            records.append(record)
            if len(records) == limit:
                break
        write_mner(records, target)
        splits[split] = target
    return splits


def train_command(args, dataset: str, system: str, seed: int, model_dir: Path, steps_per_epoch: int,
                  splits: Dict[str, Optional[Path]]) -> List[str]:
    spec, data = SYSTEMS[system], DATASETS[dataset]
    total_steps = args.epochs * steps_per_epoch
    eval_frequency = args.eval_frequency or steps_per_epoch
    cmd = [
        sys.executable, "-m", "spacy", "train", str(REPO / spec["config"]),
        "--code", str(HOOKS),
        "--output", str(model_dir),
        "--paths.train", str(splits["train"]),
        "--paths.dev", str(splits["valid"]),
        "--system.seed", str(seed),
        "--training.max_epochs", str(args.epochs),
        "--training.max_steps", "0",
        "--training.patience", "0",
        "--training.eval_frequency", str(eval_frequency),
        "--training.optimizer.learn_rate.total_steps", str(total_steps),
        "--training.optimizer.learn_rate.warmup_steps", str(max(1, round(0.1 * total_steps))),
        "--training.before_update", json.dumps({"@callbacks": "spacy_ita_bench.step_clock.v1"}),
    ]
    if system == "trf_ner":
        cmd += ["--components.transformer.model.name", resolve_model(args.encoder)]
    else:
        cmd += ["--components.ita_ner.model.encoder", args.encoder,
                "--components.ita_ner.temperature", str(data["temperature"])]
        if "cross_modal" not in SYSTEMS[system]["views"]:
            cmd += ["--components.ita_ner.views", '["text"]', "--components.ita_ner.kl_weight", "0",
                    "--components.ita_ner.inference_view", "text"]
            return cmd
        sources = context_sources(args, dataset, system)
        if sources["captions"]:
            cmd += ["--paths.captions", sources["captions"]]
        if sources["contexts"]:
            cmd += ["--paths.contexts", json.dumps(sources["contexts"])]
        if args.max_context_tokens != DEFAULT_CONTEXT_TOKENS:
            # The budget curve: the total and every kind's budget scaled alike.
            budget = Config().from_disk(REPO / spec["config"])["components"]["ita_ner"]["model"]["context_budget"]
            scale = args.max_context_tokens / DEFAULT_CONTEXT_TOKENS
            cmd += ["--components.ita_ner.model.max_context_tokens", str(args.max_context_tokens)]
            for kind, tokens in budget.items():
                cmd += [f"--components.ita_ner.model.context_budget.{kind}", str(round(tokens * scale))]
        if args.kind_dropout:
            cmd += ["--components.ita_ner.context_kind_dropout", str(args.kind_dropout)]
    return cmd


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
    return {"wall_seconds": seconds, "peak_rss_mib": usage.ru_maxrss / 1024.0,  # Linux: KiB
            "best_step": bench_hooks.best_checkpoint_step(events), **bench_hooks.epoch_seconds(events)}


# --- evaluation -------------------------------------------------------------------
def scores_of(nlp, examples) -> Dict[str, Dict[str, Any]]:
    """{view: {ents_p, ents_r, ents_f, ents_per_type}}: both views for an ITA pipeline, text_only otherwise."""
    if ita_pipe_names(nlp):
        return score_views(nlp, examples)
    start = time.perf_counter()
    scores = nlp.evaluate(examples, batch_size=32)
    seconds = time.perf_counter() - start
    return {"text_only": {"ents_p": scores["ents_p"], "ents_r": scores["ents_r"], "ents_f": scores["ents_f"],
                          "ents_per_type": scores["ents_per_type"], "docs_per_second": len(examples) / seconds}}


def evaluate_split(nlp, args, dataset: str, system: str, path: Path, limit: int = 0) -> Dict[str, Dict[str, Any]]:
    # Fresh examples every time: a pipeline writes its entities into the predicted docs.
    examples = read_examples(nlp, path, context_sources(args, dataset, system), limit)
    scores = scores_of(nlp, examples)
    return {view: scores[view] for view in SYSTEMS[system]["views"]}


def view_docs(nlp, references, view: str, synthesize: bool = True) -> List[Any]:
    """Fresh predicted docs for `references` (with their own contexts, if any);
    with `synthesize`, cross-modal ones get the synthesized context instead."""
    docs = [predicted_doc(nlp, ref) for ref in references]
    if view == "cross_modal" and synthesize:
        for i, doc in enumerate(docs):
            doc._.visual_context = synthetic_context(i)
    return docs


def time_view(nlp, references, view: str, synthesize: bool = True):
    """(seconds, docs): nlp.pipe over `references` read in `view`, after one warm-up batch."""
    saved = {}
    for name in ita_pipe_names(nlp):
        saved[name] = nlp.get_pipe(name).cfg["inference_view"]
        nlp.get_pipe(name).cfg["inference_view"] = "auto" if view == "cross_modal" else "text"
    try:
        list(nlp.pipe(view_docs(nlp, references[: nlp.batch_size], view, synthesize)))
        docs = view_docs(nlp, references, view, synthesize)
        start = time.perf_counter()
        for _ in nlp.pipe(docs):
            pass
        return time.perf_counter() - start, docs
    finally:
        for name, setting in saved.items():
            nlp.get_pipe(name).cfg["inference_view"] = setting


def measure_speed(nlp, args, dataset: str, system: str, path: Path) -> Dict[str, Any]:
    """Inference docs/s with one thread on `speed_docs` posts: text-only, and
    cross-modal for ITA systems: with the real contexts where the system has
    context sources, else a synthesized ~40-word context on every post."""
    real = system in CONTEXT_SETS
    sources = context_sources(args, dataset, system) if real else None
    references = [eg.reference for eg in read_examples(nlp, path, sources, args.speed_docs)]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    results = {}
    try:
        for view in SYSTEMS[system]["views"]:
            seconds, docs = time_view(nlp, references, view, synthesize=not real)
            entry = {"docs": len(docs), "seconds": seconds, "docs_per_second": len(docs) / seconds,
                     "threads": 1, "batch_size": nlp.batch_size}
            if view == "cross_modal":
                entry["context"] = "real" if real else "synthesized"
                entry["context_words_mean"] = statistics.mean(
                    len(context_text(d._.visual_context).replace(" ; ", " ").split()) for d in docs)
            results[view] = entry
    finally:
        torch.set_num_threads(threads)
    return results


def main_view(system: str) -> str:
    return SYSTEMS[system]["views"][0]


def run_settings(args, dataset: str, system: str, seed: int, splits: Dict[str, Optional[Path]],
                 n_train: int):
    """The run's folder, training command, steps per epoch and the settings a finished run must match."""
    run_dir = args.output_dir / dataset / system / f"seed{seed}"
    batch_size = Config().from_disk(REPO / SYSTEMS[system]["config"])["training"]["batcher"]["size"]
    steps_per_epoch = math.ceil(n_train / batch_size)
    cmd = train_command(args, dataset, system, seed, run_dir / "model", steps_per_epoch, splits)
    config_text = (REPO / SYSTEMS[system]["config"]).read_text(encoding="utf8")
    settings = {"cmd": cmd, "threads": THREADS, "eval_limit": args.eval_limit, "speed_docs": args.speed_docs,
                "config_sha1": hashlib.sha1(config_text.encode("utf8")).hexdigest()}
    return run_dir, cmd, steps_per_epoch, settings


def finished_record(run_dir: Path, settings: Dict[str, Any]) -> Optional[Dict[str, Any]]:
    """The run.json of a finished run made with `settings`, or None."""
    record_path = run_dir / "run.json"
    if record_path.exists():
        record = srsly.read_json(record_path)
        if record.get("settings") == settings:
            return record
    return None


def run_one(args, dataset: str, system: str, seed: int, splits: Dict[str, Optional[Path]],
            n_train: int) -> Dict[str, Any]:
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
        print(f"[bench] {dataset} {system} seed {seed}: training ({n_train} posts, {steps_per_epoch} steps/epoch, "
              f"{args.epochs} epochs), log {run_dir / 'train.log'}", flush=True)
        training_path.unlink(missing_ok=True)
        training = run_training(cmd, run_dir / "train.log", run_dir / "events.jsonl")
        srsly.write_json(training_path, {"settings": settings, "training": training})
    epoch_secs = [e["seconds"] for e in training["epochs"]]
    print(f"[bench]   {training['wall_seconds']:.0f} s wall, {statistics.mean(epoch_secs):.1f} s/epoch, "
          f"peak RSS {training['peak_rss_mib']:.0f} MiB", flush=True)

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
    print(f"[bench]   selected {selected}; valid F1 {100 * valid_scores[view]['ents_f']:.2f} ({view}); "
          + ", ".join(f"{v} {s['docs_per_second']:.1f} docs/s" for v, s in speed.items()), flush=True)
    record = {
        "dataset": dataset, "system": system, "seed": seed, "settings": settings,
        "command": shlex.join(cmd), "n_train": n_train, "steps_per_epoch": steps_per_epoch,
        "training": training, "seconds_per_epoch": statistics.mean(epoch_secs),
        "checkpoint_valid_f": checkpoint_valid_f,
        "selected": selected, "scores": scores, "speed": speed, "speed_split": speed_path.name,
    }
    srsly.write_json(record_path, record)
    return record


# --- the table --------------------------------------------------------------------
def stat(values: List[Optional[float]]) -> Optional[Dict[str, float]]:
    values = [v for v in values if v is not None]
    if not values:
        return None
    return {"mean": statistics.mean(values), "std": statistics.stdev(values) if len(values) > 1 else 0.0,
            "min": min(values), "max": max(values), "n": len(values)}


def type_f(per_type: Optional[Dict[str, Dict[str, float]]], names) -> Optional[float]:
    for name in names:
        if per_type and name in per_type:
            return per_type[name]["f"]
    return None


def aggregate(records: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    groups: Dict[tuple, List[Dict[str, Any]]] = {}
    for r in records:
        groups.setdefault((r["dataset"], r["system"]), []).append(r)
    rows = []
    for (dataset, system), runs in groups.items():
        for split in runs[0]["scores"]:
            for view in SYSTEMS[system]["views"]:
                scores = [r["scores"][split][view] for r in runs]
                row = {"dataset": dataset, "system": system, "split": split, "view": view,
                       "seeds": [r["seed"] for r in runs],
                       "P": stat([s["ents_p"] for s in scores]), "R": stat([s["ents_r"] for s in scores]),
                       "F": stat([s["ents_f"] for s in scores]),
                       "seconds_per_epoch": stat([r["seconds_per_epoch"] for r in runs]),
                       "peak_rss_mib": stat([r["training"]["peak_rss_mib"] for r in runs]),
                       "docs_per_second": stat([r["speed"][view]["docs_per_second"] for r in runs])}
                for column, names in TYPE_COLUMNS:
                    row[f"F_{column}"] = stat([type_f(s["ents_per_type"], names) for s in scores])
                rows.append(row)
    return rows


def cell(value: Optional[Dict[str, float]], scale: float = 1.0, digits: int = 2) -> str:
    if value is None:
        return "-"
    text = f"{scale * value['mean']:.{digits}f}"
    if value["n"] > 1:
        text += f" ± {scale * value['std']:.{digits}f}"
    return text


def markdown_table(rows: List[Dict[str, Any]]) -> str:
    header = (["dataset", "system", "split", "view", "P", "R", "F1"] + [f"F1 {c}" for c, _ in TYPE_COLUMNS]
              + ["train s/epoch", "peak RSS MiB", "docs/s (1 thread)"])
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    for row in rows:
        cells = ([row["dataset"], row["system"], row["split"], row["view"].replace("_", "-"),
                  cell(row["P"], 100), cell(row["R"], 100), cell(row["F"], 100)]
                 + [cell(row[f"F_{c}"], 100) for c, _ in TYPE_COLUMNS]
                 + [cell(row["seconds_per_epoch"], digits=1), cell(row["peak_rss_mib"], digits=0),
                    cell(row["docs_per_second"], digits=1)])
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


# --- command line -----------------------------------------------------------------
def csv_list(text: str) -> List[str]:
    return [item.strip() for item in text.split(",") if item.strip()]


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="1 epoch, 300 train / 200 eval posts (minutes)")
    mode.add_argument("--smoke", action="store_true", help="tiny encoder, tens of posts (the test)")
    parser.add_argument("--datasets", help="comma-separated: twitter2015,twitter2017 (smoke: twitter2015)")
    parser.add_argument("--systems", default="ita,ita_text,trf_ner", help="comma-separated: ita,ita_text,trf_ner")
    parser.add_argument("--encoder", help="known model name or weights dir (default all-MiniLM-L6-v2; smoke tiny-bert-2l)")
    parser.add_argument("--epochs", type=int, help="training epochs (full 3, quick/smoke 1)")
    parser.add_argument("--seeds", default="0", help="comma-separated seeds, e.g. 0,1,2")
    parser.add_argument("--data-dir", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--output-dir", type=Path, help="default training/bench_real_data/<mode>")
    parser.add_argument("--threads", type=int, default=1, help="OMP_NUM_THREADS / torch threads everywhere")
    parser.add_argument("--train-limit", type=int, help="first N train posts (0 = all)")
    parser.add_argument("--eval-limit", type=int, help="first N valid/test posts (0 = all)")
    parser.add_argument("--speed-docs", type=int, help="posts timed for docs/s")
    parser.add_argument("--eval-frequency", type=int, default=0, help="steps between dev evaluations (0: per epoch)")
    parser.add_argument("--max-context-tokens", type=int, default=DEFAULT_CONTEXT_TOKENS,
                        help=f"context tokens after the post (default {DEFAULT_CONTEXT_TOKENS}, configs/ita.cfg); "
                        "every kind's budget is scaled alike")
    parser.add_argument("--kind-dropout", type=float, default=0.0,
                        help="context_kind_dropout of the ITA systems (training only)")
    parser.add_argument("--no-resume", dest="resume", action="store_false", help="retrain runs already done")
    parser.add_argument("--table-only", action="store_true",
                        help="train nothing: tabulate the finished runs among --systems x --seeds")
    args = parser.parse_args(argv)
    args.mode = "smoke" if args.smoke else "quick" if args.quick else "full"
    defaults = MODES[args.mode]
    for key in ("epochs", "train_limit", "eval_limit", "speed_docs", "encoder", "datasets"):
        if getattr(args, key) is None:
            setattr(args, key, defaults[key])
    args.datasets = csv_list(args.datasets)
    args.systems = csv_list(args.systems)
    args.seeds = [int(s) for s in csv_list(args.seeds)]
    for name, known in (("dataset", DATASETS), ("system", SYSTEMS)):
        unknown = [x for x in getattr(args, f"{name}s") if x not in known]
        if unknown:
            parser.error(f"unknown {name} {unknown}: choose from {list(known)}")
    args.data_dir = args.data_dir.resolve()
    if not args.data_dir.is_dir():
        parser.error(f"data dir not found: {args.data_dir}")
    args.output_dir = (args.output_dir or REPO / "training" / "bench_real_data" / args.mode).resolve()
    return args


def main(argv=None) -> Dict[str, Any]:
    args = parse_args(argv)
    command = "python " + shlex.join(["benchmarks/bench_real_data.py"] + list(sys.argv[1:] if argv is None else argv))
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
                        print(f"[bench] {dataset} {system} seed {seed}: no finished run with these settings, "
                              f"left out", flush=True)
                        continue
                else:
                    record = run_one(args, dataset, system, seed, splits, n_train)
                records.append(record)
    if not records:
        raise SystemExit("[bench] no finished runs to tabulate")
    rows = aggregate(records)
    table = markdown_table(rows)
    total = time.perf_counter() - start
    header = (f"Command: `{command}`\n\nMachine: {machine_line(info)}\n\n"
              f"Mode {args.mode}: encoder {args.encoder}, {args.epochs} epoch(s), seeds {args.seeds}, "
              f"train limit {args.train_limit or 'all'}, eval limit {args.eval_limit or 'all'}, "
              f"context tokens {args.max_context_tokens}, kind dropout {args.kind_dropout}; "
              f"docs/s on {args.speed_docs} posts (cross-modal: the real contexts for {', '.join(CONTEXT_SETS)}, "
              f"else a synthesized ~{CONTEXT_WORDS}-word context); "
              f"benchmark wall time {total / 60:.1f} min\n")
    results = {"command": command, "machine": info, "mode": args.mode, "encoder": args.encoder,
               "epochs": args.epochs, "seeds": args.seeds, "train_limit": args.train_limit,
               "eval_limit": args.eval_limit, "speed_docs": args.speed_docs, "data_dir": str(args.data_dir),
               "wall_seconds": total, "rows": rows, "runs": records}
    srsly.write_json(args.output_dir / "results.json", results)
    (args.output_dir / "table.md").write_text(header + "\n" + table + "\n", encoding="utf8")
    print("\n" + header + "\n" + table + "\n", flush=True)
    print(f"[bench] raw results: {args.output_dir / 'results.json'}", flush=True)
    return results


if __name__ == "__main__":
    main()
