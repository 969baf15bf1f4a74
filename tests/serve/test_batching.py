"""DynamicBatcher: requests in flight share one pipeline call, a full queue refuses at once,
a request its caller gave up on is dropped, one failing post fails its own request only."""

import threading
import time

import pytest

from spacy_ita.serve.batching import DynamicBatcher, PipelineFailed, QueueFull

WAIT = 10  # seconds: every wait on a future is bounded


class Recorder:
    """Annotates posts (strings) as {"id": post}; records each call; can block until released."""

    def __init__(self, blocked: bool = False):
        self.calls = []
        self.release = threading.Event()
        self.started = threading.Event()
        if not blocked:
            self.release.set()

    def __call__(self, posts):
        self.started.set()
        self.release.wait(WAIT)
        if any("boom" in post for post in posts):
            raise ValueError("boom")
        self.calls.append(list(posts))
        return [{"id": post} for post in posts]


def test_requests_in_flight_share_one_call():
    annotate = Recorder(blocked=True)
    batcher = DynamicBatcher(annotate, max_batch_posts=8, max_wait_ms=50, max_queue_posts=64)
    first = batcher.submit(["a"])
    assert annotate.started.wait(WAIT)  # the worker is busy with "a": the next ones queue up
    later = [batcher.submit([f"p{i}", f"q{i}"]) for i in range(3)]
    annotate.release.set()
    assert first.result(WAIT) == [{"id": "a"}]
    assert [f.result(WAIT) for f in later] == [[{"id": f"p{i}"}, {"id": f"q{i}"}] for i in range(3)]
    assert annotate.calls == [["a"], ["p0", "q0", "p1", "q1", "p2", "q2"]]  # one call for the three
    batcher.close()


def test_batch_size_is_bounded_and_a_big_request_runs_whole():
    annotate = Recorder(blocked=True)
    batcher = DynamicBatcher(annotate, max_batch_posts=3, max_wait_ms=0, max_queue_posts=64)
    batcher.submit(["x"])
    assert annotate.started.wait(WAIT)
    futures = [batcher.submit([f"p{i}"]) for i in range(5)] + [batcher.submit(["b1", "b2", "b3", "b4"])]
    annotate.release.set()
    for future in futures:
        future.result(WAIT)
    assert [len(call) for call in annotate.calls] == [1, 3, 2, 4]
    batcher.close()


def test_max_wait_groups_requests_that_arrive_close_together():
    annotate = Recorder()
    batcher = DynamicBatcher(annotate, max_batch_posts=16, max_wait_ms=300, max_queue_posts=64)
    futures = [batcher.submit([f"p{i}"]) for i in range(4)]
    for future in futures:
        future.result(WAIT)
    assert annotate.calls == [["p0", "p1", "p2", "p3"]]
    batcher.close()


def test_full_queue_refuses_with_retry_after():
    annotate = Recorder(blocked=True)
    batcher = DynamicBatcher(annotate, max_batch_posts=2, max_wait_ms=0, max_queue_posts=4)
    batcher.submit(["running"])
    assert annotate.started.wait(WAIT)
    batcher.submit(["a", "b", "c"])
    with pytest.raises(QueueFull) as refused:
        batcher.submit(["d", "e"])
    assert refused.value.retry_after >= 1
    batcher.submit(["d"])  # still fits: 4 posts queued
    annotate.release.set()
    batcher.close()


def test_a_request_given_up_is_dropped_before_it_runs():
    annotate = Recorder(blocked=True)
    batcher = DynamicBatcher(annotate, max_batch_posts=1, max_wait_ms=0, max_queue_posts=8)
    batcher.submit(["running"])
    assert annotate.started.wait(WAIT)
    abandoned = batcher.submit(["abandoned"])
    assert abandoned.cancel()
    kept = batcher.submit(["kept"])
    annotate.release.set()
    assert kept.result(WAIT) == [{"id": "kept"}]
    assert ["abandoned"] not in annotate.calls and batcher.stats.dropped == 1
    batcher.close()


def test_a_failing_post_fails_its_own_request_only():
    annotate = Recorder(blocked=True)
    batcher = DynamicBatcher(annotate, max_batch_posts=8, max_wait_ms=0, max_queue_posts=16)
    batcher.submit(["first"])
    assert annotate.started.wait(WAIT)
    good, bad, other = batcher.submit(["a"]), batcher.submit(["boom"]), batcher.submit(["b", "c"])
    annotate.release.set()
    assert good.result(WAIT) == [{"id": "a"}] and other.result(WAIT) == [{"id": "b"}, {"id": "c"}]
    with pytest.raises(PipelineFailed):
        bad.result(WAIT)
    assert batcher.stats.failed == 1
    batcher.close()


def test_close_finishes_queued_work_then_refuses():
    annotate = Recorder()
    batcher = DynamicBatcher(annotate, max_batch_posts=2, max_wait_ms=1000, max_queue_posts=8)
    future = batcher.submit(["last"])
    start = time.monotonic()
    batcher.close()
    assert future.result(WAIT) == [{"id": "last"}] and time.monotonic() - start < WAIT
    with pytest.raises(RuntimeError):
        batcher.submit(["late"])


def test_settings_are_checked():
    with pytest.raises(ValueError):
        DynamicBatcher(Recorder(), max_batch_posts=0)
