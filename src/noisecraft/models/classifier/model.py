"""A small CNN image classifier: the domain feature network behind "classifier FID" and class coverage.

It is a family like the generative ones so that the shared loop, recipes and model folders train and ship
it, but it models p(y|x) only: `sample` refuses. Stages of two 3x3 conv-batchnorm-SiLU + 2x2 max-pool, a 1x1 conv
to `head_channels` flattened (position matters for digits: global pooling cost ~0.5% accuracy), then
`feature_dim` penultimate features (what FID compares) and the class logits.
"""

from __future__ import annotations

from typing import Any, Literal

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn

from noisecraft.data.base import DataSpec
from noisecraft.errors import ConfigError
from noisecraft.models.base import GenerativeModel, ModelConfig, StepOutput
from noisecraft.models.registry import register
from noisecraft.nn.shapes import downsampled_size


class ClassifierConfig(ModelConfig):
    family: Literal["classifier"] = "classifier"
    channels: list[int] = Field([32, 64], min_length=1, max_length=6, description="two convs + 2x2 max-pool each")
    head_channels: int = Field(8, ge=1, description="1x1 conv before flattening: keeps where strokes are, cheaply")
    feature_dim: int = Field(128, ge=1, description="width of the penultimate layer (the FID features)")
    dropout: float = Field(0.0, ge=0, lt=1, description="dropout on the features while training")
    augment_shift: int = Field(0, ge=0, le=8, description="training: shift each image by up to this many pixels")


@register
class ImageClassifier(GenerativeModel):
    family = "classifier"
    config_class = ClassifierConfig
    modality = "label"

    def __init__(self, config: ClassifierConfig, spec: DataSpec) -> None:
        super().__init__(config, spec)
        if spec.num_classes is None:
            raise ConfigError("the classifier family needs labelled data: the data set has no labels "
                              "(mnist and digits have them; for an image folder set data.labels: true)")
        c = spec.shape[0]
        h, w = downsampled_size(spec.shape, len(config.channels), kind="pooling")
        layers: list[nn.Module] = []
        for c_in, c_out in zip([c, *config.channels[:-1]], config.channels):
            layers += [*conv_bn_silu(c_in, c_out), *conv_bn_silu(c_out, c_out), nn.MaxPool2d(2)]
        flat = config.head_channels * h * w
        self.body = nn.Sequential(*layers, nn.Conv2d(config.channels[-1], config.head_channels, 1), nn.SiLU(),
                                  nn.Flatten(), nn.Linear(flat, config.feature_dim), nn.SiLU())
        self.dropout = nn.Dropout(config.dropout)
        self.head = nn.Linear(config.feature_dim, spec.num_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Penultimate activations [N, feature_dim] of images [N, C, H, W] in [0, 1]."""
        return self.body(x * 2.0 - 1.0)

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits [N, num_classes] of images [N, C, H, W] in [0, 1]."""
        return self.head(self.dropout(self.features(x)))

    def forward(self, batch: dict[str, torch.Tensor], optimizer: str = "model") -> StepOutput:
        x, y = batch["x"], batch["y"]
        if self.training and self.config.augment_shift:
            x = random_shift(x, self.config.augment_shift)
        logits = self.logits(x)
        accuracy = (logits.argmax(1) == y).float().mean()
        return StepOutput(F.cross_entropy(logits, y), {"accuracy": accuracy.detach()})

    def sample(self, n: int, condition: Any = None, generator: torch.Generator | None = None,
               **options: Any) -> torch.Tensor:
        raise ConfigError("the classifier family classifies; it does not generate samples")


def conv_bn_silu(c_in: int, c_out: int) -> list[nn.Module]:
    """Batch norm lets global average pooling see a strong signal from step one (unnormalised, it trains slowly)."""
    return [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.SiLU()]


def random_shift(x: torch.Tensor, shift: int) -> torch.Tensor:
    """Translate each image by its own whole-pixel offset in [-shift, shift]^2, filling with zeros.

    Offsets come from the global torch RNG, which checkpoints save, so a resumed run draws the same ones.
    """
    n, c, h, w = x.shape
    padded = F.pad(x, (shift, shift, shift, shift))
    dy, dx = torch.randint(0, 2 * shift + 1, (2, n, 1), device=x.device)
    rows = torch.arange(h, device=x.device) + dy  # [n, h]
    cols = torch.arange(w, device=x.device) + dx  # [n, w]
    index_n = torch.arange(n, device=x.device)[:, None, None, None]
    index_c = torch.arange(c, device=x.device)[None, :, None, None]
    return padded[index_n, index_c, rows[:, None, :, None], cols[:, None, None, :]]
