"""Cooperative cancellation of long sampling loops: a server stops work nobody waits for any more.

A caller runs sampling inside `cancel_when(check)`; every sampler calls `checkpoint()` once a step (a
diffusion step, a pixel, a token), which raises `Cancelled` as soon as `check()` returns a reason. Outside
`cancel_when` a checkpoint costs one context-variable lookup and does nothing, so the CLI and training
sample exactly as before. A context variable (not an argument) keeps each family's change to one line.
"""

from __future__ import annotations

import contextlib
import contextvars
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

T = TypeVar("T")

Check = Callable[[], "str | None"]  # a reason to stop, or None to go on

_current: contextvars.ContextVar[Check | None] = contextvars.ContextVar("noisecraft_cancel", default=None)


class Cancelled(Exception):
    """Sampling stopped at a cancellation point because its caller gave up (time limit, client gone)."""


@contextlib.contextmanager
def cancel_when(check: Check | None) -> Iterator[None]:
    """Run the block with `check` consulted at every `checkpoint()` (None: never cancelled)."""
    token = _current.set(check)
    try:
        yield
    finally:
        _current.reset(token)


def checkpoint() -> None:
    """A cancellation point: raise `Cancelled` if the current check gives a reason to stop."""
    check = _current.get()
    if check is not None and (reason := check()):
        raise Cancelled(reason)


def deadline(seconds: float) -> Check:
    """A check that fires `seconds` from now."""
    end = time.monotonic() + seconds
    return lambda: f"past the time limit of {seconds:g} s" if time.monotonic() > end else None


def run_within(seconds: float, fn: Callable[..., T], *args: Any) -> T:
    """`fn(*args)`, cancelled at its next cancellation point once `seconds` have passed (for a worker thread)."""
    with cancel_when(deadline(seconds)):
        return fn(*args)
