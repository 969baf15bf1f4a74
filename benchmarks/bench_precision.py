"""fp32 against bf16 side by side in one process (issue #29): inference docs/s of the text and
cross-modal views, training seconds per step, and where a training step's time goes, per
encoder and precision, with the encoder's subword embeddings trained or frozen.

    OMP_NUM_THREADS=1 python -m benchmarks.bench_precision
    # fewer rows / more steps
    OMP_NUM_THREADS=1 python -m benchmarks.bench_precision --encoders all-MiniLM-L6-v2 --steps 6 --json out.json

Everything runs on Twitter-2017 with the `ita_all` contexts (BLIP-2 captions, GPT-4
descriptions, PGIM knowledge; benchmarks.systems.CONTEXT_SETS), training batches of 16 posts, one thread.
Each configuration builds a fresh `ita_ner` pipeline from configs/ita.cfg (weights as
initialized: speed does not depend on training) and measures:

- inference: `nlp.pipe` over the first --docs valid posts in batches of --pipe-batch (by default
  the config's [nlp] batch_size, 32), read text-only and cross-modal (`ITANER.reading`), after a warm-up batch, once per
  --chunk-rows setting (`encoder_chunk_rows`: 16, and 0 = the batch in one padded call): docs/s
  of wall time and of CPU time;
- training: --steps real `nlp.update` steps after --warmup (wall and CPU seconds per step);
- the profile of the same number of steps taken phase by phase with the model's own parts
  (`ITANER.training_batch`, `encode_training_views`, `ITATaggerModule.emissions`,
  `views.two_view_loss`, `ITATaggerShim.finish_update`): inputs (tokenization, tensors), the
  encoder forward of each view (with first-subword pooling and the emission layer), the CRF
  and KL forward, their backward down to the emissions, the encoder backward of each view,
  the optimizer (thinc's Adam on every trained weight, with the torch<->numpy views and
  zeroing the gradients), and of that the torch<->numpy conversions alone. CPU seconds.

CPU seconds are what to compare on a machine others share: on one thread they do not count
the time spent waiting for a core. The table says which CPU (`lscpu` model name and its
bf16 flags) measured it.
"""

import argparse
import gc
import json
import os
import time
from contextlib import contextmanager
from typing import Any, Dict, Iterator, List

os.environ.setdefault("OMP_NUM_THREADS", "1")  # two threads make step times jump here

import spacy  # noqa: E402
import torch  # noqa: E402
from thinc.util import torch2xp, xp2torch  # noqa: E402

from benchmarks.bench_train_step import build  # noqa: E402
from benchmarks.systems import CONTEXT_SETS  # noqa: E402
from benchmarks.table import cpu_model  # noqa: E402
from spacy_ita.data.corpus import create_mner_corpus, predicted_doc  # noqa: E402
from spacy_ita.ner.architecture import built_parts, encode_training_views, tagger_shim  # noqa: E402
from spacy_ita.ner.precision import PRECISIONS, cpu_bf16_units  # noqa: E402
from spacy_ita.ner.tagger import DEFAULT_ROWS_PER_CHUNK  # noqa: E402
from spacy_ita.ner.views import two_view_loss  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATASET = "twitter2017"
CONTEXTS = "ita_all"
BATCH = 16
PHASES = (
    "inputs",
    "encoder fwd text",
    "encoder fwd cross",
    "CRF+KL fwd",
    "CRF+KL bwd",
    "encoder bwd text",
    "encoder bwd cross",
    "optimizer",
)


class Clock:
    """CPU seconds per named phase, summed over the steps taken."""

    def __init__(self) -> None:
        self.seconds: Dict[str, float] = {}

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        start = time.process_time()
        yield
        self.seconds[name] = self.seconds.get(name, 0.0) + time.process_time() - start


