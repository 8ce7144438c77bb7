"""Next-token sampling for every autoregressive model: logits filters and the generation loop.

The loop asks a model for the logits of the next token given the tokens of its current window. With a
cache (`use_cache=True`) only the newest token is fed; without one the whole window is re-read. Both see
exactly the same window (`window_start`), so for a seed they draw the same tokens: the cache is purely
an optimisation.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import torch
from torch import Tensor

from noisecraft.errors import ConfigError
from noisecraft.models.noise import per_rows
from noisecraft.utils.cancel import checkpoint


class NextTokenModel(Protocol):
    context_size: int | None  # tokens a model can attend to; None: unlimited (recurrent)

    def logits(self, tokens: Tensor, cache: object | None = None) -> Tensor: ...

    def new_cache(self, batch: int) -> object: ...


def window_start(length: int, start: int, context: int | None, first: bool) -> int:
    """Where the model's window begins. When the sequence outgrows the context, keep its last half (the
    last `context` tokens for the prompt), so a cache is rebuilt every context/2 tokens, not every token."""
    if context is None or length - start <= context:
        return start
    return length - (context if first else max(1, context // 2))


def filter_logits(logits: Tensor, tokens: Tensor, *, temperature: float = 1.0, top_k: int | None = None,
                  top_p: float | None = None, repetition_penalty: float = 1.0) -> Tensor:
    """Scores [n, vocab] -> the logits to sample from (temperature 0 is handled by the caller: argmax)."""
    logits = logits.float()
    if repetition_penalty != 1.0:  # CTRL (Keskar et al. 2019): make every token already present less likely
        seen = torch.gather(logits, 1, tokens)
        logits = logits.scatter(1, tokens, torch.where(seen > 0, seen / repetition_penalty, seen * repetition_penalty))
    if temperature > 0:
        logits = logits / temperature
    if top_k is not None and top_k < logits.shape[-1]:
        kth = torch.topk(logits, top_k, dim=-1).values[:, -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p is not None and top_p < 1.0:  # nucleus (Holtzman et al. 2020): the smallest set with mass >= p
        sorted_logits, order = torch.sort(logits, descending=True, dim=-1)
        mass_before = torch.softmax(sorted_logits, dim=-1).cumsum(-1) - torch.softmax(sorted_logits, dim=-1)
        drop = (mass_before >= top_p).scatter(1, order, mass_before >= top_p)
        logits = logits.masked_fill(drop, float("-inf"))
    return logits


def check_sampling_options(max_tokens: int, temperature: float, top_k: int | None, top_p: float | None,
                           repetition_penalty: float) -> None:
    if max_tokens < 0:
        raise ConfigError(f"--max-tokens: must be 0 or more (got {max_tokens})")
    if temperature < 0:
        raise ConfigError(f"--temperature: must be 0 (greedy) or more (got {temperature})")
    if top_k is not None and top_k < 1:
        raise ConfigError(f"--top-k: must be at least 1 (got {top_k})")
    if top_p is not None and not 0 < top_p <= 1:
        raise ConfigError(f"--top-p: must be in (0, 1] (got {top_p})")
    if repetition_penalty <= 0:
        raise ConfigError(f"--repetition-penalty: must be positive, 1 = none (got {repetition_penalty})")


@torch.no_grad()
def sample_tokens(model: NextTokenModel, prompt: Tensor, max_tokens: int, *, temperature: float = 1.0,
                  top_k: int | None = None, top_p: float | None = None, repetition_penalty: float = 1.0,
                  is_done: Callable[[list[int]], bool] | None = None, generator: torch.Generator | None = None,
                  use_cache: bool = True, on_step: Callable[[Tensor], None] | None = None) -> list[list[int]]:
    """Continue each row of `prompt` [n, P] by up to `max_tokens` tokens; returns the new tokens of each row,
    cut where `is_done(new_tokens)` first held."""
    check_sampling_options(max_tokens, temperature, top_k, top_p, repetition_penalty)
    n = prompt.shape[0]
    tokens = prompt
    outputs: list[list[int]] = [[] for _ in range(n)]
    running = [True] * n
    start, cache = 0, None
    for step in range(max_tokens):
        checkpoint()
        new_start = window_start(tokens.shape[1], start, model.context_size, first=step == 0)
        if not use_cache:
            logits = model.logits(tokens[:, new_start:])[:, -1]
        elif cache is None or new_start != start:
            cache = model.new_cache(n)
            logits = model.logits(tokens[:, new_start:], cache)[:, -1]
        else:
            logits = model.logits(tokens[:, -1:], cache)[:, -1]
        start = new_start
        if temperature == 0:
            logits = filter_logits(logits, tokens, repetition_penalty=repetition_penalty)
            next_token = logits.argmax(dim=-1, keepdim=True)
        else:
            logits = filter_logits(logits, tokens, temperature=temperature, top_k=top_k, top_p=top_p,
                                   repetition_penalty=repetition_penalty)
            probs = torch.softmax(logits, dim=-1)
            if generator is not None:  # draws on the generator's device, so that a seed means the same everywhere
                probs = probs.to(generator.device)
            next_token = per_rows(generator, n, lambda g, rows: torch.multinomial(probs[rows], 1, generator=g))
        tokens = torch.cat([tokens, next_token.to(tokens.device)], dim=1)
        for i in range(n):
            if running[i]:
                outputs[i].append(int(next_token[i]))
                if is_done is not None and is_done(outputs[i]):
                    running[i] = False
        if on_step is not None:
            on_step(next_token[:, 0])
        if not any(running):
            break
    return outputs
