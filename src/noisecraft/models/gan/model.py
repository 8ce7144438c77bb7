"""Generative adversarial network, DCGAN layout (Radford et al. 2016): a generator and a discriminator in a
contest, trained by the shared loop with two optimizers (discriminator first, then generator).

Generator: z -> linear -> (4C, s, s) -> [upsample x2: transposed conv, batch norm, ReLU] ... -> conv -> tanh.
Discriminator: x -> [conv stride 2, LeakyReLU] ... -> linear -> one logit; spectral norm optional (Miyato
et al. 2018); class-conditional with a projection discriminator (Miyato & Koyama 2018) and a class
embedding added to z. Losses: non-saturating, hinge, WGAN-GP; R1 penalty on real data as an option. A
discriminator that wins outright for `collapse_steps` steps stops the run: the generator gets no signal.
"""

from __future__ import annotations

from typing import Any, Literal

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import Tensor, nn

from noisecraft.data.base import DataSpec
from noisecraft.errors import ConfigError, TrainingDiverged
from noisecraft.models.base import GenerativeModel, ModelConfig, StepOutput
from noisecraft.models.noise import randn
from noisecraft.models.latent import latent_path
from noisecraft.models.registry import register


class GANConfig(ModelConfig):
    family: Literal["gan"] = "gan"
    latent_dim: int = Field(64, ge=1, le=4096)
    width: int = Field(64, ge=4, le=2048, description="channels of the widest generator stage / last discriminator stage")
    loss: Literal["non-saturating", "hinge", "wgan-gp"] = "non-saturating"
    spectral_norm: bool = Field(True, description="spectral norm on the discriminator's layers")
    r1_gamma: float = Field(0.0, ge=0, description="R1 penalty weight on real data's discriminator gradients (0: off)")
    gp_weight: float = Field(10.0, ge=0, description="wgan-gp: gradient penalty weight")
    conditional: bool = Field(False, description="class-conditional (needs labelled data)")
    collapse_loss: float = Field(1e-3, ge=0, description="discriminator loss below this counts as a collapsed step")
    collapse_steps: int = Field(200, ge=1, description="consecutive collapsed steps that stop the run")


def stages_for(size: int) -> int:
    """Halvings of the image side while it stays even and above 4 (28 -> 7, 32 -> 4, 8 -> 4)."""
    stages, side = 0, size
    while side > 4 and side % 2 == 0:
        side //= 2
        stages += 1
    if stages == 0:
        raise ConfigError(f"model.family gan: image side {size} cannot be halved; use data.image_size (e.g. 28, 32, 64)")
    return stages