def profiled_step(nlp, batch_examples, optimizer, clock: Clock) -> None:
    """One training step taken phase by phase; the same arithmetic as `nlp.update` (the
    gradients of both views accumulate as in one backward pass)."""
    pipe = nlp.get_pipe("ita_ner")
    shim = tagger_shim(pipe.model)
    module = shim._model
    view_encoder, tag_set = built_parts(shim)
    module.train()
    with clock.phase("inputs"):
        batch = pipe.training_batch(batch_examples)
        inputs = encode_training_views(view_encoder, tag_set, batch, batch.training, shim.device)
    view, cross_view, cross_posts = inputs["view"], inputs["cross_view"], inputs["cross_posts"]
    with clock.phase("encoder fwd text"):
        text_emissions = module.emissions(view)
    cross_emissions = None
    if cross_view is not None and len(cross_posts):
        with clock.phase("encoder fwd cross"):
            cross_emissions = module.emissions(cross_view)
    with clock.phase("CRF+KL fwd"):
        losses = two_view_loss(
            module.head,
            inputs["training"],
            inputs["gold_allowed"],
            text_emissions,
            view.word_mask,
            cross_emissions,
            cross_view.word_mask if cross_view is not None else None,
            cross_posts,
        )
    emissions = [e for e in (text_emissions, cross_emissions) if e is not None]
    with clock.phase("CRF+KL bwd"):
        d_emissions = torch.autograd.grad(losses["loss"], emissions)
    with clock.phase("encoder bwd text"):
        text_emissions.backward(d_emissions[0])
    if cross_emissions is not None:
        with clock.phase("encoder bwd cross"):
            cross_emissions.backward(d_emissions[1])
    with clock.phase("of which torch<->numpy"):
        for param in module.parameters():
            if param.grad is not None:
                # What finish_update converts, both ways (views on the CPU, no copies).
                xp2torch(torch2xp(param.data), requires_grad=True, device=param.device)
                torch2xp(param.grad)
    with clock.phase("optimizer"):
        shim.finish_update(optimizer)


def inference(nlp, references, view: str, batch_size: int) -> Dict[str, float]:
    """docs/s (wall, CPU) of nlp.pipe over fresh docs of `references` read in `view`."""
    pipe = nlp.get_pipe("ita_ner")
    with pipe.reading(view):
        list(nlp.pipe([predicted_doc(nlp, ref) for ref in references[:batch_size]], batch_size=batch_size))
        docs = [predicted_doc(nlp, ref) for ref in references]
        start, start_cpu = time.perf_counter(), time.process_time()
        for _ in nlp.pipe(docs, batch_size=batch_size):
            pass
        wall, cpu = time.perf_counter() - start, time.process_time() - start_cpu
    return {"docs_per_s": len(docs) / wall, "docs_per_cpu_s": len(docs) / cpu}


def measure(args, encoder: str, precision: str, freeze: bool, train, valid, train_path: str) -> Dict[str, Any]:
    torch.manual_seed(0)
    # Twitter-2017's temperature: the KL term is computed as in its trainings.
    extra = {"components.ita_ner.model.freeze_word_embeddings": freeze, "components.ita_ner.temperature": 2.0}
    nlp = build("ita", encoder, train_path, precision=precision, extra=extra)
    optimizer = nlp.initialize(lambda: train)
    row: Dict[str, Any] = {"encoder": encoder, "precision": precision, "frozen_word_embeddings": freeze}
    row["computes_in"] = nlp.get_pipe("ita_ner").compute_precision
    if args.inference and not freeze:  # freezing changes nothing at inference
        module = tagger_shim(nlp.get_pipe("ita_ner").model)._model
        row["pipe_batch"] = pipe_batch = args.pipe_batch or nlp.batch_size
        row["inference"] = []
        for chunk_rows in args.chunk_rows:
            module.rows_per_chunk = chunk_rows
            text, cross = inference(nlp, valid, "text", pipe_batch), inference(nlp, valid, "auto", pipe_batch)
            row["inference"].append({"chunk_rows": chunk_rows, "text": text, "cross": cross})
        module.rows_per_chunk = DEFAULT_ROWS_PER_CHUNK  # the training steps below as trained
    batches = [train[i : i + BATCH] for i in range(0, len(train), BATCH)]
    for batch in batches[: args.warmup]:
        nlp.update(batch, sgd=optimizer)
    timed = batches[args.warmup : args.warmup + args.steps]
    start, start_cpu = time.perf_counter(), time.process_time()
    for batch in timed:
        nlp.update(batch, sgd=optimizer)
    row["step_s"] = (time.perf_counter() - start) / len(timed)
    row["step_cpu_s"] = (time.process_time() - start_cpu) / len(timed)
    clock = Clock()
    for batch in timed:
        profiled_step(nlp, batch, optimizer, clock)
    row["profile_cpu_s"] = {name: seconds / len(timed) for name, seconds in clock.seconds.items()}
    trained = sum(p.numel() for p in tagger_shim(nlp.get_pipe("ita_ner").model)._model.parameters() if p.requires_grad)
    row["trained_weights_m"] = trained / 1e6
    del nlp, optimizer
    gc.collect()
    return row


