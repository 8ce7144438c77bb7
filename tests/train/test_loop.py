"""The shared training loop: run folder contents, atomic checkpoints, exact resume after a real kill, DDP."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from safetensors.torch import load_file

import noisecraft
from noisecraft.errors import CheckpointError, ConfigError
from noisecraft.train.loop import TrainingDiverged, train

HERE = Path(__file__).parent


def test_a_run_folder_has_everything(tiny, tmp_path: Path):
    run = train(tiny("train.tensorboard=true"), tmp_path / "run", progress=False)
    root = run.root
    config = yaml.safe_load((root / "config.yaml").read_text())
    assert config["model"]["family"] == "vae" and config["train"]["max_steps"] == 6
    assert sorted(p.name for p in (root / "samples").iterdir()) == ["step-000003.png", "step-000006.png"]
    assert sorted(p.name for p in (root / "model").iterdir()) == ["config.json", "model.safetensors"]
    last = root / "checkpoints" / "last"
    assert json.loads((last / "trainer_state.json").read_text())["step"] == 6
    assert {"model.safetensors", "optimizer.bin", "ema.safetensors", "random_states_0.pkl"} <= {p.name for p in last.iterdir()}
    rows = list(csv.DictReader((root / "metrics.csv").open()))
    assert [int(r["step"]) for r in rows] == [2, 4, 6]
    assert {"loss", "recon", "kl", "lr", "images_per_s", "grad_norm"} <= set(rows[0])
    assert (root / "loss.png").stat().st_size > 1000
    assert list((root / "tensorboard").rglob("events.out.tfevents.*"))
    # the exported model is the EMA: it differs from the raw weights in the checkpoint
    exported = load_file(str(root / "model" / "model.safetensors"))
    raw = load_file(str(last / "model.safetensors"))
    assert exported.keys() == raw.keys() and any(not torch.equal(exported[k], raw[k]) for k in raw)
    model = noisecraft.load(root)
    assert model.sample(2).shape == (2, 1, 28, 28)


def test_an_existing_run_is_never_overwritten_and_resume_checks_the_recipe(tiny, tmp_path: Path):
    train(tiny(), tmp_path / "run", progress=False)
    with pytest.raises(ConfigError, match="already holds a run: pass --resume"):
        train(tiny(), tmp_path / "run", progress=False)
    with pytest.raises(ConfigError, match="differs from .*config.yaml at model.latent_dim"):
        train(tiny("model.latent_dim=5", max_steps=9), tmp_path / "run", resume=True, progress=False)
    with pytest.raises(CheckpointError, match="not a run folder"):
        train(tiny(), tmp_path / "other", resume=True, progress=False)


def test_a_resumed_run_may_be_given_a_larger_time_budget(tiny, tmp_path: Path):
    from noisecraft.train.checkpoint import read_loop_state

    run = train(tiny("train.max_seconds=0.5", max_steps=1000000), tmp_path / "run", progress=False)
    first = read_loop_state(run.last_checkpoint)
    assert first.train_seconds >= 0.5
    train(tiny("train.max_seconds=1.5", max_steps=1000000), tmp_path / "run", resume=True, progress=False)
    second = read_loop_state(run.last_checkpoint)
    assert second.step > first.step and second.train_seconds >= 1.5
    assert yaml.safe_load((run.root / "config.yaml").read_text())["train"]["max_seconds"] == 1.5


def test_a_failed_checkpoint_write_leaves_the_last_one_intact(tiny, tmp_path: Path, monkeypatch):
    from accelerate import Accelerator

    train(tiny(), tmp_path / "run", progress=False)
    last = tmp_path / "run" / "checkpoints" / "last"
    before = {p.name: p.read_bytes() for p in last.iterdir()}

    def crash(self, output_dir, **kwargs):
        Path(output_dir).mkdir(parents=True, exist_ok=True)
        (Path(output_dir) / "model.safetensors").write_bytes(b"half a file")
        raise OSError("disk full")

    monkeypatch.setattr(Accelerator, "save_state", crash)
    with pytest.raises(OSError, match="disk full"):
        train(tiny(max_steps=9), tmp_path / "run", resume=True, progress=False)
    assert {p.name: p.read_bytes() for p in last.iterdir()} == before
    monkeypatch.undo()
    # a crash between the two renames of a checkpoint swap leaves last.old, which resume puts back
    os.replace(last, last.with_name("last.old"))
    run = train(tiny(max_steps=9), tmp_path / "run", resume=True, progress=False)
    assert json.loads((run.last_checkpoint / "trainer_state.json").read_text())["step"] == 9


def test_a_nan_loss_stops_the_run_and_keeps_the_last_good_checkpoint(tiny, tmp_path: Path, monkeypatch):
    from noisecraft.models.vae import VAE

    forward = VAE.forward
    calls = {"n": 0}

    def poisoned(self, batch, optimizer="model"):
        calls["n"] += 1
        out = forward(self, batch, optimizer)
        if calls["n"] == 5:
            out.loss = out.loss * float("nan")
        return out

    monkeypatch.setattr(VAE, "forward", poisoned)
    with pytest.raises(TrainingDiverged, match="loss became nan at step 5.*checkpoints/last"):
        train(tiny(), tmp_path / "run", progress=False)
    state = json.loads((tmp_path / "run" / "checkpoints" / "last" / "trainer_state.json").read_text())
    assert state["step"] == 3
    weights = load_file(str(tmp_path / "run" / "checkpoints" / "last" / "model.safetensors"))
    assert all(torch.isfinite(w).all() for w in weights.values())


def _cli(*args: str, env: dict | None = None) -> list[str]:
    return [sys.executable, "-m", "noisecraft.cli.main", *args]


def _env(**extra: str) -> dict:
    env = {**os.environ, **extra}
    env.pop("WORLD_SIZE", None)
    return env


def test_resume_after_a_real_kill_ends_with_the_same_weights(tmp_path: Path):
    args = ["train", "mnist-vae-tiny", "--quiet", "--max-steps", "300", "--set", "train.checkpoint_every=20",
            "--set", "train.sample_every=1000", "--set", "train.log_every=10"]
    whole, killed = tmp_path / "whole", tmp_path / "killed"
    subprocess.run(_cli(*args, "--out", str(whole)), check=True, env=_env(), capture_output=True)

    proc = subprocess.Popen(_cli(*args, "--out", str(killed)), env=_env(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    state_file = killed / "checkpoints" / "last" / "trainer_state.json"
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        try:
            if json.loads(state_file.read_text())["step"] >= 40:
                break
        except (OSError, ValueError):
            pass
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    assert proc.wait() == -signal.SIGKILL, "the run finished before it could be killed"
    stopped_at = json.loads(state_file.read_text())["step"]
    assert 40 <= stopped_at < 300

    subprocess.run(_cli(*args, "--out", str(killed), "--resume"), check=True, env=_env(), capture_output=True)
    for name in ("model.safetensors", "ema.safetensors"):
        a = load_file(str(whole / "checkpoints" / "last" / name))
        b = load_file(str(killed / "checkpoints" / "last" / name))
        assert a.keys() == b.keys()
        for key in a:
            assert torch.equal(a[key], b[key]), f"{name}:{key} differs after resume from step {stopped_at}"
    rows = list(csv.DictReader((killed / "metrics.csv").open()))
    assert [int(r["step"]) for r in rows] == list(range(10, 301, 10))  # no duplicated rows from the killed run


def test_two_cpu_processes_train_on_different_shards_and_write_one_checkpoint(tmp_path: Path):
    records = tmp_path / "records"
    records.mkdir()
    recipe = tmp_path / "probe.yaml"
    recipe.write_text(yaml.safe_dump({
        "name": "probe",
        "data": {"dataset": "mnist", "limit": 256},
        "model": {"family": "shard_probe:ShardProbe", "record_dir": str(records)},
        "train": {"batch_size": 16, "max_steps": 8, "checkpoint_every": 4, "sample_every": 8, "log_every": 4,
                  "tensorboard": False},
    }))
    out = tmp_path / "run"
    env = _env(PYTHONPATH=os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]))
    result = subprocess.run(_cli("train", str(recipe), "--devices", "2", "--out", str(out), "--quiet"),
                            env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    seen = {rank: (records / f"rank{rank}.txt").read_text().split() for rank in (0, 1)}
    assert len(seen[0]) == len(seen[1]) == 8 * 16
    assert not set(seen[0]) & set(seen[1]), "both processes trained on the same examples"
    assert len(set(seen[0]) | set(seen[1])) == 256  # one epoch, every example once
    last = out / "checkpoints" / "last"
    assert {"random_states_0.pkl", "random_states_1.pkl", "model.safetensors"} <= {p.name for p in last.iterdir()}
    assert json.loads((last / "trainer_state.json").read_text())["examples_seen"] == 256
    assert not list((out / "checkpoints").glob(".*tmp*"))


def test_any_image_folder_trains_in_rgb(tiny, tmp_path: Path):
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    for label in ("cats", "dogs"):
        (tmp_path / "imgs" / label).mkdir(parents=True)
        for i in range(20):
            pixels = rng.integers(0, 255, size=(20 + i, 24, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(tmp_path / "imgs" / label / f"{i}.png")
    recipe = tiny("data.dataset=image_folder", f"data.image_folder={tmp_path / 'imgs'}", "data.image_size=16", "data.labels=true",
                  "data.limit=null", batch_size=8)
    run = train(recipe, tmp_path / "run", progress=False)
    model = noisecraft.load(run.root)
    assert model.spec.shape == (3, 16, 16) and model.spec.class_names == ["cats", "dogs"]
    assert model.sample(2).shape == (2, 3, 16, 16)


def test_bf16_mixed_precision_trains_and_a_later_run_may_use_fp32(tiny, tmp_path: Path):
    run = train(tiny("train.precision=bf16-mixed"), tmp_path / "bf16", progress=False)
    rows = list(csv.DictReader((run.metrics).open()))
    assert all(np.isfinite(float(r["loss"])) for r in rows)
    train(tiny(), tmp_path / "fp32", progress=False)  # same process, other precision: no Accelerate state clash


def test_a_wall_clock_budget_stops_the_run_with_its_outputs(tiny, tmp_path: Path):
    run = train(tiny("train.max_seconds=1.0", "train.lr_schedule=cosine", max_steps=100000, checkpoint_every=100000,
                     sample_every=100000), tmp_path / "run", progress=False)
    state = json.loads((run.last_checkpoint / "trainer_state.json").read_text())
    assert state["train_seconds"] >= 1.0 and 0 < state["step"] < 100000  # stopped by the clock, not the steps
    assert (run.samples / f"step-{state['step']:06d}.png").is_file() and (run.model / "config.json").is_file()
    rows = list(csv.DictReader(run.metrics.open()))
    assert int(rows[-1]["step"]) == state["step"] and float(rows[-1]["lr"]) < 0.5 * 2e-3  # cosine ran on the clock
