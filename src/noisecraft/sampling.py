"""One sampling path for the CLI, the Python API and (later) the server: options checked by name,
batched so that any N fits in memory, deterministic for a seed."""

from __future__ import annotations

from typing import Any

import torch
from tqdm.auto import tqdm

from noisecraft.errors import ConfigError
from noisecraft.models.base import GenerativeModel


def check_options(model: GenerativeModel, options: dict[str, Any]) -> dict[str, Any]:
    """Drop unset options; an option the family does not take is an error naming it."""
    options = {k: v for k, v in options.items() if v is not None}
    unknown = [k for k in options if k not in model.sample_options]
    if unknown:
        takes = ", ".join(model.sample_options) or "no options"
        raise ConfigError(f"--{unknown[0].replace('_', '-')}: the {model.family} family does not take it (it takes: {takes})")
    return options


@torch.no_grad()
def generate(model: GenerativeModel, num: int, seed: int = 0, batch_size: int = 256, condition: Any = None,
             progress: bool = False, **options: Any) -> torch.Tensor:
    """`num` samples from one generator seeded with `seed`: the same seed gives the same samples."""
    if num < 1:
        raise ConfigError(f"--num: must be at least 1 (got {num})")
    options = check_options(model, options)
    generator = torch.Generator().manual_seed(seed)
    chunks = []
    with tqdm(total=num, disable=not progress, desc="sampling", unit="img", dynamic_ncols=True) as bar:
        for start in range(0, num, batch_size):
            n = min(batch_size, num - start)
            chunks.append(model.sample(n, condition=condition, generator=generator, **options).cpu())
            bar.update(n)
    return torch.cat(chunks)