def fmt(value, digits: int = 2) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def tables(rows: List[Dict[str, Any]]) -> str:
    lines = [
        "| encoder | precision (computes in) | encoder_chunk_rows | text docs/s | text docs/CPU-s | cross docs/s | "
        "cross docs/CPU-s |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        for i in r.get("inference", []):
            lines.append(
                f"| {r['encoder']} | {r['precision']} ({r['computes_in']}) | {i['chunk_rows'] or 'one call'} | "
                f"{fmt(i['text']['docs_per_s'], 1)} | {fmt(i['text']['docs_per_cpu_s'], 1)} | "
                f"{fmt(i['cross']['docs_per_s'], 1)} | {fmt(i['cross']['docs_per_cpu_s'], 1)} |"
            )
    lines += ["", "| encoder | precision | word embeddings | trained weights (M) | s/step | CPU s/step |"]
    lines.append("|---|---|---|---|---|---|")
    for r in rows:
        lines.append(
            f"| {r['encoder']} | {r['precision']} | {'frozen' if r['frozen_word_embeddings'] else 'trained'} | "
            f"{r['trained_weights_m']:.1f} | {fmt(r['step_s'])} | {fmt(r['step_cpu_s'])} |"
        )
    names = [*PHASES, "of which torch<->numpy"]
    lines += ["", "CPU seconds per training step, phase by phase:", ""]
    lines.append("| encoder | precision | word embeddings | " + " | ".join(names) + " | sum |")
    lines.append("|---|---|---|" + "---|" * (len(names) + 1))
    for r in rows:
        profile = r["profile_cpu_s"]
        total = sum(profile.get(n, 0.0) for n in PHASES)
        cells = " | ".join(fmt(profile.get(n)) for n in names)
        frozen = "frozen" if r["frozen_word_embeddings"] else "trained"
        lines.append(f"| {r['encoder']} | {r['precision']} | {frozen} | {cells} | {total:.2f} |")
    return "\n".join(lines)


def main(argv=None) -> List[Dict[str, Any]]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", default=os.path.join(REPO, "..", "shared", "data"))
    parser.add_argument("--encoders", default="all-MiniLM-L6-v2,multilingual-e5-small")
    parser.add_argument("--precisions", default="fp32,bf16", help=f"of {','.join(PRECISIONS)}")
    parser.add_argument("--freeze", default="no,yes", help="word embeddings frozen: no, yes or no,yes")
    parser.add_argument("--docs", type=int, default=128, help="valid posts timed per view")
    parser.add_argument("--steps", type=int, default=4, help="timed training steps (and profiled steps)")
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--no-inference", dest="inference", action="store_false")
    parser.add_argument(
        "--chunk-rows",
        type=lambda text: [int(v) for v in text.split(",")],
        default=[DEFAULT_ROWS_PER_CHUNK, 0],
        help="inference: encoder_chunk_rows settings to time (0: the batch in one call)",
    )
    parser.add_argument(
        "--pipe-batch", type=int, default=0, help="inference: docs per nlp.pipe batch (0: the config's batch_size)"
    )
    parser.add_argument("--json", help="also write the rows here")
    args = parser.parse_args(argv)
    torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))
    train_path = os.path.join(args.data_dir, DATASET, "train.txt")
    valid_path = os.path.join(args.data_dir, DATASET, "valid.txt")
    sources = {"contexts": [os.path.join(args.data_dir, c) for c in CONTEXT_SETS[CONTEXTS](DATASET)]}
    blank = spacy.blank("en")
    train = list(create_mner_corpus(train_path, limit=BATCH * (args.warmup + args.steps), **sources)(blank))
    valid = [eg.reference for eg in create_mner_corpus(valid_path, limit=args.docs, **sources)(blank)]
    start_load = os.getloadavg()[0]
    rows = []
    for encoder in args.encoders.split(","):
        for freeze in [f == "yes" for f in args.freeze.split(",")]:
            for precision in args.precisions.split(","):
                rows.append(measure(args, encoder, precision, freeze, train, valid, train_path))
                print(f"[bench] {rows[-1]['encoder']} {precision} frozen={freeze} done", flush=True)
    units = ", ".join(cpu_bf16_units()) or "none"
    pipe_batches = ", ".join(sorted({str(r["pipe_batch"]) for r in rows if "pipe_batch" in r})) or "—"
    print(
        f"\n{DATASET}, contexts {CONTEXTS}, training batch {BATCH}, {args.docs} valid posts per view in nlp.pipe "
        f"batches of {pipe_batches}, {args.steps} steps "
        f"after {args.warmup} warm-up; CPU {cpu_model()} (bf16 units: {units}), {os.cpu_count()} cores, "
        f"torch threads {torch.get_num_threads()}, torch {torch.__version__}; load average {start_load:.2f} at "
        f"start, {os.getloadavg()[0]:.2f} at end\n"
    )
    print(tables(rows))
    if args.json:
        with open(args.json, "w", encoding="utf8") as f:
            json.dump({"cpu": cpu_model(), "bf16_units": cpu_bf16_units(), "rows": rows}, f, indent=1)
    return rows


if __name__ == "__main__":
    main()
