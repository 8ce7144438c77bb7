"""Vector-quantised VAE (van den Oord et al. 2017): images <-> a small grid of integer codes.

x -> conv encoder -> z_e [D, h, w] -> nearest codebook vector (K of them) -> z_q -> conv decoder -> p(x|z_q).
Loss = reconstruction + beta * ||z_e - sg(z_q)||^2 (commitment); the codebook itself follows the encoder
by exponential moving averages of the vectors assigned to each code (Razavi et al. 2019), and a code no
batch has used for a while is restarted on a random encoder output, so the whole codebook stays alive.
Gradients pass the quantiser straight through.

`encode_codes` / `decode_codes` give the integer grids that an autoregressive prior (PixelCNN, the
transformer) models; on its own, `sample` draws each position's code from its observed frequencies, a
crude prior that shows what the codebook holds.
"""

from __future__ import annotations

from typing import Any, Literal

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import Tensor, nn

from noisecraft.data.base import DataSpec
from noisecraft.errors import ConfigError
from noisecraft.models.base import GenerativeModel, ModelConfig, StepOutput
from noisecraft.models.noise import per_rows
from noisecraft.models.registry import register
from noisecraft.nn.shapes import downsampled_size


class VQVAEConfig(ModelConfig):
    family: Literal["vqvae"] = "vqvae"
    codebook_size: int = Field(128, ge=2, le=65536, description="K: how many codes")
    code_dim: int = Field(32, ge=1, le=4096, description="D: length of each code vector")
    channels: list[int] = Field([32, 64], min_length=1, max_length=5, description="one stride-2 stage each")
    commitment: float = Field(0.25, ge=0, description="beta: pulls encoder outputs towards their codes")
    ema_decay: float = Field(0.99, gt=0, lt=1, description="codebook moving-average decay")
    restart_after: int = Field(100, ge=1, description="steps unused before a code is restarted")
    likelihood: Literal["bernoulli", "gaussian"] = "bernoulli"


class Quantizer(nn.Module):
    """Nearest-code lookup with an EMA codebook and dead-code restarts; buffers only, no gradients."""

    def __init__(self, size: int, dim: int, decay: float, restart_after: int) -> None:
        super().__init__()
        self.decay, self.restart_after = decay, restart_after
        self.register_buffer("codebook", torch.randn(size, dim))
        self.register_buffer("cluster_size", torch.ones(size))
        self.register_buffer("cluster_sum", self.codebook.clone())
        self.register_buffer("unused_steps", torch.zeros(size, dtype=torch.long))
        self.register_buffer("usage", torch.ones(size))  # EMA of how often each code is picked (the sampling prior)

    def codes(self, z: Tensor) -> Tensor:
        """z [N, D] -> index of the nearest code [N]."""
        distances = z.pow(2).sum(1, keepdim=True) - 2 * z @ self.codebook.T + self.codebook.pow(2).sum(1)
        return distances.argmin(1)

    def forward(self, z: Tensor) -> tuple[Tensor, Tensor]:
        """z [N, D] -> (z_q [N, D], codes [N]); updates the codebook in training mode."""
        codes = self.codes(z.detach())
        if self.training:
            self.update(z.detach().float(), codes)
        return self.codebook[codes], codes

    @torch.no_grad()
    def update(self, z: Tensor, codes: Tensor) -> None:
        one_hot = F.one_hot(codes, len(self.codebook)).type_as(z)
        counts = one_hot.sum(0)
        self.cluster_size.mul_(self.decay).add_(counts, alpha=1 - self.decay)
        self.cluster_sum.mul_(self.decay).add_(one_hot.T @ z, alpha=1 - self.decay)
        self.usage.mul_(self.decay).add_(counts / counts.sum(), alpha=1 - self.decay)
        n = self.cluster_size.sum()  # Laplace smoothing keeps rare codes from dividing by ~0
        smoothed = (self.cluster_size + 1e-5) / (n + len(self.codebook) * 1e-5) * n
        self.codebook.copy_(self.cluster_sum / smoothed[:, None])
        self.unused_steps.add_(1).masked_fill_(counts > 0, 0)
        dead = (self.unused_steps >= self.restart_after).nonzero()[:, 0]
        if len(dead):  # restart on random encoder outputs of this batch
            picks = z[torch.randint(len(z), (len(dead),), device=z.device)]
            self.codebook[dead] = picks
            self.cluster_sum[dead] = picks
            self.cluster_size[dead] = 1.0
            self.unused_steps[dead] = 0


