"""Convolutional variational autoencoder (Kingma & Welling 2014), beta-VAE (Higgins et al. 2017) and
conditional VAE (Sohn et al. 2015).

Encode x (and its class) to a Gaussian q(z|x), decode a sample z (and the class) to p(x|z): Bernoulli
pixel probabilities, or a Gaussian with one learned scale. Training minimises the negative ELBO =
reconstruction (nats) + beta * KL(q(z|x) || N(0, I)). Sampling decodes z ~ N(0, T^2 I); `log_likelihood`
is the importance-weighted bound (Burda et al. 2016); `interpolate` walks the latent space.
"""

from __future__ import annotations

import math
from typing import Any, Literal

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn

from noisecraft.data.base import DataSpec
from noisecraft.models.base import GenerativeModel, ModelConfig, StepOutput
from noisecraft.models.noise import randn
from noisecraft.models.latent import latent_path
from noisecraft.models.registry import register
from noisecraft.nn.shapes import downsampled_size


class VAEConfig(ModelConfig):
    family: Literal["vae"] = "vae"
    latent_dim: int = Field(16, ge=1, le=4096)
    channels: list[int] = Field([32, 64], min_length=1, max_length=6, description="one stride-2 stage each")
    hidden_dim: int = Field(256, ge=1, description="fully connected layer between the conv stack and z")
    beta: float = Field(1.0, ge=0, description="weight of the KL term (1 = the true ELBO; > 1: beta-VAE)")
    likelihood: Literal["bernoulli", "gaussian"] = Field(
        "bernoulli", description="p(x|z): Bernoulli pixels (binary-ish data), or Gaussian with a learned scale")
    conditional: bool = Field(False, description="class-conditional encoder and decoder (needs labelled data)")


