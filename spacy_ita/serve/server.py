"""Run the app with uvicorn: one process, or N worker processes sharing one port.

With `processes` > 1, uvicorn binds the socket once and starts N processes that
accept on it (the kernel hands each connection to one of them); each builds its
own app (`app.app_from_env`) and so loads its own pipeline and image models,
which are not shared between threads. The settings reach them as JSON in an
environment variable; the API key does not (each reads its own variable).
"""

import logging
import os

from .app import create_app
from .settings import SETTINGS_ENV, ServeSettings

logger = logging.getLogger("spacy_ita")


def run_server(
    settings: ServeSettings,
    host: str = "127.0.0.1",
    port: int = 8000,
    processes: int = 1,
    max_connections: int = 512,
    log_level: str = "info",
) -> None:
    """Serve until interrupted. max_connections: connections and requests at once, beyond which
    uvicorn answers 503 at once (the batcher's queue bounds the posts waiting)."""
    import uvicorn

    options = dict(
        host=host,
        port=port,
        log_level=log_level,
        limit_concurrency=max_connections,
        timeout_keep_alive=5,
        server_header=False,
        proxy_headers=False,
    )
    if processes <= 1:
        uvicorn.run(create_app(settings), **options)  # type: ignore[arg-type]
        return
    os.environ[SETTINGS_ENV] = settings.to_json()
    uvicorn.run("spacy_ita.serve.app:app_from_env", factory=True, workers=processes, **options)  # type: ignore[arg-type]
