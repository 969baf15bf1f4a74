"""Faults of an OpenAI-compatible endpoint, from a protocol-level server on 127.0.0.1:
a usable answer becomes the kind, an empty answer is written as "", a failed one is
reported with the post's id and cause and not written (a rerun asks again), and the
job never stops."""

import base64
import io
import json
import logging

import pytest
from chat_server import ChatServer, completion, last_user_text
from PIL import Image

from spacy_ita.aligners.cache import AlignmentCache
from spacy_ita.generators import ChatEndpoint, LLMKnowledge, PromptTemplate, VLMDescription, generate_contexts

# The post text picks the server's behaviour.
POSTS = {
    "p-ok": "ok Kevin Durant joins the Warriors",
    "p-429": "rate limited then fine",
    "p-500": "server error always",
    "p-timeout": "too slow to answer",
    "p-malformed": "malformed body",
    "p-empty": "empty choice list",
    "p-cut": "cut by length",
    "p-blank": "blank answer",
}
USABLE = {"p-ok", "p-429"}
EMPTY = {"p-blank"}
FAILED = set(POSTS) - USABLE - EMPTY


def behave(body, attempt):
    text = last_user_text(body)
    if "rate limited" in text and attempt == 1:
        return 429, {"error": {"message": "slow down"}}, 0
    if "server error" in text:
        return 500, {"error": {"message": "boom"}}, 0
    if "too slow" in text:
        return 200, completion("late"), 4
    if "malformed" in text:
        return 200, b'{"choices": [', 0
    if "empty choice" in text:
        return 200, {**completion("x"), "choices": []}, 0
    if "cut by length" in text:
        return 200, completion("Named entities: 1. X", finish_reason="length"), 0
    if "blank answer" in text:
        return 200, completion("  \n "), 0
    return 200, completion(f"  Named entities:\n 1. Kevin   Durant (person) for {text.split()[1]}  "), 0


def endpoint(server, **kwargs):
    settings = {"timeout": 1.5, "max_retries": 2, "max_in_flight": 8, **kwargs}
    return ChatEndpoint(server.base_url, "test-model", api_key_env="SPACY_ITA_TEST_KEY", **settings)


def knowledge(server, **kwargs):
    return LLMKnowledge(endpoint(server, **kwargs), PromptTemplate.load(None, "knowledge.txt"), max_words=6)


def attempts_of(server, text):
    """Requests the server saw for the post whose text is `text` (the prompt holds it)."""
    return sum(count for message, count in server.attempts.items() if text in message)


def write_posts(path, posts, image=None):
    with path.open("w", encoding="utf8") as out:
        for post_id, text in posts.items():
            row = {"id": post_id, "text": text, "visual_context": {"caption": "a man on a court"}}
            if image:
                row["image"] = str(image)
            out.write(json.dumps(row) + "\n")


def read_output(path):
    return [json.loads(line) for line in path.read_text(encoding="utf8").splitlines()]