@register
class VAE(GenerativeModel):
    family = "vae"
    config_class = VAEConfig
    sample_options = ("temperature",)

    def __init__(self, config: VAEConfig, spec: DataSpec) -> None:
        super().__init__(config, spec)
        classes = self.init_conditioning(config.conditional) or 0  # one-hot labels join the encoder's features and the decoder's z
        c = spec.shape[0]
        chs = config.channels
        self.feature_shape = (chs[-1], *downsampled_size(spec.shape, len(chs)))
        flat = math.prod(self.feature_shape)

        down: list[nn.Module] = [nn.Conv2d(c, chs[0], 3, padding=1), nn.SiLU()]
        for c_in, c_out in zip([chs[0], *chs[:-1]], chs):
            down += [nn.Conv2d(c_in, c_out, 4, stride=2, padding=1), nn.SiLU()]
        self.encoder = nn.Sequential(*down, nn.Flatten(), nn.Linear(flat + classes, config.hidden_dim), nn.SiLU(),
                                     nn.Linear(config.hidden_dim, 2 * config.latent_dim))
        self.flat_at = len(down) + 1  # where the encoder's features are flat: labels join there

        up: list[nn.Module] = [nn.Linear(config.latent_dim + classes, config.hidden_dim), nn.SiLU(),
                               nn.Linear(config.hidden_dim, flat), nn.SiLU(), nn.Unflatten(1, self.feature_shape)]
        for c_in, c_out in zip(chs[::-1], [*chs[::-1][1:], chs[0]]):
            up += [nn.ConvTranspose2d(c_in, c_out, 4, stride=2, padding=1), nn.SiLU()]
        self.decoder = nn.Sequential(*up, nn.Conv2d(chs[0], c, 3, padding=1))  # logits, or Gaussian means
        if config.likelihood == "gaussian":
            self.log_scale = nn.Parameter(torch.tensor(math.log(0.1)))
            self.likelihood_data = "dequantized"  # a density over continuous pixels, scored in bits/dim

    def one_hot(self, labels: torch.Tensor | None, n: int) -> torch.Tensor | None:
        labels = self.require_labels(labels)
        return None if labels is None else F.one_hot(labels.to(self.device), self.num_classes).float().expand(n, -1)

    def encode(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.encoder[: self.flat_at](x)
        y = self.one_hot(labels, len(x))
        mean, log_var = self.encoder[self.flat_at :](h if y is None else torch.cat([h, y], 1)).chunk(2, dim=1)
        return mean, log_var.clamp(-30.0, 20.0)

    def decode(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        y = self.one_hot(labels, len(z))
        return self.decoder(z if y is None else torch.cat([z, y], 1))

    def log_px_z(self, out: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """log p(x|z) per example, from the decoder's output."""
        if self.config.likelihood == "bernoulli":
            return -F.binary_cross_entropy_with_logits(out, x, reduction="none").flatten(1).sum(1)
        log_scale = self.log_scale.clamp(-7.0, 2.0)
        nll = 0.5 * ((x - out) / log_scale.exp()).pow(2) + log_scale + 0.5 * math.log(2 * math.pi)
        return -nll.flatten(1).sum(1)

    def mean_image(self, out: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(out) if self.config.likelihood == "bernoulli" else out.clamp(0, 1)

    def forward(self, batch: dict[str, torch.Tensor], optimizer: str = "model") -> StepOutput:
        x, labels = batch["x"], batch.get("y")
        mean, log_var = self.encode(x, labels)
        z = mean + torch.randn_like(mean) * (0.5 * log_var).exp()
        recon = -self.log_px_z(self.decode(z, labels), x)
        kl = 0.5 * (mean.pow(2) + log_var.exp() - 1.0 - log_var).sum(1)
        loss = (recon + self.config.beta * kl).mean()
        return StepOutput(loss, {"recon": recon.mean().detach(), "kl": kl.mean().detach()})

    @torch.no_grad()
    def sample(
        self, n: int, condition: Any = None, generator: torch.Generator | None = None, temperature: float = 1.0,
    ) -> torch.Tensor:
        return self.images(randn((n, self.config.latent_dim), generator) * temperature, condition)

    def images(self, z: torch.Tensor, condition: Any) -> torch.Tensor:
        """Latents (and a condition, as `--class` takes it) -> mean images in [0, 1]."""
        return self.mean_image(self.decode(z.to(self.device), self.labels_for(condition, len(z))))

    # --- a latent space for latent diffusion: the posterior mean, as a [latent_dim, 1, 1] "image" ----------
    def encode_latent(self, x: torch.Tensor) -> torch.Tensor:
        if self.num_classes is not None:
            raise ConfigError("model.autoencoder: a class-conditional VAE needs labels to encode; use an unconditional one")
        return self.encode(x)[0][:, :, None, None]

    def decode_latent(self, z: torch.Tensor) -> torch.Tensor:
        return self.mean_image(self.decode(z.flatten(1)))

    def latent_std(self) -> float:
        return 1.0  # the KL term keeps posterior means near the unit-variance prior

    @torch.no_grad()
    def interpolate(self, n: int, condition: Any = None, generator: torch.Generator | None = None,
                    temperature: float = 1.0) -> torch.Tensor:
        """n images along the great circle between two random latents (spherical: both ends stay typical)."""
        z = latent_path(n, self.config.latent_dim, generator, temperature)
        return self.images(z, condition if condition is not None or self.num_classes is None else 0)

    @torch.no_grad()
    def reconstruct(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Decode the posterior mean: what the model keeps of x."""
        mean, _ = self.encode(x.to(self.device), labels)
        return self.mean_image(self.decode(mean, labels))

    @torch.no_grad()
    def log_likelihood(
        self, x: torch.Tensor, num_samples: int = 64, generator: torch.Generator | None = None,
        labels: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Importance-weighted lower bound on log p(x) (log p(x|y) when conditional), nats per example;
        tightens as num_samples grows.

        Bernoulli: exact for binary x (dynamically binarized MNIST); for grey levels it scores x under the
        Bernoulli cross-entropy, which is not a normalised density. Gaussian: a density over pixels in [0, 1].
        """
        x = x.to(self.device)
        mean, log_var = self.encode(x, labels)
        std = (0.5 * log_var).exp()
        log_w = []
        for _ in range(num_samples):
            eps = torch.randn(mean.shape, generator=generator).to(self.device)
            z = mean + std * eps
            log_px_z = self.log_px_z(self.decode(z, labels), x)
            log_pz = -0.5 * (z.pow(2) + math.log(2 * math.pi)).sum(1)
            log_qz = -0.5 * (eps.pow(2) + math.log(2 * math.pi) + log_var).sum(1)
            log_w.append(log_px_z + log_pz - log_qz)
        return torch.logsumexp(torch.stack(log_w), dim=0) - math.log(num_samples)

