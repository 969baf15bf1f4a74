"""The service's API, started as a user starts it (`python -m spacy_ita serve MODEL`): its rows
are `annotate`'s, one post or a list, JSON or multipart; /v1/model, /healthz, /readyz, the
OpenAPI docs, the page's files; and, in this process around stand-in annotators: the API key,
loading, a full queue and the request timeout."""

import json
import logging
import threading

import httpx
import pytest
import spacy
from conftest import batch_support
from serve_support import BATCH_SUPPORT, ServerProcess, app_server, b64, entity_tuples, png_bytes

from spacy_ita.batch.jobs import annotate_posts
from spacy_ita.serve.app import create_app
from spacy_ita.serve.limits import ServeLimits
from spacy_ita.serve.settings import ServeSettings

WAIT = 30  # seconds: every request and wait here is bounded


@pytest.fixture(scope="module")
def server(served_model, tmp_path_factory):
    process = ServerProcess(served_model, log_path=tmp_path_factory.mktemp("server") / "server.log")
    yield process
    process.stop()


def test_rows_are_annotates(server, served_model, tmp_path):
    """The same posts through `annotate` and through the API give the same rows."""
    support = batch_support()
    posts_path = support.write_posts(tmp_path)
    output = tmp_path / "annotated.jsonl"
    annotate_posts(served_model, posts_path, output, code=str(BATCH_SUPPORT), progress=False)
    expected = {row["id"]: row for row in support.read_rows(output)}
    posts = []
    for post in support.POSTS:
        if post["id"] == "p5":  # its image is broken: annotate skips it, the API refuses it (test_faults)
            continue
        sent = {key: value for key, value in post.items() if key != "image"}
        if "image" in post:
            sent["image"] = b64((tmp_path / post["image"]).read_bytes())
        posts.append(sent)
    answer = httpx.post(f"{server.url}/v1/entities", json={"posts": posts}, timeout=WAIT)
    assert answer.status_code == 200, answer.text
    rows = answer.json()["posts"]
    assert [row["id"] for row in rows] == [post["id"] for post in posts]
    for row in rows:
        reference = expected[row["id"]]
        assert set(row) == set(reference)
        assert entity_tuples(row) == entity_tuples(reference)
        assert [e["confidence"] for e in row["entities"]] == pytest.approx(
            [e["confidence"] for e in reference["entities"]], abs=1e-4
        )
        assert (row["view"], row["visual_context"]) == (reference["view"], reference["visual_context"])
    by_id = {row["id"]: row for row in rows}
    assert by_id["p4"]["visual_context"]["ocr"] == ["PARIS"] and by_id["p4"]["view"] == "cross_modal"
    assert by_id["p2"]["visual_context"] is None and by_id["p2"]["view"] == "text_only"


def test_one_post_json_and_multipart(server):
    text = "RT @user : I love Obama so much # fun"
    image = png_bytes()
    post = {"id": "x1", "text": text, "image": b64(image)}
    as_json = httpx.post(f"{server.url}/v1/entities", json=post, timeout=WAIT)
    as_form = httpx.post(
        f"{server.url}/v1/entities",
        data={"text": text, "id": "x1"},
        files={"image": ("post.png", image, "image/png")},
        timeout=WAIT,
    )
    data_uri = httpx.post(
        f"{server.url}/v1/entities",
        json={"id": "x1", "text": text, "image": "data:image/png;base64," + b64(image)},
        timeout=WAIT,
    )
    assert as_json.status_code == as_form.status_code == data_uri.status_code == 200, (as_json.text, as_form.text)
    row = as_json.json()
    assert row["id"] == "x1" and ("Obama", "PER", 18, 23) in entity_tuples(row)
    assert row["visual_context"]["ocr"] == ["PARIS"] and row["view"] == "cross_modal"
    assert as_form.json() == row and data_uri.json() == row
    text_only = httpx.post(f"{server.url}/v1/entities", data={"text": "I love Paris"}, timeout=WAIT).json()
    assert text_only["id"] == "0" and text_only["view"] == "text_only" and text_only["visual_context"] is None


