"""Tiny untrained models of three kinds (unconditional images, class-conditional diffusion, text) saved as
model folders, and the server's pieces around them."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from noisecraft.data.base import DataSpec
from noisecraft.models.autoregressive import Transformer, TransformerConfig
from noisecraft.models.diffusion.model import DiffusionConfig, DiffusionModel
from noisecraft.models.vae.model import VAE, VAEConfig
from noisecraft.text.tokenizers import CharTokenizer

CORPUS = "hello world, the quick brown fox jumps\n"


@pytest.fixture(scope="session")
def model_dirs(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("served")
    torch.manual_seed(0)
    tokenizer = CharTokenizer.train([CORPUS])
    return {
        "vae": VAE(VAEConfig(latent_dim=2, channels=[4], hidden_dim=8), DataSpec(shape=(1, 8, 8))).save_pretrained(root / "vae"),
        "diff": DiffusionModel(DiffusionConfig(channels=[8], attention=[], conditional=True, steps=3),
                               DataSpec(shape=(1, 8, 8), num_classes=3, class_names=["a", "b", "c"])).save_pretrained(root / "diff"),
        "text": Transformer(TransformerConfig(layers=1, heads=2, dim=16, max_tokens=12),
                            DataSpec(modality="tokens", shape=(16,), vocab_size=tokenizer.vocab_size,
                                     tokenizer=tokenizer.to_dict(), start_tokens=[0])).save_pretrained(root / "text"),
    }


@pytest.fixture(scope="session")
def served(model_dirs):
    from noisecraft.serve.service import load_models

    return load_models([f"{name}={path}" for name, path in model_dirs.items()])


SERVICES = []


def make_service(served, **options):
    """A Service whose sampling thread `close_services` stops after each test."""
    from noisecraft.serve.service import Service

    SERVICES.append(Service(served, **options))
    return SERVICES[-1]


@pytest.fixture(autouse=True)
def close_services():
    yield
    while SERVICES:
        SERVICES.pop().close()
