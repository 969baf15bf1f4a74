"""`python -m spacy_ita schedule TRAIN`: the `spacy train` overrides of a training schedule
sized to a corpus (`schedules.corpus_schedule`), for `spacy train` outside the project workflow."""

from pathlib import Path
from typing import Annotated, Optional

import typer

CONFIG_HELP = "The config to train with: its batch size sizes the steps."


def schedule_command(
    train_path: Annotated[
        Path, typer.Argument(exists=True, help="The training corpus: .spacy, a folder of them, or an MNER .txt.")
    ],
    epochs: Annotated[Optional[int], typer.Option("--epochs", "-e", min=1, help="Passes over the corpus.")] = None,
    dataset: Annotated[
        Optional[str], typer.Option(help="A dataset with a measured schedule (twitter2015, twitter2017).")
    ] = None,
    config: Annotated[Path, typer.Option(exists=True, dir_okay=False, help=CONFIG_HELP)] = Path("configs/ita.cfg"),
) -> None:
    """Print the overrides for `epochs` passes over TRAIN (warm-up 10%, linear decay to 0 at
    the last step, one evaluation an epoch), to append to `python -m spacy train`:
    `python -m spacy train configs/ita.cfg ... $(python -m spacy_ita schedule corpus/train.spacy -e 10)`."""
    from ..schedules import DATASET_EPOCHS, CorpusError, corpus_schedule

    if dataset is not None and dataset not in DATASET_EPOCHS:
        raise typer.BadParameter(
            f"no measured schedule for {dataset!r}: {', '.join(DATASET_EPOCHS)}", param_hint="--dataset"
        )
    chosen = epochs or (DATASET_EPOCHS[dataset] if dataset else None)
    if chosen is None:
        raise typer.BadParameter("give --epochs or --dataset", param_hint="--epochs")
    try:  # the corpus is read once, here
        overrides = corpus_schedule(chosen, train_path, config)
    except CorpusError as err:
        raise typer.BadParameter(f"{err} (`python -m spacy_ita convert` makes one)", param_hint="TRAIN") from err
    except ValueError as err:
        raise typer.BadParameter(str(err), param_hint="--config") from err
    typer.echo(" ".join(f"--{key} {value}" for key, value in overrides.items()))
