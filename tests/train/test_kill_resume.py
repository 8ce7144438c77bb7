"""kill -9 at 20 random moments of a training run (in a step, in a checkpoint write, in a rename), then
`--resume`: every resumed run ends bit-identical to the run that was never interrupted.

Runs are processes forked from a server that imported noisecraft and torch once (multiprocessing's
forkserver), so each costs its training, not Python's start-up: a tiny VAE, 20 steps, a checkpoint every 2.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import random
import signal
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from noisecraft.cli.main import run as cli

KILLS = int(os.environ.get("NOISECRAFT_KILLS", "20"))
ARGS = ["train", "mnist-vae-tiny", "--quiet", "--max-steps", "20", "--set", "train.checkpoint_every=2",
        "--set", "train.sample_every=1000", "--set", "train.log_every=3", "--set", "data.limit=256"]


@pytest.fixture(scope="module")
def forks():
    """A fork server of its own, with one torch thread per run (two spin-waiting threads on a busy machine
    make a 2-second run take a minute)."""
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["torch", "torch._dynamo", "accelerate", "matplotlib.pyplot", "noisecraft.cli.main",
                                "noisecraft.train.loop", "noisecraft.models.vae"])
    threads = os.environ.get("OMP_NUM_THREADS")
    os.environ["OMP_NUM_THREADS"] = "1"  # read by the fork server when it starts, with the first run
    yield ctx
    if threads is None:
        os.environ.pop("OMP_NUM_THREADS")
    else:
        os.environ["OMP_NUM_THREADS"] = threads


def start(ctx, out: Path, *extra: str):
    process = ctx.Process(target=cli, args=([*ARGS, "--out", str(out), *extra],))
    process.start()
    return process


def finish(ctx, out: Path, *extra: str) -> None:
    process = start(ctx, out, *extra)
    process.join(300)
    assert process.exitcode == 0, f"{out}: exit code {process.exitcode}"


def final(out: Path) -> dict[str, torch.Tensor]:
    last = out / "checkpoints" / "last"
    state = json.loads((last / "trainer_state.json").read_text())
    tensors = {f"{f}:{k}": v for f in ("model.safetensors", "ema.safetensors") for k, v in load_file(str(last / f)).items()}
    return {**tensors, "step": torch.tensor(state["step"]), "examples": torch.tensor(state["examples_seen"])}


def first_checkpoint(process, out: Path) -> Path:
    """Wait for the run's first checkpoint: from there on there is something to resume."""
    state_file = out / "checkpoints" / "last" / "trainer_state.json"
    deadline = time.monotonic() + 120
    while not state_file.exists() and process.is_alive() and time.monotonic() < deadline:
        time.sleep(0.002)
    return state_file


def test_kill_9_at_random_moments_then_resume_ends_bit_identical(forks, tmp_path):
    whole = tmp_path / "whole"
    process = start(forks, whole)
    first_checkpoint(process, whole)
    began = time.monotonic()
    process.join(300)
    length = time.monotonic() - began  # from the first checkpoint to the end
    assert process.exitcode == 0
    reference = final(whole)
    rng = random.Random(19)
    killed_at: list[int] = []
    for attempt in range(3 * KILLS):
        if len(killed_at) == KILLS:
            break
        out = tmp_path / f"killed-{attempt}"
        process = start(forks, out)
        state_file = first_checkpoint(process, out)
        time.sleep(rng.uniform(0, length))
        process.kill()
        process.join(60)
        if process.exitcode != -signal.SIGKILL:
            continue  # it finished first: draw another moment
        killed_at.append(json.loads(state_file.read_text())["step"] if state_file.exists() else -1)
        finish(forks, out, "--resume")
        resumed = final(out)
        assert resumed.keys() == reference.keys()
        different = [k for k in reference if not torch.equal(resumed[k], reference[k])]
        assert not different, f"kill {len(killed_at)} (last checkpoint at step {killed_at[-1]}): {different[:3]} differ"
    assert len(killed_at) == KILLS, f"only {len(killed_at)} of {3 * KILLS} runs were killed before they finished"
    assert len(set(killed_at)) > 1  # moments spread over the run, not one spot
