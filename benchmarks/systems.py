"""The systems and datasets bench_real_data compares, the files each run
reads, and the `python -m spacy train` command of one run."""

import json
import os
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional

import spacy
from thinc.api import Config

from spacy_ita.data.corpus import create_mner_corpus
from spacy_ita.data.mner_format import read_mner, write_mner
from spacy_ita.ner.views import AUTO, REPORTED_AS, TEXT
from spacy_ita.resources import resolve_model
from spacy_ita.schedules import DATASET_EPOCHS, linear_schedule

REPO = Path(__file__).resolve().parent.parent
# A file path (`spacy train --code` imports a file); its name is in every recorded training command,
# which a finished run must match to be reused (bench_real_data.finished_record).
HOOKS = Path(__file__).resolve().parent / "bench_hooks.py"

CAPTIONS = "captions-git-base/captions.csv"
DATASETS = {
    "twitter2015": {
        "train": "twitter2015/train.txt",
        "valid": "twitter2015/valid.txt",
        "test": "twitter2015/test.txt",
        "temperature": 4.0,
    },
    # The Twitter-2017 test split is kept aside (see its README): valid only.
    "twitter2017": {
        "train": "twitter2017/train.txt",
        "valid": "twitter2017/valid.txt",
        "test": None,
        "temperature": 2.0,
    },
}
# Context sources under the data dir, per dataset, in increasing priority (the later wins kind by kind).
BLIP2 = "contexts/blip2-captions.jsonl"
DESCRIPTIONS = {
    "twitter2015": "contexts/owl-descriptions.jsonl",
    "twitter2017": "contexts/gpt4-descriptions-twitter2017.jsonl",
}
KNOWLEDGE = "contexts/pgim-knowledge/{dataset}"  # one folder: the split files, keyed by image id
CONTEXT_SETS = {
    "ita_blip2": lambda dataset: [BLIP2],
    "ita_image": lambda dataset: [BLIP2, DESCRIPTIONS[dataset]],
    "ita_knowledge": lambda dataset: [KNOWLEDGE.format(dataset=dataset)],
    "ita_all": lambda dataset: [BLIP2, DESCRIPTIONS[dataset], KNOWLEDGE.format(dataset=dataset)],
}
# Systems that also read the `kb` kind (issue #31): what KBRetriever writes for every post from
# the kb extra's packaged sources, retrieved by kb_contexts before training. Each adds kb to a
# context set (None: kb alone).
KB_SOURCES = ("geonames", "wikipedia-vital")
KB_SYSTEMS = {"ita_kb": None, "ita_all_kb": "ita_all"}
# The views scored, named as spacy_ita.evaluate reports them.
ITA_VIEWS = [REPORTED_AS[AUTO], REPORTED_AS[TEXT]]
TEXT_ONLY = [REPORTED_AS[TEXT]]
SYSTEMS = {
    "ita": {"config": "configs/ita.cfg", "captions": True, "views": ITA_VIEWS},
    **{name: {"config": "configs/ita.cfg", "captions": False, "views": ITA_VIEWS} for name in CONTEXT_SETS},
    **{name: {"config": "configs/ita.cfg", "captions": False, "views": ITA_VIEWS} for name in KB_SYSTEMS},
    "ita_text": {"config": "configs/ita.cfg", "captions": False, "views": TEXT_ONLY},
    "trf_ner": {"config": "configs/trf_ner.cfg", "captions": False, "views": TEXT_ONLY},
}
DEFAULT_SYSTEMS = ("ita", "ita_text", "trf_ner")  # bench_real_data without --systems
# The per-kind context budget of configs/ita.cfg is for this total; --max-context-tokens scales both.
DEFAULT_CONTEXT_TOKENS = 64
POST_ROOM = 128  # subwords; Twitter posts stay well below


def budget_overrides(config_path: Path, tokens: int) -> Dict[str, int]:
    """The budget curve's config overrides: the total context budget and every kind's, scaled
    alike from the config's, and a window (max_length) that holds the whole budget after a
    post of up to POST_ROOM subwords, else a long budget is silently cut to what is left."""
    model = Config().from_disk(config_path)["components"]["ita_ner"]["model"]
    scale = tokens / DEFAULT_CONTEXT_TOKENS
    overrides = {"components.ita_ner.model.max_context_tokens": tokens}
    if tokens + POST_ROOM > model["max_length"]:
        overrides["components.ita_ner.model.max_length"] = tokens + POST_ROOM
    for kind, kind_tokens in model["context_budget"].items():
        overrides[f"components.ita_ner.model.context_budget.{kind}"] = round(kind_tokens * scale)
    return overrides


def has_real_contexts(system: str) -> bool:
    """Whether the system reads context files (else no context, or a synthesized one for docs/s)."""
    return system in CONTEXT_SETS or system in KB_SYSTEMS


