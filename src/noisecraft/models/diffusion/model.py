"""Diffusion models: corrupt data with noise, learn to undo it, create by denoising pure noise.

Two ways to train the same UNet:
- DDPM (Ho et al. 2020) over T discrete steps of a linear or cosine schedule, the network predicting the
  noise (`eps`), the velocity (`v`, Salimans & Ho 2022) or the clean image (`x0`); optional min-SNR
  loss weighting (Hang et al. 2023).
- EDM (Karras et al. 2022): continuous noise levels drawn log-normally, the network wrapped in EDM's
  preconditioning (c_skip, c_out, c_in, c_noise) and its loss weighting.

Either way `denoise(x, sigma)` exposes the model as a denoiser of x = x0 + sigma * eps, which is all the
samplers in `samplers.py` need. Class-conditional models drop labels during training (`label_dropout`) so
that one network also knows p(x); sampling then mixes the two predictions (classifier-free guidance,
Ho & Salimans 2022): D = D_uncond + w (D_cond - D_uncond).

With `text_encoder` set, the condition is a caption instead: a small transformer reads its tokens and the
UNet cross-attends to them; dropped captions (`label_dropout`) become the empty caption, and a negative
prompt takes the empty caption's place in guidance. With `autoencoder` set, all of this happens in the
latent space of a trained VAE or VQ-VAE (latent diffusion, Rombach et al. 2022): see `latent.py`.
"""

from __future__ import annotations

from typing import Any, Literal

import torch
from pydantic import Field, field_validator, model_validator

from noisecraft.data.base import DataSpec
from noisecraft.errors import ConfigError
from noisecraft.models.base import GenerativeModel, ModelConfig, StepOutput
from noisecraft.models.captions import caption_ids, empty_captions
from noisecraft.models.diffusion.latent import LatentSpace
from noisecraft.models.diffusion.samplers import SAMPLERS, karras_sigmas, sampler_name, unknown_sampler
from noisecraft.models.diffusion.schedules import alphas_cumprod, sigmas_of
from noisecraft.models.noise import randn
from noisecraft.models.options import OptionSpec
from noisecraft.models.registry import register
from noisecraft.nn.text_encoder import TextEncoder, TextEncoderConfig
from noisecraft.nn.unet import UNet


class DiffusionConfig(ModelConfig):
    family: Literal["diffusion"] = "diffusion"
    # objective
    objective: Literal["eps", "v", "x0", "edm"] = Field("eps", description="what the network predicts (DDPM), or edm")
    schedule: Literal["linear", "cosine"] = Field("cosine", description="DDPM noise schedule")
    timesteps: int = Field(1000, ge=2, le=100000, description="DDPM steps T")
    min_snr_gamma: float | None = Field(None, gt=0, description="min-SNR loss weighting (DDPM objectives), e.g. 5")
    sigma_data: float = Field(0.5, gt=0, description="EDM: std of the data (scaled to [-1, 1])")
    p_mean: float = Field(-1.2, description="EDM: mean of log sigma during training")
    p_std: float = Field(1.2, gt=0, description="EDM: std of log sigma during training")
    sigma_min: float = Field(0.002, gt=0, description="EDM: smallest noise level sampled")
    sigma_max: float = Field(80.0, gt=0, description="EDM: largest noise level sampled")
    rho: float = Field(7.0, gt=0, description="EDM: sampling step spacing")
    # network
    channels: list[int] = Field([32, 64, 64], min_length=1, max_length=6, description="UNet width per resolution")
    res_blocks: int = Field(1, ge=1, le=8, description="residual blocks per resolution (encoder)")
    attention: list[int] = Field([7], description="resolutions (pixels) with self-attention")
    heads: int = Field(4, ge=1)
    dropout: float = Field(0.0, ge=0, lt=1)
    # conditioning
    conditional: bool = Field(False, description="class-conditional (needs labelled data)")
    label_dropout: float = Field(0.1, ge=0, le=1, description="share of labels (or captions) dropped in training, for guidance")
    text_encoder: TextEncoderConfig | None = Field(None, description="caption-conditional: a transformer over the "
                                                   "caption tokens, trained jointly, that the UNet cross-attends to")
    autoencoder: str | None = Field(None, description="latent diffusion: a trained VAE or VQ-VAE (run or model folder)")
    autoencoder_model: dict[str, Any] | None = Field(None, description="recorded from model.autoencoder in the model "
                                                     "folder (its family, config and spec): the folder is self-contained")
    latent_scale: float | None = Field(None, gt=0, description="latents are divided by this (default: set from the autoencoder)")
    # sampling defaults (override with --sampler, --steps, --guidance, --eta)
    sampler: str = Field("dpmpp-2m", description="ddpm, ddim, heun or dpmpp-2m")
    steps: int = Field(20, ge=1, le=10000)
    guidance: float = Field(1.0, ge=0, description="classifier-free guidance weight (1 = none)")
    clip_denoised: bool = Field(True, description="clamp the x0 estimate to the data range while sampling")

    @field_validator("sampler")
    @classmethod
    def _known_sampler(cls, name: str) -> str:
        problem = unknown_sampler(name)
        if problem:
            raise ValueError(problem)
        return name

    @model_validator(mode="after")
    def _check(self) -> "DiffusionConfig":
        if self.objective == "edm" and self.min_snr_gamma is not None:
            raise ValueError("min_snr_gamma applies to the DDPM objectives (eps, v, x0); edm has its own weighting")
        if self.sigma_min >= self.sigma_max:
            raise ValueError(f"sigma_min ({self.sigma_min}) must be below sigma_max ({self.sigma_max})")
        for c in self.channels:
            if c < 1:
                raise ValueError(f"channels: {c} is not a positive width")
        return self


