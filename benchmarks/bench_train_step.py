"""Seconds per training step (batch of 16 posts) on the real data, in process,
for ITA with both views + KL, the text-only model, and spaCy's transformer + ner
with the same encoder. Prints a table; a quick stand-in for full training runs
when the question is only the cost of an epoch.

    OMP_NUM_THREADS=1 python -m benchmarks.bench_train_step [--steps 8] [--warmup 2]
    # ITA with the real contexts of a systems context set, at several context budgets
    OMP_NUM_THREADS=1 python -m benchmarks.bench_train_step --dataset twitter2017 --contexts ita_all \
        --budgets 32,64,128
    # another encoder's ITA and text-only rows
    OMP_NUM_THREADS=1 python -m benchmarks.bench_train_step --encoder multilingual-e5-small --systems ita,ita_text
"""

import argparse
import os
import time
from typing import Any, Dict, Optional, Tuple

os.environ.setdefault("OMP_NUM_THREADS", "1")  # two threads make step times jump here

import spacy  # noqa: E402
import torch  # noqa: E402
from spacy.util import load_config  # noqa: E402

from benchmarks.results import Tables, add_json_option  # noqa: E402
from benchmarks.systems import CONTEXT_SETS, DEFAULT_CONTEXT_TOKENS, budget_overrides  # noqa: E402
from spacy_ita import schedules  # noqa: E402
from spacy_ita.data.corpus import create_mner_corpus  # noqa: E402
from spacy_ita.resources import resolve_model  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BATCH = 16
TRAIN_POSTS = {"twitter2015": 4000, "twitter2017": 3373}


def build(
    system: str,
    encoder: str,
    train_path: str,
    tokens: int = DEFAULT_CONTEXT_TOKENS,
    precision: str = "auto",
    extra: Optional[Dict[str, Any]] = None,
):
    """A fresh pipeline of `system` (its config, encoder, budget, precision); ITA systems take the
    config overrides `extra` last."""
    paths = {"paths.train": train_path, "paths.dev": train_path}  # only to validate the config's corpora
    if system == "trf_ner":
        config = load_config(
            os.path.join(REPO, "configs", "trf_ner.cfg"),
            overrides={**paths, "components.transformer.model.name": resolve_model(encoder)},
        )
    else:
        config_path = os.path.join(REPO, "configs", "ita.cfg")
        overrides = {
            **paths,
            "components.ita_ner.model.encoder": encoder,
            "components.ita_ner.precision": precision,
            **budget_overrides(config_path, tokens),
        }
        if system == "ita_text":
            overrides["components.ita_ner.views"] = ["text"]
        config = load_config(config_path, overrides={**overrides, **(extra or {})})
    return spacy.util.load_model_from_config(config, auto_fill=True)


def seconds_per_step(
    system: str, encoder: str, train_path: str, examples, steps: int, warmup: int, tokens: int = DEFAULT_CONTEXT_TOKENS
) -> Tuple[float, float]:
    """(wall, CPU) seconds per step. On one thread the CPU seconds are the cost to compare
    when other jobs share the machine: they do not count the time spent waiting for a core."""
    nlp = build(system, encoder, train_path, tokens)
    optimizer = nlp.initialize(lambda: examples)
    batches = [examples[i : i + BATCH] for i in range(0, len(examples), BATCH)]
    for batch in batches[:warmup]:
        nlp.update(batch, sgd=optimizer)
    start, start_cpu = time.perf_counter(), time.process_time()
    for batch in batches[warmup : warmup + steps]:
        nlp.update(batch, sgd=optimizer)
    return (time.perf_counter() - start) / steps, (time.process_time() - start_cpu) / steps


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data-dir", default=os.path.join(REPO, "..", "shared", "data"))
    parser.add_argument("--encoder", default="all-MiniLM-L6-v2")
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--dataset", choices=list(TRAIN_POSTS), default="twitter2015")
    parser.add_argument(
        "--contexts", choices=list(CONTEXT_SETS), help="ITA reads this context set (default: git-base captions)"
    )
    parser.add_argument("--budgets", default=str(DEFAULT_CONTEXT_TOKENS), help="ITA rows: context tokens, e.g. 32,64")
    parser.add_argument(
        "--systems",
        default="ita,ita_text,trf_ner",
        help="which rows (trf_ner needs an encoder spacy-transformers loads: not multilingual-e5-small)",
    )
    add_json_option(parser)
    args = parser.parse_args()
    torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))
    torch.manual_seed(0)
    n_posts = BATCH * (args.steps + args.warmup)
    train_path = os.path.join(args.data_dir, args.dataset, "train.txt")
    if args.contexts:
        sources = {"contexts": [os.path.join(args.data_dir, c) for c in CONTEXT_SETS[args.contexts](args.dataset)]}
    else:
        sources = {"captions": os.path.join(args.data_dir, "captions-git-base", "captions.csv")}
    examples = list(create_mner_corpus(train_path, limit=n_posts, **sources)(spacy.blank("en")))
    systems = args.systems.split(",")
    rows = []
    for tokens in [int(t) for t in args.budgets.split(",")] if "ita" in systems else []:
        step = seconds_per_step("ita", args.encoder, train_path, examples, args.steps, args.warmup, tokens)
        rows.append((f"ita ({args.contexts or 'git-base captions'}, {tokens} context tokens)", step))
    for system in [s for s in ("ita_text", "trf_ner") if s in systems]:
        rows.append((system, seconds_per_step(system, args.encoder, train_path, examples, args.steps, args.warmup)))
    spacy_step = dict(rows).get("trf_ner", (None,))[0]
    steps_per_epoch = schedules.steps_per_epoch(TRAIN_POSTS[args.dataset], BATCH)
    print(
        f"{args.dataset} train, first {n_posts} posts, batch {BATCH}, encoder {args.encoder}, "
        f"torch threads {torch.get_num_threads()}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}"
    )
    tables = Tables("benchmarks.bench_train_step")
    tables.start(["system", "s/step", "CPU s/step", f"s/epoch ({TRAIN_POSTS[args.dataset]} posts)", "× spaCy trf+ner"])
    for system, (step, cpu) in rows:
        relative = f"{step / spacy_step:.2f}" if spacy_step else "—"
        tables.row(system, f"{step:.2f}", f"{cpu:.2f}", f"{step * steps_per_epoch:.0f}", relative)
    tables.write(args.json, dataset=args.dataset, encoder=args.encoder, steps=args.steps, warmup=args.warmup)


if __name__ == "__main__":
    main()
