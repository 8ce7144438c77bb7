"""Likelihood report for any family with `log_likelihood`: nats per example (`nll_nats_per_image`) and bits per
dimension on a named test split; `data` says which view of the images it is a likelihood of.

Two standard views of MNIST:
- "binarized": dynamically binarized (each pixel ~ Bernoulli(intensity), a fixed seed), for models of
  binary images (VAE with Bernoulli decoder, PixelCNN on bits): a discrete likelihood, NLL in nats;
- "dequantized": 8-bit levels plus uniform noise, scaled to [0, 1), for continuous densities (flows):
  NLL and bits/dim reported for the discrete 8-bit data, i.e. -(log p(x) - D log 256) nats (a density on
  [0, 1)^D is 256^D times one on the levels' scale; without that term the NLL is negative);
- "levels": the 8-bit values themselves (k / 255), for discrete models of them (PixelCNN with 256
  levels): bits/dim = -log P(x) / (D log 2).
"""

from __future__ import annotations

import inspect
import math
import time
from typing import Any

import torch
from tqdm.auto import tqdm

from noisecraft.data.base import ImageDataset
from noisecraft.models.base import GenerativeModel


def binarize(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    return torch.bernoulli(x, generator=generator)


def dequantize(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    levels = (x * 255).round()
    return (levels + torch.rand(x.shape, generator=generator)) / 256


@torch.no_grad()
def likelihood_report(model: GenerativeModel, dataset: ImageDataset, *, num: int | None = None,
                      importance_samples: int = 100, batch_size: int = 100, seed: int = 0,
                      progress: bool = True) -> dict[str, Any]:
    """Mean negative log-likelihood of the first `num` examples of `dataset` under `model`."""
    view = getattr(model, "likelihood_data", "binarized")
    n = len(dataset) if num is None else min(num, len(dataset))
    generator = torch.Generator().manual_seed(seed)
    parameters = inspect.signature(model.log_likelihood).parameters
    takes_k = "num_samples" in parameters
    conditional = "labels" in parameters and getattr(model, "num_classes", None) is not None  # log p(x|y)
    total, start = 0.0, time.perf_counter()
    for i in tqdm(range(0, n, batch_size), disable=not progress, desc=f"nll ({view})", unit="batch"):
        x = torch.stack([dataset[j]["x"] for j in range(i, min(i + batch_size, n))])
        x = binarize(x, generator) if view == "binarized" else dequantize(x, generator) if view == "dequantized" else x
        kwargs = {"num_samples": importance_samples, "generator": generator} if takes_k else {}
        if conditional:
            kwargs["labels"] = torch.stack([dataset[j]["y"] for j in range(i, min(i + batch_size, n))])
        total += model.log_likelihood(x, **kwargs).double().sum().item()
    dims = math.prod(dataset.spec.shape)
    nll = -total / n + dims * math.log(256) * (view == "dequantized")
    return {
        "nll_nats_per_image": nll,
        "bits_per_dim": nll / (dims * math.log(2)),
        "data": view,
        "examples": n,
        "importance_samples": importance_samples if takes_k else None,
        "seconds": time.perf_counter() - start,
    }
