"""A decoder-only transformer over any token stream (GPT-2 layout, Radford et al. 2019).

tokens -> embedding (+ learned positions, or rotary positions inside attention, Su et al. 2021)
-> `layers` x [pre-norm causal self-attention, pre-norm MLP] -> norm -> logits (weights tied to the
embedding). Attention is PyTorch's `scaled_dot_product_attention`; sampling keeps a key/value cache so that
each new token costs one position, not the whole window.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
import torch.nn.functional as F
from pydantic import Field, model_validator
from torch import Tensor, nn

from noisecraft.data.base import DataSpec
from noisecraft.models.autoregressive.token_model import TokenModel, TokenModelConfig
from noisecraft.models.registry import register


class TransformerConfig(TokenModelConfig):
    family: Literal["transformer"] = "transformer"
    layers: int = Field(4, ge=1, le=128)
    heads: int = Field(4, ge=1, le=128)
    dim: int = Field(128, ge=8, le=16384, description="model width; a multiple of heads")
    mlp_ratio: int = Field(4, ge=1, le=16)
    dropout: float = Field(0.0, ge=0, lt=1)
    positions: Literal["rotary", "learned"] = "rotary"
    bias: bool = Field(False, description="biases in linear layers and norms (GPT-2 has them)")
    tie_weights: bool = Field(True, description="output layer shares the token embedding")

    @model_validator(mode="after")
    def _heads_divide_dim(self) -> "TransformerConfig":
        if self.dim % self.heads or (self.positions == "rotary" and (self.dim // self.heads) % 2):
            raise ValueError(f"model.dim ({self.dim}) must split into {self.heads} heads"
                             + (" of even size (rotary positions)" if self.positions == "rotary" else ""))
        return self


class KVCache:
    """Keys and values of every layer, preallocated for the whole context; `length` positions are filled."""

    def __init__(self, layers: int, batch: int, heads: int, context: int, head_dim: int, like: Tensor) -> None:
        shape = (batch, heads, context, head_dim)
        self.keys = [like.new_zeros(shape) for _ in range(layers)]
        self.values = [like.new_zeros(shape) for _ in range(layers)]
        self.length = 0


class Rotary(nn.Module):
    """Rotary position embedding: each (even, odd) channel pair of q and k, read as a complex number, is
    turned by an angle that grows with the position (one complex multiply, forward and backward)."""

    def __init__(self, head_dim: int, context: int, base: float = 10000.0) -> None:
        super().__init__()
        inv_freq = base ** (-torch.arange(0, head_dim, 2).float() / head_dim)
        angles = torch.outer(torch.arange(context).float(), inv_freq)  # [context, head_dim / 2]
        # stored as real pairs: buffers stay plain floats for DDP's broadcast and dtype casts
        self.register_buffer("turn", torch.view_as_real(torch.polar(torch.ones_like(angles), angles)), persistent=False)

    def forward(self, x: Tensor, offset: int) -> Tensor:
        pairs = torch.view_as_complex(x.float().reshape(*x.shape[:-1], -1, 2))
        turn = torch.view_as_complex(self.turn[offset : offset + x.shape[-2]].float())
        return torch.view_as_real(pairs * turn).flatten(-2).to(x.dtype)


class CausalSelfAttention(nn.Module):
    def __init__(self, config: TransformerConfig, context: int) -> None:
        super().__init__()
        self.heads, self.dropout = config.heads, config.dropout
        self.qkv = nn.Linear(config.dim, 3 * config.dim, bias=config.bias)
        self.proj = nn.Linear(config.dim, config.dim, bias=config.bias)
        self.rotary = Rotary(config.dim // config.heads, context) if config.positions == "rotary" else None

    def forward(self, x: Tensor, cache: KVCache | None, layer: int) -> Tensor:
        n, t, d = x.shape
        qkv = self.qkv(x).view(n, t, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)  # [3, n, h, t, hd]
        past = cache.length if cache is not None else 0
        if self.rotary is not None:  # q and k in one call
            q, k = self.rotary(qkv[:2], past).unbind(0)
            v = qkv[2]
        else:
            q, k, v = qkv.unbind(0)
        mask, causal = None, True
        if cache is not None:
            cache.keys[layer][:, :, past : past + t] = k
            cache.values[layer][:, :, past : past + t] = v
            k, v = cache.keys[layer][:, :, : past + t], cache.values[layer][:, :, : past + t]
            if past:  # query i sits at position past + i and sees keys 0..past + i
                causal = False
                mask = None if t == 1 else torch.ones(t, past + t, dtype=torch.bool, device=x.device).tril(past)
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=causal and mask is None,
                                           dropout_p=self.dropout if self.training else 0.0)
        return self.proj(y.transpose(1, 2).reshape(n, t, d))


class Block(nn.Module):
    def __init__(self, config: TransformerConfig, context: int) -> None:
        super().__init__()
        hidden = config.mlp_ratio * config.dim
        self.norm1 = nn.LayerNorm(config.dim, bias=config.bias)
        self.attn = CausalSelfAttention(config, context)
        self.norm2 = nn.LayerNorm(config.dim, bias=config.bias)
        self.mlp = nn.Sequential(nn.Linear(config.dim, hidden, bias=config.bias), nn.GELU(),
                                 nn.Linear(hidden, config.dim, bias=config.bias))
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x: Tensor, cache: KVCache | None, layer: int) -> Tensor:
        x = x + self.dropout(self.attn(self.norm1(x), cache, layer))
        return x + self.dropout(self.mlp(self.norm2(x)))


@register
class Transformer(TokenModel):
    family = "transformer"
    config_class = TransformerConfig

    def __init__(self, config: TransformerConfig, spec: DataSpec) -> None:
        super().__init__(config, spec)
        self.context_size = spec.shape[0]
        self.embed = nn.Embedding(self.vocab_size, config.dim)
        self.position = nn.Embedding(self.context_size, config.dim) if config.positions == "learned" else None
        self.dropout = nn.Dropout(config.dropout)
        self.blocks = nn.ModuleList(Block(config, self.context_size) for _ in range(config.layers))
        self.norm = nn.LayerNorm(config.dim, bias=config.bias)
        self.head = nn.Linear(config.dim, self.vocab_size, bias=False)
        self.apply(self._init_weights)
        for name, p in self.named_parameters():  # GPT-2: residual projections scaled down by depth
            if name.endswith("attn.proj.weight") or name.endswith("mlp.2.weight"):
                nn.init.normal_(p, std=0.02 / math.sqrt(2 * config.layers))
        if config.tie_weights:
            self.head.weight = self.embed.weight

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, std=0.02)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)

    def new_cache(self, batch: int) -> KVCache:
        cfg = self.config
        return KVCache(cfg.layers, batch, cfg.heads, self.context_size, cfg.dim // cfg.heads, self.embed.weight)

    def logits(self, tokens: Tensor, cache: KVCache | None = None) -> Tensor:
        past = cache.length if cache is not None else 0
        t = tokens.shape[1]
        if past + t > self.context_size:
            raise ValueError(f"{past + t} tokens exceed the context of {self.context_size}")
        x = self.embed(tokens)
        if self.position is not None:
            x = x + self.position(torch.arange(past, past + t, device=tokens.device))
        x = self.dropout(x)
        for i, block in enumerate(self.blocks):
            x = block(x, cache, i)
        if cache is not None:
            cache.length += t
        return self.head(self.norm(x))
