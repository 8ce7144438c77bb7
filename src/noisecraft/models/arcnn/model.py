"""AR-CNN: a U-Net over a binary grid (a piano roll: channels = voices, rows = time steps, columns =
pitches) that fills in cells. Two objectives, one network:

- `flip` (AWS DeepComposer's AR-CNN): training removes a random share of the notes and adds random
  spurious ones; the network scores every cell, one softmax over the whole grid, trained (KL) towards the
  cells that were changed. Sampling = repeated passes that add or remove one note at a time, drawn from
  that softmax with a temperature, never touching fixed cells, removing at most `change_share` of the
  notes it started from.
- `orderless` (Coconet, Huang et al. 2017): training hides a random set of cells (random rate, whole
  voices, time spans, or everything after a step) and predicts them from the rest: per cell a Bernoulli,
  or, where each voice holds one note a step, a softmax over its pitches and "rest". Sampling = blocked
  Gibbs with an annealed block size, so any cells (a voice, bars) can be filled. Its chain-rule
  likelihood in a fixed order is an exact likelihood (see `log_likelihood`).

Nothing here knows it is music: grids come with `spec.layout["one_note_per_voice"]` at most.
"""

from __future__ import annotations

import math
from typing import Any, Literal

import torch
import torch.nn.functional as F
from pydantic import Field, model_validator
from torch import Tensor

from noisecraft.data.base import DataSpec
from noisecraft.errors import ConfigError
from noisecraft.models.arcnn.unet import RollUNet
from noisecraft.models.base import GenerativeModel, ModelConfig, StepOutput
from noisecraft.models.noise import per_rows
from noisecraft.models.options import OptionSpec
from noisecraft.models.registry import register
from noisecraft.utils.cancel import checkpoint


class ARCNNConfig(ModelConfig):
    family: Literal["arcnn"] = "arcnn"
    objective: Literal["flip", "orderless"] = Field("flip", description="DeepComposer's add-or-remove training, "
                                                    "or Coconet's orderless inpainting")
    channels: int = Field(32, ge=1, le=1024, description="U-Net channels at full resolution")
    depth: int = Field(3, ge=1, le=6, description="U-Net levels (each halves time and pitch)")
    growth: int = Field(2, ge=1, le=4, description="channel factor per level")
    dropout: float = Field(0.0, ge=0, lt=1)
    remove_share: tuple[float, float] = Field((0.0, 1.0), description="flip training: share of notes removed, uniform in this range")
    add_share: tuple[float, float] = Field((0.0, 0.01), description="flip training: share of empty cells given a note")
    sampler: Literal["flip", "gibbs"] | None = Field(None, description="default: flip for the flip objective, gibbs for orderless")
    temperature: float = Field(1.0, gt=0, le=10, description="sampling temperature")
    passes: float = Field(1.0, gt=0, le=100, description="flip: passes x steps x notes_per_step single-cell changes; "
                          "gibbs: passes x steps Gibbs steps")
    notes_per_step: float = Field(4.0, gt=0, le=128, description="flip: cells that sound at once (a pass budgets one "
                                  "change for each); 4 for four-part chorales")
    change_share: float = Field(1.0, ge=0, le=1, description="flip: share of the starting notes it may remove")
    nll_blocks: int = Field(8, ge=1, le=128, description="orderless likelihood: a frame's cells revealed in this many blocks")

    @model_validator(mode="after")
    def _check(self) -> "ARCNNConfig":
        if self.sampler is not None and (self.sampler == "gibbs") != (self.objective == "orderless"):
            raise ValueError("model.sampler: flip goes with objective flip (it scores changes), gibbs with "
                             "objective orderless (it predicts cell values)")
        return self


GIBBS_MAX, GIBBS_MIN, GIBBS_ETA = 0.9, 0.05, 0.75  # Coconet's annealed block sizes


