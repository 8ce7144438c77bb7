"""One sampling thread for the whole server, and the batching of requests that arrive together.

Requests queue up while the thread samples; when it is free it takes the oldest request and every queued
request for the same model with the same settings (seeds, sizes and classes may differ; token models also
need the same prompt), up to `max_images` samples, and serves them with one `generate_batch` call. With
batching off it serves one request at a time. One thread because a CPU is already busy with one call:
two at once would only share it.
"""

from __future__ import annotations

import threading
from collections import deque
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from noisecraft.models.base import GenerativeModel
from noisecraft.sampling import generate_batch


@dataclass
class Job:
    model_name: str
    model: GenerativeModel
    num: int
    seed: int
    condition: Any
    options: dict[str, Any]
    future: Future = field(default_factory=Future)

    @property
    def key(self) -> tuple:
        """Jobs with equal keys can share one sampling call."""
        options = tuple(sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in self.options.items()))
        prompt = self.condition if self.model.modality == "tokens" else None
        return (self.model_name, options, prompt)


class Batcher:
    def __init__(self, batching: bool = True, max_images: int = 64) -> None:
        self.batching, self.max_images = batching, max_images
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
            self.queue.append(job)
            self.ready.notify()
        return job.future

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
        return [job for job in batch if job.future.set_running_or_notify_cancel()]  # drop timed-out ones

    def _work(self) -> None:
        while (batch := self._next_batch()) is not None:
            if not batch:
                continue
            first = batch[0]
            try:
                results = generate_batch(first.model, [(j.num, j.seed, j.condition) for j in batch], **first.options)
            except Exception as e:  # the requests learn why; the thread serves on
                for job in batch:
                    job.future.set_exception(e)
                continue
            finally:
                self.calls += 1
            for job, result in zip(batch, results):
                job.future.set_result(result)
