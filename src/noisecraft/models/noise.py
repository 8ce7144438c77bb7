"""Noise for sampling, drawn so that requests batched together get the samples they would get alone.

A server batches several requests into one `model.sample` call; each request has its own seed. Passing
`RowGenerators` as the generator makes every draw take each request's rows from that request's own
generator, in the same shapes and order as an unbatched call would, so a seed keeps meaning the same
samples (up to float rounding of the batched network) whoever else was in the batch.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch


class RowGenerators:
    """One torch.Generator per consecutive group of rows: [(generator, rows), ...]."""

    def __init__(self, groups: Sequence[tuple[torch.Generator, int]]) -> None:
        self.groups = list(groups)
        self.device = self.groups[0][0].device if self.groups else torch.device("cpu")

    def __len__(self) -> int:
        return sum(rows for _, rows in self.groups)


Generator = torch.Generator | RowGenerators | None


def per_rows(generator: Generator, n: int, draw: Callable[[torch.Generator | None, slice], torch.Tensor]) -> torch.Tensor:
    """`draw(generator, rows)` for rows 0..n; with RowGenerators, each group's rows from its own generator."""
    if not isinstance(generator, RowGenerators):
        return draw(generator, slice(0, n))
    if len(generator) != n:
        raise ValueError(f"RowGenerators cover {len(generator)} rows, the draw has {n}")
    parts, start = [], 0
    for g, rows in generator.groups:
        parts.append(draw(g, slice(start, start + rows)))
        start += rows
    return torch.cat(parts)


def randn(shape: Sequence[int], generator: Generator = None) -> torch.Tensor:
    """torch.randn(shape) on the CPU (the same numbers on every device), rows split by RowGenerators."""
    return per_rows(generator, shape[0], lambda g, rows: torch.randn(rows.stop - rows.start, *shape[1:], generator=g))
