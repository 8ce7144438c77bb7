"""The figure `noisecraft train` prints after an MNIST run: real digits read as digits, noise and scrambled
digits do not, and the command prints what `run_readability` computes."""

from __future__ import annotations

import re
from pathlib import Path

import torch

from noisecraft.cli.main import run
from noisecraft.data import load_mnist
from noisecraft.evaluate.readability import readability, run_readability


def test_real_digits_read_as_digits_and_noise_does_not():
    data = load_mnist("test")
    real = data.images[:640].float() / 255
    figure = readability(real)
    assert figure.readable >= 0.85 and figure.classes == 10 and figure.num == 640
    assert figure.summary() == f"640 samples: {figure.readable:.0%} read as digits, 10/10 classes"
    scrambled = real.flatten(1)[:, torch.randperm(784, generator=torch.Generator().manual_seed(0))].view_as(real)
    noise = torch.rand(64, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    for fake in (readability(scrambled), readability(noise)):  # the same ink, no digit; noise
        # an over-confident classifier may call them all one thing: the class count is what gives them away
        assert fake.classes <= 3 and not (fake.readable >= 0.75 and fake.classes == 10)


def test_train_prints_the_figure_run_readability_computes(capsys, tmp_path: Path):
    out = tmp_path / "run"
    assert run(["train", "mnist-vae-tiny", "--quiet", "--out", str(out), "--set", "model.conditional=true",
                "--max-steps", "4"]) == 0
    printed = capsys.readouterr().out
    figure, grid = run_readability(out)
    line = next(line for line in printed.splitlines() if "read as digits" in line)
    assert line == f"{figure.summary()} (shipped MNIST classifier, p >= 0.9): {grid}"
    assert re.match(r"16 samples: \d+% read as digits, \d+/10 classes", line) and grid.is_file()
    assert run_readability(out) == (figure, grid)  # the same pixels each time


def test_no_figure_for_data_that_are_not_mnist_digits(tmp_path: Path):
    for data in ("{dataset: mnist, image_size: 16}", "{dataset: digits}", "{dataset: mnist, channels: 3}"):
        (tmp_path / "samples").mkdir(exist_ok=True)
        (tmp_path / "samples" / "step-000001.png").write_bytes(b"")
        (tmp_path / "config.yaml").write_text(f"data: {data}\ntrain: {{seed: 0, num_samples: 4}}\n")
        assert run_readability(tmp_path) is None
