"""`python -m spacy_ita …` / `spacy-ita …`: the command-line layer.

One Typer app, one module per command. A command only parses its options and
delegates to the library (`batch.jobs`, `evaluate`, `assemble`, ...); nothing
below this package imports typer, so a Ray worker or a `spacy.load` never loads it.
"""

import os
import sys

import typer

app = typer.Typer(help="spacy-ita: multimodal NER after ITA (Image-Text Alignments).", no_args_is_help=True)


def register_commands() -> None:
    """Add every command to `app` (imported here, not at import time, to keep `import spacy_ita.cli` light)."""
    from .align_images import align_images_command
    from .annotate import annotate_command
    from .assemble import assemble_command
    from .build_demo import build_demo_images_command
    from .convert import convert_command
    from .evaluate_views import evaluate_views_command
    from .generate_contexts import generate_contexts_command
    from .package import package_command
    from .render import render_command
    from .schedule import schedule_command
    from .serve import serve_command
    from .train import train_command
    from .weights import weights_command

    passes_overrides = {"allow_extra_args": True, "ignore_unknown_options": True}  # --section.key value, as spaCy
    app.command("convert")(convert_command)
    app.command("align-images")(align_images_command)
    app.command("generate-contexts")(generate_contexts_command)
    app.command("train", context_settings=passes_overrides)(train_command)
    app.command("schedule")(schedule_command)
    app.command("evaluate-views")(evaluate_views_command)
    app.command("assemble")(assemble_command)
    app.command("package")(package_command)
    app.command("annotate")(annotate_command)
    app.command("serve")(serve_command)
    app.command("render")(render_command)
    app.command("build-demo-images")(build_demo_images_command)
    app.command("weights")(weights_command)


# Set to see the traceback of an error the commands report in one line.
TRACEBACK_VARIABLE = "SPACY_ITA_TRACEBACK"


def main() -> None:
    """Run the app. A user's mistake that a command did not report itself (a file that is
    missing, a folder, unreadable; a bad value: OSError, ValueError) is one line, not a
    traceback, unless SPACY_ITA_TRACEBACK is set."""
    register_commands()
    try:
        app()
    except (OSError, ValueError) as err:
        if os.environ.get(TRACEBACK_VARIABLE):
            raise
        from wasabi import msg

        msg.fail(f"{err} ({type(err).__name__}; {TRACEBACK_VARIABLE}=1 shows the traceback)")
        sys.exit(1)