def test_precomputed_context_is_read_but_not_repeated(server):
    post = {"text": "Messi and Trump in London", "visual_context": {"caption": "a photo of Messi"}}
    row = httpx.post(f"{server.url}/v1/entities", json=post, timeout=WAIT).json()
    assert row["view"] == "cross_modal" and row["visual_context"] is None  # as annotate writes it


def test_model_health_ready_docs(server, served_model):
    info = httpx.get(f"{server.url}/v1/model", timeout=WAIT).json()
    assert info["labels"] == ["LOC", "ORG", "PER"]
    tagger = info["taggers"][0]
    assert tagger["encoder"] == "tiny-bert-2l" and set(tagger["trained_context_kinds"]) == {"caption", "objects", "ocr"}
    assert info["aligners"][0]["backends"] == {
        "objects": {"backend": "batch_support.ColourObjects.v1"},
        "ocr": {"backend": "batch_support.ColourOCR.v1"},
    }
    assert info["limits"]["max_posts"] == ServeLimits().max_posts
    assert served_model not in json.dumps(info)  # no server path
    assert httpx.get(f"{server.url}/healthz", timeout=WAIT).json() == {"status": "ok"}
    assert httpx.get(f"{server.url}/readyz", timeout=WAIT).json()["status"] == "ready"
    schema = httpx.get(f"{server.url}/openapi.json", timeout=WAIT).json()
    body = schema["paths"]["/v1/entities"]["post"]["requestBody"]["content"]
    assert set(body) == {"application/json", "multipart/form-data"}
    assert httpx.get(f"{server.url}/docs", timeout=WAIT).status_code == 200
    missing = httpx.get(f"{server.url}/v2/nothing", timeout=WAIT)
    assert missing.status_code == 404 and missing.json()["error"] == "not_found"


def test_page_and_its_files_are_local(server):
    page = httpx.get(f"{server.url}/", timeout=WAIT)
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    csp = page.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src 'self'" in csp
    assert page.headers["x-content-type-options"] == "nosniff"
    for path in ("/static/page.js", "/static/page.css", "/render.css"):
        asset = httpx.get(f"{server.url}{path}", timeout=WAIT)
        assert asset.status_code == 200
        assert "http://" not in asset.text and "https://" not in asset.text  # no CDN: works offline
    assert "http" not in page.text.replace('lang="en"', "")
    assert "#7aecec" in page.text  # displaCy's ORG colour, handed to the page
    escape = httpx.get(f"{server.url}/static/..%2Fapp.py", timeout=WAIT)
    assert escape.status_code == 404 and "import" not in escape.text


# --- in this process, around stand-in annotators -------------------------------------------
class Echo:
    """A stand-in annotator: one empty row per post; blocks while `gate` is clear."""

    def __init__(self):
        self.nlp = spacy.blank("en")
        self.gate = threading.Event()
        self.gate.set()

    def __call__(self, posts):
        self.gate.wait(WAIT)
        return [{"id": p.id, "entities": [], "view": "text_only", "visual_context": None} for p in posts]


def test_api_key(monkeypatch, caplog):
    key = "s3cret-key-\u00e9"
    monkeypatch.setenv("TEST_SERVE_KEY", key)
    settings = ServeSettings(model="unused", api_key_env="TEST_SERVE_KEY")
    caplog.set_level(logging.DEBUG, logger="spacy_ita")
    with app_server(create_app(settings, load=Echo)) as url:
        post = {"text": "I love Paris"}
        assert httpx.get(f"{url}/healthz", timeout=WAIT).status_code == 200  # liveness needs no key
        refused = httpx.post(f"{url}/v1/entities", json=post, timeout=WAIT)
        assert refused.status_code == 401 and refused.headers["www-authenticate"] == "Bearer"
        assert key not in refused.text
        wrong = httpx.post(f"{url}/v1/entities", json=post, headers={"X-API-Key": "s3cret-key-"}, timeout=WAIT)
        assert wrong.status_code == 401
        assert httpx.get(f"{url}/v1/model", timeout=WAIT).status_code == 401
        header = {"X-API-Key": key.encode("utf8")}  # a header is bytes: a non-ASCII key as UTF-8
        assert httpx.post(f"{url}/v1/entities", json=post, headers=header, timeout=WAIT).status_code == 200
        bearer = {"Authorization": b"Bearer " + key.encode("utf8")}
        assert httpx.post(f"{url}/v1/entities", json=post, headers=bearer, timeout=WAIT).status_code == 200
    assert key not in caplog.text


