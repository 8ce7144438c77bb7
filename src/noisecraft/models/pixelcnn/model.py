"""PixelCNN: an image as a sequence of pixels in raster order, each predicted from the ones before it by a
gated PixelCNN stack (nn/pixelcnn.py), so log p(x) is an exact sum of per-pixel log-probabilities.

Pixels are categories: `levels: 2` models dynamically binarized images (each training batch is binarized
afresh, x ~ Bernoulli(intensity)), `levels: 256` the 8-bit values. Scored by `evaluate --metrics nll` on
the matching view of the test split (binarized: nats; 8-bit: bits/dim). Sampling runs the stack once per
pixel, for the whole batch at once.
"""

from __future__ import annotations

import math
from typing import Any, Literal

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import Tensor
from tqdm.auto import tqdm

from noisecraft.data.base import DataSpec
from noisecraft.errors import ConfigError
from noisecraft.models.base import GenerativeModel, ModelConfig, StepOutput
from noisecraft.models.noise import per_rows
from noisecraft.models.registry import register
from noisecraft.nn.pixelcnn import GatedPixelCNN
from noisecraft.utils.cancel import checkpoint


class PixelCNNConfig(ModelConfig):
    family: Literal["pixelcnn"] = "pixelcnn"
    levels: Literal[2, 256] = Field(2, description="2: binarized pixels (scored in nats); 256: 8-bit pixels (bits/dim)")
    channels: int = Field(64, ge=1, le=1024, description="width of both stacks")
    layers: int = Field(12, ge=1, le=64, description="gated layers")
    kernel: int = Field(5, ge=3, le=15, description="odd kernel size; the receptive field grows by kernel // 2 per layer")
    head: int = Field(256, ge=1, description="width of the 1x1 output layers")
    conditional: bool = Field(False, description="class-conditional (needs labelled data)")


@register
class PixelCNN(GenerativeModel):
    family = "pixelcnn"
    config_class = PixelCNNConfig
    sample_options = ("temperature",)

    def __init__(self, config: PixelCNNConfig, spec: DataSpec) -> None:
        super().__init__(config, spec)
        if len(spec.shape) != 3 or spec.shape[0] != 1:
            raise ConfigError(f"model.family pixelcnn: needs single-channel images (1, H, W); the data gives {tuple(spec.shape)} "
                              "(data.channels: 1 turns colour images grey)")
        if config.kernel % 2 == 0:
            raise ConfigError(f"model.kernel: must be odd (got {config.kernel})")
        self.init_conditioning(config.conditional)
        self.likelihood_data = "binarized" if config.levels == 2 else "levels"
        self.stack = GatedPixelCNN(config.levels, config.channels, config.layers, config.kernel,
                                   self.num_classes or 0, config.head)

    def tokens(self, x: Tensor) -> Tensor:
        """Images [B, 1, H, W] in [0, 1] (binary for levels 2) -> pixel categories [B, H, W]."""
        return (x[:, 0] * (self.config.levels - 1)).round().long().clamp(0, self.config.levels - 1)

    def labels(self, labels: Tensor | None, n: int) -> Tensor | None:
        labels = self.require_labels(labels)
        return None if labels is None else labels.to(self.device).long().expand(n)

    def forward(self, batch: dict[str, Tensor], optimizer: str = "model") -> StepOutput:
        x = batch["x"]
        if self.config.levels == 2:
            x = torch.bernoulli(x)  # dynamic binarization: a new binary image of each digit every epoch
        tokens = self.tokens(x)
        logits = self.stack(tokens, self.labels(batch.get("y"), len(x)))
        nats_per_pixel = F.cross_entropy(logits, tokens)
        pixels = tokens[0].numel()
        return StepOutput(nats_per_pixel, {"nll_nats_per_image": nats_per_pixel.detach() * pixels,
                                           "bits_per_dim": nats_per_pixel.detach() / math.log(2)})

    @torch.no_grad()
    def log_likelihood(self, x: Tensor, labels: Tensor | None = None) -> Tensor:
        """Exact log p(x) in nats per image: the sum of every pixel's log-probability given those before it."""
        tokens = self.tokens(x.to(self.device))
        logits = self.stack(tokens, self.labels(labels, len(x)))
        return -F.cross_entropy(logits, tokens, reduction="none").flatten(1).sum(1)

    @torch.no_grad()
    def sample(self, n: int, condition: Any = None, generator: torch.Generator | None = None,
               temperature: float = 1.0) -> Tensor:
        """One pixel at a time in raster order, all n images together; temperature 0 takes the likeliest value."""
        labels = self.labels_for(condition, n)
        _, h, w = self.spec.shape
        tokens = torch.zeros(n, h, w, dtype=torch.long, device=self.device)
        above: list[Tensor] = []
        for i, j in tqdm([(i, j) for i in range(h) for j in range(w)], desc="pixels", leave=False, disable=None):
            checkpoint()
            if j == 0:  # the rows above are complete: their part of every layer is fixed for this row
                above = self.stack.rows_above(tokens[:, : i + 1], labels)
            logits = self.stack.next_logits(tokens[:, i, :j], above, labels)
            if temperature == 0:
                tokens[:, i, j] = logits.argmax(1)
                continue
            probs = torch.softmax(logits.float() / temperature, dim=1).cpu()
            tokens[:, i, j] = per_rows(generator, n, lambda g, rows: torch.multinomial(probs[rows], 1, generator=g))[:, 0].to(self.device)
        return (tokens[:, None].float() / (self.config.levels - 1))
