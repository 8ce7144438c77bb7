"""A VAE of whole token sequences (Bowman et al. 2016; the SMILES VAE of Gomez-Bombarelli et al. 2018 and
MOSES's baseline): bidirectional GRU encoder -> Gaussian latent z -> GRU decoder that reads z at every
step and writes the sequence token by token.

Rows are what `data.sequences: padded` serves: the start token, the sequence, the start token again as
its end, then padding. The loss counts tokens up to and including that end; the KL weight ramps from 0
to `kl_weight` over `kl_warmup_steps` (KL annealing, against posterior collapse). A smooth latent space
gives `encode` / `decode`, `interpolate` between two sequences and `search.latent_search`.
"""

from __future__ import annotations

from typing import Any, Literal

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import Tensor, nn

from noisecraft.data.base import DataSpec
from noisecraft.errors import ConfigError
from noisecraft.models.base import GenerativeModel, ModelConfig, StepOutput
from noisecraft.models.latent import slerp
from noisecraft.models.noise import per_rows, randn
from noisecraft.models.registry import register


class SequenceVAEConfig(ModelConfig):
    family: Literal["seqvae"] = "seqvae"
    embed_dim: int = Field(64, ge=4, le=4096)
    encoder_hidden: int = Field(256, ge=8, le=8192, description="per direction")
    latent_dim: int = Field(128, ge=2, le=4096)
    decoder_hidden: int = Field(512, ge=8, le=8192)
    decoder_layers: int = Field(3, ge=1, le=8)
    dropout: float = Field(0.0, ge=0, lt=1, description="decoder inputs and between its layers")
    kl_weight: float = Field(0.05, ge=0, description="final weight of the KL term (MOSES: 0.05)")
    kl_warmup_steps: int = Field(2000, ge=0, description="training steps over which the KL weight ramps up")
    max_tokens: int = Field(100, ge=1, le=4096, description="longest sequence sampled")
    temperature: float = Field(1.0, ge=0, description="decoder sharpness; 0 = greedy")


def kl_divergence(mu: Tensor, logvar: Tensor) -> Tensor:
    """KL(N(mu, exp(logvar)) || N(0, I)) in nats, one per row."""
    return 0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar).sum(1)


