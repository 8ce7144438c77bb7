"""The GAN family: shapes at several sizes, every loss, the collapse guard, conditioning, model folders, CLI."""

from __future__ import annotations

import json

import pytest
import torch

import noisecraft
from noisecraft.cli.main import run
from noisecraft.data.base import DataSpec
from noisecraft.errors import ConfigError, TrainingDiverged
from noisecraft.models.gan import GAN, GANConfig


def make(size: int = 28, channels: int = 1, classes: int | None = None, **kw) -> GAN:
    torch.manual_seed(0)
    spec = DataSpec(shape=(channels, size, size), num_classes=classes, class_names=[str(i) for i in range(classes)] if classes else None)
    return GAN(GANConfig(latent_dim=8, width=16, conditional=classes is not None, **kw), spec)


@pytest.mark.parametrize("size,channels", [(28, 1), (32, 3), (64, 3), (8, 1)])
def test_samples_have_the_data_shape_and_range(size, channels):
    gan = make(size, channels).eval()
    x = gan.sample(5, generator=torch.Generator().manual_seed(1))
    assert x.shape == (5, channels, size, size) and 0 <= x.min() and x.max() <= 1
    assert torch.equal(x, gan.sample(5, generator=torch.Generator().manual_seed(1)))
    assert not torch.equal(x, gan.sample(5, generator=torch.Generator().manual_seed(2)))
    assert gan.discriminator(x * 2 - 1, None).shape == (5,)


@pytest.mark.parametrize("loss", ["non-saturating", "hinge", "wgan-gp"])
def test_the_discriminator_learns_a_fixed_batch(loss):
    gan = make(loss=loss, r1_gamma=1.0 if loss == "hinge" else 0.0)
    batch = {"x": torch.rand(16, 1, 28, 28).round()}
    opt = torch.optim.Adam(gan.discriminator.parameters(), lr=1e-3)
    losses = []
    for _ in range(15):
        torch.manual_seed(0)  # the same fake batch each step: only the discriminator changes
        out = gan(batch, optimizer="discriminator")
        opt.zero_grad()
        out.loss.backward()
        opt.step()
        losses.append(out.loss.item())
    assert losses[-1] < losses[0] and all(torch.isfinite(torch.tensor(losses)))
    assert set(out.logs) >= {"d_real", "d_fake"} and ("r1" in out.logs) == (loss == "hinge")
    g = gan(batch, optimizer="generator").loss
    g.backward()
    assert all(p.grad is not None for p in gan.generator.parameters())


def test_gradient_penalty_is_zero_for_a_unit_slope_critic():
    gan = make(8, loss="wgan-gp")
    w = torch.zeros(1, 8, 8)
    w[0, 0, 0] = 1.0  # the critic x -> x[0, 0, 0]: gradient norm exactly 1 everywhere

    class Critic(torch.nn.Module):
        def forward(self, x, labels):
            return (x * w).flatten(1).sum(1)

    gan.discriminator = Critic()
    real, fake = torch.rand(4, 1, 8, 8), torch.rand(4, 1, 8, 8)
    assert gan.gradient_penalty(real, fake, None).item() == pytest.approx(0.0, abs=1e-10)
    w[0, 0, 0] = 3.0
    assert gan.gradient_penalty(real, fake, None).item() == pytest.approx(4.0)


def test_a_collapsed_discriminator_stops_training_clearly():
    gan = make(collapse_loss=1e9, collapse_steps=3)  # every step counts as collapsed
    batch = {"x": torch.rand(4, 1, 28, 28)}
    gan(batch, optimizer="discriminator")
    gan(batch, optimizer="discriminator")
    with pytest.raises(TrainingDiverged, match="won outright for 3 steps"):
        gan(batch, optimizer="discriminator")
    fine = make(collapse_steps=3)
    for _ in range(5):
        fine(batch, optimizer="discriminator")
    assert int(fine.collapsed_steps) == 0


def test_class_conditioning():
    gan = make(classes=10).eval()
    g = torch.Generator
    threes = gan.sample(4, condition="3", generator=g().manual_seed(0))
    assert not torch.equal(threes, gan.sample(4, condition=7, generator=g().manual_seed(0)))
    x = torch.rand(4, 1, 28, 28)
    assert not torch.equal(gan.discriminator(x, torch.tensor([0, 0, 0, 0])), gan.discriminator(x, torch.tensor([1, 1, 1, 1])))
    with pytest.raises(ConfigError, match="--class 12: out of range"):
        gan.sample(2, condition=12)
    with pytest.raises(ConfigError, match="unconditional"):
        make().sample(2, condition=3)


def test_configs_that_cannot_work_are_errors():
    with pytest.raises(ConfigError, match="has no labels"):
        GAN(GANConfig(conditional=True), DataSpec(shape=(1, 28, 28)))
    with pytest.raises(ConfigError, match="square images"):
        GAN(GANConfig(), DataSpec(shape=(1, 28, 32)))
    with pytest.raises(ConfigError, match="cannot be halved"):
        GAN(GANConfig(), DataSpec(shape=(1, 7, 7)))


def test_model_folder_round_trip(tmp_path):
    gan = make(classes=10).eval()
    loaded = noisecraft.load(gan.save_pretrained(tmp_path / "m"))
    sample = lambda m: m.sample(6, condition=None, generator=torch.Generator().manual_seed(0))  # noqa: E731
    assert torch.equal(sample(loaded), sample(gan))


def test_cli_trains_samples_resumes_and_stops_a_collapse(tmp_path, capsys):
    out = tmp_path / "gan"
    assert run(["train", "mnist-gan-cond-tiny", "--out", str(out), "--quiet"]) == 0
    header = (out / "metrics.csv").read_text().splitlines()[0]
    assert {"loss_discriminator", "loss_generator", "d_real", "d_fake"} <= set(header.split(","))
    assert (out / "samples" / "step-000012.png").is_file()
    assert run(["sample", str(out), "--num", "4", "--class", "5", "--temperature", "0.5", "--out", str(tmp_path / "s.png")]) == 0
    assert run(["train", "mnist-gan-cond-tiny", "--out", str(out), "--resume", "--set", "train.max_steps=15", "--quiet"]) == 0
    assert json.loads((out / "model" / "config.json").read_text())["family"] == "gan"
    capsys.readouterr()
    bad = tmp_path / "collapse"
    code = run(["train", "mnist-gan-tiny", "--out", str(bad), "--quiet", "--set", "model.collapse_loss=1e9",
                "--set", "model.collapse_steps=4", "--set", "train.checkpoint_every=2"])
    err = capsys.readouterr().err
    assert code == 2 and "error: the discriminator won outright for 4 steps" in err
    assert (bad / "checkpoints" / "last").is_dir()
