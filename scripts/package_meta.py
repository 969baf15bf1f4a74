"""Write the meta.json that `spacy package --meta-path` uses for a trained pipeline.

The pipeline's factories live in spacy-ita, so the package must require it
(spaCy only infers requirements from installed distributions, and a checkout
run from source has none). On the demo set the description says it is a demo.
"""

from pathlib import Path

import srsly
import typer

from scripts.demo_notice import DEMO_NOTICE, is_demo
from spacy_ita import __version__


def spacy_ita_requirement() -> str:
    """`spacy-ita>=X.Y.Z,<X.(Y+1).0` for the version of this checkout."""
    major, minor = (int(part) for part in __version__.split(".")[:2])
    return f"spacy-ita>={__version__},<{major}.{minor + 1}.0"


def main(
    model: Path = typer.Argument(..., exists=True, file_okay=False, help="Trained pipeline with a meta.json"),
    output: Path = typer.Argument(..., dir_okay=False, help="meta.json to write"),
    dataset: str = typer.Option("", help="Dataset the pipeline was trained on"),
) -> None:
    meta = srsly.read_json(model / "meta.json")
    requirement = spacy_ita_requirement()
    meta["requirements"] = [r for r in meta.get("requirements", []) if not r.startswith("spacy-ita")] + [requirement]
    description = f"Multimodal NER after ITA (spacy-ita), trained on {dataset or 'an unnamed dataset'}."
    meta["description"] = f"{DEMO_NOTICE} {description}" if is_demo(dataset) else description
    output.parent.mkdir(parents=True, exist_ok=True)
    srsly.write_json(output, meta)
    typer.echo(f"Wrote {output} (requires {requirement})")


if __name__ == "__main__":
    typer.run(main)
