"""Images in, PNG files out (Pillow; torchvision does not import beside the CPU torch build)."""

from __future__ import annotations

import io
import math
from pathlib import Path

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


def save_grid(images: torch.Tensor, path: Path, nrow: int | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    to_pil(make_grid(images, nrow)).save(path)
    return path


def save_each(images: torch.Tensor, folder: Path, prefix: str = "sample") -> list[Path]:
    """One PNG per image: sample-0000.png, sample-0001.png, ..."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, arr in enumerate(to_uint8(images)):
        paths.append(folder / f"{prefix}-{i:04d}.png")
        to_pil(arr).save(paths[-1])
    return paths


def png_bytes(image: torch.Tensor, text: dict[str, str] | None = None) -> bytes:
    """One image [C, H, W] in [0, 1] as PNG bytes; `text` goes into iTXt chunks (UTF-8), e.g. the settings
    that made the image, so that a file keeps how to reproduce it."""
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    for key, value in (text or {}).items():
        info.add_itxt(key, value)
    buffer = io.BytesIO()
    to_pil(to_uint8(image[None])[0]).save(buffer, format="PNG", pnginfo=info)
    return buffer.getvalue()
