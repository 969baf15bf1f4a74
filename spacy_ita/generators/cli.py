"""`python -m spacy_ita generate-contexts POSTS OUTPUT`: knowledge and descriptions
from an OpenAI-compatible endpoint, written as context JSONL (see generators/run.py)."""

from pathlib import Path
from typing import Annotated, Any, Dict, List, Optional

import typer
from wasabi import msg

from ..batch.cli import ADDRESS_HELP, CPUS_HELP, ENGINE_HELP, WORKERS_HELP

KEY_HELP = "Name of the environment variable that holds the API key (the key itself is never an option)."
# The endpoint and generator options, shared by generate-contexts and assemble (which builds the same generators).
BaseUrlOption = Annotated[
    Optional[str], typer.Option(help="OpenAI-compatible endpoint, e.g. http://127.0.0.1:8080/v1.")
]
ModelOption = Annotated[Optional[str], typer.Option(help="LLM that writes `knowledge`; off if unset.")]
DescriptionModelOption = Annotated[Optional[str], typer.Option(help="VLM that writes `description`; off if unset.")]
DescriptionBaseUrlOption = Annotated[Optional[str], typer.Option(help="The VLM's endpoint; default: --base-url.")]
KeyEnvOption = Annotated[str, typer.Option(help=KEY_HELP)]
PromptOption = Annotated[Optional[Path], typer.Option(help="Knowledge prompt template (default: the shipped one).")]
DescriptionPromptOption = Annotated[Optional[Path], typer.Option(help="Description prompt template.")]
ExamplesOption = Annotated[Optional[Path], typer.Option(help="Demonstration pool JSONL; zero-shot without.")]
ExamplesPostsOption = Annotated[Optional[Path], typer.Option(help="Posts the --examples answers are keyed to.")]
ExamplesContextsOption = Annotated[Optional[List[Path]], typer.Option(help="Context sources of --examples-posts.")]
KOption = Annotated[int, typer.Option(min=0, help="Demonstrations per prompt, the most similar.")]


def generator_configs(
    *,
    base_url: Optional[str],
    model: Optional[str],
    description_model: Optional[str],
    description_base_url: Optional[str],
    api_key_env: str,
    prompt: Optional[Path],
    examples: Optional[Path],
    examples_posts: Optional[Path],
    examples_contexts: Optional[List[Path]],
    k: int,
    description_prompt: Optional[Path] = None,
    **settings: Any,
) -> Dict[str, Optional[Dict[str, Any]]]:
    """The registered generators' configs ({"knowledge": ..., "description": ...}; None: off).

    settings: max_tokens, max_words (knowledge), max_in_flight, timeout, max_retries (both);
    unset, the registered functions' defaults apply. Raises ValueError for a model without endpoint.
    """
    transport_keys = ("max_in_flight", "timeout", "max_retries")
    transport = {
        "@misc": "spacy_ita.ChatEndpoint.v1",
        "api_key_env": api_key_env,
        **{key: settings[key] for key in transport_keys if key in settings},
    }
    generation: Dict[str, Any] = {key: settings[key] for key in ("max_tokens", "max_words") if key in settings}
    configs: Dict[str, Optional[Dict[str, Any]]] = {"knowledge": None, "description": None}
    if model:
        if not base_url:
            raise ValueError("--model needs --base-url (the endpoint, e.g. http://127.0.0.1:8080/v1)")
        configs["knowledge"] = {
            "@misc": "spacy_ita.LLMKnowledge.v1",
            "endpoint": {**transport, "base_url": base_url, "model": model},
            "prompt": str(prompt) if prompt else None,
            "examples": str(examples) if examples else None,
            "examples_posts": str(examples_posts) if examples_posts else None,
            "examples_contexts": [str(p) for p in examples_contexts or []] or None,
            "k": k,
            **generation,
        }
    if description_model:
        if not (description_base_url or base_url):
            raise ValueError("--description-model needs --description-base-url or --base-url")
        configs["description"] = {
            "@misc": "spacy_ita.VLMDescription.v1",
            "endpoint": {**transport, "base_url": description_base_url or base_url, "model": description_model},
            "prompt": str(description_prompt) if description_prompt else None,
        }
    return configs


