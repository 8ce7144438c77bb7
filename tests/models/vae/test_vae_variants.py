"""VAE variants: conditional, Gaussian likelihood, interpolation, the IWAE bound tightening with k."""

from __future__ import annotations

import math

import pytest
import torch

from noisecraft.cli.main import run
from noisecraft.data.base import DataSpec
from noisecraft.errors import ConfigError
from noisecraft.models.latent import slerp
from noisecraft.models.vae import VAE, VAEConfig

SPEC = DataSpec(shape=(1, 28, 28), num_classes=10, class_names=[str(i) for i in range(10)])


def make(spec=SPEC, **config) -> VAE:
    torch.manual_seed(0)
    return VAE(VAEConfig(**{"latent_dim": 4, "channels": [8, 16], "hidden_dim": 32, **config}), spec)


def test_the_class_reaches_encoder_and_decoder():
    model = make(conditional=True).eval()
    x = torch.rand(4, 1, 28, 28)
    m3, _ = model.encode(x, torch.full((4,), 3))
    m5, _ = model.encode(x, torch.full((4,), 5))
    assert not torch.allclose(m3, m5)
    g = torch.Generator
    assert not torch.equal(model.sample(4, condition="3", generator=g().manual_seed(0)),
                           model.sample(4, condition="5", generator=g().manual_seed(0)))
    out = model({"x": x, "y": torch.tensor([0, 1, 2, 3])})
    assert torch.isfinite(out.loss)
    with pytest.raises(ConfigError, match="need labels"):
        model({"x": x})
    with pytest.raises(ConfigError, match="has no labels"):
        make(DataSpec(shape=(1, 28, 28)), conditional=True)
    ll = model.log_likelihood((x > 0.5).float(), num_samples=4, labels=torch.tensor([0, 1, 2, 3]))
    assert ll.shape == (4,) and (ll < 0).all()


def test_gaussian_likelihood_is_a_normalised_density_term():
    model = make(likelihood="gaussian")
    x = torch.rand(3, 1, 28, 28)
    out = torch.rand(3, 1, 28, 28)
    scale = model.log_scale.exp().item()
    by_hand = torch.distributions.Normal(out, scale).log_prob(x).flatten(1).sum(1)
    assert torch.allclose(model.log_px_z(out, x), by_hand, atol=1e-3)
    assert model.likelihood_data == "dequantized"
    samples = model.sample(2, generator=torch.Generator().manual_seed(0))
    assert samples.min() >= 0 and samples.max() <= 1
    loss = model({"x": x}).loss
    loss.backward()
    assert model.log_scale.grad is not None


def test_the_iwae_bound_tightens_as_k_grows():
    model = make(DataSpec(shape=(1, 28, 28)))
    x = (torch.rand(32, 1, 28, 28) > 0.7).float()
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(30):  # a little training: q(z|x) moves off the prior, so the bounds separate
        loss = model({"x": x}).loss
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    bounds = {k: model.log_likelihood(x, num_samples=k, generator=torch.Generator().manual_seed(0)).mean().item()
              for k in (1, 10, 200)}
    assert bounds[1] < bounds[10] < bounds[200] < 0


def test_slerp_ends_and_norms():
    a, b = torch.randn(2, 64, generator=torch.Generator().manual_seed(0))
    path = slerp(a, b, torch.linspace(0, 1, 9))
    assert torch.allclose(path[0], a, atol=1e-5) and torch.allclose(path[-1], b, atol=1e-5)
    norms = path.norm(dim=1)
    linear = torch.stack([(1 - t) * a + t * b for t in torch.linspace(0, 1, 9)]).norm(dim=1)
    assert norms[4] > linear[4]  # the middle of a straight line is atypically short


def test_interpolate_draws_a_strip(tmp_path):
    model = make(DataSpec(shape=(1, 28, 28))).eval()
    strip = model.interpolate(7, generator=torch.Generator().manual_seed(0))
    assert strip.shape == (7, 1, 28, 28)
    steps = (strip[1:] - strip[:-1]).abs().mean(dim=(1, 2, 3))
    assert (steps > 0).all()
    out = tmp_path / "run"
    assert run(["train", "mnist-vae-tiny", "--out", str(out), "--quiet", "--set", "train.max_steps=4"]) == 0
    assert run(["sample", str(out), "--interpolate", "--num", "6", "--out", str(tmp_path / "strip.png")]) == 0
    from PIL import Image

    width, height = Image.open(tmp_path / "strip.png").size
    assert width > 5 * height  # one row of six


def test_recipes_for_the_variants_resolve():
    from noisecraft.models.registry import load_recipe

    assert load_recipe("mnist-vae-beta").model.beta == 4.0
    assert load_recipe("mnist-vae-cond").model.conditional is True
    assert math.isclose(load_recipe("mnist-vae").model.beta, 1.0)
