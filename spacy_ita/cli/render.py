"""`python -m spacy_ita render MODEL TEXT`: one post as an HTML page (`visualize.render_html`)."""

from pathlib import Path
from typing import Annotated, Optional

import typer


def render_command(
    model: Annotated[str, typer.Argument(help="Installed pipeline name or path to a pipeline directory")],
    text: Annotated[str, typer.Argument(help="The post's text")],
    image: Annotated[
        Optional[Path], typer.Option("--image", "-i", exists=True, dir_okay=False, help="The post's image")
    ] = None,
    output: Annotated[Path, typer.Option("--output", "-o", help="HTML file to write")] = Path("render.html"),
) -> None:
    """Run a pipeline on one post (text + optional image) and write an HTML view of its contexts and entities."""
    import spacy

    from ..api import make_doc
    from ..visualize import render_html

    nlp = spacy.load(model)
    doc = nlp(make_doc(nlp, text, image=image))
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(render_html([doc], title=f"spacy-ita: {model}"), encoding="utf8")
    typer.echo(f"Wrote {output}")
