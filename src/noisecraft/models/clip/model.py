"""A contrastive text-image scorer (CLIP, Radford et al. 2021) trained on the same captioned data.

images -> small CNN (strided convs, flattened: where things are matters) -> unit vector;
captions -> transformer encoder (nn/text_encoder.py), mean of its tokens -> unit vector.
Training pulls each image towards its own caption and away from the other captions of the batch
(symmetric cross-entropy over cosine similarities / temperature); identical captions in a batch all count
as matches, since a closed world repeats them. `score(images, prompts)` is the cosine similarity: what
`--rerank` maximises and what evaluation reports as the text-image score.
"""

from __future__ import annotations

import math
from typing import Any, Literal

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn

from noisecraft.data.base import DataSpec
from noisecraft.errors import ConfigError
from noisecraft.models.base import GenerativeModel, ModelConfig, StepOutput
from noisecraft.models.captions import caption_ids
from noisecraft.models.registry import register
from noisecraft.nn.shapes import downsampled_size
from noisecraft.nn.text_encoder import TextEncoder, TextEncoderConfig


class CLIPConfig(ModelConfig):
    family: Literal["clip"] = "clip"
    channels: list[int] = Field([32, 64, 64], min_length=1, max_length=6, description="image encoder: one stride-2 conv stage each")
    embed_dim: int = Field(128, ge=8, le=4096, description="width of the shared text-image space")
    text_encoder: TextEncoderConfig = Field(default_factory=TextEncoderConfig)


@register
class CLIPScorer(GenerativeModel):
    family = "clip"
    config_class = CLIPConfig
    modality = "score"

    def __init__(self, config: CLIPConfig, spec: DataSpec) -> None:
        super().__init__(config, spec)
        if not spec.caption_tokens:
            raise ConfigError("the clip family needs captioned images (dataset: shapes, or data.captions: true)")
        c = spec.shape[0]
        h, w = downsampled_size(spec.shape, len(config.channels))
        layers: list[nn.Module] = []
        for c_in, c_out in zip([c, *config.channels[:-1]], config.channels):
            layers += [nn.Conv2d(c_in, c_out, 3, padding=1), nn.SiLU(), nn.Conv2d(c_out, c_out, 4, stride=2, padding=1), nn.SiLU()]
        self.image_encoder = nn.Sequential(*layers, nn.Flatten(), nn.Linear(config.channels[-1] * h * w, config.embed_dim))
        self.text = TextEncoder(config.text_encoder, spec.vocab_size, spec.caption_tokens)
        self.text_proj = nn.Linear(config.text_encoder.dim, config.embed_dim)
        self.log_scale = nn.Parameter(torch.tensor(math.log(10.0)))

    @property
    def condition_kind(self) -> str | None:
        return None

    def embed_images(self, images: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.image_encoder(images * 2 - 1), dim=-1)

    def embed_captions(self, ids: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.text_proj(self.text.pooled(ids)), dim=-1)

    def forward(self, batch: dict[str, torch.Tensor], optimizer: str = "model") -> StepOutput:
        ids = batch["caption"]
        similarity = self.embed_images(batch["x"]) @ self.embed_captions(ids).T
        logits = similarity * self.log_scale.clamp(max=math.log(100.0)).exp()
        same = (ids[:, None, :] == ids[None, :, :]).all(-1).float()  # identical captions are all matches
        targets = same / same.sum(1, keepdim=True)
        loss = (F.cross_entropy(logits, targets) + F.cross_entropy(logits.T, targets.T)) / 2
        accuracy = same[torch.arange(len(ids)), logits.argmax(1)].mean()
        return StepOutput(loss, {"accuracy": accuracy.detach()})

    @torch.no_grad()
    def score(self, images: torch.Tensor, prompts: list[str]) -> torch.Tensor:
        """Cosine similarity of each image [N, C, H, W] in [0, 1] with its prompt: [N] in [-1, 1]."""
        ids = caption_ids(self.spec, list(prompts), len(images)).to(self.device)
        return (self.embed_images(images.to(self.device)) * self.embed_captions(ids)).sum(-1)

    def sample(self, n: int, condition: Any = None, generator: torch.Generator | None = None, **options: Any) -> torch.Tensor:
        raise ConfigError("the clip family scores how well images match captions; it does not generate")
