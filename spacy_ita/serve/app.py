"""The HTTP service: a FastAPI app around one pipeline, and the page at `/`.

    POST /v1/entities   one post (JSON), {"posts": [...]} (JSON), or multipart fields text + image
    GET  /v1/model      what the pipeline is: name, labels, encoder, trained context kinds, aligner backends
    GET  /healthz       the process answers          GET /readyz   the pipeline is loaded (503 before)
    GET  /              the page: a post and a photo in, entities and the image's text out
    GET  /docs          OpenAPI docs (Swagger UI, ReDoc at /redoc; offline; /openapi.json is the schema)

An answer row is `batch.steps.annotation_row`'s, the one `annotate` writes. Errors
are JSON {"error": code, "detail": text} without a traceback or a server path;
the limits are `limits.ServeLimits`. The pipeline loads in a thread after the
server starts, so /healthz answers at once and /readyz says when it is ready.
"""

import asyncio
import hmac
import html
import json
import logging
import os
import threading
from contextlib import asynccontextmanager
from importlib import resources
from typing import Any, AsyncIterator, Callable, Dict, List, Optional, Tuple, Union

from fastapi import Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi_offline import FastAPIOffline
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.formparsers import MultiPartException
from starlette.requests import ClientDisconnect

from ..batch.posts import Post, context_value
from .batching import DynamicBatcher, PipelineFailed, QueueFull
from .limits import (
    IMAGE_FORMATS,
    LimitExceeded,
    RequestRefused,
    ServeLimits,
    check_image_bytes,
    check_image_decodes,
    check_posts_count,
    check_text,
    decode_base64_image,
)
from .settings import SETTINGS_ENV, ServeSettings

logger = logging.getLogger("spacy_ita")

# A form: multipart (text + an image file, as the page sends it) or URL-encoded (text only).
FORM_TYPES = ("multipart/form-data", "application/x-www-form-urlencoded")
# CPU-bound image checks running at once (each may hold a decoded image of up to max_image_pixels).
DECODE_SLOTS = 2
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}
# Where /docs and /redoc load Swagger UI and ReDoc from (fastapi-offline's copies; under /docs, so
# the page's CSP below, which forbids the docs' inline script, is not set on them).
DOCS_ASSETS = "/docs-assets"
# The page's own files only: no inline script, no CDN, images from the user's own file (blob:).
PAGE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)


# --- request and answer models (validation and the OpenAPI docs) -------------
class PostIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: Optional[Union[str, int]] = Field(None, description="Echoed as the row's id; default: the post's index.")
    text: str = Field(description="The post.")
    image: Optional[str] = Field(None, description="The image's bytes in base64 (a data: URI prefix is allowed).")
    visual_context: Optional[Dict[str, Any]] = Field(
        None, description="A precomputed visual context {caption, objects, ocr, description, knowledge}."
    )


class PostsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    posts: List[PostIn]


class EntityOut(BaseModel):
    text: str
    label: str
    start_char: int
    end_char: int
    confidence: Optional[float]


class RowOut(BaseModel):
    id: str
    entities: List[EntityOut]
    view: str = Field(description="cross_modal (post + visual context) or text_only")
    visual_context: Optional[Dict[str, Any]] = Field(description="The aligned context; null for a post with no image")


class RowsOut(BaseModel):
    posts: List[RowOut]


class ErrorOut(BaseModel):
    error: str
    detail: str


MULTIPART_SCHEMA = {
    "type": "object",
    "required": ["text"],
    "properties": {
        "text": {"type": "string"},
        "image": {"type": "string", "format": "binary"},
        "id": {"type": "string"},
        "visual_context": {"type": "string", "description": "a JSON object"},
    },
}
REQUEST_BODY_DOC = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": {"anyOf": [PostIn.model_json_schema(), PostsIn.model_json_schema()]}},
            "multipart/form-data": {"schema": MULTIPART_SCHEMA},
        },
    }
}


