"""Best-of-K sampling for text-to-image models: draw K candidates per requested image, keep the one a
CLIP-style scorer (`noisecraft.models.clip`) finds closest to the prompt (as DALL-E reranked with CLIP)."""

from __future__ import annotations

from typing import Any

import torch

from noisecraft.errors import ConfigError
from noisecraft.models.base import GenerativeModel


def pick_best(candidates: torch.Tensor, scores: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Candidates [N * K, ...] in groups of K (image i's are rows i*K .. i*K + K - 1) -> the best of each
    group [N, ...] and its score [N]."""
    grouped = scores.reshape(-1, k)
    best = grouped.argmax(1)
    rows = torch.arange(len(grouped)) * k + best
    return candidates[rows], grouped.max(1).values


@torch.no_grad()
def generate_reranked(model: GenerativeModel, scorer: GenerativeModel | None, prompt: str, num: int, rerank: int = 1,
                      seed: int = 0, **options: Any) -> tuple[torch.Tensor, torch.Tensor | None]:
    """`num` images for `prompt`, each the best of `rerank` candidates; with a scorer, also their scores."""
    if rerank > 1 and scorer is None:
        raise ConfigError("--rerank: needs a scorer (--scorer RUN: a trained shapes-clip or other clip run)")
    generator = torch.Generator().manual_seed(seed)  # drawn in chunks as `sampling.generate` does: the same images
    total = num * rerank
    images = torch.cat([model.sample(min(256, total - start), condition=prompt, generator=generator, **options).cpu()
                        for start in range(0, total, 256)])
    if scorer is None:
        return images, None
    scores = scorer.score(images, [prompt] * len(images)).cpu()
    return pick_best(images, scores, rerank) if rerank > 1 else (images, scores)


class Reranked:
    """A text-to-image model seen through best-of-K: `sample(n, prompts)` draws K candidates per image and
    returns the best-scored of each (what `--rerank K` does, in the shape evaluation asks for)."""

    condition_kind = "prompt"

    def __init__(self, model: GenerativeModel, scorer: GenerativeModel, k: int) -> None:
        self.model, self.scorer, self.k = model, scorer, k

    @torch.no_grad()
    def sample(self, n: int, condition: Any = None, generator: torch.Generator | None = None, **options: Any) -> torch.Tensor:
        prompts = [condition] * n if isinstance(condition, str) or condition is None else list(condition)
        expanded = [p for p in prompts for _ in range(self.k)]
        candidates = self.model.sample(n * self.k, condition=expanded, generator=generator, **options).cpu()
        return pick_best(candidates, self.scorer.score(candidates, [p or "" for p in expanded]).cpu(), self.k)[0]