class Generator(nn.Module):
    def __init__(self, latent_dim: int, width: int, channels: int, size: int, stages: int) -> None:
        super().__init__()
        self.start = (width, size >> stages, size >> stages)
        self.project = nn.Sequential(nn.Linear(latent_dim, width * self.start[1] * self.start[2]),
                                     nn.BatchNorm1d(width * self.start[1] * self.start[2]), nn.ReLU())
        layers: list[nn.Module] = []
        c = width
        for _ in range(stages):
            layers += [nn.ConvTranspose2d(c, c // 2, 4, stride=2, padding=1, bias=False), nn.BatchNorm2d(c // 2), nn.ReLU()]
            c //= 2
        self.body = nn.Sequential(*layers, nn.Conv2d(c, channels, 3, padding=1), nn.Tanh())

    def forward(self, z: Tensor) -> Tensor:
        return self.body(self.project(z).view(-1, *self.start))


class Discriminator(nn.Module):
    def __init__(self, width: int, channels: int, size: int, stages: int, num_classes: int | None, sn: bool) -> None:
        super().__init__()
        norm = nn.utils.parametrizations.spectral_norm if sn else (lambda m: m)
        c = width >> stages
        layers: list[nn.Module] = [norm(nn.Conv2d(channels, c, 3, padding=1)), nn.LeakyReLU(0.2)]
        for _ in range(stages):
            layers += [norm(nn.Conv2d(c, c * 2, 4, stride=2, padding=1)), nn.LeakyReLU(0.2)]
            c *= 2
        self.body = nn.Sequential(*layers, nn.Flatten())
        features = c * (size >> stages) ** 2
        self.head = norm(nn.Linear(features, 1))
        self.embed = norm(nn.Embedding(num_classes, features)) if num_classes else None

    def forward(self, x: Tensor, labels: Tensor | None) -> Tensor:
        h = self.body(x)
        out = self.head(h)[:, 0]
        if self.embed is not None:  # projection: <embed(y), features>
            out = out + (self.embed(labels) * h).sum(1)
        return out


@register
class GAN(GenerativeModel):
    family = "gan"
    config_class = GANConfig
    sample_options = ("temperature",)

    def __init__(self, config: GANConfig, spec: DataSpec) -> None:
        super().__init__(config, spec)
        c, h, w = spec.shape
        if h != w:
            raise ConfigError(f"model.family gan: needs square images, the data is {h}x{w}; set data.image_size")
        stages = stages_for(h)
        if config.width >> stages < 1 or config.width % (1 << stages):
            raise ConfigError(f"model.width {config.width}: must be divisible by 2^{stages} for {h}x{h} images")
        self.init_conditioning(config.conditional)
        self.generator = Generator(config.latent_dim, config.width, c, h, stages)
        self.discriminator = Discriminator(config.width, c, h, stages, self.num_classes, config.spectral_norm)
        self.class_embed = nn.Embedding(self.num_classes, config.latent_dim) if self.num_classes else None
        self.register_buffer("collapsed_steps", torch.zeros((), dtype=torch.long))

    def optimizer_groups(self):
        g = [*self.generator.parameters(), *(self.class_embed.parameters() if self.class_embed is not None else [])]
        return {"discriminator": self.discriminator.parameters(), "generator": g}

    def generate(self, z: Tensor, labels: Tensor | None) -> Tensor:
        """Images in [-1, 1] from latents (and labels)."""
        if self.class_embed is not None:
            z = z + self.class_embed(labels)
        return self.generator(z)

    def forward(self, batch: dict[str, Tensor], optimizer: str = "generator") -> StepOutput:
        real = batch["x"] * 2 - 1
        labels = self.require_labels(batch.get("y"))
        z = torch.randn(len(real), self.config.latent_dim, device=real.device)
        if optimizer == "discriminator":
            return self.discriminator_loss(real, self.generate(z, labels).detach(), labels)
        fake_logits = self.discriminator(self.generate(z, labels), labels)
        loss = F.softplus(-fake_logits).mean() if self.config.loss == "non-saturating" else -fake_logits.mean()
        return StepOutput(loss)

    def discriminator_loss(self, real: Tensor, fake: Tensor, labels: Tensor | None) -> StepOutput:
        cfg = self.config
        real = real.requires_grad_(cfg.r1_gamma > 0)
        real_logits, fake_logits = self.discriminator(real, labels), self.discriminator(fake, labels)
        if cfg.loss == "non-saturating":
            loss = F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()
        elif cfg.loss == "hinge":
            loss = F.relu(1 - real_logits).mean() + F.relu(1 + fake_logits).mean()
        else:
            loss = fake_logits.mean() - real_logits.mean() + cfg.gp_weight * self.gradient_penalty(real, fake, labels)
        logs: dict[str, Any] = {"d_real": real_logits.mean().detach(), "d_fake": fake_logits.mean().detach()}
        if cfg.r1_gamma > 0:
            (grad,) = torch.autograd.grad(real_logits.sum(), real, create_graph=True)
            r1 = grad.pow(2).flatten(1).sum(1).mean()
            loss = loss + cfg.r1_gamma / 2 * r1
            logs["r1"] = r1.detach()
        self.check_collapse(loss)
        return StepOutput(loss, logs)

    def gradient_penalty(self, real: Tensor, fake: Tensor, labels: Tensor | None) -> Tensor:
        """WGAN-GP (Gulrajani et al. 2017): unit gradient norm on points between real and fake."""
        t = torch.rand(len(real), 1, 1, 1, device=real.device)
        mixed = (t * real.detach() + (1 - t) * fake).requires_grad_(True)
        (grad,) = torch.autograd.grad(self.discriminator(mixed, labels).sum(), mixed, create_graph=True)
        return (grad.flatten(1).norm(dim=1) - 1).pow(2).mean()

    def check_collapse(self, loss: Tensor) -> None:
        """A discriminator at ~zero loss step after step leaves the generator no gradient: stop, clearly."""
        if self.config.loss == "wgan-gp" or not self.training:
            return
        collapsed = bool(loss.detach() < self.config.collapse_loss)
        self.collapsed_steps.copy_(self.collapsed_steps + 1 if collapsed else torch.zeros_like(self.collapsed_steps))
        if int(self.collapsed_steps) >= self.config.collapse_steps:
            raise TrainingDiverged(
                f"the discriminator won outright for {self.config.collapse_steps} steps in a row (loss < "
                f"{self.config.collapse_loss}): the generator gets no gradient. Training stopped; the last checkpoint "
                f"is in checkpoints/last. Lower the discriminator's learning rate (train.lr_by_optimizer), "
                f"use spectral_norm or r1_gamma, then train again"
            )

    @torch.no_grad()
    def sample(self, n: int, condition: Any = None, generator: torch.Generator | None = None,
               temperature: float = 1.0) -> Tensor:
        """Images in [0, 1]; `temperature` < 1 narrows z (the truncation trick)."""
        return self.images(randn((n, self.config.latent_dim), generator) * temperature, condition)

    def images(self, z: Tensor, condition: Any) -> Tensor:
        """Latents (and a condition, as `--class` takes it) -> images in [0, 1]."""
        return (self.generate(z.to(self.device), self.labels_for(condition, len(z))) + 1) / 2

    @torch.no_grad()
    def interpolate(self, n: int, condition: Any = None, generator: torch.Generator | None = None,
                    temperature: float = 1.0) -> Tensor:
        """n images along the great circle between two random latents (one class throughout: `condition`, or 0)."""
        z = latent_path(n, self.config.latent_dim, generator, temperature)
        return self.images(z, condition if condition is not None or not self.num_classes else 0)