def test_every_fault_gives_its_documented_result_and_the_job_completes(tmp_path, caplog):
    posts = tmp_path / "posts.jsonl"
    write_posts(posts, POSTS)
    with ChatServer(behave) as server, caplog.at_level(logging.WARNING, logger="spacy_ita"):
        summary = generate_contexts(posts, tmp_path / "out.jsonl", knowledge=knowledge(server), progress=False)
        attempts = {post_id: attempts_of(server, text) for post_id, text in POSTS.items()}
    rows = read_output(tmp_path / "out.jsonl")
    # Issue #32: failed posts were written with "" and never retried. Only answers are written.
    assert sorted(row["image_id"] for row in rows) == sorted(USABLE | EMPTY)
    by_id = {row["image_id"]: row["knowledge"] for row in rows}
    # Cleaned: whitespace collapsed, capped at max_words=6.
    assert by_id["p-ok"] == "Named entities: 1. Kevin Durant (person)"
    assert by_id["p-429"] == "Named entities: 1. Kevin Durant (person)"
    assert by_id["p-blank"] == ""
    assert sorted(summary.failed["knowledge"]) == sorted(FAILED) == sorted(summary.unwritten)
    assert summary.empty["knowledge"] == ["p-blank"] and not summary.all_failed
    # 429 was retried once; 5xx and timeouts up to max_retries=2; unusable answers are not retried.
    assert attempts["p-429"] == 2
    assert attempts["p-500"] == 3 and attempts["p-timeout"] == 3
    assert attempts["p-empty"] == 1 and attempts["p-cut"] == 1
    run = summary.kinds["knowledge"]
    assert run.requests == len(POSTS) and len(run.failures) == len(FAILED) and run.empty == ["p-blank"]
    assert run.answered == len(USABLE) and "answered 2, empty answer 1, failed 5" in str(run)
    # Usage is counted from every answer that carried it (ok, 429's retry, empty choices, cut, blank).
    assert run.prompt_tokens == 50 and run.completion_tokens == 25 and run.seconds > 0
    reported = caplog.text
    assert all(post_id in reported for post_id in set(POSTS) - USABLE)
    assert "finish_reason=length" in reported

    # A rerun with the endpoint healthy asks for exactly the failed posts, and completes the output.
    with ChatServer(lambda body, attempt: (200, completion("Named entities: none"), 0)) as healthy:
        again = generate_contexts(posts, tmp_path / "out.jsonl", knowledge=knowledge(healthy), progress=False)
        asked = {post_id for post_id, text in POSTS.items() if attempts_of(healthy, text)}
    assert asked == FAILED and again.already_done == len(USABLE | EMPTY) and not again.unwritten
    assert sorted(row["image_id"] for row in read_output(tmp_path / "out.jsonl")) == sorted(POSTS)


def test_a_rerun_resumes_and_cached_answers_cost_nothing(tmp_path):
    posts = tmp_path / "posts.jsonl"
    write_posts(posts, {"a": "ok first post", "b": "ok second post"})
    cache = AlignmentCache(tmp_path / "cache")
    with ChatServer(behave) as server:
        generate_contexts(posts, tmp_path / "one.jsonl", knowledge=knowledge(server), cache=cache, progress=False)
        again = generate_contexts(
            posts, tmp_path / "one.jsonl", knowledge=knowledge(server), cache=cache, progress=False
        )
        assert again.already_done == 2 and again.timing.rows == 0
        fresh = generate_contexts(
            posts, tmp_path / "two.jsonl", knowledge=knowledge(server), cache=cache, progress=False
        )
        assert len(server.bodies) == 2  # the second output came from the cache
    assert fresh.kinds["knowledge"].cached == 2 and fresh.kinds["knowledge"].requests == 0
    assert read_output(tmp_path / "one.jsonl") == read_output(tmp_path / "two.jsonl")


def test_requests_in_flight_are_bounded(tmp_path):
    in_flight, peak = [0], [0]
    import threading
    import time

    lock = threading.Lock()

    def slow_ok(body, attempt):
        with lock:
            in_flight[0] += 1
            peak[0] = max(peak[0], in_flight[0])
        time.sleep(0.05)
        with lock:
            in_flight[0] -= 1
        return 200, completion("fine"), 0

    with ChatServer(slow_ok) as server:
        requests = [(str(i), [{"role": "user", "content": f"post {i}"}]) for i in range(12)]
        answers, summary = endpoint(server, max_in_flight=3).complete_many(requests, max_tokens=5)
    assert peak[0] <= 3 and summary.requests == 12 and all(answers.values())


def test_an_image_request_carries_the_image_inline_and_shrunk(tmp_path):
    image_path = tmp_path / "photo.png"
    Image.new("RGB", (1600, 800), (200, 30, 30)).save(image_path)
    posts = tmp_path / "posts.jsonl"
    write_posts(posts, {"img": "ok a post with a photo", "noimg": "ok text only"}, image=None)
    rows = [json.loads(line) for line in posts.read_text().splitlines()]
    rows[0]["image"] = str(image_path)
    posts.write_text("".join(json.dumps(row) + "\n" for row in rows))
    with ChatServer(lambda body, attempt: (200, completion("A red banner reading SALE."), 0)) as server:
        vlm = VLMDescription(
            endpoint(server),
            PromptTemplate.load(None, "description.txt"),
            max_side=256,
            max_tokens=50,
            temperature=0.0,
            max_words=100,
        )
        summary = generate_contexts(posts, tmp_path / "out.jsonl", description=vlm, progress=False)
        bodies = list(server.bodies)
    assert len(bodies) == 1  # the post without an image asks nothing
    content = bodies[0]["messages"][-1]["content"]
    url = next(part["image_url"]["url"] for part in content if part["type"] == "image_url")
    assert url.startswith("data:image/jpeg;base64,")
    sent = Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1])))
    assert sent.size == (256, 128)
    assert bodies[0]["temperature"] == 0.0
    out = {row["image_id"]: row for row in read_output(tmp_path / "out.jsonl")}
    assert out["img"]["description"] == "A red banner reading SALE."
    assert "description" not in out["noimg"]
    assert summary.kinds["description"].requests == 1 and not summary.failed["description"]