@register
class SequenceVAE(GenerativeModel):
    family = "seqvae"
    config_class = SequenceVAEConfig
    modality = "tokens"
    data_modality = "tokens"
    sample_options = ("max_tokens", "temperature", "stop")

    def __init__(self, config: SequenceVAEConfig, spec: DataSpec) -> None:
        super().__init__(config, spec)
        if not spec.vocab_size or not spec.start_tokens:
            raise ConfigError("the seqvae family needs token data with a start token (data.sequences: padded)")
        self.vocab_size, self.end = spec.vocab_size, spec.start_tokens[0]
        c = config
        self.embed = nn.Embedding(self.vocab_size, c.embed_dim)
        self.encoder = nn.GRU(c.embed_dim, c.encoder_hidden, batch_first=True, bidirectional=True)
        self.to_latent = nn.Linear(2 * c.encoder_hidden, 2 * c.latent_dim)
        self.to_hidden = nn.Linear(c.latent_dim, c.decoder_layers * c.decoder_hidden)
        self.decoder = nn.GRU(c.embed_dim + c.latent_dim, c.decoder_hidden, c.decoder_layers, batch_first=True,
                              dropout=c.dropout if c.decoder_layers > 1 else 0.0)
        self.dropout = nn.Dropout(c.dropout)
        self.head = nn.Linear(c.decoder_hidden, self.vocab_size)
        self.register_buffer("step", torch.zeros((), dtype=torch.long))

    @property
    def tokenizer(self):
        from noisecraft.text.tokenizers import tokenizer_from_dict

        if getattr(self, "_tokenizer", None) is None:
            self._tokenizer = tokenizer_from_dict(self.spec.tokenizer)
        return self._tokenizer

    # --- the two halves ------------------------------------------------------------------------------
    def lengths(self, x: Tensor) -> Tensor:
        """Tokens after the start one, up to and including the first end token (the whole row if none)."""
        is_end = x[:, 1:] == self.end
        first = torch.where(is_end.any(1), is_end.float().argmax(1), torch.full_like(x[:, 0], x.shape[1] - 2))
        return first + 1

    def posterior(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """mean and log-variance of q(z | x) for rows x [n, L + 1]."""
        lengths = self.lengths(x)
        packed = nn.utils.rnn.pack_padded_sequence(self.embed(x[:, 1:]), lengths.cpu(), batch_first=True,
                                                   enforce_sorted=False)
        _, h = self.encoder(packed)  # [2, n, hidden]
        mu, logvar = self.to_latent(torch.cat([h[0], h[1]], dim=-1)).chunk(2, dim=-1)
        return mu, logvar

    def initial_state(self, z: Tensor) -> Tensor:
        c = self.config
        return self.to_hidden(z).view(len(z), c.decoder_layers, c.decoder_hidden).transpose(0, 1).contiguous()

    def decoder_logits(self, tokens: Tensor, z: Tensor, state: Tensor | None = None) -> tuple[Tensor, Tensor]:
        inputs = torch.cat([self.dropout(self.embed(tokens)), z[:, None].expand(-1, tokens.shape[1], -1)], dim=-1)
        out, state = self.decoder(inputs, self.initial_state(z) if state is None else state)
        return self.head(self.dropout(out)), state

    # --- training ------------------------------------------------------------------------------------
    def kl_weight(self) -> float:
        c = self.config
        return c.kl_weight * min(1.0, float(self.step) / c.kl_warmup_steps) if c.kl_warmup_steps else c.kl_weight

    def forward(self, batch: dict[str, Tensor], optimizer: str = "model") -> StepOutput:
        x = batch["x"]
        mu, logvar = self.posterior(x)
        z = mu + torch.randn_like(mu) * (0.5 * logvar).exp()
        logits, _ = self.decoder_logits(x[:, :-1], z)
        mask = torch.arange(x.shape[1] - 1, device=x.device)[None] < self.lengths(x)[:, None]
        nll = F.cross_entropy(logits.transpose(1, 2).float(), x[:, 1:], reduction="none")
        recon = (nll * mask).sum() / len(x)
        kl = kl_divergence(mu, logvar).mean()
        weight = self.kl_weight()
        if self.training:
            self.step += 1
        return StepOutput(recon + weight * kl, logs={"recon": recon.detach(), "kl": kl.detach(), "kl_weight": weight})

    # --- latent space --------------------------------------------------------------------------------
    @torch.no_grad()
    def encode(self, texts: list[str]) -> Tensor:
        """The posterior means of sequences given as text (one line each, no newline)."""
        return self.posterior(self.rows(texts))[0]

    def rows(self, texts: list[str]) -> Tensor:
        """Texts as the rows the encoder reads: start token, tokens, end token, padding."""
        rows = [[self.end] + self.tokenizer.encode(t) + [self.end] for t in texts]
        width = max(map(len, rows))
        return torch.tensor([r + [self.end] * (width - len(r)) for r in rows], device=self.device)

    @torch.no_grad()
    def decode(self, z: Tensor, generator: torch.Generator | None = None, max_tokens: int | None = None,
               temperature: float | None = None, on_step=None) -> list[list[int]]:
        """Token ids of the sequence each latent decodes to (ending with the end token when it came)."""
        c = self.config
        max_tokens = c.max_tokens if max_tokens is None else max_tokens
        temperature = c.temperature if temperature is None else temperature
        z = z.to(self.device)
        n = len(z)
        token = torch.full((n, 1), self.end, dtype=torch.long, device=self.device)
        state, outputs, running = None, [[] for _ in range(n)], torch.ones(n, dtype=torch.bool)
        for _ in range(max_tokens):
            logits, state = self.decoder_logits(token, z, state)
            logits = logits[:, -1].float()
            if temperature == 0:
                token = logits.argmax(-1, keepdim=True)
            else:
                probs = torch.softmax(logits / temperature, dim=-1).cpu()
                token = per_rows(generator, n, lambda g, rows: torch.multinomial(probs[rows], 1, generator=g)).to(self.device)
            for i in torch.nonzero(running).flatten().tolist():
                outputs[i].append(int(token[i]))
                running[i] = int(token[i]) != self.end
            if on_step is not None:
                on_step(token[:, 0])
            if not running.any():
                break
        return outputs

    @torch.no_grad()
    def sample(self, n: int, condition: Any = None, generator: torch.Generator | None = None,
               max_tokens: int | None = None, temperature: float | None = None, stop: list[str] | None = None,
               on_step=None) -> list[list[int]]:
        """Sequences from z ~ N(0, I). A sequence ends at the end token (what `stop` asks of token models)."""
        if condition is not None and condition != "" and condition != self.tokenizer.decode([self.end]):
            raise ConfigError("the seqvae family takes no prompt or condition: it samples whole sequences from its latent space")
        z = randn((n, self.config.latent_dim), generator).to(self.device)
        return self.decode(z, generator, max_tokens, temperature, on_step)

    def interpolate(self, a: str, b: str, steps: int = 8, temperature: float = 0.0) -> list[str]:
        """Sequences along the great circle between the latents of texts `a` and `b` (greedy decoding)."""
        za, zb = self.encode([a, b])
        z = slerp(za, zb, torch.linspace(0, 1, steps, device=za.device))
        return [self.tokenizer.decode(ids).split(self.tokenizer.decode([self.end]))[0]
                for ids in self.decode(z, temperature=temperature)]