def test_loading_then_ready():
    loaded = threading.Event()

    def slow_load():
        loaded.wait(WAIT)
        return Echo()

    with app_server(create_app(ServeSettings(model="unused"), load=slow_load)) as url:
        assert httpx.get(f"{url}/healthz", timeout=WAIT).status_code == 200
        assert httpx.get(f"{url}/readyz", timeout=WAIT).json() == {"status": "loading"}
        early = httpx.post(f"{url}/v1/entities", json={"text": "hi"}, timeout=WAIT)
        assert early.status_code == 503 and early.headers["retry-after"] == "5"
        loaded.set()
        assert wait_ready(url)
        assert httpx.post(f"{url}/v1/entities", json={"text": "hi"}, timeout=WAIT).status_code == 200


def test_failed_load_is_reported_without_detail(caplog):
    def broken_load():
        raise OSError("/secret/path/model not found")

    with app_server(create_app(ServeSettings(model="unused"), load=broken_load)) as url:
        ready = httpx.get(f"{url}/readyz", timeout=WAIT)
        for _ in range(100):
            if ready.json()["status"] != "loading":
                break
            ready = httpx.get(f"{url}/readyz", timeout=WAIT)
        assert ready.status_code == 503 and ready.json() == {"status": "failed"}
        answer = httpx.post(f"{url}/v1/entities", json={"text": "hi"}, timeout=WAIT)
        assert answer.status_code == 503 and "/secret" not in answer.text
    assert "/secret/path/model" in caplog.text  # the operator's log has it


def test_full_queue_503_and_timeout_504():
    echo = Echo()
    echo.gate.clear()
    settings = ServeSettings(
        model="unused",
        max_batch_posts=1,
        max_wait_ms=0,
        max_queue_posts=2,
        request_timeout_s=1.0,
        limits=ServeLimits(max_posts=2),
    )
    with app_server(create_app(settings, load=lambda: echo)) as url:
        assert wait_ready(url)
        with httpx.Client(timeout=WAIT) as client:
            timed_out = client.post(f"{url}/v1/entities", json={"posts": [{"text": "a"}]})
            assert timed_out.status_code == 504 and timed_out.json()["error"] == "timeout"
            # the worker is still held by "a"; two more posts fill the queue
            results = {}

            def send(name, posts):
                results[name] = client.post(f"{url}/v1/entities", json={"posts": posts})

            waiting = threading.Thread(target=send, args=("queued", [{"text": "b"}, {"text": "c"}]))
            waiting.start()
            for _ in range(200):  # bounded: until the two posts are queued
                if client.get(f"{url}/readyz").json()["queued_posts"] == 2:
                    break
                threading.Event().wait(0.02)
            refused = client.post(f"{url}/v1/entities", json={"text": "d"})
            assert refused.status_code == 503, refused.text
            assert refused.json()["error"] == "queue_full" and int(refused.headers["retry-after"]) >= 1
            echo.gate.set()
            waiting.join(WAIT)
            assert results["queued"].status_code in (200, 504)
            assert client.post(f"{url}/v1/entities", json={"text": "e"}).status_code == 200


def wait_ready(url) -> bool:
    for _ in range(200):
        if httpx.get(f"{url}/readyz", timeout=WAIT).status_code == 200:
            return True
        threading.Event().wait(0.05)
    return False
