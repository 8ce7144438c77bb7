"""A trained model inside another one (the autoencoder of latent diffusion, the VQ-VAE under a DALL-E
style prior), frozen, with the outer model folder self-contained.

At the start of training the inner model is loaded from its run or model folder and its family, config
and spec are recorded in the outer config; its weights become part of the outer weights. A saved outer
model rebuilds the inner one empty from the record and loads everything from its own safetensors, so
loading never reads the inner folder again (and never runs code).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from noisecraft.data.base import DataSpec
from noisecraft.errors import ConfigError
from noisecraft.models.base import CONFIG_NAME, GenerativeModel, read_model_config


def frozen_model(path: str | None, record: dict[str, Any] | None, what: str) -> tuple[GenerativeModel, dict[str, Any]]:
    """(the model, its record): loaded from `path` when there is no `record` yet, else built from it."""
    from noisecraft.models.registry import get_family

    if record is None:
        if path is None:
            raise ConfigError(f"{what}: missing (a run or model folder)")
        directory = Path(path).expanduser()
        directory = directory / "model" if (directory / "model" / CONFIG_NAME).is_file() else directory
        model = GenerativeModel.from_pretrained(directory)
        meta = read_model_config(directory)
        record = {k: meta[k] for k in ("family", "config", "spec")}
    else:
        family = get_family(record["family"])
        model = family(family.config_class.model_validate(record["config"]), DataSpec.model_validate(record["spec"]))
    return model.requires_grad_(False).eval(), record