def kb_contexts(args, dataset: str) -> Path:
    """The folder of the dataset's `kb` context files (one JSONL per split, keyed by image id),
    retrieved with `spacy_ita.generators.generate_contexts` and KBRetriever(KB_SOURCES) under
    OUTPUT_DIR/kb-contexts the first time; a rerun finds them written (the job resumes)."""
    from spacy_ita.generators import KBRetriever, generate_contexts

    folder = args.output_dir / "kb-contexts" / dataset
    folder.mkdir(parents=True, exist_ok=True)
    retriever = None
    for split in ("train", "valid", "test"):
        source, target = DATASETS[dataset][split], folder / f"{split}.jsonl"
        if source is None or (target.exists() and (folder / f".{split}.done").exists()):
            continue
        retriever = retriever or KBRetriever(list(KB_SOURCES))
        generate_contexts(args.data_dir / source, target, kb=retriever, progress=False)
        (folder / f".{split}.done").touch()
    return folder


def context_sources(args, dataset: str, system: str) -> Dict[str, Any]:
    """The captions CSV and context sources a system's runs read, as reader arguments."""
    contexts = [str(args.data_dir / c) for c in CONTEXT_SETS[system](dataset)] if system in CONTEXT_SETS else None
    if system in KB_SYSTEMS:
        base = KB_SYSTEMS[system]
        contexts = [str(args.data_dir / c) for c in CONTEXT_SETS[base](dataset)] if base else []
        contexts.append(str(kb_contexts(args, dataset)))
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
    limits = {
        "train": args.train_limit,
        "valid": args.eval_limit,
        "test": max(args.eval_limit, args.speed_docs) if args.eval_limit else 0,
    }
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
        # Written beside and renamed: runs started side by side on one --output-dir write the
        # same copy, and none may read another's half-written one.
        partial = target.with_name(f".{target.name}.{os.getpid()}")
        write_mner(records, partial)
        os.replace(partial, target)
        splits[split] = target
    return splits


DEFAULT_EPOCHS = 3  # the setting of the figures recorded before issue #23


def epochs_for(args, dataset: str) -> int:
    """--epochs if given, else the mode's (quick, smoke), else the dataset's measured schedule
    (spacy_ita.schedules.DATASET_EPOCHS: Twitter-2017 10), else DEFAULT_EPOCHS."""
    return args.epochs or DATASET_EPOCHS.get(dataset, DEFAULT_EPOCHS)


def train_command(
    args, dataset: str, system: str, seed: int, model_dir: Path, steps_per_epoch: int, splits: Dict[str, Optional[Path]]
) -> List[str]:
    spec, data = SYSTEMS[system], DATASETS[dataset]
    schedule = linear_schedule(epochs_for(args, dataset), steps_per_epoch)
    if args.eval_frequency:
        schedule["training.eval_frequency"] = args.eval_frequency
    cmd = [
        sys.executable,
        "-m",
        "spacy",
        "train",
        str(REPO / spec["config"]),
        "--code",
        str(HOOKS),
        "--output",
        str(model_dir),
        "--paths.train",
        str(splits["train"]),
        "--paths.dev",
        str(splits["valid"]),
        "--system.seed",
        str(seed),
        *(item for key, value in schedule.items() for item in (f"--{key}", str(value))),
        "--training.patience",
        "0",
        "--training.before_update",
        json.dumps({"@callbacks": "spacy_ita_bench.step_clock.v1"}),
        # Every system trains on the GPU a run asks for (bench_real_data --gpu-id), else on the CPU.
        *(["--gpu-id", str(args.gpu_id)] if args.gpu_id >= 0 else []),
    ]
    if system == "trf_ner":
        cmd += ["--components.transformer.model.name", resolve_model(args.encoder)]
    else:
        cmd += [
            "--components.ita_ner.model.encoder",
            args.encoder,
            "--components.ita_ner.temperature",
            str(data["temperature"]),
            "--components.ita_ner.precision",
            getattr(args, "precision", "auto"),
        ]
        if getattr(args, "freeze_word_embeddings", False):
            cmd += ["--components.ita_ner.model.freeze_word_embeddings", "true"]
        if REPORTED_AS[AUTO] not in SYSTEMS[system]["views"]:
            cmd += [
                "--components.ita_ner.views",
                '["text"]',
                "--components.ita_ner.kl_weight",
                "0",
                "--components.ita_ner.inference_view",
                "text",
            ]
            return cmd
        sources = context_sources(args, dataset, system)
        if sources["captions"]:
            cmd += ["--paths.captions", sources["captions"]]
        if sources["contexts"]:
            cmd += ["--paths.contexts", json.dumps(sources["contexts"])]
        if args.max_context_tokens != DEFAULT_CONTEXT_TOKENS:
            for key, value in budget_overrides(REPO / spec["config"], args.max_context_tokens).items():
                cmd += [f"--{key}", str(value)]
        if args.kind_dropout:
            cmd += ["--components.ita_ner.context_kind_dropout", str(args.kind_dropout)]
    return cmd


def main_view(system: str) -> str:
    return SYSTEMS[system]["views"][0]
