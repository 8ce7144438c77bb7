"""Prompts -> caption token ids, for every family that reads captions (text-to-image diffusion, DALL-E
style priors, the CLIP scorer). The tokenizer and caption length come from the data spec, so a model
folder encodes prompts exactly as its training captions were."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from noisecraft.data.base import DataSpec
from noisecraft.errors import ConfigError
from noisecraft.text.tokenizers import CaptionTokenizer, tokenizer_from_dict


def caption_tokenizer(spec: DataSpec) -> CaptionTokenizer:
    if spec.tokenizer is None or not spec.caption_tokens:
        raise ConfigError("this model reads captions, but its data spec has no caption tokenizer "
                          "(train it on captioned data: dataset: shapes, or an image folder with data.captions: true)")
    tokenizer = tokenizer_from_dict(spec.tokenizer)
    if not isinstance(tokenizer, CaptionTokenizer):
        raise ConfigError(f"captions need a caption tokenizer, the spec holds a {tokenizer.kind} one")
    return tokenizer


def prompts_of(condition: Any, n: int, what: str = "prompt") -> list[str]:
    """None -> n empty prompts (unconditional); one text -> n copies; n texts -> themselves."""
    if condition is None:
        return [""] * n
    if isinstance(condition, str):
        return [condition] * n
    if isinstance(condition, Sequence) and all(isinstance(c, str) for c in condition) and len(condition) == n:
        return list(condition)
    raise ConfigError(f"{what}: a text, or one text per sample ({n}); got {condition!r}")


def check_prompt(prompt: str, what: str = "prompt") -> str:
    bad = sorted({c for c in prompt if "\ud800" <= c <= "\udfff"})
    if bad:  # what Python makes of bytes on a command line that are not UTF-8
        raise ConfigError(f"{what}: not valid text (undecodable bytes; give the prompt as UTF-8)")
    return prompt


def caption_ids(spec: DataSpec, condition: Any, n: int, what: str = "prompt") -> torch.Tensor:
    """[n, caption_tokens] ids of the prompts in `condition` (see `prompts_of`)."""
    tokenizer = caption_tokenizer(spec)
    texts = [check_prompt(t, what) for t in prompts_of(condition, n, what)]
    return torch.tensor([tokenizer.encode_padded(t, spec.caption_tokens) for t in texts], dtype=torch.long)


def empty_captions(like: torch.Tensor) -> torch.Tensor:
    """The empty caption (<start>, then padding) in the shape of caption ids `like`: "no caption", for
    caption dropout and classifier-free guidance."""
    empty = torch.zeros_like(like)
    empty[:, 0] = CaptionTokenizer.START
    return empty