@pytest.mark.parametrize("posts", [{}])
def test_no_generator_is_a_clear_error(tmp_path, posts):
    with pytest.raises(ValueError, match="No generator enabled"):
        generate_contexts(tmp_path / "posts.jsonl", tmp_path / "out.jsonl")


def test_posts_keyed_otherwise_need_their_columns_named_or_the_job_fails(tmp_path):
    """Posts keyed `tweet_id`: without --id-column every row is unreadable, and the job says
    which columns it found instead of writing contexts for 0 posts (as annotate does)."""
    from spacy_ita.batch.jobs import NoReadablePostError
    from spacy_ita.batch.posts import PostColumns

    posts = tmp_path / "posts.jsonl"
    posts.write_text("".join(json.dumps({"tweet_id": i, "text": f"post {i}"}) + "\n" for i in "ab"), encoding="utf8")
    with ChatServer(behave) as server:
        with pytest.raises(NoReadablePostError, match="'text', 'tweet_id'"):
            generate_contexts(posts, tmp_path / "out.jsonl", knowledge=knowledge(server), progress=False)
        assert not (tmp_path / "out.jsonl").exists()
        summary = generate_contexts(
            posts,
            tmp_path / "out.jsonl",
            knowledge=knowledge(server),
            columns=PostColumns(id="tweet_id"),
            progress=False,
        )
    assert summary.posts == 2 and sorted(row["image_id"] for row in read_output(tmp_path / "out.jsonl")) == ["a", "b"]


def test_an_output_that_is_or_holds_the_input_is_refused_before_any_request(tmp_path):
    write_posts(tmp_path / "posts.jsonl", {"p-ok": "fine post"})
    before = (tmp_path / "posts.jsonl").read_bytes()
    with ChatServer(behave) as server:
        for output in (tmp_path, tmp_path / "posts.jsonl"):
            with pytest.raises(ValueError, match="input"):
                generate_contexts(tmp_path / "posts.jsonl", output, knowledge=knowledge(server), progress=False)
        assert not server.attempts
    assert (tmp_path / "posts.jsonl").read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == [
        "posts.jsonl"
    ]


def free_port():
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_an_endpoint_that_is_down_fails_the_run_naming_the_cause_and_poisons_nothing(tmp_path):
    """Issue #32: nothing listening on the port printed "Wrote contexts for 30 posts", exit 0,
    every row `"knowledge": ""`, and a rerun with the server up made 0 requests."""
    from typer.testing import CliRunner

    from spacy_ita.cli import app, register_commands

    register_commands()
    posts, output = tmp_path / "posts.jsonl", tmp_path / "out.jsonl"
    write_posts(posts, {f"p{i}": f"ok post number {i}" for i in range(3)})

    def run_command(base_url):
        args = ["generate-contexts", posts, output, "--base-url", base_url, "--model", "m"]
        return CliRunner().invoke(app, [str(a) for a in [*args, "--max-retries", "0", "--timeout", "2", "--k", "0"]])

    down = run_command(f"http://127.0.0.1:{free_port()}/v1")
    said = " ".join(down.output.split())
    assert down.exit_code == 1, said
    assert "Every post failed (3)" in said and "Connection refused" in said, said
    assert "answered 0, empty answer 0, failed 3" in said
    assert not output.exists() or not read_output(output)
    with ChatServer(behave) as server:
        up = run_command(server.base_url)
        assert up.exit_code == 0, up.output
        assert len(server.bodies) == 3  # every post asked again
    assert sorted(row["image_id"] for row in read_output(output)) == ["p0", "p1", "p2"]
    assert all(row["knowledge"] for row in read_output(output))
