"""`python -m spacy_ita package MODEL OUTPUT_DIR`: `spacy package` with the meta.json a
spacy-ita pipeline needs (`package_meta.package_meta`: it requires spacy-ita)."""

from pathlib import Path
from typing import Annotated, Optional

import typer
from wasabi import msg


def package_command(
    model: Annotated[Path, typer.Argument(exists=True, file_okay=False, help="Saved pipeline (with meta.json).")],
    output_dir: Annotated[Path, typer.Argument(file_okay=False, help="Where the package folder goes.")],
    name: Annotated[Optional[str], typer.Option("--name", "-n", help="Package name (as spacy package).")] = None,
    version: Annotated[Optional[str], typer.Option("--version", "-v", help="Package version.")] = None,
    dataset: Annotated[
        Optional[str], typer.Option(help="Dataset the pipeline was trained on, for the description.")
    ] = None,
    wheel: Annotated[bool, typer.Option("--wheel", help="Also build a wheel (needs the `build` module).")] = False,
    force: Annotated[bool, typer.Option("--force", "-f", help="Overwrite an existing package folder.")] = False,
) -> None:
    """Package MODEL as a pip-installable sdist (as `spacy package`) that requires spacy-ita."""
    import tempfile

    import srsly
    from packaging.version import InvalidVersion, Version
    from spacy.cli.package import package

    from ..package_meta import package_meta

    if version is not None:
        try:
            Version(version)
        except InvalidVersion:
            msg.fail(f"--version {version!r} is no version (PEP 440: e.g. 0.1.0)", exits=1)
    try:
        meta = package_meta(model, dataset)
    except (OSError, ValueError) as err:
        msg.fail(f"{model} has no readable meta.json: {err}", exits=1)
    output_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as folder:
        meta_path = Path(folder) / "meta.json"
        srsly.write_json(meta_path, meta)
        package(
            model,
            output_dir,
            meta_path=meta_path,
            name=name,
            version=version,
            create_wheel=wheel,
            force=force,
            silent=False,
        )
    msg.info(f"Requires {meta['requirements'][-1]}")
