"""One sampling thread for the whole server, and the batching of requests that arrive together.

Requests queue up while the thread samples; when it is free it takes the oldest request and every queued
request for the same model with the same settings (seeds, sizes and classes may differ; token models also
need the same prompt), up to `max_images` samples, and serves them with one `generate_batch` call. With
batching off it serves one request at a time. One thread because a CPU is already busy with one call:
two at once would only share it.

The queue is bounded (`QueueFull` past `max_queue` requests: the server answers 429), and a call stops at the
sampler's next step once none of its requests is wanted any more (past its deadline, or given up by its
client): the sampling thread never works for nobody.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from noisecraft.models.base import GenerativeModel
from noisecraft.sampling import generate_batch


class QueueFull(Exception):
    """The sampling queue holds its limit of requests (HTTP 429: come back later)."""


@dataclass
class Job:
    model_name: str
    model: GenerativeModel
    num: int
    seed: int
    condition: Any
    options: dict[str, Any]
    deadline: float | None = None  # time.monotonic() past which nobody waits for the result
    future: Future = field(default_factory=Future)
    abandoned: bool = False

    def abandon(self) -> None:
        """The caller gave up: drop the job if queued, stop its sampling at the next step if running."""
        self.abandoned = True
        self.future.cancel()

    @property
    def wanted(self) -> bool:
        return not self.abandoned and (self.deadline is None or time.monotonic() < self.deadline)

    @property
    def key(self) -> tuple:
        """Jobs with equal keys can share one sampling call."""
        options = tuple(sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in self.options.items()))
        prompt = self.condition if self.model.modality == "tokens" else None
        return (self.model_name, options, prompt)


class Batcher:
    def __init__(self, batching: bool = True, max_images: int = 64, max_queue: int = 64) -> None:
        self.batching, self.max_images, self.max_queue = batching, max_images, max_queue
        self.queue: deque[Job] = deque()
        self.ready = threading.Condition()
        self.calls = 0  # sampling calls made (one per batch)
        self.closed = False
        self.thread = threading.Thread(target=self._work, name="noisecraft-sampler", daemon=True)
        self.thread.start()

    def submit(self, job: Job) -> Future:
        with self.ready:
            if self.closed:
                job.future.cancel()
                return job.future
            self._drop_unwanted()
            if len(self.queue) >= self.max_queue:
                raise QueueFull(f"the server's queue is full ({self.max_queue} requests waiting): try again shortly")
            self.queue.append(job)
            self.ready.notify()
        return job.future

    def depth(self) -> int:
        """Requests waiting (those given up are dropped first)."""
        with self.ready:
            self._drop_unwanted()
            return len(self.queue)

    def _drop_unwanted(self) -> None:
        for job in [job for job in self.queue if not job.wanted]:
            self.queue.remove(job)
            job.future.cancel()

    def close(self, timeout: float = 60.0) -> None:
        """Cancel what is queued, let the call under way finish, stop the thread (a thread still inside torch
        when Python exits aborts the process)."""
        with self.ready:
            self.closed = True
            while self.queue:
                self.queue.popleft().future.cancel()
            self.ready.notify()
        self.thread.join(timeout)

    def _next_batch(self) -> list[Job] | None:
        with self.ready:
            while not self.queue and not self.closed:
                self.ready.wait()
            if self.closed:
                return None
            batch = [self.queue.popleft()]
            if self.batching:
                total = batch[0].num
                for job in list(self.queue):
                    if job.key == batch[0].key and total + job.num <= self.max_images:
                        self.queue.remove(job)
                        batch.append(job)
                        total += job.num
        return [job for job in batch if job.wanted and job.future.set_running_or_notify_cancel()]  # drop given-up ones

    def _work(self) -> None:
        while (batch := self._next_batch()) is not None:
            if not batch:
                continue
            first = batch[0]

            def unwanted(batch: list[Job] = batch) -> str | None:
                return None if any(job.wanted for job in batch) else "no request of this call is waiting for it any more"

            try:
                results = generate_batch(first.model, [(j.num, j.seed, j.condition) for j in batch], cancel=unwanted,
                                         **first.options)
            except Exception as e:  # the requests learn why (Cancelled: they had gone); the thread serves on
                for job in batch:
                    job.future.set_exception(e)
                continue
            finally:
                self.calls += 1
            for job, result in zip(batch, results):
                job.future.set_result(result)
