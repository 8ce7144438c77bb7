"""The feature space of an image data set's metrics, for the checks that compare samples with real images
(memorization, C2ST): the shipped MNIST classifier for MNIST, Inception-v3 for anything else.

Held-out real images ignore `data.limit`: the limit bounds what a model trains on, but a calibration (a
1st percentile) or a judge needs enough held-out images of its own.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from noisecraft.config import DataConfig
from noisecraft.data import build_dataset
from noisecraft.evaluate.reference import reference_features


def feature_network(data: DataConfig) -> Any:
    """The extractor whose features the data's sample-quality metrics use (callable: images -> [N, D])."""
    if data.dataset == "mnist":
        from noisecraft.evaluate.classifier import ClassifierExtractor, load_feature_classifier

        return ClassifierExtractor(load_feature_classifier())
    from noisecraft.evaluate.inception import InceptionFeatures

    return InceptionFeatures()


def features_of(extractor: Any, images: torch.Tensor, progress: bool = False) -> np.ndarray:
    """Features float32 [N, D] of images [N, C, H, W] in [0, 1], in the extractor's batches."""
    size = getattr(extractor, "batch_size", 100)
    batches = (images[i : i + size] for i in range(0, len(images), size))
    if hasattr(extractor, "extract"):
        return extractor.extract(batches, total=len(images), progress=progress, desc="sample features")
    return np.concatenate([extractor(b) for b in batches]).astype(np.float32)


def unlimited(data: DataConfig) -> DataConfig:
    return data.model_copy(update={"limit": None})


def held_out_images(data: DataConfig, split: str, num: int) -> torch.Tensor:
    """The first `num` images of the split (fewer where it is shorter), ignoring `data.limit`."""
    dataset = build_dataset(unlimited(data), split)
    return torch.stack([dataset[i]["x"] for i in range(min(num, len(dataset)))])


def held_out_features(data: DataConfig, split: str, num: int, extractor: Any, progress: bool = False) -> np.ndarray:
    """Features of the same images as `held_out_images`, cached like every reference."""
    return reference_features(unlimited(data), split, extractor, num=num, progress=progress)[0]
