"""`python -m spacy_ita …` / `spacy-ita …`: one Typer app, one module per command.

Commands import their heavy dependencies lazily so that `--help` stays fast.
"""

import typer

app = typer.Typer(help="spacy-ita: multimodal NER after ITA (Image-Text Alignments).", no_args_is_help=True)


def _register() -> None:
    from .aligners.cli import align_images
    from .assemble import assemble
    from .batch.cli import annotate
    from .data.cli import convert
    from .evaluate import evaluate_views
    from .generators.cli import generate_contexts_command
    from .visualize import render

    app.command("convert")(convert)
    app.command("align-images")(align_images)
    app.command("annotate")(annotate)
    app.command("generate-contexts")(generate_contexts_command)
    app.command("evaluate-views")(evaluate_views)
    app.command("render")(render)
    app.command("assemble")(assemble)


def main() -> None:
    _register()
    app()
