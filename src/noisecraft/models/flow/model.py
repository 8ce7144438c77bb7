"""Normalizing flow (RealNVP / Glow, Dinh et al. 2017, Kingma & Dhariwal 2018): an invertible map from images
to Gaussian noise, so log p(x) is exact by the change of variables, and sampling runs the map backwards.

    x in [0, 1) --logit--> y --[squeeze, K x (actnorm, 1x1 conv, affine coupling), split]--> ... --> z

Each level halves the side (squeeze: 2x2 pixels into 4 channels), runs K flow steps, and factors out half
its channels to the prior; the last level keeps all. Trained on dequantized 8-bit data (uniform noise
added to each level), scored in bits/dim of that data (`likelihood_data = "dequantized"`).
"""

from __future__ import annotations

import math
from typing import Any, Literal

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import Tensor, nn

from noisecraft.data.base import DataSpec
from noisecraft.errors import ConfigError
from noisecraft.models.base import GenerativeModel, ModelConfig, StepOutput
from noisecraft.models.noise import randn
from noisecraft.models.registry import register
from noisecraft.utils.cancel import checkpoint


SAMPLE_LIMIT = 1e4  # bound on a coupling's inverse output, far beyond what data reach (|y| < 3 in logit space)


class FlowConfig(ModelConfig):
    family: Literal["flow"] = "flow"
    levels: int = Field(2, ge=1, le=6, description="scales: each squeezes 2x2 pixels into channels; all but the last factor out half")
    steps_per_level: int = Field(8, ge=1, le=64, description="flow steps (actnorm, 1x1 conv, affine coupling) per level")
    hidden: int = Field(64, ge=1, le=1024, description="channels of each coupling's network")
    alpha: float = Field(0.05, gt=0, lt=0.5, description="logit transform: y = logit(alpha + (1 - 2 alpha) x)")


