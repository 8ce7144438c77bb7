"""The AR-CNN's network: DeepComposer's U-Net over a piano roll (two 3x3 conv + ReLU per level, max-pool
down, upsample + skip concatenation up, channels times `growth` per level, a 1x1 conv out). Any roll
size: inputs are padded to a multiple of 2^depth and the output cropped back."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def conv_block(c_in: int, c_out: int, dropout: float) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, padding=1), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True),
        nn.Conv2d(c_out, c_out, 3, padding=1), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True),
        nn.Dropout2d(dropout) if dropout else nn.Identity(),
    )


class RollUNet(nn.Module):
    def __init__(self, c_in: int, c_out: int, channels: int = 32, depth: int = 3, growth: int = 2,
                 dropout: float = 0.0) -> None:
        super().__init__()
        widths = [channels * growth**i for i in range(depth + 1)]
        self.depth = depth
        self.down = nn.ModuleList(conv_block(a, b, dropout) for a, b in zip([c_in] + widths[:-2], widths[:-1]))
        self.middle = conv_block(widths[-2], widths[-1], dropout)
        self.up = nn.ModuleList(conv_block(widths[i + 1] + widths[i], widths[i], dropout) for i in reversed(range(depth)))
        self.out = nn.Conv2d(widths[0], c_out, 1)

    def forward(self, x: Tensor) -> Tensor:
        h, w = x.shape[-2:]
        m = 2**self.depth
        x = F.pad(x, (0, -w % m, 0, -h % m))
        skips = []
        for block in self.down:
            x = block(x)
            skips.append(x)
            x = F.max_pool2d(x, 2)
        x = self.middle(x)
        for block in self.up:
            skip = skips.pop()
            x = block(torch.cat([F.interpolate(x, size=skip.shape[-2:], mode="nearest"), skip], dim=1))
        return self.out(x)[..., :h, :w]
