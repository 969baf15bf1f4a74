"""Inference docs/s of trained pipelines, measured side by side in one process.

Each pipeline is timed text-only; an ITA pipeline trained with the cross-modal view
is also timed cross-modal (every post given the deterministic ~40-word synthesized
context of bench_real_data.py). Same posts, one torch thread. The (pipeline, view)
pairs are timed in turn for several rounds and the median is reported, so that a load
change on the machine hits every row alike instead of one row.

    OMP_NUM_THREADS=1 python -m benchmarks.bench_inference \\
        ita=training/bench_real_data/full/twitter2015/ita/seed0/model/model-last \\
        trf_ner=training/bench_real_data/full/twitter2015/trf_ner/seed0/model/model-best \\
        --data ../shared/data/twitter2015/test.txt --docs 1000 --rounds 3
"""

import argparse
import os
import statistics
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")  # two threads make step times jump here


import spacy  # noqa: E402
import torch  # noqa: E402

import benchmarks.bench_real_data  # noqa: E402,F401  (pins threads, registers nothing else)
from benchmarks.results import Tables, add_json_option  # noqa: E402
from benchmarks.speed import time_view  # noqa: E402
from benchmarks.systems import read_examples  # noqa: E402
from spacy_ita.evaluate import pipeline_reads_context  # noqa: E402
from spacy_ita.ner.views import CROSS_MODAL, TEXT_ONLY  # noqa: E402


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("pipelines", nargs="+", help="NAME=PATH of a trained pipeline")
    parser.add_argument("--data", type=Path, required=True, help="MNER file whose posts are tagged")
    parser.add_argument("--docs", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    add_json_option(parser)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    pipelines = {}
    for spec in args.pipelines:
        name, sep, path = spec.partition("=")
        if not sep or not path:
            parser.error(f"expected NAME=PATH, got {spec!r}")
        nlp = spacy.load(path)
        # Cross-modal only for a pipeline trained to read contexts (not ita_ner with views = ["text"]).
        views = [TEXT_ONLY, CROSS_MODAL] if pipeline_reads_context(nlp) else [TEXT_ONLY]
        references = [eg.reference for eg in read_examples(nlp, args.data, limit=args.docs)]
        pipelines[name] = (nlp, views, references)
    seconds = {(name, view): [] for name, (_, views, _) in pipelines.items() for view in views}
    for _ in range(args.rounds):
        for (name, view), times in seconds.items():
            nlp, _, references = pipelines[name]
            times.append(time_view(nlp, references, view)[0])
    print(
        f"{args.docs} posts of {args.data.name}, torch threads {torch.get_num_threads()}, "
        f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}, median of {args.rounds} rounds"
    )
    tables = Tables("benchmarks.bench_inference", argv)
    tables.start(["pipeline", "view", "docs/s", "× its text-only"])
    rates = {key: len(pipelines[key[0]][2]) / statistics.median(times) for key, times in seconds.items()}
    for (name, view), rate in rates.items():
        ratio = rates[(name, TEXT_ONLY)] / rate
        tables.row(name, view.replace("_", "-"), f"{rate:.1f}", f"{ratio:.2f}")
    tables.write(args.json, data=str(args.data), docs=args.docs, rounds=args.rounds)


if __name__ == "__main__":
    main()