class Service:
    """The loaded pipeline, its batcher and the per-request checks of one process."""

    def __init__(self, settings: ServeSettings, load: Optional[Callable[[], Any]] = None) -> None:
        self.settings = settings
        self.limits = settings.limits
        settings.check()
        key = os.environ.get(settings.api_key_env, "") if settings.api_key_env else ""
        self.api_key: Optional[bytes] = key.encode("utf8") if key else None
        self._load = load or self._load_annotator
        self.annotator: Any = None
        self.batcher: Optional[DynamicBatcher] = None
        self.load_error: Optional[str] = None
        self.loaded = threading.Event()
        self.decode_slots: Optional[asyncio.Semaphore] = None  # made in the server's event loop

    def _load_annotator(self) -> Any:
        from ..batch.steps import PostAnnotator

        s = self.settings
        return PostAnnotator(
            s.model, code=s.code, gpu_id=s.gpu_id, torch_threads=s.torch_threads, batch_size=s.max_batch_posts
        )

    def load(self) -> None:
        """Load the pipeline and start the batcher (run in a thread: /healthz answers meanwhile)."""
        try:
            self.annotator = self._load()
        except Exception as err:  # noqa: BLE001 - reported by /readyz and the log, never in an answer's detail
            logger.exception("Could not load the pipeline %s", self.settings.model)
            self.load_error = type(err).__name__
            self.loaded.set()
            return
        s = self.settings
        self.batcher = DynamicBatcher(
            self.annotator,
            max_batch_posts=s.max_batch_posts,
            max_wait_ms=s.max_wait_ms,
            max_queue_posts=s.max_queue_posts,
        )
        logger.info("Pipeline loaded (pid %d); serving", os.getpid())
        self.loaded.set()

    @property
    def ready(self) -> bool:
        return self.batcher is not None

    def close(self) -> None:
        if self.batcher is not None:
            self.batcher.close()

    def check_key(self, request: Request) -> None:
        if self.api_key is None:
            return
        given = request.headers.get("x-api-key", "")
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if not given and scheme.lower() == "bearer":
            given = token.strip()
        # Starlette decodes header bytes as latin-1: encoding back gives the bytes sent (a UTF-8 key too).
        if not hmac.compare_digest(given.encode("latin-1"), self.api_key):
            raise RequestRefused(
                401,
                "unauthorized",
                f"this server needs an API key: header X-API-Key or Authorization: Bearer (set by "
                f"{self.settings.api_key_env} on the server)",
                headers={"WWW-Authenticate": "Bearer"},
            )

    async def annotate(self, posts: List[Post]) -> List[Dict[str, Any]]:
        if self.batcher is None:
            if self.load_error:
                raise RequestRefused(503, "not_loaded", "the pipeline failed to load; the server log says why")
            raise RequestRefused(503, "loading", "the pipeline is still loading", headers={"Retry-After": "5"})
        try:
            future = self.batcher.submit(posts)
        except QueueFull as err:
            raise RequestRefused(
                503, "queue_full", f"{err}; try again later", headers={"Retry-After": str(err.retry_after)}
            ) from None
        timeout = self.settings.request_timeout_s
        try:
            return await asyncio.wait_for(asyncio.wrap_future(future), timeout)
        except asyncio.TimeoutError:
            future.cancel()  # dropped if its batch has not started
            raise RequestRefused(504, "timeout", f"no answer within {timeout:g} s (--request-timeout-s)") from None
        except PipelineFailed:
            raise RequestRefused(
                500, "pipeline_failed", "the pipeline failed on this request; the server log has the details"
            ) from None

    async def check_image(self, data: bytes, where: str) -> bytes:
        if self.decode_slots is None:
            self.decode_slots = asyncio.Semaphore(DECODE_SLOTS)
        async with self.decode_slots:
            await run_in_threadpool(check_image_decodes, data, self.limits, where)
        return data

    def model_info(self) -> Dict[str, Any]:
        from .info import pipeline_info

        info: Dict[str, Any] = pipeline_info(self.annotator.nlp) if self.annotator is not None else {}
        return {
            **info,
            "batching": {
                "max_batch_posts": self.settings.max_batch_posts,
                "max_wait_ms": self.settings.max_wait_ms,
                "max_queue_posts": self.settings.max_queue_posts,
                "request_timeout_s": self.settings.request_timeout_s,
            },
            "limits": {**self.limits.settings(), "image_formats": list(IMAGE_FORMATS)},
        }


# --- reading a request -------------------------------------------------------
async def read_body(request: Request, limits: ServeLimits) -> bytes:
    """The whole body, refused early when Content-Length says it is too large, cut off when the
    bytes streamed exceed the limit (a chunked upload) or when it takes longer than body_timeout_s."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.strip().isdigit():
            raise RequestRefused(400, "bad_request", "Content-Length is not a number")
        if int(declared) > limits.max_body_bytes:
            raise LimitExceeded("max_body_bytes", limits.max_body_bytes, f"the body is {int(declared)} bytes")
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limits.body_timeout_s
    chunks: List[bytes] = []
    size = 0
    stream = request.stream().__aiter__()
    while True:
        try:
            chunk = await asyncio.wait_for(stream.__anext__(), max(0.0, deadline - loop.time()))
        except StopAsyncIteration:
            break
        except asyncio.TimeoutError:
            raise RequestRefused(
                408, "body_timeout", f"the body did not arrive within {limits.body_timeout_s:g} s"
            ) from None
        size += len(chunk)
        if size > limits.max_body_bytes:
            raise LimitExceeded("max_body_bytes", limits.max_body_bytes, "the body is larger")
        chunks.append(chunk)
    return b"".join(chunks)


def media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


async def read_posts(request: Request, service: Service) -> Tuple[List[Post], bool]:
    """The request's posts and whether it sent one post (answered by one row) or a list."""
    kind = media_type(request)
    if kind not in ("application/json", *FORM_TYPES):
        raise RequestRefused(
            415, "unsupported_media_type", "send application/json or multipart/form-data (fields text, image)"
        )
    body = await read_body(request, service.limits)
    if kind in FORM_TYPES:
        return [await _form_post(request, body, service)], True
    return await _json_posts(body, service)


