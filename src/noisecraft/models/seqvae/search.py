"""Search a sequence VAE's latent space for sequences that score well (Gomez-Bombarelli et al. 2018 used
Bayesian optimisation; this is its simplest sound relative, a seeded (mu + lambda) evolution strategy):
keep the best latents, perturb them, decode greedily, score, repeat. The score is any function of the
decoded text, e.g. a molecule's QED (None for a text that fails to score)."""

from __future__ import annotations

from collections.abc import Callable

import torch

from noisecraft.models.seqvae.model import SequenceVAE


@torch.no_grad()
def latent_search(model: SequenceVAE, score: Callable[[str], float | None], *, population: int = 64,
                  keep: int = 8, rounds: int = 10, step: float = 0.5, seed: int = 0,
                  start: list[str] | None = None) -> list[tuple[float, str]]:
    """The best (score, text) pairs found, best first, distinct texts."""
    generator = torch.Generator().manual_seed(seed)
    dim = model.config.latent_dim
    z = model.encode(start).cpu() if start else torch.randn(population, dim, generator=generator)
    end = model.tokenizer.decode([model.end])
    found: dict[str, float] = {}
    for _ in range(rounds):
        texts = [model.tokenizer.decode(ids).split(end)[0] for ids in model.decode(z, temperature=0.0)]
        scores = []
        for text in texts:
            value = score(text) if text else None
            scores.append(float("-inf") if value is None else float(value))
            if value is not None:
                found[text] = float(value)
        best = torch.tensor(scores).argsort(descending=True)[:keep]
        parents = z[best]
        children = parents.repeat((population + keep - 1) // keep, 1)[: population - keep]
        z = torch.cat([parents, children + step * torch.randn(children.shape, generator=generator)])
    return sorted(((v, t) for t, v in found.items()), reverse=True)
