"""Shared fixtures: tiny recipes that train in seconds on 2 CPU cores."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
REPO = Path(__file__).resolve().parents[1]


def tiny_overrides(**train) -> list[str]:
    """--set items for a few-step run of mnist-vae-tiny."""
    values = {"max_steps": 6, "checkpoint_every": 3, "sample_every": 3, "log_every": 2, **train}
    return [f"train.{k}={v}" for k, v in values.items()]


@pytest.fixture
def tiny():
    from noisecraft.config import load_recipe

    def make(*extra: str, **train):
        return load_recipe("mnist-vae-tiny", [*tiny_overrides(**train), *extra])

    return make