async def _json_posts(body: bytes, service: Service) -> Tuple[List[Post], bool]:
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError) as err:
        raise RequestRefused(400, "malformed_json", f"the body is not valid JSON: {err}") from None
    single = not (isinstance(payload, dict) and "posts" in payload)
    if not single and isinstance(payload["posts"], list):
        check_posts_count(len(payload["posts"]), service.limits)
    try:
        posts_in = [PostIn.model_validate(payload)] if single else PostsIn.model_validate(payload).posts
    except ValidationError as err:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'body'}: {e['msg']}"
            for e in err.errors(include_url=False, include_input=False)[:10]
        )
        raise RequestRefused(422, "invalid_post", problems) from None
    posts = []
    for index, post in enumerate(posts_in):
        where = "post" if single else f"posts[{index}]"
        image = decode_base64_image(post.image, service.limits, f"{where}.image") if post.image else None
        posts.append(
            _post(
                str(index) if post.id is None else str(post.id),
                check_text(post.text, service.limits, f"{where}.text"),
                await service.check_image(image, f"{where}.image") if image else None,
                post.visual_context,
                where,
            )
        )
    return posts, single


async def _form_post(request: Request, body: bytes, service: Service) -> Post:
    limits = service.limits

    async def replay() -> Dict[str, Any]:  # the body already read, with its limits, handed to the form parser
        return {"type": "http.request", "body": body, "more_body": False}

    # A field of max_text_chars characters has at most 4 UTF-8 bytes each: a longer field is over
    # the text limit before it is decoded (the id and visual_context fields are far shorter).
    max_field_bytes = max(4 * limits.max_text_chars, 64 * 1024)
    try:
        form = await Request(request.scope, replay).form(max_files=1, max_fields=4, max_part_size=max_field_bytes)
    except (MultiPartException, StarletteHTTPException) as err:  # Starlette wraps the parser's in its 400
        problem = str(err.message if isinstance(err, MultiPartException) else err.detail)
        if "exceeded maximum size" in problem:  # Starlette's words for a field over max_part_size
            too_long = f"a form field has more than {max_field_bytes} bytes, more than any text within the limit"
            raise LimitExceeded("max_text_chars", limits.max_text_chars, too_long) from None
        raise RequestRefused(400, "malformed_form", f"the form cannot be read: {problem}") from None
    try:
        unknown = sorted(set(form) - {"id", "text", "image", "visual_context"})
        if unknown:
            raise RequestRefused(422, "invalid_post", f"unknown form fields {unknown}: expected text, image, id")
        upload = form.get("image")
        image = None
        if isinstance(upload, UploadFile):
            data = await upload.read(limits.max_image_bytes + 1)
            image = check_image_bytes(data, limits, "image") if data else None
        elif upload:
            raise RequestRefused(422, "invalid_image", "image: send the image as a file part")
        context_field = form.get("visual_context")
        try:
            context = json.loads(context_field) if isinstance(context_field, str) and context_field else None
        except ValueError:
            raise RequestRefused(422, "invalid_post", "visual_context: not a JSON object") from None
        post_id = form.get("id")
        return _post(
            post_id if isinstance(post_id, str) and post_id else "0",
            check_text(form.get("text"), limits, "text"),
            await service.check_image(image, "image") if image else None,
            context,
            "post",
        )
    finally:
        await form.close()


def _post(post_id: str, text: str, image: Optional[bytes], context: Any, where: str) -> Post:
    try:
        visual_context = context_value(context)
    except (ValueError, TypeError, KeyError) as err:
        raise RequestRefused(422, "invalid_post", f"{where}.visual_context is malformed: {err}") from None
    return Post(post_id, text, image, visual_context)


