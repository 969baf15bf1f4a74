"""Dynamic batching: the posts of requests in flight, grouped into one pipeline call.

Requests put their posts on a bounded queue (`DynamicBatcher.submit`); one
worker thread takes up to `max_batch_posts` of them, waiting at most
`max_wait_ms` for a batch to fill, and runs them through the annotator (one
`nlp.pipe` call: `batch.steps.PostAnnotator`). One thread runs the pipeline, so
the image aligner's models, which are not thread-safe, are never called from two
threads; a second process (`serve --processes N`) has its own pipeline and models.

A full queue refuses new work at once (`QueueFull`: the service answers 503 with
Retry-After) instead of letting latency grow without bound. A request whose
caller gave up (its timeout) is dropped if it has not started. If a batch fails,
each request of it is retried alone, so one post that breaks the pipeline fails
its own request only.
"""

import logging
import threading
import time
from collections import deque
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Callable, Deque, Dict, List, Optional, Sequence

logger = logging.getLogger("spacy_ita")

Row = Dict[str, Any]
Annotate = Callable[[List[Any]], List[Row]]


class QueueFull(Exception):
    """The queue holds `max_queue_posts` posts already; try again after `retry_after` seconds."""

    def __init__(self, queued: int, retry_after: int) -> None:
        super().__init__(f"{queued} posts are queued, the most this server holds")
        self.retry_after = retry_after


class PipelineFailed(Exception):
    """The pipeline raised on this request's posts (the traceback is in the server's log only)."""


@dataclass
class _Job:
    posts: Sequence[Any]
    future: "Future[List[Row]]" = field(default_factory=Future)


@dataclass
class BatchStats:
    batches: int = 0
    posts: int = 0
    dropped: int = 0  # requests whose caller had given up before their batch ran
    failed: int = 0


class DynamicBatcher:
    """Runs `annotate(posts) -> rows` (one row per post, in order) on batches of queued posts.

    max_batch_posts: posts per pipeline call (a request with more runs alone, whole).
    max_wait_ms: how long a batch that is not full waits for more posts; 0 runs at once.
    max_queue_posts: posts waiting at most; beyond, `submit` raises QueueFull.
    """

    def __init__(
        self, annotate: Annotate, *, max_batch_posts: int = 16, max_wait_ms: float = 10.0, max_queue_posts: int = 256
    ) -> None:
        if max_batch_posts < 1 or max_queue_posts < 1 or max_wait_ms < 0:
            raise ValueError("max_batch_posts and max_queue_posts must be >= 1, max_wait_ms >= 0")
        self.annotate = annotate
        self.max_batch_posts = max_batch_posts
        self.max_wait_s = max_wait_ms / 1000.0
        self.max_queue_posts = max_queue_posts
        self.stats = BatchStats()
        self._jobs: Deque[_Job] = deque()
        self._queued_posts = 0
        self._closed = False
        self._seconds_per_post = 0.05  # a running estimate, for Retry-After
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._loop, name="spacy-ita-batcher", daemon=True)
        self._thread.start()

    @property
    def queued_posts(self) -> int:
        return self._queued_posts

    def submit(self, posts: Sequence[Any]) -> "Future[List[Row]]":
        """Queue the posts of one request; the future gives their rows, or raises PipelineFailed."""
        job = _Job(list(posts))
        with self._cond:
            if self._closed:
                raise RuntimeError("the batcher is closed")
            if self._queued_posts + len(job.posts) > self.max_queue_posts:
                raise QueueFull(self._queued_posts, self.retry_after())
            self._jobs.append(job)
            self._queued_posts += len(job.posts)
            self._cond.notify()
        return job.future

    def retry_after(self) -> int:
        """Seconds until the queue has likely drained: queued posts x the recent time per post, at least 1."""
        return max(1, round(self._queued_posts * self._seconds_per_post))

    def close(self, timeout: Optional[float] = 10.0) -> None:
        """Finish the queued work, then stop the worker thread."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._thread.join(timeout)

    # --- the worker thread -------------------------------------------------
    def _loop(self) -> None:
        while True:
            jobs = self._next_batch()
            if jobs is None:
                return
            running = [job for job in jobs if job.future.set_running_or_notify_cancel()]
            self.stats.dropped += len(jobs) - len(running)
            if running:
                self._run(running)

    def _next_batch(self) -> Optional[List[_Job]]:
        with self._cond:
            while not self._jobs and not self._closed:
                self._cond.wait()
            if not self._jobs:
                return None
            deadline = time.monotonic() + self.max_wait_s
            while self._queued_posts < self.max_batch_posts and not self._closed:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._cond.wait(remaining)
            taken: List[_Job] = []
            size = 0
            while self._jobs and (not taken or size + len(self._jobs[0].posts) <= self.max_batch_posts):
                job = self._jobs.popleft()
                taken.append(job)
                size += len(job.posts)
            self._queued_posts -= size
            return taken

    def _run(self, jobs: List[_Job]) -> None:
        posts = [post for job in jobs for post in job.posts]
        start = time.perf_counter()
        rows: Optional[List[Row]]
        try:
            rows = self.annotate(posts)
        except Exception:  # noqa: BLE001 - one bad post must not fail the other requests of its batch
            if len(jobs) == 1:
                self._fail(jobs[0])
                return
            rows = None
        if rows is None:  # outside the except block: each request's own error is logged alone
            for job in jobs:
                self._run_alone(job)
            return
        self._record(len(posts), time.perf_counter() - start)
        offset = 0
        for job in jobs:
            job.future.set_result(rows[offset : offset + len(job.posts)])
            offset += len(job.posts)

    def _run_alone(self, job: _Job) -> None:
        try:
            rows = self.annotate(list(job.posts))
        except Exception:  # noqa: BLE001
            self._fail(job)
            return
        job.future.set_result(rows)

    def _fail(self, job: _Job) -> None:
        logger.exception("The pipeline failed on a request of %d post(s)", len(job.posts))
        self.stats.failed += 1
        job.future.set_exception(PipelineFailed("the pipeline failed on this request"))

    def _record(self, posts: int, seconds: float) -> None:
        self.stats.batches += 1
        self.stats.posts += posts
        self._seconds_per_post = 0.8 * self._seconds_per_post + 0.2 * (seconds / max(posts, 1))
