"""`train` step of project.yml: `spacy train` on a dataset, with a short schedule on the demo.

configs/ita.cfg is sized for Twitter-2015 (~250 steps an epoch, first
evaluation at step 250). The demo has 5 batches an epoch, so with that
schedule its model-best would be the untrained step-0 checkpoint. On the demo
we override the schedule (printed, nothing hidden). A dataset with a measured
schedule (spacy_ita/schedules.py: Twitter-2015 3 epochs, Twitter-2017 10) trains
with it, sized to its train split and printed; other data trains with the config
as written. A `--training.max_epochs N` passed after `--` resizes the whole schedule
(warm-up and decay) to N epochs; other overrides passed there win over all.
"""

from pathlib import Path

import typer
from spacy.cli._util import parse_config_overrides
from spacy.cli.train import train
from wasabi import msg

from scripts.demo_notice import announce_if_demo, is_demo
from spacy_ita.schedules import DATASET_EPOCHS, corpus_schedule

# ~13 epochs of the 72 demo posts: minutes on 2 CPU cores, evaluated every 2 epochs.
DEMO_OVERRIDES = {
    "training.max_epochs": 0,
    "training.max_steps": 64,
    "training.eval_frequency": 10,
    "training.optimizer.learn_rate.warmup_steps": 6,
    "training.optimizer.learn_rate.total_steps": 64,
    "training.optimizer.learn_rate.initial_rate": 0.0001,
}


def main(
    ctx: typer.Context,
    config: Path = typer.Argument(..., exists=True, dir_okay=False),
    output: Path = typer.Argument(...),
    train_path: Path = typer.Option(..., "--train", exists=True),
    dev_path: Path = typer.Option(..., "--dev", exists=True),
    dataset: str = typer.Option("", help="Dataset name; the demo gets DEMO_OVERRIDES"),
    encoder: str = typer.Option("all-MiniLM-L6-v2", help="Transformer of ita_ner"),
    seed: int = typer.Option(0),
    gpu_id: int = typer.Option(-1),
) -> None:
    announce_if_demo(dataset)
    overrides = {
        "paths.train": str(train_path),
        "paths.dev": str(dev_path),
        "system.seed": seed,
        "components.ita_ner.model.encoder": encoder,
    }
    if is_demo(dataset):
        overrides.update(DEMO_OVERRIDES)
        msg.info(f"DEMO schedule: {DEMO_OVERRIDES}")
    explicit = parse_config_overrides(ctx.args)
    epochs = explicit.get("training.max_epochs") or (None if is_demo(dataset) else DATASET_EPOCHS.get(dataset))
    if epochs:  # the decay ends at the last step of the epochs trained, whoever chose them
        schedule = corpus_schedule(int(epochs), train_path, config)
        overrides.update(schedule)
        msg.info(f"Schedule of {epochs} epochs over {train_path} (spacy_ita/schedules.py): {schedule}")
    overrides.update(explicit)  # explicit --section.key value wins
    train(config, output, overrides=overrides, use_gpu=gpu_id)


if __name__ == "__main__":
    app = typer.Typer(add_completion=False)
    app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})(main)
    app()
