"""Our VAE family with pythae's MNIST benchmark networks inside, for `vae_vs_pythae.py` (runs in .venv-pythae).

Recipes name it `family: pythae_nets:PythaeNetsVAE` (benchmarks/ on the path). Everything but the two
networks is our VAE: ELBO, sampling, the IWAE bound. pythae's decoder ends in a sigmoid; here that sigmoid
moves into the loss (Bernoulli log-likelihood from logits, the same function, numerically safer), so the
weights are the same tensors under the same names and a trained pythae model loads into this one.
"""

from __future__ import annotations

from typing import Literal

import torch
from pythae.models import VAEConfig as PythaeVAEConfig
from pythae.models.nn.benchmarks.mnist import Decoder_Conv_AE_MNIST, Encoder_Conv_VAE_MNIST
from torch import nn

from noisecraft.data.base import DataSpec
from noisecraft.errors import ConfigError
from noisecraft.models.base import GenerativeModel
from noisecraft.models.registry import register
from noisecraft.models.vae.model import VAE, VAEConfig


class PythaeNetsConfig(VAEConfig):
    family: Literal["pythae-nets-vae"] = "pythae-nets-vae"


def pythae_networks(latent_dim: int) -> tuple[nn.Module, nn.Module]:
    config = PythaeVAEConfig(input_dim=(1, 28, 28), latent_dim=latent_dim, reconstruction_loss="bce")
    return Encoder_Conv_VAE_MNIST(config), Decoder_Conv_AE_MNIST(config)


@register
class PythaeNetsVAE(VAE):
    family = "pythae-nets-vae"
    config_class = PythaeNetsConfig

    def __init__(self, config: PythaeNetsConfig, spec: DataSpec) -> None:
        GenerativeModel.__init__(self, config, spec)  # our VAE's logic, not its networks
        if tuple(spec.shape) != (1, 28, 28) or config.conditional or config.likelihood != "bernoulli":
            raise ConfigError("pythae's MNIST networks take unconditional 1x28x28 images with a Bernoulli decoder")
        self.num_classes = None
        self.encoder, self.decoder = pythae_networks(config.latent_dim)
        assert isinstance(self.decoder.layers[-1][-1], nn.Sigmoid)
        self.decoder.layers[-1][-1] = nn.Identity()  # logits out; the sigmoid is in log_px_z

    def encode(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        out = self.encoder(x)
        return out.embedding, out.log_covariance.clamp(-30.0, 20.0)

    def decode(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return self.decoder(z).reconstruction
