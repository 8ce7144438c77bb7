"""DALL-E style text-to-image (Ramesh et al. 2021): a trained VQ-VAE turns each image into a grid of codes,
and the token transformer models the stream [caption tokens; <image>; image codes] left to right.

One vocabulary holds both: caption words (0..V_text-1, <pad> = 0, <start> = 2), then the K image codes,
then <image>. The loss is the next-token loss on the image codes. Captions are dropped (replaced by the
empty caption) `caption_dropout` of the time, so the same prior also draws unconditionally: on data
without captions it is just the VQ-VAE's prior, which makes the VQ-VAE a real sampler. Sampling feeds the
caption, then draws the codes one at a time with a key/value cache (each code sees only the caption and
the codes before it), optionally with classifier-free guidance on the logits, and decodes them.
"""

from __future__ import annotations

from typing import Any, Literal

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import Tensor

from noisecraft.data.base import DataSpec
from noisecraft.errors import ConfigError
from noisecraft.models.autoregressive.sampling import filter_logits
from noisecraft.models.autoregressive.transformer import Transformer, TransformerConfig
from noisecraft.models.base import GenerativeModel, ModelConfig, StepOutput
from noisecraft.models.captions import caption_ids, empty_captions
from noisecraft.models.frozen import frozen_model
from noisecraft.models.noise import per_rows
from noisecraft.models.options import OptionSpec
from noisecraft.models.registry import register
from noisecraft.text.tokenizers import CaptionTokenizer


class ImagePriorConfig(ModelConfig):
    family: Literal["dalle"] = "dalle"
    autoencoder: str | None = Field(None, description="the trained VQ-VAE whose codes are modelled (run or model folder)")
    autoencoder_model: dict[str, Any] | None = Field(None, description="recorded from model.autoencoder in the model folder")
    layers: int = Field(4, ge=1, le=64)
    heads: int = Field(4, ge=1, le=64)
    dim: int = Field(128, ge=8, le=8192)
    dropout: float = Field(0.0, ge=0, lt=1)
    caption_dropout: float = Field(0.1, ge=0, le=1, description="share of captions dropped in training (guidance, unconditional draws)")
    temperature: float = Field(1.0, ge=0, description="sampling: 0 = greedy")
    top_k: int | None = Field(None, ge=1, description="sampling: only the k likeliest codes")
    guidance: float = Field(1.0, ge=0, description="classifier-free guidance on the logits (1 = none)")