def squeeze(x: Tensor) -> Tensor:
    b, c, h, w = x.shape
    return x.view(b, c, h // 2, 2, w // 2, 2).permute(0, 1, 3, 5, 2, 4).reshape(b, 4 * c, h // 2, w // 2)


def unsqueeze(x: Tensor) -> Tensor:
    b, c, h, w = x.shape
    return x.view(b, c // 4, 2, 2, h, w).permute(0, 1, 4, 2, 5, 3).reshape(b, c // 4, 2 * h, 2 * w)


class ActNorm(nn.Module):
    """Per-channel scale and bias, set from the first training batch so that it leaves with zero mean and
    unit variance (a saved flag keeps loaded and resumed models from setting them again)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.log_scale = nn.Parameter(torch.zeros(1, channels, 1, 1))
        self.bias = nn.Parameter(torch.zeros(1, channels, 1, 1))
        self.register_buffer("initialized", torch.zeros(()))

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        if self.training and not self.initialized:
            with torch.no_grad():
                self.bias.copy_(-x.mean((0, 2, 3), keepdim=True))
                self.log_scale.copy_(-(x.std((0, 2, 3), keepdim=True) + 1e-6).log())
                self.initialized.fill_(1)
        logdet = self.log_scale.sum() * x.shape[2] * x.shape[3]
        return (x + self.bias) * self.log_scale.exp(), logdet.expand(len(x))

    def inverse(self, y: Tensor) -> Tensor:
        return y * (-self.log_scale).exp() - self.bias


class InvertibleConv(nn.Module):
    """A 1x1 convolution mixing channels, W = P L (U + diag(sign s * exp(log|s|))): log|det W| is sum log|s|."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        p, lower, upper = torch.linalg.lu(torch.linalg.qr(torch.randn(channels, channels))[0])
        s = upper.diagonal()
        self.register_buffer("p", p)
        self.register_buffer("sign_s", s.sign())
        self.lower = nn.Parameter(lower.tril(-1))
        self.upper = nn.Parameter(upper.triu(1))
        self.log_s = nn.Parameter(s.abs().log())

    def weight(self) -> Tensor:
        eye = torch.eye(len(self.log_s), dtype=self.log_s.dtype, device=self.log_s.device)
        return self.p @ (self.lower.tril(-1) + eye) @ (self.upper.triu(1) + torch.diag(self.sign_s * self.log_s.exp()))

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        logdet = self.log_s.sum() * x.shape[2] * x.shape[3]
        return F.conv2d(x, self.weight()[:, :, None, None]), logdet.expand(len(x))

    def inverse(self, y: Tensor) -> Tensor:
        return F.conv2d(y, torch.linalg.inv(self.weight())[:, :, None, None])


class AffineCoupling(nn.Module):
    """The second half of the channels is scaled and shifted by a network of the first half; the first half
    passes through, so the map inverts exactly. Scale = sigmoid(raw + 2) (Glow): near 1 at the start, bounded."""

    def __init__(self, channels: int, hidden: int) -> None:
        super().__init__()
        self.half = channels // 2
        self.net = nn.Sequential(nn.Conv2d(self.half, hidden, 3, padding=1), nn.ReLU(), nn.Conv2d(hidden, hidden, 1),
                                 nn.ReLU(), nn.Conv2d(hidden, 2 * (channels - self.half), 3, padding=1))
        nn.init.zeros_(self.net[-1].weight)  # starts as the identity
        nn.init.zeros_(self.net[-1].bias)

    def scale_shift(self, xa: Tensor) -> tuple[Tensor, Tensor]:
        h = self.net(xa)
        return torch.sigmoid(h[:, 1::2] + 2.0), h[:, 0::2]

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        xa, xb = x[:, : self.half], x[:, self.half :]
        scale, shift = self.scale_shift(xa)
        return torch.cat([xa, (xb + shift) * scale], 1), scale.log().flatten(1).sum(1)

    def inverse(self, y: Tensor) -> Tensor:
        ya, yb = y[:, : self.half], y[:, self.half :]
        scale, shift = self.scale_shift(ya)
        # off the data the scale can underflow to 0: the division must not make inf (then inf - inf = NaN)
        xb = (yb / scale.clamp_min(torch.finfo(scale.dtype).tiny) - shift).clamp(-SAMPLE_LIMIT, SAMPLE_LIMIT)
        return torch.cat([ya, xb], 1)


class FlowStep(nn.Module):
    def __init__(self, channels: int, hidden: int) -> None:
        super().__init__()
        self.layers = nn.ModuleList([ActNorm(channels), InvertibleConv(channels), AffineCoupling(channels, hidden)])

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        logdet = x.new_zeros(len(x))
        for layer in self.layers:
            x, ld = layer(x)
            logdet = logdet + ld
        return x, logdet

    def inverse(self, y: Tensor) -> Tensor:
        for layer in reversed(self.layers):
            y = layer.inverse(y)
        return y


@register
class NormalizingFlow(GenerativeModel):
    family = "flow"
    config_class = FlowConfig
    sample_options = ("temperature",)
    likelihood_data = "dequantized"

    def __init__(self, config: FlowConfig, spec: DataSpec) -> None:
        super().__init__(config, spec)
        if len(spec.shape) != 3:
            raise ConfigError(f"model.family flow: needs images (C, H, W); the data gives {tuple(spec.shape)}")
        c, h, w = spec.shape
        if h % 2**config.levels or w % 2**config.levels:
            raise ConfigError(f"model.levels: {config.levels} levels halve the side {config.levels} times; "
                              f"{h}x{w} does not halve that often (use fewer levels or data.image_size)")
        self.blocks = nn.ModuleList()
        self.latent_shapes: list[tuple[int, int, int]] = []  # what each level hands to the prior
        for level in range(config.levels):
            c, h, w = 4 * c, h // 2, w // 2
            self.blocks.append(nn.ModuleList(FlowStep(c, config.hidden) for _ in range(config.steps_per_level)))
            if level < config.levels - 1:
                self.latent_shapes.append((c - c // 2, h, w))
                c = c // 2
        self.latent_shapes.append((c, h, w))

    # --- the map and its log-determinant -------------------------------------------------------------
    def preprocess(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """x in [0, 1) -> logit space, with the log-determinant of that map per example."""
        a = self.config.alpha
        p = a + (1 - 2 * a) * x
        logdet = (math.log(1 - 2 * a) - p.log() - (1 - p).log()).flatten(1).sum(1)
        return p.log() - (1 - p).log(), logdet

    def encode(self, x: Tensor) -> tuple[list[Tensor], Tensor]:
        """x in [0, 1) -> the latents of every level and log|det dz/dx| per example."""
        y, logdet = self.preprocess(x)
        latents = []
        for level, steps in enumerate(self.blocks):
            y = squeeze(y)
            for step in steps:
                y, ld = step(y)
                logdet = logdet + ld
            if level < len(self.blocks) - 1:
                half = y.shape[1] // 2
                latents.append(y[:, half:])
                y = y[:, :half]
        return [*latents, y], logdet

    def decode(self, latents: list[Tensor]) -> Tensor:
        """Latents -> images in [0, 1]. A latent far from what the data map to can meet couplings whose scale is ~0;
        AffineCoupling.inverse clamps at +-SAMPLE_LIMIT, so such samples come out finite: saturated, scored as bad."""
        y = latents[-1]
        for level in reversed(range(len(self.blocks))):
            if level < len(self.blocks) - 1:
                y = torch.cat([y, latents[level]], 1)
            for step in reversed(self.blocks[level]):
                checkpoint()
                y = step.inverse(y)
            y = unsqueeze(y)
        return ((torch.sigmoid(y) - self.config.alpha) / (1 - 2 * self.config.alpha)).clamp(0, 1)

    def log_likelihood_dtype(self) -> torch.dtype:
        return self.blocks[0][0].layers[0].log_scale.dtype

    # --- the family contract --------------------------------------------------------------------------
    def log_likelihood(self, x: Tensor) -> Tensor:
        """log p(x) in nats per example, for x in [0, 1) (dequantized pixels): exact."""
        latents, logdet = self.encode(x.to(self.device))
        log_prior = sum(-0.5 * (z.pow(2) + math.log(2 * math.pi)).flatten(1).sum(1) for z in latents)
        return log_prior + logdet

    def forward(self, batch: dict[str, Tensor], optimizer: str = "model") -> StepOutput:
        x = batch["x"]
        x = ((x * 255).round() + torch.rand_like(x)) / 256  # uniform dequantization of the 8-bit levels
        dims = x[0].numel()
        bits_per_dim = -(self.log_likelihood(x) - dims * math.log(256)) / (dims * math.log(2))
        loss = bits_per_dim.mean()
        return StepOutput(loss, {"bits_per_dim": loss.detach()})

    @torch.no_grad()
    def sample(self, n: int, condition: Any = None, generator: torch.Generator | None = None,
               temperature: float = 1.0) -> Tensor:
        """Images in [0, 1] from z ~ N(0, T^2 I) at every level; T < 1 trades variety for cleaner digits."""
        if condition is not None:
            raise ConfigError("--class: a flow is unconditional")
        dtype = self.log_likelihood_dtype()
        latents = [randn((n, *shape), generator).to(self.device, dtype) * temperature for shape in self.latent_shapes]
        return self.decode(latents)