@register
class ARCNN(GenerativeModel):
    family = "arcnn"
    config_class = ARCNNConfig
    sample_options = ("sampler", "temperature", "passes", "change_share")
    option_specs = {
        "sampler": OptionSpec("string", "flip (add or remove one note at a time) or gibbs (orderless models)",
                              choices=("flip", "gibbs")),
        "passes": OptionSpec("number", "how long to sample: flip changes = passes x steps x notes_per_step; gibbs steps = passes x steps", 0.01, 20),
        "change_share": OptionSpec("number", "flip: share of the starting notes that may be removed", 0, 1),
    }

    def __init__(self, config: ARCNNConfig, spec: DataSpec) -> None:
        super().__init__(config, spec)
        if len(spec.shape) != 3:
            raise ConfigError(f"the arcnn family models grids [channels, steps, cells]; the data is {spec.shape}")
        self.voices = spec.shape[0]
        self.voiced = bool((spec.layout or {}).get("one_note_per_voice")) and config.objective == "orderless"
        c_in = self.voices * (1 if config.objective == "flip" else 2)
        c_out = self.voices * (2 if self.voiced else 1)  # voiced: per-cell pitch logits + a "rest" map
        self.net = RollUNet(c_in, c_out, config.channels, config.depth, config.growth, config.dropout)

    # --- network views -------------------------------------------------------------------------------
    def flip_logits(self, x: Tensor) -> Tensor:
        """Scores [n, V, T, P]: one softmax over all cells says which to change."""
        return self.net(x)

    def cell_logits(self, x: Tensor, known: Tensor) -> Tensor:
        """Orderless prediction of every cell from the known ones: Bernoulli logits [n, V, T, P], or, voiced,
        categorical logits [n, V, T, P + 1] (the last = rest)."""
        out = self.net(torch.cat([x * known, known.float()], dim=1))
        if not self.voiced:
            return out
        pitch, rest = out.split(self.voices, dim=1)
        return torch.cat([pitch, rest.mean(dim=-1, keepdim=True)], dim=-1)

    # --- training ------------------------------------------------------------------------------------
    def forward(self, batch: dict[str, Tensor], optimizer: str = "model") -> StepOutput:
        x = (batch["x"] > 0.5).float()
        if self.config.objective == "flip":
            return self.flip_loss(x)
        known = self.training_mask(x)
        loss = self.masked_nll(x, known)
        return StepOutput(loss, logs={"masked_share": 1 - known.float().mean()})

    def flip_loss(self, x: Tensor) -> StepOutput:
        """DeepComposer's: KL(changed cells, normalised || softmax over the grid) of a corrupted roll."""
        n = len(x)
        lo, hi = self.config.remove_share
        a_lo, a_hi = self.config.add_share
        shape = (n,) + (1,) * (x.ndim - 1)
        remove = torch.rand(shape, device=x.device) * (hi - lo) + lo
        add = torch.rand(shape, device=x.device) * (a_hi - a_lo) + a_lo
        u = torch.rand_like(x)
        changed = ((x > 0) & (u < remove)) | ((x == 0) & (u < add))
        target = changed.flatten(1).float()
        counts = target.sum(1)
        keep = counts > 0
        if not keep.any():
            return StepOutput(self.flip_logits(x).sum() * 0)
        logp = F.log_softmax(self.flip_logits(torch.where(changed, 1 - x, x)).flatten(1), dim=1)
        p = target[keep] / counts[keep, None]
        kl = (p * (torch.log(p.clamp_min(1e-12)) - logp[keep])).sum(1)
        return StepOutput(kl.mean(), logs={"changed": counts.mean()})

    def training_mask(self, x: Tensor) -> Tensor:
        """Known cells [n, V, T, P] (bool): per example one of Coconet's random masks, whole voices (or,
        for pitch sets, everything below each step's top note: harmonizing a melody), a time span, or
        everything after a random step (what the likelihood's order asks)."""
        n, v_len, t_len, p_len = x.shape
        dev = x.device
        unit = (n, v_len, t_len, 1) if self.voiced else (n, v_len, t_len, p_len)
        kind = torch.randint(0, 4, (n, 1, 1, 1), device=dev)
        rate = torch.rand(n, 1, 1, 1, device=dev)
        hidden = torch.rand(unit, device=dev) < rate
        if self.voiced:
            below = torch.rand(n, v_len, 1, 1, device=dev) < 0.5
            below[:, 0] &= torch.rand(n, 1, 1, device=dev) < 0.2  # the soprano is mostly the given melody
        else:
            top = torch.where(x.any(-1, keepdim=True), p_len - 1 - x.flip(-1).argmax(-1, keepdim=True), -1)
            below = torch.arange(p_len, device=dev) < top
        steps = torch.arange(t_len, device=dev).view(1, 1, t_len, 1)
        a = torch.randint(0, t_len, (n, 1, 1, 1), device=dev)
        b = torch.minimum(a + torch.randint(1, t_len + 1, (n, 1, 1, 1), device=dev), torch.tensor(t_len, device=dev))
        span = (steps >= a) & (steps < b)
        future = (steps > a) | ((steps == a) & hidden)
        masks = [hidden, below.expand(unit), span.expand(unit), future.expand(unit)]
        chosen = torch.zeros(unit, dtype=torch.bool, device=dev)
        for k, m in enumerate(masks):
            chosen |= (kind == k) & m
        return ~chosen.expand(n, v_len, t_len, p_len)

    def masked_nll(self, x: Tensor, known: Tensor) -> Tensor:
        """Mean negative log-likelihood of the hidden cells (voiced: of the hidden voice-steps)."""
        logits = self.cell_logits(x, known)
        if self.voiced:
            hidden = ~known[..., 0]
            target = torch.where(x.any(-1), x.argmax(-1), x.shape[-1])
            nll = F.cross_entropy(logits.permute(0, 3, 1, 2), target, reduction="none")
        else:
            hidden = ~known
            nll = F.binary_cross_entropy_with_logits(logits, x, reduction="none")
        return (nll * hidden).sum() / hidden.sum().clamp_min(1)

    # --- sampling ------------------------------------------------------------------------------------
    @torch.no_grad()
    def sample(self, n: int, condition: Any = None, generator=None, sampler: str | None = None,
               temperature: float | None = None, passes: float | None = None, change_share: float | None = None,
               steps: int | None = None) -> Tensor:
        """`n` grids from nothing ([n, V, steps or the training window, P] in {0, 1})."""
        if condition is not None:
            raise ConfigError("the arcnn family takes no class; to fill in given cells use inpaint()")
        shape = (n, self.voices, steps or self.spec.shape[1], self.spec.shape[2])
        x = torch.zeros(shape, device=self.device)
        return self.inpaint(x, torch.zeros(shape, dtype=torch.bool, device=self.device), generator, sampler=sampler,
                            temperature=temperature, passes=passes, change_share=change_share)

    @torch.no_grad()
    def inpaint(self, x: Tensor, known: Tensor, generator=None, sampler: str | None = None,
                temperature: float | None = None, passes: float | None = None,
                change_share: float | None = None) -> Tensor:
        """Fill the cells of `x` [n, V, T, P] where `known` is False; known cells come back unchanged."""
        cfg = self.config
        sampler = sampler or cfg.sampler or ("flip" if cfg.objective == "flip" else "gibbs")
        if (sampler == "gibbs") != (cfg.objective == "orderless"):
            raise ConfigError(f"--sampler {sampler}: this arcnn model was trained with objective {cfg.objective}, "
                              f"which samples with {'gibbs' if cfg.objective == 'orderless' else 'flip'}")
        temperature = cfg.temperature if temperature is None else temperature
        passes = cfg.passes if passes is None else passes
        x, known = (x > 0.5).float().to(self.device), known.to(self.device)
        if sampler == "flip":
            share = cfg.change_share if change_share is None else change_share
            out = self.flip_passes(x, known, generator, temperature, passes, share)
        else:
            out = self.gibbs(x, known, generator, temperature, max(1, round(passes * x.shape[2])))
        return torch.where(known, x, out)

    def flip_passes(self, x: Tensor, known: Tensor, generator, temperature: float, passes: float,
                    change_share: float) -> Tensor:
        """One note added or removed per network call, drawn from softmax(scores / temperature) over the
        cells that may change; a starting note stays once `change_share` of them have gone."""
        n = len(x)
        start = x.clone()
        budget = (start * ~known).flatten(1).sum(1) * change_share
        removed = torch.zeros(n, device=x.device)
        for _ in range(max(1, round(passes * x.shape[2] * self.config.notes_per_step))):
            checkpoint()
            scores = self.flip_logits(x).flatten(1).float() / temperature
            locked = known.flatten(1) | ((start.flatten(1) > 0) & (x.flatten(1) > 0) & (removed >= budget)[:, None])
            scores = scores.masked_fill(locked, -math.inf)
            ok = ~locked.all(1)
            if not ok.any():
                break
            probs = torch.softmax(scores.masked_fill(~ok[:, None], 0.0), dim=1)
            cell = per_rows(generator, n, lambda g, rows: torch.multinomial(probs[rows].cpu(), 1, generator=g)).to(x.device)[:, 0]
            flat = x.flatten(1)
            rows = torch.arange(n, device=x.device)[ok]
            was = flat[rows, cell[ok]]
            removed[ok] += ((was > 0) & (start.flatten(1)[rows, cell[ok]] > 0)).float()
            removed[ok] -= ((was == 0) & (start.flatten(1)[rows, cell[ok]] > 0)).float()  # put back
            flat[rows, cell[ok]] = 1 - was
            x = flat.view_as(x)
        return x

    def gibbs(self, x: Tensor, known: Tensor, generator, temperature: float, steps: int) -> Tensor:
        """Coconet's blocked Gibbs: fill every free cell independently, then `steps` times hide a random
        block of free cells (a share annealed from 0.9 to 0.05) and redraw it from the rest."""
        free = ~known[..., :1] if self.voiced else ~known
        x = self.draw(x, known, free, generator, temperature)
        for i in range(steps):
            checkpoint()
            rate = max(GIBBS_MIN, GIBBS_MAX - (GIBBS_MAX - GIBBS_MIN) * i / (GIBBS_ETA * steps))
            block = free & (self.uniform(free.shape, generator) < rate)
            cells = block.expand_as(x) if self.voiced else block
            x = self.draw(x, ~cells, block, generator, temperature)
        return x

    def draw(self, x: Tensor, known: Tensor, where: Tensor, generator, temperature: float) -> Tensor:
        """Redraw the cells (voiced: voice-steps) in `where` from the model given the `known` ones."""
        logits = self.cell_logits(x, known).float() / temperature
        if self.voiced:
            probs = torch.softmax(logits, -1)
            choice = per_rows(generator, len(x), lambda g, rows: torch.multinomial(
                probs[rows].flatten(0, 2).cpu(), 1, generator=g).view(-1, *probs.shape[1:3])).to(x.device)
            new = F.one_hot(choice, probs.shape[-1])[..., :-1].float()
            return torch.where(where, new, x)
        new = (self.uniform(x.shape, generator) < torch.sigmoid(logits)).float()
        return torch.where(where, new, x)

    def uniform(self, shape, generator) -> Tensor:
        return per_rows(generator, shape[0], lambda g, rows: torch.rand(rows.stop - rows.start, *shape[1:], generator=g)).to(self.device)

    # --- likelihood ----------------------------------------------------------------------------------
    @property
    def has_likelihood(self) -> bool:
        return self.config.objective == "orderless" and not self.voiced

    @torch.no_grad()
    def log_likelihood(self, x: Tensor, window: int | None = None, batch_size: int = 256) -> Tensor:
        """Exact log p(x) in nats per grid [n, 1, T, P] of an orderless model of pitch sets, by the chain rule
        in a fixed order: step by step in time; within a step, its cells in `nll_blocks` interleaved blocks
        (cell p in block p mod B), each block's cells independent Bernoullis given everything revealed
        before. Every order gives a normalised distribution, so this is a likelihood, not a bound; B = P
        is NADE's order, B = 1 treats a step's cells as independent. The network sees `window` steps
        (default: its training window) ending a quarter of a window after the step predicted."""
        if not self.has_likelihood:
            raise ConfigError("arcnn: a likelihood needs model.objective orderless on pitch sets (one voice); "
                              f"this model is {self.config.objective}{' with voices' if self.voiced else ''}")
        x = (x > 0.5).float().to(self.device)
        n, _, t_len, p_len = x.shape
        window = window or self.spec.shape[1]
        ahead = window // 4
        blocks = self.config.nll_blocks
        block_of = torch.arange(p_len, device=self.device) % blocks
        total = torch.zeros(n, dtype=torch.float64, device=self.device)
        jobs = [(t, b) for t in range(t_len) for b in range(blocks)]
        for i in range(n):
            for j in range(0, len(jobs), batch_size):
                part = jobs[j : j + batch_size]
                inputs, knowns, targets = [], [], []
                for t, b in part:
                    lo = max(0, min(t + ahead + 1, t_len) - window)
                    grid = x[i, :, lo : lo + window]
                    pad = window - grid.shape[1]
                    grid = F.pad(grid, (0, 0, 0, pad))
                    steps = torch.arange(lo, lo + window, device=self.device).view(1, window, 1)
                    known = (steps < t) | ((steps == t) & (block_of < b))
                    inputs.append(grid)
                    knowns.append(known.expand_as(grid))
                    targets.append((steps == t) & (block_of == b))
                logits = self.cell_logits(torch.stack(inputs), torch.stack(knowns))
                grids = torch.stack(inputs)
                ll = -F.binary_cross_entropy_with_logits(logits.float(), grids, reduction="none")
                total[i] += (ll * torch.stack(targets).expand_as(ll)).double().sum()
        return total
