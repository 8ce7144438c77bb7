"""DDPM noise schedules as alpha_bar(t) = signal variance after t steps, and their sigma = noise/signal ratio."""

from __future__ import annotations

import math

import torch


def alphas_cumprod(schedule: str, timesteps: int) -> torch.Tensor:
    """alpha_bar_t for t = 0..T-1 (float64).

    linear: betas from 1e-4 to 0.02 scaled to T = 1000 (Ho et al. 2020), clipped at 0.999 (short T).
    cosine: alpha_bar = cos^2((t/T + s) / (1 + s) * pi/2), betas clipped at 0.999 (Nichol & Dhariwal 2021).
    """
    if schedule == "linear":
        scale = 1000 / timesteps
        betas = torch.linspace(scale * 1e-4, scale * 0.02, timesteps, dtype=torch.float64).clamp(max=0.999)
    elif schedule == "cosine":
        s = 0.008
        f = torch.cos((torch.arange(timesteps + 1, dtype=torch.float64) / timesteps + s) / (1 + s) * math.pi / 2) ** 2
        betas = (1 - f[1:] / f[:-1]).clamp(max=0.999)
    else:
        raise ValueError(f"unknown noise schedule {schedule!r}")
    return torch.cumprod(1 - betas, dim=0)


def sigmas_of(alpha_bar: torch.Tensor) -> torch.Tensor:
    """x_t = sqrt(ab) (x0 + sigma eps) with sigma = sqrt((1 - ab) / ab): the variance-exploding view."""
    return ((1 - alpha_bar) / alpha_bar).sqrt()
