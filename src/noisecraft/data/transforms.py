"""Shape changes and split rules shared by every loader, on uint8 N x C x H x W tensors."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from noisecraft.errors import DataError

SPLIT_SEED = 0  # seed of the permutation behind every held-out test split; changing it changes the splits


def resize_images(images: torch.Tensor, size: int, chunk: int = 2048) -> torch.Tensor:
    """Resize the shorter side to `size` (antialiased bilinear), then center crop to size x size.

    Works in chunks so the float copy stays small for large data sets.
    """
    n, c, h, w = images.shape
    if (h, w) == (size, size):
        return images
    scale = size / min(h, w)
    new_h, new_w = max(size, round(h * scale)), max(size, round(w * scale))
    top, left = (new_h - size) // 2, (new_w - size) // 2
    out = torch.empty((n, c, size, size), dtype=torch.uint8)
    for i in range(0, n, chunk):
        resized = F.interpolate(
            images[i : i + chunk].float(), size=(new_h, new_w), mode="bilinear", antialias=True, align_corners=False
        )
        out[i : i + chunk] = resized[..., top : top + size, left : left + size].round_().clamp_(0, 255).to(torch.uint8)
    return out


def convert_channels(images: torch.Tensor, channels: int) -> torch.Tensor:
    """1 -> 3 by repetition, 3 -> 1 by ITU-R 601 luma with Pillow's rounding (same as `convert("L")`)."""
    have = images.shape[1]
    if have == channels:
        return images
    if (have, channels) == (1, 3):
        return images.repeat(1, 3, 1, 1)
    if (have, channels) == (3, 1):
        r, g, b = images.int().unbind(1)
        return ((r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16).to(torch.uint8).unsqueeze(1)
    raise DataError(f"cannot convert {have}-channel images to {channels} channels")


SPLITS = ("train", "validation", "test")
VALIDATION_FRACTION = 0.1  # of the train split, from its end, where a data set ships no validation split


def check_split(split: str) -> None:
    if split not in SPLITS:
        raise DataError(f"unknown split {split!r}: use 'train', 'validation' or 'test'")


def holdout_size(n: int, test_fraction: float) -> int:
    """Examples held out for testing: round(n * fraction), at least 1 when fraction > 0, leaving 1 to train."""
    if test_fraction <= 0 or n < 2:
        return 0
    return min(n - 1, max(1, round(n * test_fraction)))


def validation_slice(n: int, split: str, size: int, hold_out: bool, what: str) -> slice:
    """Of the n examples of a train split, in order: "validation" is the last `size`; "train" is all n, or
    (`hold_out`, data.hold_out_validation) the rest, so pilots can be scored on data no training saw."""
    if split == "validation":
        if size == 0:
            raise DataError(f"{what} has no validation split: its train split has only {n} example(s)")
        return slice(n - size, n)
    return slice(0, n - size if hold_out else n)


def holdout_indices(n: int, split: str, test_fraction: float, what: str, hold_out_validation: bool = False) -> np.ndarray:
    """Indices of `split` in a fixed-seed permutation of n examples: test = its first holdout_size(...);
    validation = the last VALIDATION_FRACTION of the rest (the train split), see `validation_slice`.

    Every split keeps the permutation order, so `data.limit` takes a class-mixed sample, not one class.
    `what` names the data set in errors.
    """
    check_split(split)
    n_test = holdout_size(n, test_fraction)
    if split == "test" and n_test == 0:
        reason = "data.test_fraction is 0" if test_fraction <= 0 else f"it has only {n} example(s)"
        raise DataError(f"{what} has no test split: {reason}")
    order = np.random.default_rng(SPLIT_SEED).permutation(n)
    if split == "test":
        return order[:n_test]
    train = order[n_test:]
    return train[validation_slice(len(train), split, holdout_size(len(train), VALIDATION_FRACTION), hold_out_validation, what)]
