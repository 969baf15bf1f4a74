"""`python -m spacy_ita serve MODEL`: the pipeline as an HTTP API and a page (the `serve` extra).

Listens on 127.0.0.1:8000 unless told otherwise. The work is `serve.server.run_server`
(uvicorn) and `serve.app.create_app` (FastAPI); FastAPI, uvicorn and the pipeline
are imported only when the command runs.
"""

from pathlib import Path
from typing import Annotated, Optional

import typer

from ..serve.limits import ServeLimits
from ..serve.settings import DEFAULT_API_KEY_ENV, ServeSettings

LIMITS = ServeLimits()
SETTINGS = ServeSettings(model="")


def serve_command(
    model: Annotated[str, typer.Argument(help="Trained pipeline: a folder or an installed package name.")],
    host: Annotated[str, typer.Option(help="Address to listen on; 0.0.0.0 exposes the service to the network.")] = (
        "127.0.0.1"
    ),
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port to listen on.")] = 8000,
    processes: Annotated[
        int, typer.Option(min=1, help="Processes sharing the port, each with its own pipeline (README: Serving).")
    ] = 1,
    threads: Annotated[
        Optional[int], typer.Option(min=1, help="Torch threads per process; default: torch's (all cores).")
    ] = None,
    max_batch_posts: Annotated[
        int, typer.Option(min=1, help="Posts per pipeline call: requests in flight are batched up to this.")
    ] = SETTINGS.max_batch_posts,
    max_wait_ms: Annotated[
        float, typer.Option(min=0, help="How long a batch that is not full waits for more posts.")
    ] = SETTINGS.max_wait_ms,
    max_queue_posts: Annotated[
        int, typer.Option(min=1, help="Posts waiting at most; beyond, 503 with Retry-After.")
    ] = SETTINGS.max_queue_posts,
    request_timeout_s: Annotated[
        float, typer.Option(min=0.1, help="A request not answered within this gets 504.")
    ] = SETTINGS.request_timeout_s,
    max_body_bytes: Annotated[int, typer.Option(min=1, help="Largest request body.")] = LIMITS.max_body_bytes,
    max_image_bytes: Annotated[int, typer.Option(min=1, help="Largest image (its bytes).")] = LIMITS.max_image_bytes,
    max_image_pixels: Annotated[
        int, typer.Option(min=1, help="Largest image (width x height, read from its header before decoding).")
    ] = LIMITS.max_image_pixels,
    max_text_chars: Annotated[int, typer.Option(min=1, help="Longest post text.")] = LIMITS.max_text_chars,
    max_posts: Annotated[int, typer.Option(min=1, help="Most posts in one request.")] = LIMITS.max_posts,
    body_timeout_s: Annotated[
        float, typer.Option(min=0.1, help="A body that takes longer to arrive gets 408.")
    ] = LIMITS.body_timeout_s,
    max_connections: Annotated[
        int, typer.Option(min=1, help="Connections at once per process; beyond, 503 at once.")
    ] = 512,
    api_key_env: Annotated[
        str, typer.Option(help="Environment variable holding the API key; unset or empty: no key needed.")
    ] = DEFAULT_API_KEY_ENV,
    code: Annotated[
        Optional[Path], typer.Option(help="Python file with custom components or backends, imported first.")
    ] = None,
    gpu_id: Annotated[int, typer.Option("--gpu-id", "-g", help="GPU id, or -1 for CPU.")] = -1,
    log_level: Annotated[str, typer.Option(help="uvicorn's log level: debug, info, warning, error.")] = "info",
) -> None:
    """Serve MODEL: POST /v1/entities, GET /v1/model, /healthz, /readyz, OpenAPI docs at /docs, the page at /."""
    from wasabi import msg

    if not Path(model).is_dir():
        import spacy.util

        if not spacy.util.is_package(model):
            msg.fail(f"Model not found: '{model}' is neither a pipeline folder nor an installed package", exits=1)
    try:
        limits = ServeLimits(
            max_body_bytes=max_body_bytes,
            max_image_bytes=max_image_bytes,
            max_image_pixels=max_image_pixels,
            max_text_chars=max_text_chars,
            max_posts=max_posts,
            body_timeout_s=body_timeout_s,
        )
        settings = ServeSettings(
            model=model,
            code=str(code) if code else None,
            gpu_id=gpu_id,
            torch_threads=threads,
            max_batch_posts=max_batch_posts,
            max_wait_ms=max_wait_ms,
            max_queue_posts=max_queue_posts,
            request_timeout_s=request_timeout_s,
            api_key_env=api_key_env,
            limits=limits,
        )
        settings.check()
    except ValueError as err:
        msg.fail(str(err), exits=1)
    try:
        from ..serve.server import run_server
    except ImportError as err:
        msg.fail(f"{err}: serving needs the serve extra: pip install 'spacy-ita[serve]'", exits=1)
    if host not in ("127.0.0.1", "localhost", "::1"):
        msg.warn(f"Listening on {host}: the service is reachable from other machines (README: Serving, security).")
    run_server(
        settings, host=host, port=port, processes=processes, max_connections=max_connections, log_level=log_level
    )
