"""Gated PixelCNN stack (van den Oord et al. 2016, "Conditional Image Generation with PixelCNN Decoders"):
logits for every position of a grid of tokens, each from the tokens before it in raster order only.

Tokens, not pixels: the input is an integer grid [B, H, W] over a vocabulary (2 for binary pixels, 256
for 8-bit ones, a codebook for VQ-VAE codes), so the same stack is a prior over any of them.

No blind spot: a vertical stack sees the rows above (whole width), a horizontal stack the pixels to the
left on the current row; the vertical features reach the horizontal stack shifted down one row. Masks are
paddings and kernel shapes, not multiplied weights.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def shift_down(x: Tensor) -> Tensor:
    return F.pad(x, (0, 0, 1, 0))[:, :, :-1]


def shift_right(x: Tensor) -> Tensor:
    return F.pad(x, (1, 0))[:, :, :, :-1]


class GatedLayer(nn.Module):
    """One gated layer of both stacks: tanh(a) * sigmoid(b), class embedding added to both halves."""

    def __init__(self, channels: int, kernel: int, first: bool, num_classes: int) -> None:
        super().__init__()
        self.k, self.first = kernel // 2, first
        self.vertical = nn.Conv2d(channels, 2 * channels, (self.k + 1, kernel))  # rows i-k..i, all columns
        self.horizontal = nn.Conv2d(channels, 2 * channels, (1, self.k + 1))  # columns j-k..j of row i
        self.vertical_to_horizontal = nn.Conv2d(2 * channels, 2 * channels, 1)
        self.horizontal_out = nn.Conv2d(channels, channels, 1)
        self.class_embed = nn.Embedding(num_classes, 2 * channels) if num_classes else None

    def forward(self, v: Tensor, h: Tensor, labels: Tensor | None) -> tuple[Tensor, Tensor]:
        v_out, to_horizontal = self.vertical_pass(v, labels)
        return v_out, self.horizontal_pass(h, to_horizontal, labels)

    def vertical_pass(self, v: Tensor, labels: Tensor | None) -> tuple[Tensor, Tensor]:
        """The vertical stack's output, and what row i of the horizontal stack gets from the rows above it."""
        k = self.k
        v_pre = self.vertical(F.pad(v, (k, k, k, 0)))
        to_horizontal = self.vertical_to_horizontal(shift_down(v_pre))  # rows strictly above reach row i
        return gate(self.add_class(v_pre, labels)), to_horizontal

    def horizontal_pass(self, h: Tensor, to_horizontal: Tensor, labels: Tensor | None) -> Tensor:
        """Causal along the row, so any prefix of columns can be computed alone (the sampler does)."""
        h_pre = self.horizontal(F.pad(h, (self.k, 0, 0, 0)))
        if self.first:  # the first layer must not see the current pixel itself
            h_pre = shift_right(h_pre)
        h_out = self.horizontal_out(gate(self.add_class(h_pre + to_horizontal, labels)))
        return h_out if self.first else h + h_out

    def add_class(self, x: Tensor, labels: Tensor | None) -> Tensor:
        return x if self.class_embed is None else x + self.class_embed(labels)[:, :, None, None]


def gate(x: Tensor) -> Tensor:
    a, b = x.chunk(2, dim=1)
    return torch.tanh(a) * torch.sigmoid(b)


class GatedPixelCNN(nn.Module):
    """Tokens [B, H, W] (+ labels [B]) -> logits [B, vocab, H, W]; logits at (i, j) depend only on tokens
    before (i, j) in raster order."""

    def __init__(self, vocab: int, channels: int = 64, layers: int = 12, kernel: int = 5, num_classes: int = 0,
                 head: int = 256) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, channels)
        self.layers = nn.ModuleList(GatedLayer(channels, kernel, i == 0, num_classes) for i in range(layers))
        self.head = nn.Sequential(nn.ReLU(), nn.Conv2d(channels, head, 1), nn.ReLU(), nn.Conv2d(head, vocab, 1))

    def forward(self, tokens: Tensor, labels: Tensor | None = None) -> Tensor:
        v = h = self.embed(tokens).permute(0, 3, 1, 2)
        for layer in self.layers:
            v, h = layer(v, h, labels)
        return self.head(h)

    def rows_above(self, tokens: Tensor, labels: Tensor | None = None) -> list[Tensor]:
        """For each layer, what the last row of `tokens` gets from the rows above it ([B, 2C, 1, W]); the last
        row's own tokens do not matter. Sampling computes this once a row, not once a pixel."""
        v = self.embed(tokens).permute(0, 3, 1, 2)
        above = []
        for layer in self.layers:
            v, to_horizontal = layer.vertical_pass(v, labels)
            above.append(to_horizontal[:, :, -1:])
        return above

    def next_logits(self, row: Tensor, above: list[Tensor], labels: Tensor | None = None) -> Tensor:
        """Logits [B, vocab] for the pixel after `row` ([B, j], the row's tokens so far), given `rows_above`;
        equal to `forward(...)[:, :, i, j]`, with 1/H of its horizontal work and none of its vertical work."""
        j = row.shape[1]
        row = F.pad(row, (0, 1))  # the pixel itself: never seen (first layer's shift)
        h = self.embed(row).permute(0, 2, 1)[:, :, None]  # [B, C, 1, j + 1]
        for layer, to_horizontal in zip(self.layers, above):
            h = layer.horizontal_pass(h, to_horizontal[..., : j + 1], labels)
        return self.head(h[..., -1:])[:, :, 0, 0]
