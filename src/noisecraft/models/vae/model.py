"""Convolutional variational autoencoder (Kingma & Welling 2014).

Encode x to a Gaussian q(z|x), decode a sample z to Bernoulli pixel probabilities p(x|z).
Training minimises the negative ELBO = reconstruction (nats) + beta * KL(q(z|x) || N(0, I)).
Sampling decodes z ~ N(0, T^2 I); `log_likelihood` is the importance-weighted bound (Burda et al. 2016).
"""

from __future__ import annotations

import math
from typing import Any, Literal

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn

from noisecraft.data.base import DataSpec
from noisecraft.errors import ConfigError
from noisecraft.models.base import GenerativeModel, ModelConfig, StepOutput
from noisecraft.models.registry import register
from noisecraft.nn.shapes import downsampled_size


class VAEConfig(ModelConfig):
    family: Literal["vae"] = "vae"
    latent_dim: int = Field(16, ge=1, le=4096)
    channels: list[int] = Field([32, 64], min_length=1, max_length=6, description="one stride-2 stage each")
    hidden_dim: int = Field(256, ge=1, description="fully connected layer between the conv stack and z")
    beta: float = Field(1.0, ge=0, description="weight of the KL term (1 = the true ELBO)")
    likelihood: Literal["bernoulli"] = "bernoulli"


@register
class VAE(GenerativeModel):
    family = "vae"
    config_class = VAEConfig
    sample_options = ("temperature",)

    def __init__(self, config: VAEConfig, spec: DataSpec) -> None:
        super().__init__(config, spec)
        c = spec.shape[0]
        chs = config.channels
        self.feature_shape = (chs[-1], *downsampled_size(spec.shape, len(chs)))
        flat = math.prod(self.feature_shape)

        down: list[nn.Module] = [nn.Conv2d(c, chs[0], 3, padding=1), nn.SiLU()]
        for c_in, c_out in zip([chs[0], *chs[:-1]], chs):
            down += [nn.Conv2d(c_in, c_out, 4, stride=2, padding=1), nn.SiLU()]
        self.encoder = nn.Sequential(*down, nn.Flatten(), nn.Linear(flat, config.hidden_dim), nn.SiLU(),
                                     nn.Linear(config.hidden_dim, 2 * config.latent_dim))

        up: list[nn.Module] = [nn.Linear(config.latent_dim, config.hidden_dim), nn.SiLU(),
                               nn.Linear(config.hidden_dim, flat), nn.SiLU(), nn.Unflatten(1, self.feature_shape)]
        for c_in, c_out in zip(chs[::-1], [*chs[::-1][1:], chs[0]]):
            up += [nn.ConvTranspose2d(c_in, c_out, 4, stride=2, padding=1), nn.SiLU()]
        self.decoder = nn.Sequential(*up, nn.Conv2d(chs[0], c, 3, padding=1))  # Bernoulli logits

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mean, log_var = self.encoder(x).chunk(2, dim=1)
        return mean, log_var.clamp(-30.0, 20.0)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(z)

    def forward(self, batch: dict[str, torch.Tensor], optimizer: str = "model") -> StepOutput:
        x = batch["x"]
        mean, log_var = self.encode(x)
        z = mean + torch.randn_like(mean) * (0.5 * log_var).exp()
        recon = F.binary_cross_entropy_with_logits(self.decode(z), x, reduction="none").flatten(1).sum(1)
        kl = 0.5 * (mean.pow(2) + log_var.exp() - 1.0 - log_var).sum(1)
        loss = (recon + self.config.beta * kl).mean()
        return StepOutput(loss, {"recon": recon.mean().detach(), "kl": kl.mean().detach()})

    @torch.no_grad()
    def sample(
        self, n: int, condition: Any = None, generator: torch.Generator | None = None, temperature: float = 1.0,
    ) -> torch.Tensor:
        if condition is not None:
            raise ConfigError("--class: this VAE is unconditional: it takes no condition")
        z = torch.randn(n, self.config.latent_dim, generator=generator) * temperature
        return torch.sigmoid(self.decode(z.to(self.device)))

    @torch.no_grad()
    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """Decode the posterior mean: what the model keeps of x."""
        mean, _ = self.encode(x.to(self.device))
        return torch.sigmoid(self.decode(mean))

    @torch.no_grad()
    def log_likelihood(
        self, x: torch.Tensor, num_samples: int = 64, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """Importance-weighted lower bound on log p(x), nats per example; tightens as num_samples grows.

        Exact for binary x (e.g. dynamically binarized MNIST); for grey levels it scores x under the
        Bernoulli cross-entropy, which is not a normalised density.
        """
        x = x.to(self.device)
        mean, log_var = self.encode(x)
        std = (0.5 * log_var).exp()
        log_w = []
        for _ in range(num_samples):
            eps = torch.randn(mean.shape, generator=generator).to(self.device)
            z = mean + std * eps
            log_px_z = -F.binary_cross_entropy_with_logits(self.decode(z), x, reduction="none").flatten(1).sum(1)
            log_pz = -0.5 * (z.pow(2) + math.log(2 * math.pi)).sum(1)
            log_qz = -0.5 * (eps.pow(2) + math.log(2 * math.pi) + log_var).sum(1)
            log_w.append(log_px_z + log_pz - log_qz)
        return torch.logsumexp(torch.stack(log_w), dim=0) - math.log(num_samples)
