"""Samplers: solvers of the reverse diffusion, all written against one denoiser D(x, sigma) -> estimate of x0.

Working in the variance-exploding form x = x0 + sigma * eps (Karras et al. 2022) lets one solver serve every
training objective (the model converts its DDPM eps/v/x0 network to this form) and every noise schedule
(a sampler only sees the decreasing list `sigmas`, ending in 0).

- `ddpm`: ancestral sampling (Ho et al. 2020). In this form the DDPM posterior step is exactly the
  "ancestral" step below with eta = 1.
- `ddim`: the same step with eta in [0, 1]; eta = 0 (default) is deterministic (Song et al. 2021).
- `heun`: EDM's 2nd-order deterministic solver (Karras et al. 2022, Alg. 1); 2 evaluations per step but the
  last, so NFE = 2 * steps - 1.
- `dpmpp-2m`: DPM-Solver++(2M) (Lu et al. 2022), multistep 2nd order, one evaluation per step.
"""

from __future__ import annotations

from typing import Callable

import torch

from noisecraft.errors import ConfigError
from noisecraft.models.noise import randn
from noisecraft.utils.cancel import checkpoint

Denoiser = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def karras_sigmas(steps: int, sigma_min: float, sigma_max: float, rho: float = 7.0) -> torch.Tensor:
    """EDM's step sizes: uniform in sigma^(1/rho), dense near sigma_min; a final 0 appended."""
    ramp = torch.linspace(0, 1, steps, dtype=torch.float64)
    lo, hi = sigma_min ** (1 / rho), sigma_max ** (1 / rho)
    sigmas = (hi + ramp * (lo - hi)) ** rho
    return torch.cat([sigmas, sigmas.new_zeros(1)]).float()


def _noise_like(x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    return randn(x.shape, generator).to(x.device, x.dtype)


def ancestral(denoise: Denoiser, x: torch.Tensor, sigmas: torch.Tensor, generator: torch.Generator | None = None,
              eta: float = 1.0) -> torch.Tensor:
    """Step to sigma_down deterministically, then add fresh noise of size sigma_up:
    sigma_up^2 = eta^2 * sigma_next^2 (sigma^2 - sigma_next^2) / sigma^2, sigma_down^2 = sigma_next^2 - sigma_up^2."""
    for sigma, sigma_next in zip(sigmas[:-1], sigmas[1:]):
        checkpoint()
        denoised = denoise(x, sigma)
        sigma_up = min(float(sigma_next), eta * float((sigma_next**2 * (sigma**2 - sigma_next**2) / sigma**2).sqrt()))
        sigma_down = (sigma_next**2 - sigma_up**2) ** 0.5
        x = denoised + (x - denoised) * (sigma_down / sigma)
        if sigma_up > 0:
            x = x + _noise_like(x, generator) * sigma_up
    return x


def ddpm(denoise: Denoiser, x: torch.Tensor, sigmas: torch.Tensor, generator: torch.Generator | None = None,
         eta: float | None = None) -> torch.Tensor:
    if eta not in (None, 1.0):
        raise ConfigError("--eta: DDPM ancestral sampling is eta = 1; use --sampler ddim for other values")
    return ancestral(denoise, x, sigmas, generator, eta=1.0)


def ddim(denoise: Denoiser, x: torch.Tensor, sigmas: torch.Tensor, generator: torch.Generator | None = None,
         eta: float | None = None) -> torch.Tensor:
    return ancestral(denoise, x, sigmas, generator, eta=0.0 if eta is None else eta)


def heun(denoise: Denoiser, x: torch.Tensor, sigmas: torch.Tensor, generator: torch.Generator | None = None,
         eta: float | None = None) -> torch.Tensor:
    _deterministic("heun", eta)
    for sigma, sigma_next in zip(sigmas[:-1], sigmas[1:]):
        checkpoint()
        d = (x - denoise(x, sigma)) / sigma
        x_next = x + (sigma_next - sigma) * d
        if sigma_next > 0:  # trapezoidal correction
            d_next = (x_next - denoise(x_next, sigma_next)) / sigma_next
            x_next = x + (sigma_next - sigma) * (d + d_next) / 2
        x = x_next
    return x


def dpmpp_2m(denoise: Denoiser, x: torch.Tensor, sigmas: torch.Tensor, generator: torch.Generator | None = None,
             eta: float | None = None) -> torch.Tensor:
    """Exponential integrator in lambda = -log(sigma), with the data prediction extrapolated linearly from
    the last two steps (first order on the first and the final step)."""
    _deterministic("dpmpp-2m", eta)
    previous, h_previous = None, None
    for sigma, sigma_next in zip(sigmas[:-1], sigmas[1:]):
        checkpoint()
        denoised = denoise(x, sigma)
        if sigma_next == 0:
            x = denoised
            break
        h = (sigma / sigma_next).log()  # lambda_next - lambda
        estimate = denoised
        if previous is not None:
            r = h_previous / h
            estimate = (1 + 1 / (2 * r)) * denoised - (1 / (2 * r)) * previous
        x = (sigma_next / sigma) * x - torch.expm1(-h) * estimate
        previous, h_previous = denoised, h
    return x


def _deterministic(name: str, eta: float | None) -> None:
    if eta not in (None, 0.0):
        raise ConfigError(f"--eta: the {name} sampler is deterministic (eta = 0); use --sampler ddim for eta > 0")


SAMPLERS: dict[str, Callable[..., torch.Tensor]] = {"ddpm": ddpm, "ddim": ddim, "heun": heun, "dpmpp-2m": dpmpp_2m}
ALIASES = {"dpm++2m": "dpmpp-2m", "dpm-solver++": "dpmpp-2m", "euler-ancestral": "ddpm", "euler": "ddim"}


def unknown_sampler(name: str) -> str | None:
    """Why `name` names no sampler, or None if it names one (alias or canonical, any case)."""
    if ALIASES.get(name.lower(), name.lower()) in SAMPLERS:
        return None
    return f"unknown sampler {name.lower()!r} (choose from: {', '.join(SAMPLERS)})"


def sampler_name(name: str) -> str:
    problem = unknown_sampler(name)
    if problem:
        raise ConfigError(f"--sampler: {problem}")
    return ALIASES.get(name.lower(), name.lower())


def function_evaluations(sampler: str, steps: int) -> int:
    """Network evaluations (NFE) a sampler spends on `steps` steps (before guidance doubles the batch)."""
    return 2 * steps - 1 if sampler_name(sampler) == "heun" else steps


def steps_for_nfe(sampler: str, nfe: int) -> int:
    """The most steps that spend at most `nfe` evaluations."""
    return max(1, (nfe + 1) // 2) if sampler_name(sampler) == "heun" else nfe