@register
class DiffusionModel(GenerativeModel):
    family = "diffusion"
    config_class = DiffusionConfig
    sample_options = ("sampler", "steps", "eta", "guidance", "negative")
    option_specs = {"sampler": OptionSpec("string", "sampling algorithm", choices=tuple(SAMPLERS)),
                    "negative": OptionSpec("string", "negative prompt: what the image should not be", max_length=1000)}

    def __init__(self, config: DiffusionConfig, spec: DataSpec) -> None:
        super().__init__(config, spec)
        if spec.modality != "image" or len(spec.shape) != 3:
            raise ConfigError(f"model.family diffusion: needs images (C, H, W), the data gives {spec.modality} {spec.shape}")
        self.latent = LatentSpace.build(config, spec) if config.autoencoder or config.autoencoder_model else None
        if self.latent is not None:  # the saved config records the autoencoder; the recipe's stays as written
            self.config = config = config.model_copy(update=self.latent.record)
        c, h, w = self.latent.shape if self.latent is not None else spec.shape
        self.init_conditioning(config.conditional)
        self.text = None
        if config.text_encoder is not None:
            if config.conditional:
                raise ConfigError("model.text_encoder: a model is conditioned on classes or on captions, not both")
            if not spec.caption_tokens:
                raise ConfigError("model.text_encoder: the data has no captions (dataset: shapes, or an image folder "
                                  "with data.captions: true)")
            self.text = TextEncoder(config.text_encoder, spec.vocab_size, spec.caption_tokens)
        else:  # a negative prompt needs a model that reads prompts
            self.sample_options = tuple(o for o in self.sample_options if o != "negative")
        self.unet = UNet(c, min(h, w), config.channels, config.res_blocks, config.attention, config.heads,
                         config.dropout, num_classes=self.num_classes or 0,
                         context_dim=config.text_encoder.dim if self.text is not None else None)
        if config.objective != "edm":
            alpha_bar = alphas_cumprod(config.schedule, config.timesteps)
            # derived from the config, so not saved with the weights
            self.register_buffer("alpha_bar", alpha_bar.float(), persistent=False)
            self.register_buffer("log_sigmas", sigmas_of(alpha_bar).log().float(), persistent=False)

    @property
    def condition_kind(self) -> str | None:
        return "prompt" if self.text is not None else super().condition_kind

    def optimizer_groups(self):
        return {"model": [p for p in self.parameters() if p.requires_grad]}  # not a frozen autoencoder's

    def network(self, x: torch.Tensor, noise_label: torch.Tensor, cond: torch.Tensor | None) -> torch.Tensor:
        """The UNet given the condition: class labels, or caption ids (read by the text encoder)."""
        if self.text is None:
            return self.unet(x, noise_label, cond)
        context, mask = self.text(cond)
        return self.unet(x, noise_label, context=context, context_mask=mask)

    def encode_prompt(self, condition: Any) -> torch.Tensor:
        return caption_ids(self.spec, condition, 1)

    # --- the denoiser every sampler uses -------------------------------------------------------------
    def denoise(self, x: torch.Tensor, sigma: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Estimate x0 from x = x0 + sigma * eps (sigma: a scalar or one per example)."""
        cfg = self.config
        sigma = sigma.to(x.device, torch.float32).reshape(-1).expand(len(x))
        s = sigma[:, None, None, None]
        if cfg.objective == "edm":
            total = s**2 + cfg.sigma_data**2
            c_skip, c_out, c_in = cfg.sigma_data**2 / total, s * cfg.sigma_data / total.sqrt(), total.rsqrt()
            return c_skip * x + c_out * self.network(c_in * x, 250.0 * sigma.log(), labels)
        a = (1 + s**2).rsqrt()  # sqrt(alpha_bar): x_t = a * x
        out = self.network(a * x, self.timestep_of(sigma), labels)
        if cfg.objective == "eps":
            return x - s * out
        if cfg.objective == "v":
            return a**2 * x - s * a * out
        return out

    def timestep_of(self, sigma: torch.Tensor) -> torch.Tensor:
        """The (fractional) DDPM step with this noise level: linear interpolation in log sigma."""
        log_sigma = sigma.log().clamp(self.log_sigmas[0], self.log_sigmas[-1])
        high = torch.searchsorted(self.log_sigmas, log_sigma).clamp(1, len(self.log_sigmas) - 1)
        low_value, high_value = self.log_sigmas[high - 1], self.log_sigmas[high]
        return high - 1 + (log_sigma - low_value) / (high_value - low_value)

    # --- training ------------------------------------------------------------------------------------
    def forward(self, batch: dict[str, torch.Tensor], optimizer: str = "model") -> StepOutput:
        cfg = self.config
        x0 = self.latent.encode(batch["x"]) if self.latent is not None else batch["x"] * 2 - 1
        labels = self._training_labels(batch)
        noise = torch.randn_like(x0)
        b = len(x0)
        if cfg.objective == "edm":
            sigma = (torch.randn(b, device=x0.device) * cfg.p_std + cfg.p_mean).exp()
            denoised = self.denoise(x0 + sigma[:, None, None, None] * noise, sigma, labels)
            weight = (sigma**2 + cfg.sigma_data**2) / (sigma * cfg.sigma_data) ** 2
            per_example = weight * (denoised - x0).pow(2).mean((1, 2, 3))
            return StepOutput(per_example.mean(), {"mse_x0": (denoised - x0).pow(2).mean().detach()})

        t = torch.randint(0, cfg.timesteps, (b,), device=x0.device)
        alpha_bar = self.alpha_bar[t][:, None, None, None]
        a, s = alpha_bar.sqrt(), (1 - alpha_bar).sqrt()
        out = self.network(a * x0 + s * noise, t.float(), labels)
        target = {"eps": noise, "v": a * noise - s * x0, "x0": x0}[cfg.objective]
        per_example = (out - target).pow(2).mean((1, 2, 3))
        if cfg.min_snr_gamma is not None:
            snr = (alpha_bar / (1 - alpha_bar)).flatten()
            clipped = snr.clamp(max=cfg.min_snr_gamma)
            per_example = per_example * {"eps": clipped / snr, "v": clipped / (snr + 1), "x0": clipped}[cfg.objective]
        return StepOutput(per_example.mean())

    def _training_labels(self, batch: dict[str, torch.Tensor]) -> torch.Tensor | None:
        if self.text is not None:  # dropped captions become the empty caption: <start>, then padding
            ids = batch["caption"]
            drop = torch.rand(len(ids), device=ids.device) < self.config.label_dropout
            return torch.where(drop[:, None], self.null_condition(ids), ids)
        labels = self.require_labels(batch.get("y"))
        if labels is None:
            return None
        drop = torch.rand(labels.shape, device=labels.device) < self.config.label_dropout
        return torch.where(drop, torch.full_like(labels, self.num_classes), labels)

    # --- sampling ------------------------------------------------------------------------------------
    def sigmas(self, steps: int) -> torch.Tensor:
        """Decreasing noise levels to visit, ending in 0. DDPM: evenly spaced steps from T-1 down to 0
        ("trailing", so sampling starts from pure noise); EDM: Karras et al.'s schedule."""
        cfg = self.config
        if cfg.objective == "edm":
            return karras_sigmas(steps, cfg.sigma_min, cfg.sigma_max, cfg.rho)
        t = torch.linspace(cfg.timesteps - 1, 0, steps)
        low = t.floor().long()
        high = (low + 1).clamp(max=cfg.timesteps - 1)
        log_sigmas = self.log_sigmas.cpu()
        log_sigma = torch.lerp(log_sigmas[low], log_sigmas[high], t - low)
        return torch.cat([log_sigma.exp(), torch.zeros(1)])

    def describe_options(self) -> dict[str, dict[str, Any]]:
        options = super().describe_options()
        if not self.conditioned:
            del options["guidance"]  # nothing to guide towards
        return options

    @property
    def conditioned(self) -> bool:
        return bool(self.num_classes) or self.text is not None

    def labels_for(self, condition: Any, n: int) -> torch.Tensor | None:
        """Class labels as `--class` takes them; caption models: the caption ids of a prompt, or of one prompt per
        sample (None: the empty caption)."""
        if self.text is not None:
            return caption_ids(self.spec, condition, n).to(self.device)
        return super().labels_for(condition, n)

    def null_condition(self, cond: torch.Tensor) -> torch.Tensor:
        """The "no class" label, or the empty caption, for each row of `cond`."""
        return torch.full_like(cond, self.num_classes) if self.text is None else empty_captions(cond)

    def guided_denoiser(self, labels: torch.Tensor | None, guidance: float, negative: torch.Tensor | None = None):
        """D(x, sigma) with classifier-free guidance; both predictions come from one batched call. `negative`:
        caption ids that replace the empty caption (a negative prompt: guidance pushes away from it)."""
        lo, hi = (-1.0, 1.0) if self.config.clip_denoised and self.latent is None else (None, None)

        def denoise(x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
            if labels is None or (guidance == 1.0 and negative is None):
                out = self.denoise(x, sigma, labels)
            else:
                null = self.null_condition(labels) if negative is None else negative
                cond, uncond = self.denoise(torch.cat([x, x]), sigma, torch.cat([labels, null])).chunk(2)
                out = uncond + guidance * (cond - uncond)
            return out.clamp(lo, hi) if lo is not None else out

        return denoise

    @torch.no_grad()
    def sample(self, n: int, condition: Any = None, generator: torch.Generator | None = None,
               sampler: str | None = None, steps: int | None = None, eta: float | None = None,
               guidance: float | None = None, negative: str | None = None) -> torch.Tensor:
        cfg = self.config
        sampler = sampler_name(sampler or cfg.sampler)
        steps = steps or cfg.steps
        if guidance is not None and guidance != 1.0 and not self.conditioned:
            raise ConfigError("--guidance: this model is unconditional, there is nothing to guide towards")
        if negative is not None and self.text is None:
            raise ConfigError("--negative: this model does not read prompts")
        guidance = cfg.guidance if guidance is None else guidance
        labels = self.labels_for(condition, n)
        negative_ids = caption_ids(self.spec, negative, n, "--negative").to(self.device) if negative is not None else None
        sigmas = self.sigmas(steps).to(self.device)
        shape = self.latent.shape if self.latent is not None else self.spec.shape
        x = randn((n, *shape), generator).to(self.device) * sigmas[0]
        x = SAMPLERS[sampler](self.guided_denoiser(labels, guidance, negative_ids), x, sigmas, generator, eta=eta)
        if self.latent is not None:
            return self.latent.decode(x)
        return ((x + 1) / 2).clamp(0, 1)

    def train(self, mode: bool = True) -> "DiffusionModel":
        super().train(mode)
        if self.latent is not None:
            self.latent.eval()  # the autoencoder stays frozen (a VQ-VAE would move its codebook in train mode)
        return self
