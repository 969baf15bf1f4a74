"""Options shared by several commands, written once: the Ray job options, the image
backends (`align-images`, `assemble`) and the generators (`generate-contexts`, `assemble`)."""

import functools
import inspect
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Annotated, Any, Callable, Dict, List, Optional, TypeVar, cast

import typer

from ..defaults import OCR_ENGINES

ENGINE_HELP = "local: one process; ray: pools of Ray actors (needs the ray extra of spacy-ita)."
OUTPUT_FORMAT_HELP = "jsonl or parquet; default: parquet for a *.parquet folder, else jsonl."
ADDRESS_HELP = "Ray cluster to join (e.g. ray://head:10001 or auto); default: start a local one."
WORKERS_HELP = "Workers per stage: N, or MIN-MAX for an autoscaling pool; STAGE=... for one stage."
CPUS_HELP = "Logical CPUs per worker (torch threads follow); STAGE=... for one stage."
GPUS_HELP = "GPUs per worker, fractional (0.25: four workers share a GPU); STAGE=... for one stage."
CODE_HELP = "Python file with custom components or backends, imported in every worker."

EngineOption = Annotated[str, typer.Option(help=ENGINE_HELP)]
OutputFormatOption = Annotated[Optional[str], typer.Option("--output-format", help=OUTPUT_FORMAT_HELP)]
CodeOption = Annotated[Optional[Path], typer.Option(help=CODE_HELP)]
AddressOption = Annotated[Optional[str], typer.Option(help="--engine ray: " + ADDRESS_HELP)]
CpusOption = Annotated[Optional[List[str]], typer.Option(help="--engine ray: " + CPUS_HELP)]
GpusOption = Annotated[Optional[List[str]], typer.Option(help="--engine ray: " + GPUS_HELP)]

# The image backends: align-images and assemble build the same aligner.
OcrOption = Annotated[
    str, typer.Option(help=f"OCR engine: {', '.join(OCR_ENGINES)} or 'none' (BENCHMARKS.md: OCR engines).")
]
NoOcrFlag = Annotated[bool, typer.Option("--no-ocr", help="No OCR (the same as --ocr none).")]
DetectorOption = Annotated[str, typer.Option(help="YOLO weights: yolov8s-world, yolov10n, a .pt path, or 'none'.")]
CaptionModelOption = Annotated[
    Optional[str], typer.Option(help="Image-to-text model (hub name or directory); off if unset.")
]
GpuFlag = Annotated[bool, typer.Option("--gpu/--cpu", help="Run the vision models on CUDA.")]


def chosen_ocr(ocr: str, no_ocr: bool) -> str:
    """The OCR engine `--ocr` and `--no-ocr` name (`--no-ocr` wins: it predates `--ocr NAME`)."""
    return "none" if no_ocr else ocr


KEY_HELP = "Name of the environment variable that holds the API key (the key itself is never an option)."
REGISTERED_DEFAULT = " Default: the registered generator's."
KB_HELP = (
    "Knowledge base that writes `kb`: a .jsonl/.csv/.parquet file (name, aliases, type, description) or a "
    "packaged source (geonames, wikipedia-vital: the kb extra); repeat for several, the first wins ties."
)


@dataclass
class GeneratorOptions:
    """The generators' options (`generators.configs.generator_configs`), the same in every command
    that builds them, so that a pipeline reads with the generators its training texts came from.
    A command takes them all with `@with_generator_options`."""

    base_url: Annotated[
        Optional[str], typer.Option(help="OpenAI-compatible endpoint, e.g. http://127.0.0.1:8080/v1.")
    ] = None
    knowledge_model: Annotated[
        Optional[str], typer.Option("--knowledge-model", "--model", help="LLM that writes `knowledge`; off if unset.")
    ] = None
    description_model: Annotated[Optional[str], typer.Option(help="VLM that writes `description`; off if unset.")] = (
        None
    )
    description_base_url: Annotated[Optional[str], typer.Option(help="The VLM's endpoint; default: --base-url.")] = None
    api_key_env: Annotated[str, typer.Option(help=KEY_HELP)] = "OPENAI_API_KEY"
    prompt: Annotated[Optional[Path], typer.Option(help="Knowledge prompt template (default: the shipped one).")] = None
    description_prompt: Annotated[
        Optional[Path], typer.Option(help="Description prompt template (default: the shipped one).")
    ] = None
    examples: Annotated[Optional[Path], typer.Option(help="Demonstration pool JSONL; zero-shot without.")] = None
    examples_posts: Annotated[Optional[Path], typer.Option(help="Posts the --examples answers are keyed to.")] = None
    examples_contexts: Annotated[Optional[List[Path]], typer.Option(help="Context sources of --examples-posts.")] = None
    k: Annotated[int, typer.Option(min=0, help="Demonstrations per prompt, the most similar.")] = 2
    kb: Annotated[Optional[List[str]], typer.Option("--kb", help=KB_HELP)] = None
    max_tokens: Annotated[
        Optional[int], typer.Option(min=1, help="Generated tokens per knowledge answer at most." + REGISTERED_DEFAULT)
    ] = None
    max_words: Annotated[
        Optional[int], typer.Option(min=1, help="Words kept of a knowledge answer." + REGISTERED_DEFAULT)
    ] = None
    max_in_flight: Annotated[Optional[int], typer.Option(min=1, help="Requests sent at once." + REGISTERED_DEFAULT)] = (
        None
    )
    timeout: Annotated[Optional[float], typer.Option(help="Seconds per request attempt." + REGISTERED_DEFAULT)] = None
    max_retries: Annotated[
        Optional[int], typer.Option(min=0, help="Retries on 429, 5xx and timeouts." + REGISTERED_DEFAULT)
    ] = None

    def configs(self) -> Dict[str, Optional[Dict[str, Any]]]:
        """{"knowledge": ..., "description": ..., "kb": ...} (None: off). Raises ValueError for a model
        without endpoint."""
        from ..generators.configs import generator_configs

        settings = asdict(self)
        return generator_configs(model=settings.pop("knowledge_model"), **settings)


Command = TypeVar("Command", bound=Callable[..., Any])


def with_generator_options(command: Command) -> Command:
    """Give `command` every `GeneratorOptions` field as an option of its own, and pass them to
    it bundled as its `generators` parameter (typer has no option groups of its own)."""
    signature = inspect.signature(command)
    own = [param for name, param in signature.parameters.items() if name != "generators"]
    bundled = [
        inspect.Parameter(field.name, inspect.Parameter.KEYWORD_ONLY, default=field.default, annotation=field.type)
        for field in fields(GeneratorOptions)
    ]

    @functools.wraps(command)
    def wrapper(**kwargs: Any) -> Any:
        options = GeneratorOptions(**{field.name: kwargs.pop(field.name) for field in fields(GeneratorOptions)})
        return command(**kwargs, generators=options)

    setattr(wrapper, "__signature__", signature.replace(parameters=own + bundled))  # what typer reads
    return cast(Command, wrapper)


# The columns of a posts file (batch.posts.PostColumns): annotate and generate-contexts read the same files.
IdColumnOption = Annotated[str, typer.Option(help="Column of the post id (JSONL/CSV/Parquet).")]
TextColumnOption = Annotated[str, typer.Option(help="Column of the post text.")]
ImageColumnOption = Annotated[str, typer.Option(help="Column of the image path (optional per post).")]
ContextColumnOption = Annotated[str, typer.Option(help="Column of a precomputed visual context.")]
ImageRootOption = Annotated[
    Optional[Path], typer.Option(help="Folder relative image paths start from; default: the posts file's.")
]
