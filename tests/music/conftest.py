"""Music fixtures: JSB pieces from ../shared/datasets and tiny trained runs (a few steps, a few windows)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from noisecraft.data.music import Music
from noisecraft.utils.paths import shared_dataset


def jsb_json(name: str) -> dict:
    return json.loads((shared_dataset("jsb-chorales") / name).read_text())


@pytest.fixture(scope="session")
def chorale() -> Music:
    """The first 4 bars of the first JSB test chorale, 16th-note SATB."""
    voices = np.asarray(jsb_json("Jsb16thSeparated.json")["test"][0])[:64]
    return Music.from_voices(voices, 4, name="jsb-test-0").with_key()


def tiny_run(tmp_path_factory, recipe: str, *sets: str):
    from noisecraft.cli.main import run

    out = tmp_path_factory.mktemp(recipe) / "run"
    args = ["train", recipe, "--out", str(out), "--max-steps", "3", "--quiet",
            "--set", "data.limit=3", "--set", "train.batch_size=4", "--set", "train.checkpoint_every=3",
            "--set", "train.sample_every=1000", "--set", "train.log_every=1", "--set", "train.tensorboard=false"]
    for s in sets:
        args += ["--set", s]
    assert run(args) == 0
    return out


@pytest.fixture(scope="session")
def coconet_run(tmp_path_factory):
    return tiny_run(tmp_path_factory, "jsb-coconet", "model.channels=4", "model.depth=2", "data.music.window=32")


@pytest.fixture(scope="session")
def frames_run(tmp_path_factory):
    return tiny_run(tmp_path_factory, "jsb-frames", "model.channels=4", "model.depth=2", "data.music.window=8",
                    "model.nll_blocks=2")


@pytest.fixture(scope="session")
def transformer_run(tmp_path_factory):
    return tiny_run(tmp_path_factory, "jsb-transformer", "model.dim=16", "model.layers=1", "model.heads=2",
                    "data.block_size=32")
