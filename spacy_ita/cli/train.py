"""`python -m spacy_ita train CONFIG --output DIR [--section.key value ...]`: `spacy train`
with the dataset's measured schedule (`schedules.training_overrides`)."""

from pathlib import Path
from typing import Annotated, Optional

import typer
from wasabi import msg


def train_command(
    ctx: typer.Context,
    config: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="Training config (configs/ita.cfg).")],
    output: Annotated[
        Optional[Path], typer.Option("--output", "-o", help="Where model-best and model-last go (as spacy train).")
    ] = None,
    dataset: Annotated[
        Optional[str],
        typer.Option(help="twitter2015 / twitter2017: their measured epochs; demo: the demo set's short schedule."),
    ] = None,
    epochs: Annotated[
        Optional[int], typer.Option("--epochs", "-e", min=1, help="Passes over the train corpus (wins over --dataset).")
    ] = None,
    code: Annotated[
        Optional[Path], typer.Option("--code", "-c", exists=True, help="Python file to import first.")
    ] = None,
    gpu_id: Annotated[int, typer.Option("--gpu-id", "-g", help="GPU id, or -1 for CPU.")] = -1,
) -> None:
    """Train as `spacy train` does, with the warm-up and decay sized to the train corpus for the
    epochs of --epochs, --training.max_epochs or the --dataset (10 on Twitter-2017, 3 on
    Twitter-2015); other config overrides (--paths.train, --system.seed, ...) pass through and win."""
    from spacy.cli._util import parse_config_overrides
    from spacy.cli.train import train
    from spacy.util import import_file

    from ..demo import announce_if_demo
    from ..schedules import training_overrides

    announce_if_demo(dataset or "")
    if code is not None:
        import_file("python_code", code)
    explicit = parse_config_overrides(ctx.args)
    try:
        overrides, said = training_overrides(config, explicit, dataset=dataset, epochs=epochs)
    except ValueError as err:  # a corpus it cannot count, a batch size that is a schedule
        msg.fail(str(err), exits=1)
    msg.info(f"Schedule: {said}")
    train(config, output, use_gpu=gpu_id, overrides=overrides)