def generate_contexts_command(
    input_path: Annotated[
        Path, typer.Argument(help="Posts: an MNER .txt file, or .jsonl/.csv/.parquet as annotate reads.")
    ],
    output: Annotated[Path, typer.Argument(help="Context JSONL (or a folder of part files); resumed on rerun.")],
    base_url: BaseUrlOption = None,
    model: ModelOption = None,
    description_model: DescriptionModelOption = None,
    description_base_url: DescriptionBaseUrlOption = None,
    api_key_env: KeyEnvOption = "OPENAI_API_KEY",
    prompt: PromptOption = None,
    description_prompt: DescriptionPromptOption = None,
    examples: ExamplesOption = None,
    examples_posts: ExamplesPostsOption = None,
    examples_contexts: ExamplesContextsOption = None,
    k: KOption = 2,
    contexts: Annotated[
        Optional[List[Path]], typer.Option(help="Existing context sources (JSONL/Parquet by id).")
    ] = None,
    images: Annotated[Optional[Path], typer.Option(help="Folder of images by id (for an MNER .txt input).")] = None,
    id_column: Annotated[str, typer.Option(help="Column of the post id (JSONL/CSV/Parquet).")] = "id",
    text_column: Annotated[str, typer.Option(help="Column of the post text.")] = "text",
    image_column: Annotated[str, typer.Option(help="Column of the image path (optional per post).")] = "image",
    context_column: Annotated[str, typer.Option(help="Column of a precomputed visual context.")] = "visual_context",
    image_root: Annotated[Optional[Path], typer.Option(help="Folder relative image paths start from.")] = None,
    cache_dir: Annotated[
        Optional[Path], typer.Option(help="Content-keyed cache of answers, shared across runs.")
    ] = None,
    max_tokens: Annotated[int, typer.Option(min=1, help="Generated tokens per knowledge answer at most.")] = 256,
    max_words: Annotated[int, typer.Option(min=1, help="Words kept of a knowledge answer.")] = 100,
    max_in_flight: Annotated[int, typer.Option(min=1, help="Requests sent at once.")] = 4,
    timeout: Annotated[float, typer.Option(help="Seconds per request attempt.")] = 60.0,
    max_retries: Annotated[int, typer.Option(min=0, help="Retries on 429, 5xx and timeouts.")] = 4,
    batch_size: Annotated[int, typer.Option(min=1, help="Posts per batch (written together).")] = 16,
    limit: Annotated[Optional[int], typer.Option(min=1, help="Only the first N posts of the input.")] = None,
    engine: Annotated[str, typer.Option(help=ENGINE_HELP)] = "local",
    address: Annotated[Optional[str], typer.Option(help="--engine ray: " + ADDRESS_HELP)] = None,
    workers: Annotated[Optional[List[str]], typer.Option(help="--engine ray: " + WORKERS_HELP)] = None,
    cpus_per_worker: Annotated[Optional[List[str]], typer.Option(help="--engine ray: " + CPUS_HELP)] = None,
) -> None:
    """Write `knowledge` (LLM) and `description` (VLM) contexts for every post of INPUT_PATH."""
    from ..batch.jobs import RayOptions
    from ..batch.pools import stage_pools
    from ..batch.posts import PostColumns
    from ..data.contexts import VisualSources
    from .run import GENERATE_STAGE, generate_contexts

    try:
        configs = generator_configs(
            base_url=base_url,
            model=model,
            description_model=description_model,
            description_base_url=description_base_url,
            api_key_env=api_key_env,
            prompt=prompt,
            description_prompt=description_prompt,
            examples=examples,
            examples_posts=examples_posts,
            examples_contexts=examples_contexts,
            k=k,
            max_tokens=max_tokens,
            max_words=max_words,
            max_in_flight=max_in_flight,
            timeout=timeout,
            max_retries=max_retries,
        )
        pools = stage_pools([GENERATE_STAGE], workers or (), cpus_per_worker or (), ())
        summary = generate_contexts(
            input_path,
            output,
            configs=configs,
            sources=VisualSources.load(contexts=contexts or None, images=images),
            columns=PostColumns(id=id_column, text=text_column, image=image_column, visual_context=context_column),
            image_root=image_root,
            cache_dir=cache_dir,
            batch_size=batch_size,
            limit=limit,
            engine=engine,
            ray=RayOptions(address=address, pools=pools),
        )
    except (FileNotFoundError, ValueError, ImportError) as err:
        msg.fail(str(err), exits=1)
    msg.info(f"{summary.posts} posts: {summary.already_done} already in {output}, {len(summary.bad_rows)} bad rows")
    for kind, run in summary.kinds.items():
        failed = summary.failed[kind]
        shown = ", ".join(failed[:10]) + (" ..." if len(failed) > 10 else "")
        msg.info(f"{kind}: {run}" + (f"; no usable answer for {len(failed)} posts: {shown}" if failed else ""))
    msg.good(f"Wrote contexts for {summary.timing.rows} posts to {output}")