# --- the app -----------------------------------------------------------------
def create_app(settings: ServeSettings, load: Optional[Callable[[], Any]] = None) -> FastAPI:
    """The app for `settings`; `load` returns the annotator (default: `batch.steps.PostAnnotator`
    of `settings.model`), called in a thread at startup."""
    service = Service(settings, load)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        threading.Thread(target=service.load, name="spacy-ita-load", daemon=True).start()
        yield
        service.close()

    # FastAPI's own /docs page loads Swagger UI from a CDN; fastapi-offline serves the same
    # pages with the assets its wheel carries, so /docs works with no internet.
    app = FastAPIOffline(
        static_url=DOCS_ASSETS,
        title="spacy-ita",
        summary="Multimodal named entities of posts and their images (ITA: Image-Text Alignments).",
        lifespan=lifespan,
    )
    app.state.service = service
    add_error_handlers(app)

    @app.middleware("http")
    async def security_headers(request: Request, call_next: Callable) -> Response:
        response = await call_next(request)
        response.headers.update(SECURITY_HEADERS)
        if not request.url.path.startswith(("/docs", "/redoc")):
            response.headers["Content-Security-Policy"] = PAGE_CSP
        return response

    def authorized(request: Request) -> None:
        service.check_key(request)

    @app.post(
        "/v1/entities",
        dependencies=[Depends(authorized)],
        openapi_extra=REQUEST_BODY_DOC,
        responses={
            200: {"model": Union[RowOut, RowsOut], "description": "One row per post, as `annotate` writes it"},
            413: {"model": ErrorOut, "description": "Over a limit; `limit` names it"},
            503: {"model": ErrorOut, "description": "Loading, or the queue is full (see Retry-After)"},
        },
    )
    async def entities(request: Request) -> JSONResponse:
        """Tag one post (JSON or multipart text + image) or a list {"posts": [...]}."""
        posts, single = await read_posts(request, service)
        rows = await service.annotate(posts)
        return JSONResponse(rows[0] if single else {"posts": rows})

    @app.get("/v1/model", dependencies=[Depends(authorized)])
    async def model() -> JSONResponse:
        """The pipeline: name, labels, encoder, the context kinds it was trained on, the aligner's backends."""
        if not service.ready:
            raise RequestRefused(503, "loading", "the pipeline is not loaded", headers={"Retry-After": "5"})
        return JSONResponse(service.model_info())

    @app.get("/healthz")
    async def healthz() -> Dict[str, str]:
        """The process answers (liveness)."""
        return {"status": "ok"}

    @app.get("/readyz")
    async def readyz() -> JSONResponse:
        """200 once the pipeline is loaded; 503 before, or if it failed to load."""
        if service.ready:
            return JSONResponse({"status": "ready", "queued_posts": service.batcher.queued_posts})  # type: ignore
        status = "failed" if service.load_error else "loading"
        return JSONResponse({"status": status}, status_code=503)

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def page() -> HTMLResponse:
        return HTMLResponse(page_html())

    @app.get("/render.css", include_in_schema=False)
    async def render_css() -> Response:
        """The `render` command's style (the image, its contexts, the entities): one style for both views."""
        from ..visualize import PAGE_STYLE

        return Response(PAGE_STYLE, media_type="text/css")

    app.mount("/static", StaticFiles(packages=[("spacy_ita.serve", "page")]), name="static")
    return app


def page_html() -> str:
    """index.html with displaCy's label colours (the same as `render`'s) in a data attribute."""
    from spacy.displacy.render import DEFAULT_LABEL_COLORS

    template = resources.files("spacy_ita.serve").joinpath("page/index.html").read_text(encoding="utf8")
    return template.replace("{{LABEL_COLORS}}", html.escape(json.dumps(DEFAULT_LABEL_COLORS), quote=True))


def add_error_handlers(app: FastAPI) -> None:
    """Every error answer is {"error", "detail"} JSON; nothing of the server's internals is in it."""

    async def refused(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestRefused)
        return JSONResponse(exc.body(), status_code=exc.status, headers=exc.headers)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return JSONResponse({"error": code, "detail": str(exc.detail)}, status_code=exc.status_code)

    async def disconnected(request: Request, exc: Exception) -> Response:
        logger.info("A client disconnected before its request was read")
        return Response(status_code=400)  # never delivered: the client is gone

    async def internal(request: Request, exc: Exception) -> Response:
        logger.error("Unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
        return JSONResponse({"error": "internal", "detail": "internal server error"}, status_code=500)

    app.add_exception_handler(RequestRefused, refused)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(ClientDisconnect, disconnected)
    app.add_exception_handler(Exception, internal)


def app_from_env() -> FastAPI:
    """The app of the settings in $SPACY_ITA_SERVE_SETTINGS: each `serve --processes N` process builds its own."""
    return create_app(ServeSettings.from_json(os.environ[SETTINGS_ENV]))
