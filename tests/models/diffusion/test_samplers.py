"""The samplers against a denoiser known in closed form.

For data x0 ~ N(mu, s^2) per pixel and x = x0 + sigma * eps the best denoiser is
D(x, sigma) = mu + s^2 / (s^2 + sigma^2) (x - mu), and the probability-flow ODE keeps
z = (x - mu) / sqrt(s^2 + sigma^2) constant, so it maps x_T at sigma_max to exactly
mu + (x_T - mu) * s / sqrt(s^2 + sigma_max^2).
"""

import math

import pytest
import torch

from noisecraft.errors import ConfigError
from noisecraft.models.diffusion import SAMPLERS, function_evaluations, steps_for_nfe
from noisecraft.models.diffusion.samplers import ALIASES, ddim, ddpm, karras_sigmas, sampler_name

MU, S, SIGMA_MAX = 0.3, 0.5, 80.0
DETERMINISTIC = ["ddim", "heun", "dpmpp-2m"]


def denoiser(x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    return MU + S**2 / (S**2 + sigma**2) * (x - MU)


def start() -> torch.Tensor:
    """x_T spread over +-3 standard deviations of the marginal at sigma_max."""
    return MU + torch.linspace(-3, 3, 61, dtype=torch.float64) * math.sqrt(S**2 + SIGMA_MAX**2)


def exact(x_T: torch.Tensor) -> torch.Tensor:
    return MU + (x_T - MU) * S / math.sqrt(S**2 + SIGMA_MAX**2)


def error(name: str, steps: int) -> float:
    x_T = start()
    out = SAMPLERS[name](denoiser, x_T.clone(), karras_sigmas(steps, 0.002, SIGMA_MAX).double())
    return (out - exact(x_T)).abs().max().item()


def test_karras_sigmas():
    sigmas = karras_sigmas(10, 0.002, 80.0)
    assert len(sigmas) == 11 and sigmas[-1] == 0
    assert sigmas[0] == pytest.approx(80.0) and sigmas[-2] == pytest.approx(0.002)
    assert (sigmas[1:] < sigmas[:-1]).all()
    roots = sigmas[:-1].double() ** (1 / 7)
    assert torch.allclose(roots.diff(), roots.diff()[0].expand(9), rtol=1e-4)  # uniform in sigma^(1/rho)


@pytest.mark.parametrize("eta", [0.0, 0.5, 1.0])
def test_one_ancestral_step_is_the_ddpm_posterior(eta):
    """From x at sigma = 2 to sigma_next = 1 with D(x) = d: x_next ~ N(d + (x - d) sigma_down / sigma, sigma_up^2),
    sigma_up^2 = eta^2 sigma_next^2 (sigma^2 - sigma_next^2) / sigma^2; eta = 1 is DDPM's posterior
    q(x_next | x, x0 = d), mean d + (x - d) sigma_next^2 / sigma^2, variance 3/4."""
    d, x = 0.2, torch.full((40000,), 1.5, dtype=torch.float64)
    out = ddim(lambda x, sigma: torch.full_like(x, d), x, torch.tensor([2.0, 1.0], dtype=torch.float64),
               torch.Generator().manual_seed(0), eta=eta)
    up2 = eta**2 * 1.0 * (4.0 - 1.0) / 4.0
    assert out.mean().item() == pytest.approx(d + (1.5 - d) * math.sqrt(1.0 - up2) / 2.0, abs=0.01)
    assert out.var().item() == pytest.approx(up2, abs=0.01)
    if eta == 1.0:
        assert out.mean().item() == pytest.approx(d + (1.5 - d) / 4.0, abs=0.01)


@pytest.mark.parametrize("name", DETERMINISTIC)
def test_deterministic_samplers_converge_to_the_ode_solution(name):
    coarse, fine = error(name, 5), error(name, 100)
    assert fine < 0.05  # the answers span about +-1.5
    assert fine < coarse / 10


def test_second_order_samplers_beat_euler():
    euler = {steps: error("ddim", steps) for steps in (10, 20, 100)}
    for name in ("heun", "dpmpp-2m"):
        errors = {steps: error(name, steps) for steps in (10, 20, 100)}
        assert errors[10] < euler[10] and errors[20] < euler[20] / 2
        # 5x the steps: 2nd order cuts the error ~25x, Euler (1st order) ~5x
        assert errors[100] / errors[20] < 0.08, name
    assert euler[100] / euler[20] > 0.12


def test_deterministic_samplers_ignore_the_generator():
    x_T = start()
    sigmas = karras_sigmas(6, 0.002, SIGMA_MAX).double()
    for name in DETERMINISTIC:
        a = SAMPLERS[name](denoiser, x_T.clone(), sigmas, torch.Generator().manual_seed(0))
        b = SAMPLERS[name](denoiser, x_T.clone(), sigmas, torch.Generator().manual_seed(1))
        assert torch.equal(a, b), name


def marginal_start(n: int = 20000) -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    return MU + torch.randn(n, generator=g, dtype=torch.float64) * math.sqrt(S**2 + SIGMA_MAX**2)


@pytest.mark.parametrize("sampler, eta", [(ddpm, None), (ddim, 0.5)])
def test_stochastic_sampling_draws_the_data_distribution(sampler, eta):
    """Ancestral sampling's error is first order (about -6% in std at 100 steps for this data, the
    variance lost by plugging in the posterior mean), so use enough steps to see the right answer."""
    out = sampler(denoiser, marginal_start(), karras_sigmas(500, 0.002, SIGMA_MAX).double(),
                  torch.Generator().manual_seed(1), eta=eta)
    assert out.mean().item() == pytest.approx(MU, abs=0.015)
    assert out.std().item() == pytest.approx(S, rel=0.03)
    coarse = sampler(denoiser, marginal_start(), karras_sigmas(20, 0.002, SIGMA_MAX).double(),
                     torch.Generator().manual_seed(1), eta=eta)
    assert abs(coarse.std().item() - S) > abs(out.std().item() - S)  # and it converges with steps


def test_ddpm_adds_noise_and_depends_on_the_generator():
    sigmas = karras_sigmas(10, 0.002, SIGMA_MAX).double()
    a = ddpm(denoiser, marginal_start(100), sigmas, torch.Generator().manual_seed(1))
    b = ddpm(denoiser, marginal_start(100), sigmas, torch.Generator().manual_seed(1))
    c = ddpm(denoiser, marginal_start(100), sigmas, torch.Generator().manual_seed(2))
    deterministic = ddim(denoiser, marginal_start(100), sigmas)
    assert torch.equal(a, b) and not torch.allclose(a, c)
    assert not torch.allclose(a, deterministic)


def test_ddim_with_eta_one_is_ddpm():
    sigmas = karras_sigmas(12, 0.002, SIGMA_MAX).double()
    a = ddpm(denoiser, marginal_start(500), sigmas, torch.Generator().manual_seed(5))
    b = ddim(denoiser, marginal_start(500), sigmas, torch.Generator().manual_seed(5), eta=1.0)
    assert torch.equal(a, b)
    assert torch.equal(a, ddpm(denoiser, marginal_start(500), sigmas, torch.Generator().manual_seed(5), eta=1.0))


@pytest.mark.parametrize("name", list(SAMPLERS))
@pytest.mark.parametrize("steps", [1, 2, 7])
def test_function_evaluations_counts_the_denoiser_calls(name, steps):
    calls = []

    def counting(x, sigma):
        calls.append(float(sigma))
        assert sigma > 0  # the denoiser is never asked about sigma = 0
        return denoiser(x, sigma)

    SAMPLERS[name](counting, start(), karras_sigmas(steps, 0.002, SIGMA_MAX).double(), torch.Generator().manual_seed(0))
    assert len(calls) == function_evaluations(name, steps)
    assert function_evaluations(name, steps) == (2 * steps - 1 if name == "heun" else steps)


@pytest.mark.parametrize("name", list(SAMPLERS))
@pytest.mark.parametrize("nfe", [1, 2, 9, 10, 39])
def test_steps_for_nfe_is_the_most_steps_within_budget(name, nfe):
    steps = steps_for_nfe(name, nfe)
    assert function_evaluations(name, steps) <= nfe
    assert function_evaluations(name, steps + 1) > nfe


def test_steps_for_nfe_values():
    assert [steps_for_nfe("heun", n) for n in (1, 2, 3, 9, 10)] == [1, 1, 2, 5, 5]
    assert [steps_for_nfe("dpmpp-2m", n) for n in (1, 10)] == [1, 10]
    assert function_evaluations("heun", 10) == 19 and function_evaluations("ddpm", 10) == 10
    assert function_evaluations("HEUN", 3) == 5  # aliases and case are resolved first


@pytest.mark.parametrize("alias, name", [("euler", "ddim"), ("euler-ancestral", "ddpm"), ("dpm++2m", "dpmpp-2m"),
                                         ("DPM-Solver++", "dpmpp-2m"), ("Heun", "heun"), ("DDIM", "ddim"),
                                         ("dpmpp-2m", "dpmpp-2m")])
def test_sampler_name_resolves_aliases(alias, name):
    assert sampler_name(alias) == name


def test_every_alias_names_a_sampler():
    assert ALIASES and all(target in SAMPLERS for target in ALIASES.values())


@pytest.mark.parametrize("name", ["plms", "", "dpm"])
def test_unknown_sampler_is_a_config_error(name):
    with pytest.raises(ConfigError, match="--sampler: unknown sampler"):
        sampler_name(name)


def test_eta_that_a_sampler_cannot_honour_is_a_config_error():
    sigmas = karras_sigmas(3, 0.002, SIGMA_MAX).double()
    with pytest.raises(ConfigError, match="--eta.*ddim"):
        ddpm(denoiser, start(), sigmas, eta=0.5)
    for name in ("heun", "dpmpp-2m"):
        with pytest.raises(ConfigError, match=f"--eta: the {name} sampler is deterministic"):
            SAMPLERS[name](denoiser, start(), sigmas, eta=0.3)
        SAMPLERS[name](denoiser, start(), sigmas, eta=0.0)  # eta = 0 is what they do anyway
