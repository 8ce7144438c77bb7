"""Images in, PNG files out (Pillow; torchvision does not import beside the CPU torch build).

Given `claims` (what made the images: `models.provenance.image_claims`), a PNG is written with signed
content credentials (`utils/credentials.py`); without, it is a plain PNG (figures, real data)."""

from __future__ import annotations

import io
import math
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """[N, C, H, W] floats in [0, 1] -> [N, H, W, C] uint8."""
    arr = images.detach().float().clamp(0, 1).mul(255).round().to(torch.uint8).cpu()
    return arr.permute(0, 2, 3, 1).numpy()


def make_grid(images: torch.Tensor, nrow: int | None = None, padding: int = 2) -> np.ndarray:
    """Tile N images into one H x W x C uint8 array, `nrow` images per row (default: square-ish)."""
    arr = to_uint8(images)
    n, h, w, c = arr.shape
    nrow = nrow or math.ceil(math.sqrt(n))
    rows = math.ceil(n / nrow)
    grid = np.full((rows * (h + padding) + padding, nrow * (w + padding) + padding, c), 255, np.uint8)
    for i in range(n):
        r, col = divmod(i, nrow)
        y, x = padding + r * (h + padding), padding + col * (w + padding)
        grid[y : y + h, x : x + w] = arr[i]
    return grid


def to_pil(array: np.ndarray) -> Image.Image:
    return Image.fromarray(array[..., 0] if array.shape[-1] == 1 else array)


def save_grid(images: torch.Tensor, path: Path, nrow: int | None = None, claims: dict[str, Any] | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(encode_png(make_grid(images, nrow), claims=claims, title=path.name))
    return path


def save_each(images: torch.Tensor, folder: Path, prefix: str = "sample", claims: dict[str, Any] | None = None) -> list[Path]:
    """One PNG per image: sample-0000.png, sample-0001.png, ... (each one's claims say its index)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, arr in enumerate(to_uint8(images)):
        paths.append(folder / f"{prefix}-{i:04d}.png")
        paths[-1].write_bytes(encode_png(arr, claims=indexed(claims, i), title=paths[-1].name))
    return paths


def png_bytes(image: torch.Tensor, text: dict[str, str] | None = None, claims: dict[str, Any] | None = None) -> bytes:
    """One image [C, H, W] in [0, 1] as PNG bytes; `text` goes into iTXt chunks (UTF-8), e.g. the settings
    that made the image, so that a file keeps how to reproduce it."""
    return encode_png(to_uint8(image[None])[0], text, claims)


def encode_png(array: np.ndarray, text: dict[str, str] | None = None, claims: dict[str, Any] | None = None,
               title: str = "image.png") -> bytes:
    """H x W x C uint8 as PNG bytes, with iTXt chunks `text` and, given `claims`, signed credentials."""
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    for key, value in (text or {}).items():
        info.add_itxt(key, value)
    buffer = io.BytesIO()
    to_pil(array).save(buffer, format="PNG", pnginfo=info)
    if claims is None:
        return buffer.getvalue()
    from noisecraft.utils.credentials import sign_png

    return sign_png(buffer.getvalue(), claims, title)


def indexed(claims: dict[str, Any] | None, index: int) -> dict[str, Any] | None:
    """The claims of image `index` of a batch."""
    return None if claims is None else {**claims, "settings": {**claims.get("settings", {}), "index": index}}
