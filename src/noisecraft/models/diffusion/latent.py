"""Latent diffusion: diffuse in the latent space of a trained, frozen autoencoder (VAE or VQ-VAE).

The autoencoder is named by `model.autoencoder` (a run or model folder) and kept inside the model
(`models/frozen.py`: the model folder is self-contained). Any family with `encode_latent` /
`decode_latent` works; latents are scaled by `latent_scale` (default: the autoencoder's own
`latent_std`) to about unit variance.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from noisecraft.data.base import DataSpec
from noisecraft.errors import ConfigError


class LatentSpace(nn.Module):
    def __init__(self, autoencoder: nn.Module, scale: float, image_shape: tuple[int, ...]) -> None:
        super().__init__()
        self.autoencoder = autoencoder.requires_grad_(False).eval()
        self.scale = scale
        with torch.no_grad():
            self.shape = tuple(autoencoder.encode_latent(torch.zeros(1, *image_shape)).shape[1:])

    @classmethod
    def build(cls, config: Any, spec: DataSpec) -> "LatentSpace":
        from noisecraft.models.frozen import frozen_model

        autoencoder, record = frozen_model(config.autoencoder, config.autoencoder_model, "model.autoencoder")
        if not hasattr(autoencoder, "encode_latent"):
            raise ConfigError(f"model.autoencoder: a {autoencoder.family} model has no latent space to diffuse in "
                              "(use a vae or vqvae run)")
        if tuple(autoencoder.spec.shape) != tuple(spec.shape):
            raise ConfigError(f"model.autoencoder: it was trained on {tuple(autoencoder.spec.shape)} images, the data "
                              f"is {tuple(spec.shape)}")
        scale = config.latent_scale or round(float(autoencoder.latent_std()), 6)
        space = cls(autoencoder, scale, tuple(spec.shape))
        space.record = {"autoencoder_model": record, "latent_scale": scale}  # what the model folder's config keeps
        return space

    @torch.no_grad()
    def encode(self, images: torch.Tensor) -> torch.Tensor:
        """Images in [0, 1] -> scaled latents."""
        return self.autoencoder.encode_latent(images) / self.scale

    @torch.no_grad()
    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        """Scaled latents -> images in [0, 1]."""
        return self.autoencoder.decode_latent(latents * self.scale).clamp(0, 1)
