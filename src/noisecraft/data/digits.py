"""scikit-learn's bundled 8x8 handwritten digits (1,797 images): tiny, offline, good for smoke tests."""

from __future__ import annotations

from typing import Literal

import numpy as np
import torch

from noisecraft.data.base import ImageDataset
from noisecraft.data.transforms import holdout_indices

NUM_EXAMPLES = 1797
CLASS_NAMES = [str(i) for i in range(10)]


def load_digits(split: Literal["train", "validation", "test"], *, test_fraction: float = 0.1,
                hold_out_validation: bool = False) -> ImageDataset:
    """uint8 [N, 1, 8, 8] (0..16 scaled to 0..255) with labels 0..9.

    The data set has no official split: the test split is the first `test_fraction` of a permutation
    seeded with `transforms.SPLIT_SEED` (0), so it is the same on every machine and run; validation is the
    last 10% of the train split, left out of it with `hold_out_validation`.
    """
    from sklearn.datasets import load_digits as sklearn_digits  # imported here: sklearn takes ~1 s to import

    bunch = sklearn_digits()
    images = np.rint(bunch.images * (255 / 16)).astype(np.uint8)
    index = holdout_indices(len(images), split, test_fraction, "digits", hold_out_validation)
    images, labels = torch.from_numpy(images[index]).unsqueeze(1), torch.from_numpy(bunch.target[index]).long()
    return ImageDataset(images, labels, list(CLASS_NAMES), "digits")
