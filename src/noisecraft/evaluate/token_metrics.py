"""Validation loss of a token model: nats per token, bits per character, perplexity.

Every token of the split's non-overlapping windows of `block_size + 1` tokens is predicted once, from
the tokens before it in its window (nanoGPT's `estimate_loss` draws such windows at random; this reads
them all). Bits per character divide the total by the characters those tokens decode to, so a character
model and a BPE model are compared on the same text.
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from noisecraft.data.text import TokenDataset
from noisecraft.models.autoregressive.token_model import TokenModel


@torch.no_grad()
def token_report(model: TokenModel, dataset: TokenDataset, *, batch_size: int = 64, max_windows: int | None = None,
                 progress: bool = True) -> dict[str, Any]:
    if dataset.stride != dataset.block_size:
        dataset = TokenDataset(dataset.tokens, dataset.block_size, dataset.tokenizer, name=dataset.name, split=dataset.split)
    windows = len(dataset) if max_windows is None else min(max_windows, len(dataset))
    total, start = 0.0, time.perf_counter()
    for i in tqdm(range(0, windows, batch_size), disable=not progress, desc="validation loss", unit="batch"):
        x = torch.stack([dataset[j]["x"] for j in range(i, min(i + batch_size, windows))]).to(model.device)
        total -= model.token_log_probs(x).double().sum().item()
    tokens = windows * dataset.block_size
    predicted = np.asarray(dataset.tokens[1 : 1 + tokens], dtype=np.int64)
    characters = len(dataset.tokenizer.decode(predicted.tolist()))
    loss = total / tokens
    return {
        "loss_nats_per_token": loss,
        "bits_per_character": total / characters / math.log(2),
        "perplexity": math.exp(loss),
        "tokens": tokens,
        "characters": characters,
        "windows": windows,
        "block_size": dataset.block_size,
        "seconds": time.perf_counter() - start,
    }
