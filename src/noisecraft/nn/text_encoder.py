"""A small transformer encoder over caption tokens, trained jointly with the model that reads it.

ids [B, L] (<start> first, <pad> = 0 after the words) -> embedding + learned positions -> `layers` x
bidirectional pre-norm attention blocks (PyTorch's TransformerEncoderLayer) -> norm -> context [B, L, dim]
and mask [B, L] (True = a real token). Padding is masked everywhere, so what a pad position holds never
reaches the output. `pooled` gives one vector per caption (the mean of its real tokens) for a CLIP scorer.
"""

from __future__ import annotations

import torch
from pydantic import Field
from torch import nn

from noisecraft.config import StrictModel

PAD = 0  # CaptionTokenizer.PAD


class TextEncoderConfig(StrictModel):
    dim: int = Field(128, ge=8, le=4096, description="width of the caption encoder (and of the context it hands on)")
    layers: int = Field(2, ge=1, le=24)
    heads: int = Field(4, ge=1, le=64)


class TextEncoder(nn.Module):
    def __init__(self, config: TextEncoderConfig, vocab_size: int, length: int) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab_size, config.dim)
        self.position = nn.Parameter(torch.randn(length, config.dim) * 0.02)
        layer = nn.TransformerEncoderLayer(config.dim, config.heads, 4 * config.dim, dropout=0.0, activation="gelu",
                                           batch_first=True, norm_first=True)
        self.blocks = nn.TransformerEncoder(layer, config.layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(config.dim)

    def forward(self, ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mask = ids != PAD
        x = self.embed(ids) + self.position[: ids.shape[1]]
        return self.norm(self.blocks(x, src_key_padding_mask=~mask)), mask

    def pooled(self, ids: torch.Tensor) -> torch.Tensor:
        context, mask = self(ids)
        weights = mask.unsqueeze(-1).float()
        return (context * weights).sum(1) / weights.sum(1).clamp(min=1)
