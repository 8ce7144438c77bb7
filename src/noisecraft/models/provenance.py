"""What made an image: the model (family, a hash of its weights) and the settings, as content credentials
state them (`utils/credentials.py`).

The weights hash is SHA-256 over every tensor of the state dict (name, dtype, shape, bytes, in name
order): the same for a model however it was loaded or saved, different after any training step. It is
computed once per model and weights version (torch counts in-place changes to each tensor).
"""

from __future__ import annotations

import hashlib
from typing import Any

import torch
from torch import nn


def _versions(model: nn.Module) -> tuple[int, ...]:
    return tuple(t._version for t in model.state_dict(keep_vars=True).values())


@torch.no_grad()
def weights_sha256(model: nn.Module) -> str:
    versions = _versions(model)
    cached = getattr(model, "_noisecraft_weights_sha256", None)
    if cached is not None and cached[0] == versions:
        return cached[1]
    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        digest.update(f"{name}\0{tensor.dtype}\0{tuple(tensor.shape)}\0".encode())
        digest.update(tensor.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
    object.__setattr__(model, "_noisecraft_weights_sha256", (versions, digest.hexdigest()))
    return digest.hexdigest()


def image_claims(model: Any, settings: dict[str, Any], name: str | None = None) -> dict[str, Any]:
    """The `org.noisecraft.generation` assertion of an image `model` made with `settings`."""
    described = {"family": model.family, "weights_sha256": weights_sha256(model), "parameters": model.num_parameters()}
    if name:
        described["name"] = name
    return {"model": described, "settings": {k: v for k, v in settings.items() if v is not None}}
