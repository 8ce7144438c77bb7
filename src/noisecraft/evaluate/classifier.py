"""The shipped MNIST classifier as a fast domain feature network: features for "classifier FID" and
predicted classes for class coverage, in seconds on CPU.

The weights in `weights/mnist-classifier/` are the `model/` folder of `noisecraft train mnist-classifier`.
Images of any size or channel count are converted to the classifier's input by the data layer's own
transforms (ITU-R 601 luma, antialiased bilinear resize of the shorter side + center crop).
"""

from __future__ import annotations

import math
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

from noisecraft.data.download import file_digest
from noisecraft.data.transforms import convert_channels, resize_images
from noisecraft.errors import DataError
from noisecraft.models.classifier import ImageClassifier

MNIST_CLASSIFIER_DIR = Path(__file__).parent / "weights" / "mnist-classifier"


@lru_cache(maxsize=4)
def load_feature_classifier(path: str | Path = MNIST_CLASSIFIER_DIR) -> ImageClassifier:
    """The classifier in a model folder, in eval mode; loaded once per process and path."""
    return ImageClassifier.from_pretrained(path).eval()


@torch.no_grad()
def classify(model: ImageClassifier, images: torch.Tensor, batch_size: int = 500) -> tuple[torch.Tensor, torch.Tensor]:
    """Features float32 [N, feature_dim] and class probabilities float32 [N, num_classes] (on CPU) of
    images [N, C, H, W] in [0, 1], converted to the shape the classifier was trained on."""
    if images.ndim != 4:
        raise DataError(f"expected images N x C x H x W, got shape {tuple(images.shape)}")
    features, probs = [], []
    for chunk in images.split(batch_size):
        x = to_spec(chunk.float(), model.spec.shape).to(model.device)
        f = model.features(x)
        features.append(f.float().cpu())
        probs.append(model.head(f).float().softmax(1).cpu())
    return torch.cat(features), torch.cat(probs)


def to_spec(x: torch.Tensor, shape: tuple[int, ...]) -> torch.Tensor:
    """Float images [N, C, H, W] in [0, 1] -> [N, *shape], through the data layer's own conversions on
    8-bit levels (as if saved as PNG), so generated and reference images take the same path."""
    channels, height, width = shape
    if height != width:
        raise DataError(f"the classifier's input must be square, got {height}x{width}")
    levels = x.clamp(0, 1).mul(255).round().to(torch.uint8)
    return resize_images(convert_channels(levels, channels), height).float() / 255


def class_coverage(probs: torch.Tensor) -> dict[str, float]:
    """How the predicted classes of a set of samples spread over the classes (mode coverage):

    classes_covered: fraction of classes that are the prediction for at least one sample;
    class_entropy: entropy of the predicted-class histogram / log(num_classes) (1 = perfectly balanced);
    mean_confidence: mean max-probability (low when samples look like no class in particular).
    """
    num_classes = probs.shape[1]
    counts = torch.bincount(probs.argmax(1), minlength=num_classes).double()
    p = counts[counts > 0] / counts.sum()
    return {
        "classes_covered": float((counts > 0).double().mean()),
        "class_entropy": float((p * p.reciprocal().log()).sum() / (math.log(num_classes) or 1.0)),
        "mean_confidence": float(probs.max(1).values.mean()),
    }


class ClassifierExtractor:
    """The shipped classifier's penultimate features, in the shape `reference_features` expects."""

    name = "mnist-classifier (shipped in noisecraft/evaluate/weights)"
    preprocessing = "gray, 28x28"
    batch_size = 500

    def __init__(self, classifier: ImageClassifier) -> None:
        self.classifier = classifier
        self.sha1 = file_digest(MNIST_CLASSIFIER_DIR / "model.safetensors", "sha1")

    def __call__(self, images: torch.Tensor) -> np.ndarray:
        return classify(self.classifier, images)[0]
