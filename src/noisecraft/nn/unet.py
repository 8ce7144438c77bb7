"""A compact UNet for 28x28..64x64 images (Ho et al. 2020; Dhariwal & Nichol 2021), readable in one sitting.

noise level -> sinusoidal embedding -> MLP (+ a class embedding) = `emb`; every residual block scales and
shifts its group-normed activations by `emb` (adaptive group norm), so one network serves every noise
level and class. Self-attention runs at the resolutions listed in `attention` and in the middle block,
where the image is smallest (attention costs grow with the square of the pixel count);
with `context_dim` set, those blocks also cross-attend to a context sequence (text tokens).

Any input size works: upsampling matches the size of the skip connection it meets (28 -> 14 -> 7 -> 4 -> 7).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def group_norm(channels: int, groups: int) -> nn.GroupNorm:
    return nn.GroupNorm(math.gcd(groups, channels), channels)


def zero_init(module: nn.Module) -> nn.Module:
    """Residual branches start as the identity: stabler early training (Goyal et al. 2017)."""
    for p in module.parameters():
        nn.init.zeros_(p)
    return module


def sinusoidal_embedding(x: torch.Tensor, dim: int, max_period: float = 10000.0) -> torch.Tensor:
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, device=x.device, dtype=torch.float32) / half)
    angles = x.float()[:, None] * freqs[None]
    return torch.cat([angles.cos(), angles.sin()], dim=1)


class ResBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, emb_dim: int, dropout: float, groups: int) -> None:
        super().__init__()
        self.norm1 = group_norm(c_in, groups)
        self.conv1 = nn.Conv2d(c_in, c_out, 3, padding=1)
        self.emb = nn.Linear(emb_dim, 2 * c_out)  # -> scale, shift
        self.norm2 = group_norm(c_out, groups)
        self.dropout = nn.Dropout(dropout)
        self.conv2 = zero_init(nn.Conv2d(c_out, c_out, 3, padding=1))
        self.skip = nn.Conv2d(c_in, c_out, 1) if c_in != c_out else nn.Identity()

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        scale, shift = self.emb(emb)[:, :, None, None].chunk(2, dim=1)
        h = self.norm2(h) * (1 + scale) + shift
        return self.skip(x) + self.conv2(self.dropout(F.silu(h)))


class AttentionBlock(nn.Module):
    """Self-attention over the pixels; plus cross-attention to `context` when built with `context_dim`."""

    def __init__(self, channels: int, heads: int, groups: int, context_dim: int | None = None) -> None:
        super().__init__()
        self.heads = heads
        self.norm = group_norm(channels, groups)
        self.qkv = nn.Linear(channels, 3 * channels)
        self.out = zero_init(nn.Linear(channels, channels))
        if context_dim is not None:
            self.norm_cross = group_norm(channels, groups)
            self.q_cross = nn.Linear(channels, channels)
            self.kv_cross = nn.Linear(context_dim, 2 * channels)
            self.out_cross = zero_init(nn.Linear(channels, channels))

    def attend(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        b = q.shape[0]
        q, k, v = (t.reshape(b, t.shape[1], self.heads, -1).transpose(1, 2) for t in (q, k, v))
        if mask is not None:
            mask = mask[:, None, None, :].bool()  # (B, 1, 1, L): True = attend to this token
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        return out.transpose(1, 2).flatten(2)

    def forward(self, x: torch.Tensor, context: torch.Tensor | None = None,
                context_mask: torch.Tensor | None = None) -> torch.Tensor:
        b, c, h, w = x.shape
        tokens = self.norm(x).flatten(2).transpose(1, 2)  # (B, HW, C)
        y = self.out(self.attend(*self.qkv(tokens).chunk(3, dim=-1)))
        x = x + y.transpose(1, 2).reshape(b, c, h, w)
        if context is not None and hasattr(self, "kv_cross"):
            tokens = self.norm_cross(x).flatten(2).transpose(1, 2)
            k, v = self.kv_cross(context).chunk(2, dim=-1)
            y = self.out_cross(self.attend(self.q_cross(tokens), k, v, context_mask))
            x = x + y.transpose(1, 2).reshape(b, c, h, w)
        return x


class Level(nn.Module):
    """Residual blocks at one resolution, each optionally followed by attention."""

    def __init__(self, channels_in: list[int], c_out: int, emb_dim: int, dropout: float, groups: int,
                 attention: bool, heads: int, context_dim: int | None) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(ResBlock(c, c_out, emb_dim, dropout, groups) for c in channels_in)
        self.attns = nn.ModuleList(
            AttentionBlock(c_out, heads, groups, context_dim) if attention else nn.Identity() for _ in channels_in
        )


RENAMED_WEIGHTS = {"class_emb.weight": "class_embed.weight"}  # 0.1 name -> the name every family uses


def _renamed_weights(module: nn.Module, state_dict: dict, prefix: str, *args) -> None:
    """Model folders and checkpoints saved by 0.1 name the class embedding `class_emb`: still load them."""
    for old, new in RENAMED_WEIGHTS.items():
        if prefix + old in state_dict and prefix + new not in state_dict:
            state_dict[prefix + new] = state_dict.pop(prefix + old)


class UNet(nn.Module):
    """Predicts a tensor shaped like `x` from a noisy `x`, a noise label per example, optional class labels
    (index `num_classes` = "no class", for classifier-free guidance) and optional context tokens."""

    def __init__(self, in_channels: int, image_size: int, channels: list[int], res_blocks: int = 1,
                 attention: list[int] = (), heads: int = 4, dropout: float = 0.0, groups: int = 8,
                 num_classes: int = 0, context_dim: int | None = None) -> None:
        super().__init__()
        emb_dim = 4 * channels[0]
        self.base = channels[0]
        self.noise_mlp = nn.Sequential(nn.Linear(channels[0], emb_dim), nn.SiLU(), nn.Linear(emb_dim, emb_dim))
        self.class_embed = nn.Embedding(num_classes + 1, emb_dim) if num_classes else None
        self.register_load_state_dict_pre_hook(_renamed_weights)
        self.stem = nn.Conv2d(in_channels, channels[0], 3, padding=1)

        # Encoder: per level `res_blocks` blocks, then a stride-2 conv (not after the last level).
        # Every block's output (and the stem's, and each downsample's) is kept for the decoder.
        self.down, self.downsample = nn.ModuleList(), nn.ModuleList()
        skips, c, size = [channels[0]], channels[0], image_size
        sizes = []
        for i, ch in enumerate(channels):
            sizes.append(size)
            self.down.append(Level([c] + [ch] * (res_blocks - 1), ch, emb_dim, dropout, groups, size in attention,
                                   heads, context_dim))
            c = ch
            skips += [ch] * res_blocks
            if i < len(channels) - 1:
                self.downsample.append(nn.Conv2d(c, c, 3, stride=2, padding=1))
                skips.append(c)
                size = (size + 1) // 2
        self.mid = Level([c, c], c, emb_dim, dropout, groups, True, heads, context_dim)

        # Decoder: per level `res_blocks + 1` blocks, each eating one skip; then upsample.
        self.up, self.upsample = nn.ModuleList(), nn.ModuleList()
        for i, ch in reversed(list(enumerate(channels))):
            ins = []
            for _ in range(res_blocks + 1):
                ins.append(c + skips.pop())
                c = ch
            self.up.append(Level(ins, ch, emb_dim, dropout, groups, sizes[i] in attention, heads, context_dim))
            if i > 0:
                self.upsample.append(nn.Conv2d(ch, ch, 3, padding=1))
        self.out = nn.Sequential(group_norm(c, groups), nn.SiLU(), zero_init(nn.Conv2d(c, in_channels, 3, padding=1)))

    def forward(self, x: torch.Tensor, noise_label: torch.Tensor, class_labels: torch.Tensor | None = None,
                context: torch.Tensor | None = None, context_mask: torch.Tensor | None = None) -> torch.Tensor:
        emb = self.noise_mlp(sinusoidal_embedding(noise_label, self.base))
        if self.class_embed is not None:
            if class_labels is None:  # unconditional use of a conditional net: the "no class" token
                class_labels = torch.full((len(x),), self.class_embed.num_embeddings - 1, device=x.device)
            emb = emb + self.class_embed(class_labels)
        emb = F.silu(emb)

        def run(level: Level, h: torch.Tensor, skips: list[torch.Tensor] | None = None, keep: list | None = None):
            for block, attn in zip(level.blocks, level.attns):
                if skips is not None:
                    h = torch.cat([h, skips.pop()], dim=1)
                h = block(h, emb)
                h = attn(h, context, context_mask) if isinstance(attn, AttentionBlock) else h
                if keep is not None:
                    keep.append(h)
            return h

        h = self.stem(x)
        skips = [h]
        for i, level in enumerate(self.down):
            h = run(level, h, keep=skips)
            if i < len(self.downsample):
                h = self.downsample[i](h)
                skips.append(h)
        h = run(self.mid, h)
        for i, level in enumerate(self.up):
            h = run(level, h, skips=skips)
            if i < len(self.upsample):
                h = F.interpolate(h, size=skips[-1].shape[-2:], mode="nearest")
                h = self.upsample[i](h)
        return self.out(h)
