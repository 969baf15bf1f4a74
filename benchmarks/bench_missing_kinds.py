"""One trained ITA model read with fewer context kinds than it was trained on.

Does a model trained on every kind keep its gain when some are missing at
inference (e.g. trained on captions + descriptions + knowledge, fed captions
only)? The same checkpoint is scored cross-modal with each context set of
systems.CONTEXT_SETS (only the kinds of those sources reach the model),
and text-only:

    OMP_NUM_THREADS=1 python -m benchmarks.bench_missing_kinds \\
        training/bench_ctx/twitter2017/ita_all/seed0/model/model-last --dataset twitter2017

Scores are on valid (and test for Twitter-2015); nothing is chosen on them.
Each row also gives the subword tokens the encoder reads per post (what the
docs/s follow); `--tokens-only` counts those alone, in seconds, without tagging.
"""

import argparse
import os
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import spacy  # noqa: E402
import torch  # noqa: E402

from benchmarks.results import Tables, add_json_option  # noqa: E402
from benchmarks.speed import encoder_tokens_per_post  # noqa: E402
from benchmarks.systems import CONTEXT_SETS, DATASETS, read_examples  # noqa: E402
from spacy_ita.evaluate import reading, score  # noqa: E402
from spacy_ita.ner.views import AUTO, REPORTED_AS, TEXT  # noqa: E402

REPO = Path(__file__).resolve().parent.parent


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", type=Path, help="trained pipeline with an ita_ner")
    parser.add_argument("--dataset", choices=list(DATASETS), required=True)
    parser.add_argument("--data-dir", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--limit", type=int, default=0, help="first N posts of each split (0 = all)")
    parser.add_argument("--tokens-only", action="store_true", help="encoder tokens per post only, no tagging")
    add_json_option(parser)
    args = parser.parse_args(argv)
    torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))
    nlp = spacy.load(args.model)
    trained = {name: pipe.cfg.get("trained_context_kinds") for name, pipe in nlp.pipeline if hasattr(pipe, "cfg")}
    splits = [s for s in ("valid", "test") if DATASETS[args.dataset][s]]
    columns = ["tokens/post"] if args.tokens_only else ["P", "R", "F1", "docs/s", "tokens/post"]
    rows = []
    for name, sources in [("text-only", None), *CONTEXT_SETS.items()]:
        files = [s.replace("contexts/", "") for s in sources(args.dataset)] if sources else []
        row = [name if sources is None else f"{name[4:]} ({', '.join(files)})"]
        for split in splits:
            contexts = [str(args.data_dir / s) for s in sources(args.dataset)] if sources else None
            examples = read_examples(
                nlp, args.data_dir / DATASETS[args.dataset][split], {"contexts": contexts}, limit=args.limit
            )
            view = TEXT if sources is None else AUTO
            if not args.tokens_only:
                with reading(nlp, view):
                    result = score(nlp, examples)
                row += [
                    f"{100 * result['ents_p']:.2f}",
                    f"{100 * result['ents_r']:.2f}",
                    f"**{100 * result['ents_f']:.2f}**",
                    f"{result['docs_per_second']:.1f}",
                ]
            docs = [eg.reference for eg in examples]
            row.append(f"{encoder_tokens_per_post(nlp, docs, REPORTED_AS[view]):.1f}")
        rows.append(row)
        print(f"[missing-kinds] {row}", flush=True)
    header = ["read with"] + [f"{split} {c}" for split in splits for c in columns]
    print(f"\nModel: {args.model} (trained kinds: {trained}); dataset {args.dataset}\n")
    tables = Tables("benchmarks.bench_missing_kinds", argv)
    tables.print(header, rows)
    tables.write(args.json, model=str(args.model), trained_context_kinds=trained, dataset=args.dataset)


if __name__ == "__main__":
    main()
