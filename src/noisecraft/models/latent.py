"""Walking a Gaussian latent space: what `noisecraft sample --interpolate` draws for latent-variable families."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def slerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Spherical interpolation between vectors a and b at fractions t -> [len(t), dim]. Unlike a straight
    line, every point keeps a typical norm for N(0, I), so the middle images are as sharp as the ends."""
    omega = torch.arccos(torch.clamp(F.cosine_similarity(a, b, dim=0), -1 + 1e-7, 1 - 1e-7))
    t = t[:, None]
    return (torch.sin((1 - t) * omega) * a + torch.sin(t * omega) * b) / torch.sin(omega)


def latent_path(n: int, dim: int, generator: torch.Generator | None, temperature: float = 1.0) -> torch.Tensor:
    """n latents on the great circle between two random draws from N(0, T^2 I)."""
    a, b = torch.randn(2, dim, generator=generator) * temperature
    return slerp(a, b, torch.linspace(0, 1, n))
