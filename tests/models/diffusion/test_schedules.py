"""DDPM noise schedules: alpha_bar(t), and the sigma of the variance-exploding view."""

import math

import pytest
import torch

from noisecraft.models.diffusion.schedules import alphas_cumprod, sigmas_of


def cosine_formula(timesteps: int, s: float = 0.008) -> torch.Tensor:
    """Nichol & Dhariwal: alpha_bar(t) = f(t) / f(0), f(t) = cos^2((t/T + s) / (1 + s) * pi/2); entry t is step t+1."""
    t = torch.arange(1, timesteps + 1, dtype=torch.float64)
    f = lambda t: torch.cos((t / timesteps + s) / (1 + s) * math.pi / 2) ** 2  # noqa: E731
    return f(t) / f(torch.zeros(1, dtype=torch.float64))


@pytest.mark.parametrize("schedule, timesteps", [
    ("linear", 1000), ("linear", 50), ("linear", 21),
    ("linear", 20), ("linear", 10), ("linear", 2),  # betas scaled by 1000/T pass 1 here: clipped at 0.999
    ("cosine", 1000), ("cosine", 50), ("cosine", 2),
])
def test_alpha_bar_is_strictly_decreasing_within_zero_and_one(schedule, timesteps):
    alpha_bar = alphas_cumprod(schedule, timesteps)
    assert alpha_bar.shape == (timesteps,) and alpha_bar.dtype == torch.float64
    assert (alpha_bar > 0).all() and (alpha_bar < 1).all()
    assert (alpha_bar.diff() < 0).all()


def test_linear_schedule_starts_at_one_minus_beta_one():
    alpha_bar = alphas_cumprod("linear", 1000)
    assert alpha_bar[0].item() == pytest.approx(1 - 1e-4, abs=1e-12)
    assert (alpha_bar[1] / alpha_bar[0]).item() == pytest.approx(1 - (1e-4 + (0.02 - 1e-4) / 999), abs=1e-12)
    assert (alpha_bar[-1] / alpha_bar[-2]).item() == pytest.approx(1 - 0.02, abs=1e-12)
    assert alpha_bar[-1].item() == pytest.approx(4.04e-5, rel=0.01)  # nearly pure noise at T


def test_linear_schedule_scales_its_betas_to_the_number_of_steps():
    # betas scaled by 1000 / T keep the end points comparable: beta_1 = 1e-4 * 1000 / T
    assert alphas_cumprod("linear", 100)[0].item() == pytest.approx(1 - 1e-3, abs=1e-12)
    assert alphas_cumprod("linear", 100)[-1].item() == pytest.approx(alphas_cumprod("linear", 1000)[-1].item(), rel=0.5)


@pytest.mark.parametrize("timesteps", [1000, 50])
def test_cosine_schedule_follows_the_cos_squared_formula(timesteps):
    alpha_bar = alphas_cumprod("cosine", timesteps)
    formula = cosine_formula(timesteps)
    # equal until the last step, where the formula reaches 0 and beta is clipped at 0.999
    assert torch.allclose(alpha_bar[:-1], formula[:-1], rtol=1e-9, atol=0)
    assert formula[-1].item() == pytest.approx(0.0, abs=1e-30)
    assert alpha_bar[-1].item() == pytest.approx(alpha_bar[-2].item() * 0.001, rel=1e-9)


def test_unknown_schedule_is_an_error():
    with pytest.raises(ValueError, match="unknown noise schedule 'sigmoid'"):
        alphas_cumprod("sigmoid", 10)


@pytest.mark.parametrize("schedule", ["linear", "cosine"])
def test_sigmas_of_inverts_alpha_bar(schedule):
    alpha_bar = alphas_cumprod(schedule, 1000)
    sigma = sigmas_of(alpha_bar)
    assert torch.allclose(1 / (1 + sigma**2), alpha_bar, rtol=1e-10)
    assert (sigma.diff() > 0).all() and sigma[0] > 0  # more noise at every step
    # x_t = sqrt(ab) x0 + sqrt(1 - ab) eps = sqrt(ab) (x0 + sigma eps)
    assert torch.allclose(alpha_bar.sqrt() * sigma, (1 - alpha_bar).sqrt(), rtol=1e-10)


def test_sigmas_of_known_values():
    assert torch.allclose(sigmas_of(torch.tensor([0.5, 0.2, 0.8])), torch.tensor([1.0, 2.0, 0.5]))