@register
class VQVAE(GenerativeModel):
    family = "vqvae"
    config_class = VQVAEConfig
    sample_options = ()

    def __init__(self, config: VQVAEConfig, spec: DataSpec) -> None:
        super().__init__(config, spec)
        c = spec.shape[0]
        chs = config.channels
        self.grid = downsampled_size(spec.shape, len(chs))
        down: list[nn.Module] = [nn.Conv2d(c, chs[0], 3, padding=1), nn.SiLU()]
        for c_in, c_out in zip([chs[0], *chs[:-1]], chs):
            down += [nn.Conv2d(c_in, c_out, 4, stride=2, padding=1), nn.SiLU()]
        self.encoder = nn.Sequential(*down, nn.Conv2d(chs[-1], config.code_dim, 1))
        up: list[nn.Module] = [nn.Conv2d(config.code_dim, chs[-1], 3, padding=1), nn.SiLU()]
        for c_in, c_out in zip(chs[::-1], [*chs[::-1][1:], chs[0]]):
            up += [nn.ConvTranspose2d(c_in, c_out, 4, stride=2, padding=1), nn.SiLU()]
        self.decoder = nn.Sequential(*up, nn.Conv2d(chs[0], c, 3, padding=1))
        self.quantizer = Quantizer(config.codebook_size, config.code_dim, config.ema_decay, config.restart_after)

    def quantize(self, z_e: Tensor) -> tuple[Tensor, Tensor]:
        """z_e [n, D, h, w] -> (z_q with straight-through gradients, codes [n, h, w])."""
        n, d, h, w = z_e.shape
        flat = z_e.permute(0, 2, 3, 1).reshape(-1, d)
        z_q, codes = self.quantizer(flat)
        z_q = z_q.view(n, h, w, d).permute(0, 3, 1, 2)
        return z_e + (z_q - z_e).detach(), codes.view(n, h, w)

    def reconstruction_nll(self, out: Tensor, x: Tensor) -> Tensor:
        if self.config.likelihood == "bernoulli":
            return F.binary_cross_entropy_with_logits(out, x, reduction="none").flatten(1).sum(1)
        return F.mse_loss(out, x, reduction="none").flatten(1).sum(1)

    def forward(self, batch: dict[str, Tensor], optimizer: str = "model") -> StepOutput:
        x = batch["x"]
        z_e = self.encoder(x)
        z_q, codes = self.quantize(z_e)
        recon = self.reconstruction_nll(self.decoder(z_q), x).mean()
        commitment = (z_e - z_q.detach()).pow(2).flatten(1).sum(1).mean()
        used = torch.unique(codes).numel()
        return StepOutput(recon + self.config.commitment * commitment,
                          {"recon": recon.detach(), "commitment": commitment.detach(),
                           "codes_used": float(used) / self.config.codebook_size})

    def image_of(self, out: Tensor) -> Tensor:
        return torch.sigmoid(out) if self.config.likelihood == "bernoulli" else out.clamp(0, 1)

    @torch.no_grad()
    def encode_codes(self, x: Tensor) -> Tensor:
        """Images [n, C, H, W] in [0, 1] -> integer codes [n, h, w]."""
        return self.quantize(self.encoder(x.to(self.device)))[1]

    @torch.no_grad()
    def decode_codes(self, codes: Tensor) -> Tensor:
        """Integer codes [n, h, w] -> images in [0, 1]."""
        codes = codes.to(self.device)
        if codes.min() < 0 or codes.max() >= self.config.codebook_size:
            raise ConfigError(f"codes must be in 0..{self.config.codebook_size - 1}")
        z_q = self.quantizer.codebook[codes].permute(0, 3, 1, 2)
        return self.image_of(self.decoder(z_q))

    # --- a latent space for latent diffusion: encoder outputs, snapped to the codebook on the way back ----
    def encode_latent(self, x: Tensor) -> Tensor:
        return self.encoder(x)

    def decode_latent(self, z: Tensor) -> Tensor:
        return self.image_of(self.decoder(self.quantize(z)[0]))

    def latent_std(self) -> float:
        return float(self.quantizer.codebook[self.quantizer.usage > 1e-4].std())

    @torch.no_grad()
    def reconstruct(self, x: Tensor) -> Tensor:
        return self.decode_codes(self.encode_codes(x))

    @torch.no_grad()
    def sample(self, n: int, condition: Any = None, generator: torch.Generator | None = None) -> Tensor:
        if condition is not None:
            raise ConfigError("--class: a VQ-VAE is unconditional")
        prior = self.quantizer.usage.float().cpu()
        cells = self.grid[0] * self.grid[1]
        codes = per_rows(generator, n, lambda g, rows: torch.multinomial(
            prior / prior.sum(), (rows.stop - rows.start) * cells, replacement=True, generator=g))
        return self.decode_codes(codes.view(n, *self.grid))
