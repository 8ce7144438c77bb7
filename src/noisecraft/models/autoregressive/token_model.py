"""What every autoregressive model of a token stream shares: the next-token loss, exact likelihood, and
sampling. A subclass only says how to turn tokens into next-token logits (`logits`), with a cache.

Nothing here knows about text: tokens may be characters, BPE pieces, music events, SMILES or VQ codes.
The data spec's tokenizer turns a prompt into tokens and stop strings into a test on decoded tokens.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import Tensor

from noisecraft.data.base import DataSpec
from noisecraft.errors import ConfigError
from noisecraft.models.autoregressive.sampling import sample_tokens
from noisecraft.models.base import GenerativeModel, ModelConfig, StepOutput


class TokenModelConfig(ModelConfig):
    """Sampling defaults every token model has (each can be overridden per call)."""

    max_tokens: int = Field(256, ge=0, le=1 << 20, description="tokens to generate")
    temperature: float = Field(1.0, ge=0, description="0 = greedy")
    top_k: int | None = Field(None, ge=1)
    top_p: float | None = Field(None, gt=0, le=1)
    repetition_penalty: float = Field(1.0, gt=0, description="1 = none")


class TokenModel(GenerativeModel):
    data_modality = "tokens"
    modality = "tokens"
    sample_options = ("max_tokens", "temperature", "top_k", "top_p", "repetition_penalty", "stop")
    context_size: int | None = None

    def __init__(self, config: TokenModelConfig, spec: DataSpec) -> None:
        super().__init__(config, spec)
        if not spec.vocab_size:
            raise ConfigError(f"the {self.family} family models token streams; the data spec has no vocab_size")
        self.vocab_size = spec.vocab_size

    def logits(self, tokens: Tensor, cache: Any = None) -> Tensor:
        """Next-token logits [n, t, vocab] for tokens [n, t]; a cache is extended in place."""
        raise NotImplementedError

    def new_cache(self, batch: int) -> Any:
        raise NotImplementedError

    @property
    def tokenizer(self):
        from noisecraft.text.tokenizers import tokenizer_from_dict

        if self.spec.tokenizer is None:
            raise ConfigError(f"this {self.family} model was saved without a tokenizer: give prompts as token ids")
        if getattr(self, "_tokenizer", None) is None:
            self._tokenizer = tokenizer_from_dict(self.spec.tokenizer)
        return self._tokenizer

    # --- training and likelihood ---------------------------------------------------------------------
    def forward(self, batch: dict[str, Tensor], optimizer: str = "model") -> StepOutput:
        x = batch["x"]
        logits = self.logits(x[:, :-1])
        loss = F.cross_entropy(logits.flatten(0, 1).float(), x[:, 1:].flatten())
        return StepOutput(loss)

    def token_log_probs(self, x: Tensor) -> Tensor:
        """log p(x_t | x_<t) [n, L] for each token of windows x [n, L + 1] after the first."""
        logits = self.logits(x[:, :-1]).float()
        return -F.cross_entropy(logits.transpose(1, 2), x[:, 1:], reduction="none")

    def log_likelihood(self, x: Tensor) -> Tensor:
        """Exact log p(x_1..x_L | x_0) in nats per window."""
        return self.token_log_probs(x).sum(dim=1)

    # --- sampling ------------------------------------------------------------------------------------
    def encode_prompt(self, condition: Any) -> list[int]:
        if condition is None or condition == "":
            return list(self.spec.start_tokens or [0])
        if isinstance(condition, str):
            bad = sorted({c for c in condition if "\ud800" <= c <= "\udfff"})
            if bad:  # what Python makes of bytes on a command line that are not UTF-8
                raise ConfigError(f"prompt: not valid text: undecodable bytes {', '.join(hex(ord(c) - 0xDC00) for c in bad)}"
                                  " (give the prompt as UTF-8)")
            return self.tokenizer.encode(condition)
        ids = [int(i) for i in condition]
        bad = [i for i in ids if not 0 <= i < self.vocab_size]
        if bad or not ids:
            raise ConfigError(f"prompt: token ids must be in 0..{self.vocab_size - 1} (got {bad[:3] or 'none'})")
        return ids

    @torch.no_grad()
    def sample(self, n: int, condition: Any = None, generator: torch.Generator | None = None,
               max_tokens: int | None = None, temperature: float | None = None, top_k: int | None = None,
               top_p: float | None = None, repetition_penalty: float | None = None,
               stop: list[str] | None = None, use_cache: bool = True, on_step=None) -> list[list[int]]:
        """`n` continuations of the prompt `condition` (text, token ids, or None for the start token): the
        new tokens of each, cut after the first stop string."""
        cfg = self.config
        prompt = torch.tensor([self.encode_prompt(condition)] * n, dtype=torch.long, device=self.device)
        stops = [s for s in stop or [] if s]
        tail = 4 * max(map(len, stops), default=0) + 4  # tokens that can hold a stop string (>= 1 byte each)

        def is_done(ids: list[int]) -> bool:
            text = self.tokenizer.decode(ids[-tail:])
            return any(s in text for s in stops)

        return sample_tokens(
            self, prompt, cfg.max_tokens if max_tokens is None else max_tokens,
            temperature=cfg.temperature if temperature is None else temperature,
            top_k=cfg.top_k if top_k is None else top_k, top_p=cfg.top_p if top_p is None else top_p,
            repetition_penalty=cfg.repetition_penalty if repetition_penalty is None else repetition_penalty,
            is_done=is_done if stops else None, generator=generator, use_cache=use_cache, on_step=on_step,
        )
