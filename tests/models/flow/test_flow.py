"""Normalizing flow: every layer and the whole map invert exactly, log-determinants equal brute-force
Jacobians, the likelihood is the change of variables computed by brute force, and the family's life
through the CLI."""

from __future__ import annotations

import json
import math

import pytest
import torch

from noisecraft.cli.main import run
from noisecraft.data.base import DataSpec
from noisecraft.errors import ConfigError
from noisecraft.models.base import GenerativeModel
from noisecraft.models.flow import FlowConfig, NormalizingFlow
from noisecraft.models.flow.model import ActNorm, AffineCoupling, FlowStep, InvertibleConv, squeeze, unsqueeze


def perturbed(module: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """Random weights everywhere (zero-initialised couplings would be the identity) and ActNorm initialised."""
    torch.manual_seed(seed)
    for p in module.parameters():
        p.data.add_(torch.randn_like(p) * 0.3)
    for m in module.modules():
        if isinstance(m, ActNorm):
            m.initialized.fill_(1)
    return module.double().eval()


def make(shape=(1, 4, 4), seed=0, **config) -> NormalizingFlow:
    torch.manual_seed(seed)
    config = {"levels": 2, "steps_per_level": 2, "hidden": 6, **config}
    return perturbed(NormalizingFlow(FlowConfig(**config), DataSpec(shape=shape)), seed)


def brute_logdet(f, x: torch.Tensor) -> torch.Tensor:
    """log|det J| of f at one example x, from the full Jacobian."""
    jac = torch.autograd.functional.jacobian(lambda v: f(v.view(1, *x.shape)).flatten(), x.flatten())
    return torch.linalg.slogdet(jac)[1]


LAYERS = [lambda: ActNorm(4), lambda: InvertibleConv(4), lambda: AffineCoupling(4, 5), lambda: AffineCoupling(3, 5),
          lambda: FlowStep(4, 5)]


@pytest.mark.parametrize("make_layer", LAYERS)
def test_each_layer_inverts_and_its_logdet_is_the_jacobians(make_layer):
    torch.manual_seed(1)
    layer = perturbed(make_layer())
    channels = next(p for p in layer.parameters()).shape[1] if isinstance(layer, ActNorm) else (
        layer.log_s.numel() if isinstance(layer, InvertibleConv) else layer.layers[0].bias.shape[1] if isinstance(layer, FlowStep)
        else layer.half + layer.net[-1].out_channels // 2)
    x = torch.randn(3, channels, 2, 3, dtype=torch.float64)
    y, logdet = layer(x)
    torch.testing.assert_close(layer.inverse(y), x, atol=1e-10, rtol=0)
    for i in range(3):
        assert logdet[i].item() == pytest.approx(brute_logdet(lambda v: layer(v)[0], x[i]).item(), abs=1e-8)


def test_squeeze_is_a_permutation_and_unsqueeze_undoes_it():
    x = torch.arange(2 * 3 * 4 * 6, dtype=torch.float64).view(2, 3, 4, 6)
    assert squeeze(x).shape == (2, 12, 2, 3)
    assert torch.equal(unsqueeze(squeeze(x)), x)
    assert sorted(squeeze(x).flatten().tolist()) == sorted(x.flatten().tolist())


def test_actnorm_sets_itself_from_the_first_training_batch_only():
    layer = ActNorm(3).train()
    x = torch.randn(64, 3, 4, 4) * 5 + 2
    y, _ = layer(x)
    assert y.mean((0, 2, 3)).abs().max() < 1e-5 and (y.std((0, 2, 3)) - 1).abs().max() < 1e-3
    before = layer.log_scale.detach().clone()
    layer(x * 10)
    assert torch.equal(layer.log_scale.detach(), before) and layer.initialized == 1


@pytest.mark.parametrize("shape, levels", [((1, 4, 4), 2), ((2, 4, 4), 1), ((1, 8, 8), 3)])
def test_the_whole_flow_inverts(shape, levels):
    model = make(shape=shape, levels=levels)
    x = torch.rand(5, *shape, dtype=torch.float64) * 0.98 + 0.01
    latents, _ = model.encode(x)
    assert sum(z[0].numel() for z in latents) == math.prod(shape)
    torch.testing.assert_close(model.decode(latents), x, atol=1e-4, rtol=0)


def test_the_likelihood_is_the_change_of_variables_by_brute_force():
    model = make(shape=(1, 4, 4))
    x = torch.rand(3, 1, 4, 4, dtype=torch.float64) * 0.98 + 0.01

    def flat_latents(v: torch.Tensor) -> torch.Tensor:
        return torch.cat([z.flatten(1) for z in model.encode(v)[0]], 1)

    z = flat_latents(x)
    for i in range(3):
        by_hand = -0.5 * (z[i].pow(2) + math.log(2 * math.pi)).sum() + brute_logdet(flat_latents, x[i])
        assert model.log_likelihood(x[i : i + 1]).item() == pytest.approx(by_hand.item(), abs=1e-6)


def test_the_density_holds_the_mass_the_sampler_puts_inside_the_unit_box():
    """The logit transform maps [0, 1] to a bounded box of the flow's space, so the density on [0, 1]^D
    integrates to the prior mass of that box (< 1: reported NLLs are, if anything, pessimistic). The
    integral on a grid and the share of samples that land inside (not clamped) must agree."""
    torch.manual_seed(3)
    model = perturbed(NormalizingFlow(FlowConfig(levels=1, steps_per_level=2, hidden=4), DataSpec(shape=(1, 2, 2))))
    grid = (torch.arange(24, dtype=torch.float64) + 0.5) / 24
    points = torch.cartesian_prod(grid, grid, grid, grid).view(-1, 1, 2, 2)
    integral = model.log_likelihood(points).exp().sum().item() / 24**4
    samples = model.sample(20000, generator=torch.Generator().manual_seed(0))
    inside = ((samples > 0) & (samples < 1)).flatten(1).all(1).double().mean().item()
    assert 0.2 < inside < 0.95  # a non-trivial case
    assert integral == pytest.approx(inside, abs=0.03)


def test_sampling_shapes_seeds_and_temperature():
    torch.manual_seed(0)
    model = NormalizingFlow(FlowConfig(levels=2, steps_per_level=2, hidden=6), DataSpec(shape=(1, 8, 8))).eval()
    a = model.sample(4, generator=torch.Generator().manual_seed(0))
    assert a.shape == (4, 1, 8, 8) and a.min() >= 0 and a.max() <= 1
    assert torch.equal(a, model.sample(4, generator=torch.Generator().manual_seed(0)))
    assert not torch.equal(a, model.sample(4, generator=torch.Generator().manual_seed(1)))
    cold = model.sample(3, temperature=0)
    assert torch.equal(cold[0], cold[1]) and torch.equal(cold[1], cold[2])
    torch.testing.assert_close(cold[:1], model.decode([torch.zeros(1, *s) for s in model.latent_shapes]))
    with pytest.raises(ConfigError, match="unconditional"):
        model.sample(2, condition=3)


def test_samples_stay_finite_where_a_coupling_scale_underflows():
    """Off the data a coupling's sigmoid scale can reach 0 and its inverse divide by it: once a value overflows,
    inf - inf gives NaN and the sample (and any FID on it) is lost. Samples must stay finite numbers in [0, 1]."""
    torch.manual_seed(0)
    model = NormalizingFlow(FlowConfig(levels=2, steps_per_level=2, hidden=6), DataSpec(shape=(1, 8, 8))).eval()
    with torch.no_grad():  # every coupling's raw scale -200: sigmoid underflows to exactly 0 in float32
        for steps in model.blocks:
            for step in steps:
                step.layers[2].net[-1].weight[1::2].zero_()
                step.layers[2].net[-1].bias[1::2] = -200.0
    assert torch.sigmoid(torch.tensor(-198.0)) == 0
    x = model.sample(8, generator=torch.Generator().manual_seed(0))
    assert torch.isfinite(x).all() and x.min() >= 0 and x.max() <= 1


def test_training_steps_lower_the_bits_per_dim_of_a_fixed_batch(fit):
    torch.manual_seed(0)
    model = NormalizingFlow(FlowConfig(levels=2, steps_per_level=2, hidden=16), DataSpec(shape=(1, 8, 8))).train()
    x = torch.rand(1, 1, 8, 8, generator=torch.Generator().manual_seed(0)).expand(32, -1, -1, -1)  # one image, fresh noise
    losses = fit(model, {"x": x}, steps=40, lr=3e-3)
    assert losses[-1] < 0.8 * losses[0]


def test_a_model_folder_round_trip_keeps_actnorm_initialised(tmp_path):
    torch.manual_seed(0)
    model = NormalizingFlow(FlowConfig(levels=2, steps_per_level=2, hidden=6), DataSpec(shape=(1, 8, 8))).train()
    model({"x": torch.rand(16, 1, 8, 8)})  # the data-dependent init runs here
    model.eval()
    loaded = GenerativeModel.from_pretrained(model.save_pretrained(tmp_path / "m"))
    x = torch.rand(4, 1, 8, 8) * 0.98 + 0.01
    torch.testing.assert_close(loaded.log_likelihood(x), model.log_likelihood(x))
    loaded.train()
    loaded({"x": torch.rand(16, 1, 8, 8) * 100})  # an initialised ActNorm is not reset by new data
    torch.testing.assert_close(loaded.eval().log_likelihood(x), model.log_likelihood(x))


def test_a_side_that_does_not_halve_often_enough_is_an_error():
    with pytest.raises(ConfigError, match="model.levels: 3 levels"):
        NormalizingFlow(FlowConfig(levels=3), DataSpec(shape=(1, 28, 28)))


def test_cli_trains_samples_and_scores_bits_per_dim(tmp_path):
    out = tmp_path / "run"
    assert run(["train", "mnist-flow-tiny", "--out", str(out), "--quiet"]) == 0
    assert run(["sample", str(out), "--num", "4", "--temperature", "0.7", "--out", str(tmp_path / "s.png")]) == 0
    assert run(["evaluate", str(out), "--metrics", "nll", "--num", "64"]) == 0
    record = json.loads((out / "metrics.json").read_text())
    metrics = record["metrics"]
    assert 0 < metrics["bits_per_dim"] < 8
    assert 0 < metrics["nll_nats_per_image"] and metrics["bits_per_dim"] == pytest.approx(metrics["nll_nats_per_image"] / (64 * math.log(2)))
    assert record["likelihood"]["data"] == "dequantized"