@register
class ImagePrior(GenerativeModel):
    family = "dalle"
    config_class = ImagePriorConfig
    sample_options = ("temperature", "top_k", "guidance", "negative")
    option_specs = {"negative": OptionSpec("string", "negative prompt: what the image should not be", max_length=1000)}

    def __init__(self, config: ImagePriorConfig, spec: DataSpec) -> None:
        super().__init__(config, spec)
        self.vqvae, record = frozen_model(config.autoencoder, config.autoencoder_model, "model.autoencoder")
        self.config = config = config.model_copy(update={"autoencoder_model": record})  # saved; the recipe's stays
        if not hasattr(self.vqvae, "encode_codes"):
            raise ConfigError(f"model.autoencoder: a {self.vqvae.family} model has no codes (use a vqvae run)")
        if tuple(self.vqvae.spec.shape) != tuple(spec.shape):
            raise ConfigError(f"model.autoencoder: it was trained on {tuple(self.vqvae.spec.shape)} images, the data "
                              f"is {tuple(spec.shape)}")
        self.captioned = bool(spec.caption_tokens)
        if not self.captioned:  # without captions there is nothing to guide towards
            self.sample_options = ("temperature", "top_k")
        self.text_vocab = spec.vocab_size if self.captioned else len(CaptionTokenizer.SPECIAL)
        self.caption_length = spec.caption_tokens or 1
        self.codebook = self.vqvae.config.codebook_size
        self.grid = tuple(self.vqvae.grid)
        self.image_token = self.text_vocab + self.codebook
        length = self.caption_length + 1 + self.grid[0] * self.grid[1]
        net = TransformerConfig(layers=config.layers, heads=config.heads, dim=config.dim, dropout=config.dropout,
                                positions="learned")
        self.prior = Transformer(net, DataSpec(modality="tokens", shape=(length,), vocab_size=self.image_token + 1))

    @property
    def condition_kind(self) -> str | None:
        return "prompt" if self.captioned else None

    def optimizer_groups(self):
        return {"model": list(self.prior.parameters())}



    def train(self, mode: bool = True) -> "ImagePrior":
        super().train(mode)
        self.vqvae.eval()  # frozen: its codebook must not move
        return self

    def encode_prompt(self, condition: Any) -> Tensor:
        return caption_ids(self.spec, condition, 1)

    def captions(self, condition: Any, n: int) -> Tensor:
        if not self.captioned:
            if condition is not None:
                raise ConfigError("prompt: this prior was trained without captions: it draws unconditionally")
            return torch.full((n, 1), CaptionTokenizer.START, dtype=torch.long)
        return caption_ids(self.spec, condition, n)

    def sequence(self, captions: Tensor, codes: Tensor) -> Tensor:
        """[captions; <image>; codes + offset]: the stream the transformer models."""
        image = torch.full((len(codes), 1), self.image_token, dtype=torch.long, device=codes.device)
        return torch.cat([captions, image, codes.flatten(1) + self.text_vocab], dim=1)

    def forward(self, batch: dict[str, Tensor], optimizer: str = "model") -> StepOutput:
        codes = self.vqvae.encode_codes(batch["x"])
        captions = batch["caption"] if self.captioned else self.captions(None, len(codes)).to(codes.device)
        drop = torch.rand(len(captions), device=captions.device) < self.config.caption_dropout
        seq = self.sequence(torch.where(drop[:, None], empty_captions(captions), captions), codes)
        logits = self.prior.logits(seq[:, :-1])[:, self.caption_length :]  # the predictions of the codes
        loss = F.cross_entropy(logits.flatten(0, 1).float(), seq[:, self.caption_length + 1 :].flatten())
        return StepOutput(loss)

    def code_logits(self, seq: Tensor) -> Tensor:
        """Log-probabilities [n, L_codes, K] of each image code given everything before it (no cache)."""
        logits = self.prior.logits(seq[:, :-1])[:, self.caption_length :, self.text_vocab : self.image_token]
        return logits.float().log_softmax(-1)

    @torch.no_grad()
    def sample(self, n: int, condition: Any = None, generator: torch.Generator | None = None,
               temperature: float | None = None, top_k: int | None = None, guidance: float | None = None,
               negative: str | None = None) -> Tensor:
        return self.vqvae.decode_codes(self.sample_codes(n, condition, generator, temperature, top_k, guidance, negative))

    @torch.no_grad()
    def sample_codes(self, n: int, condition: Any = None, generator: torch.Generator | None = None,
                     temperature: float | None = None, top_k: int | None = None, guidance: float | None = None,
                     negative: str | None = None) -> Tensor:
        """Codes [n, h, w], one position at a time (raster order) with a key/value cache. With guidance the
        empty caption's stream (or the negative prompt's) runs beside the prompt's."""
        cfg = self.config
        temperature = cfg.temperature if temperature is None else temperature
        top_k = cfg.top_k if top_k is None else top_k
        guidance = cfg.guidance if guidance is None else guidance
        if guidance != 1.0 and not self.captioned:
            raise ConfigError("--guidance: this prior was trained without captions: there is nothing to guide towards")
        captions = self.captions(condition, n).to(self.device)
        guided = guidance != 1.0
        if guided:  # the conditional and the empty-caption (or negative) stream side by side
            if negative is None:
                captions = torch.cat([captions, empty_captions(captions)])
            else:
                captions = torch.cat([captions, caption_ids(self.spec, negative, n, "--negative").to(self.device)])
        image = torch.full((len(captions), 1), self.image_token, dtype=torch.long, device=self.device)
        cache = self.prior.new_cache(len(captions))
        logits = self.prior.logits(torch.cat([captions, image], 1), cache)[:, -1]
        codes: list[Tensor] = []
        cells = self.grid[0] * self.grid[1]
        while True:
            scores = logits[:, self.text_vocab : self.image_token].float().log_softmax(-1)
            if guided:
                cond, uncond = scores.chunk(2)
                scores = uncond + guidance * (cond - uncond)
            if temperature == 0:
                code = scores.argmax(-1, keepdim=True)
            else:
                probs = torch.softmax(filter_logits(scores, scores.argmax(-1, keepdim=True), temperature=temperature,
                                                    top_k=top_k), -1).cpu()
                code = per_rows(generator, n, lambda g, rows: torch.multinomial(probs[rows], 1, generator=g))
            code = code.to(self.device)
            codes.append(code)
            if len(codes) == cells:
                break
            step = code + self.text_vocab
            logits = self.prior.logits(torch.cat([step, step]) if guided else step, cache)[:, -1]
        return torch.cat(codes, 1).view(n, *self.grid)
