"""An LSTM character-RNN (Karpathy's char-rnn, 2015): the classic autoregressive baseline.

tokens -> embedding -> `layers` stacked LSTMs -> logits (tied to the embedding). Its cache is the
recurrent state, so its context never runs out: sampling carries the state on past the training window.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from torch import Tensor, nn

from noisecraft.data.base import DataSpec
from noisecraft.models.autoregressive.token_model import TokenModel, TokenModelConfig
from noisecraft.models.registry import register


class LSTMConfig(TokenModelConfig):
    family: Literal["lstm"] = "lstm"
    layers: int = Field(2, ge=1, le=16)
    hidden: int = Field(256, ge=8, le=16384)
    dropout: float = Field(0.0, ge=0, lt=1, description="between LSTM layers and before the output")
    tie_weights: bool = Field(True, description="output layer shares the token embedding")


class RecurrentState:
    """The LSTM's (h, c), filled by the first call."""

    def __init__(self) -> None:
        self.state: tuple[Tensor, Tensor] | None = None


@register
class LSTM(TokenModel):
    family = "lstm"
    config_class = LSTMConfig
    context_size = None

    def __init__(self, config: LSTMConfig, spec: DataSpec) -> None:
        super().__init__(config, spec)
        self.embed = nn.Embedding(self.vocab_size, config.hidden)
        self.lstm = nn.LSTM(config.hidden, config.hidden, config.layers, batch_first=True,
                            dropout=config.dropout if config.layers > 1 else 0.0)
        self.dropout = nn.Dropout(config.dropout)
        self.head = nn.Linear(config.hidden, self.vocab_size)
        if config.tie_weights:
            self.head.weight = self.embed.weight

    def new_cache(self, batch: int) -> RecurrentState:
        return RecurrentState()

    def logits(self, tokens: Tensor, cache: RecurrentState | None = None) -> Tensor:
        out, state = self.lstm(self.embed(tokens), cache.state if cache is not None else None)
        if cache is not None:
            cache.state = state
        return self.head(self.dropout(out))
