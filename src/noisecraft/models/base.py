"""The one interface every family implements, and the model folder format.

A family is a `GenerativeModel` subclass with a pydantic config class. The training loop only needs:

- `optimizer_groups()`: which parameters each optimizer owns (one optimizer, or several: a GAN has two);
- `forward(batch, optimizer=name)`: the loss that optimizer minimises, as a `StepOutput`;
- `sample(n, condition=None, generator=None, **options)`: new examples (images in [0, 1]; token models:
  the new token ids of each sample);
- where the family has one, `log_likelihood(x)`: log p(x) in nats per example.

A model folder is `config.json` (family, config, data spec) + `model.safetensors`; loading one never
unpickles anything, so a folder someone sent you cannot execute code.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Iterable

import torch
from pydantic import ValidationError
from safetensors.torch import load_model
from torch import nn

from noisecraft.config import StrictModel
from noisecraft.data.base import DataSpec
from noisecraft.errors import CheckpointError, ConfigError
from noisecraft.models.conditioning import class_labels
from noisecraft.models.registry import get_family
from noisecraft.utils.version import __version__
from noisecraft.utils.durable import fsync_dir, fsync_tree
from noisecraft.utils.weights import save_weights

if TYPE_CHECKING:
    from noisecraft.models.options import OptionSpec

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"


class ModelConfig(StrictModel):
    """Base of every family's config; subclasses fix `family` to their name."""

    family: str


@dataclass
class StepOutput:
    """What a training step returns: the loss to minimise and scalars worth logging."""

    loss: torch.Tensor
    logs: dict[str, torch.Tensor | float] = field(default_factory=dict)


class GenerativeModel(nn.Module):
    family: ClassVar[str]
    config_class: ClassVar[type[ModelConfig]]
    modality: ClassVar[str] = "image"  # what `sample` produces
    data_modality: ClassVar[str] = "image"  # what the family trains on (DataSpec.modality)
    # Keyword options `sample` accepts beyond n/condition/generator (the CLI rejects others by name).
    sample_options: ClassVar[tuple[str, ...]] = ()
    # Options of this family's own, or narrower than the shared table in models/options.py (e.g. choices).
    option_specs: ClassVar[dict[str, "OptionSpec"]] = {}
    # The classes a class-conditional model draws from; None (the one marker for "no class") when unconditional.
    num_classes: int | None = None

    def __init__(self, config: ModelConfig, spec: DataSpec) -> None:
        super().__init__()
        if spec.modality != self.data_modality:
            raise ConfigError(f"the {self.family} family models {self.data_modality} data, but the data is "
                              f"{spec.modality}: choose a family for {spec.modality} data, or other data")
        self.config = config
        self.spec = spec

    # --- the conditioning contract (families with `model.conditional`) ------------------------------
    def init_conditioning(self, conditional: bool) -> int | None:
        """A conditional model needs labelled data; sets and returns `num_classes` (None: unconditional)."""
        if conditional and not self.spec.num_classes:
            raise ConfigError("model.conditional: the data has no labels (image_folder: set data.labels: true)")
        self.num_classes = self.spec.num_classes if conditional else None
        return self.num_classes

    def require_labels(self, labels: torch.Tensor | None) -> torch.Tensor | None:
        """The labels a conditional model is given (a batch's `y`, a likelihood's); None when unconditional."""
        if self.num_classes is None:
            return None
        if labels is None:
            raise ConfigError(f"this {self.family} model is class-conditional and was given no labels: its batches "
                              "and samples need labels")
        return labels

    def labels_for(self, condition: Any, n: int) -> torch.Tensor | None:
        """n labels on the model's device from a condition as `--class` takes it: None (classes 0, 1, 2, ...
        in turn), an index, a class name, or n labels; None for an unconditional model (which refuses one)."""
        labels = class_labels(condition, n, self.num_classes, self.spec.class_names)
        return labels.to(self.device) if labels is not None else None

    # --- training -----------------------------------------------------------------------------------
    def optimizer_groups(self) -> dict[str, Iterable[nn.Parameter]]:
        return {"model": self.parameters()}

    def forward(self, batch: dict[str, torch.Tensor], optimizer: str = "model") -> StepOutput:
        raise NotImplementedError

    # --- generation and likelihood ------------------------------------------------------------------
    @torch.no_grad()
    def sample(
        self, n: int, condition: Any = None, generator: torch.Generator | None = None, **options: Any
    ) -> torch.Tensor:
        raise NotImplementedError

    @property
    def condition_kind(self) -> str | None:
        """What `sample`'s condition is: "prompt" (text), "class", or None (nothing)."""
        if self.spec.level is not None:  # game levels are drawn whole, unprompted
            return None
        if self.modality == "tokens":
            return "prompt"
        return "class" if self.num_classes else None

    def describe_options(self) -> dict[str, dict[str, Any]]:
        """The options `sample` takes as JSON schema, with this model's defaults (for the server and studio)."""
        import inspect

        params = inspect.signature(self.sample).parameters
        out = {}
        for name in self.sample_options:
            schema = self.option_spec(name).schema()
            default = getattr(self.config, name, None)
            if default is None and name in params and params[name].default is not inspect.Parameter.empty:
                default = params[name].default
            if default is not None:
                schema["default"] = default
            out[name] = schema
        return out

    def option_spec(self, name: str) -> "OptionSpec":
        from noisecraft.models.options import OPTIONS, OptionSpec

        return self.option_specs.get(name) or OPTIONS.get(name) or OptionSpec("number", name)

    @property
    def has_likelihood(self) -> bool:
        return type(self).log_likelihood is not GenerativeModel.log_likelihood

    def log_likelihood(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError(f"the {self.family} family has no likelihood")

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    # --- model folder --------------------------------------------------------------------------------
    def save_pretrained(self, directory: str | Path) -> Path:
        """Write `config.json` + `model.safetensors` atomically (a temp folder renamed into place)."""
        directory = Path(directory)
        directory.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{directory.name}-", dir=directory.parent))
        try:
            meta = {
                "family": self.family,
                "noisecraft_version": __version__,
                "config": self.config.model_dump(mode="json"),
                "spec": self.spec.model_dump(mode="json"),
            }
            (tmp / CONFIG_NAME).write_text(json.dumps(meta, indent=2) + "\n")
            save_weights(self, str(tmp / WEIGHTS_NAME))
            replace_dir(tmp, directory)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return directory

    @classmethod
    def from_pretrained(cls, directory: str | Path, device: str | torch.device = "cpu") -> "GenerativeModel":
        """Build the model a folder describes; called on the base class it picks the family from config.json."""
        directory = Path(directory)
        meta = read_model_config(directory)
        family = get_family(meta["family"]) if cls is GenerativeModel else cls
        if family.family != meta["family"]:
            raise CheckpointError(f"{directory}: holds a {meta['family']!r} model, not {family.family!r}")
        try:
            config = family.config_class.model_validate(meta["config"])
            spec = DataSpec.model_validate(meta["spec"])
        except ValidationError as e:
            raise CheckpointError(f"{directory / CONFIG_NAME}: invalid config: {e.errors()[0]['msg']}") from None
        model = family(config, spec)
        weights = directory / WEIGHTS_NAME
        if not weights.is_file():
            raise CheckpointError(f"{directory}: no {WEIGHTS_NAME}")
        try:
            load_model(model, str(weights), strict=True, device=str(device))
        except Exception as e:  # safetensors raises several types for truncated or mismatched files
            raise CheckpointError(f"{weights}: cannot load weights: {str(e).splitlines()[0]}") from None
        return model.to(device).eval()


def read_model_config(directory: Path) -> dict[str, Any]:
    path = directory / CONFIG_NAME
    if not path.is_file():
        raise CheckpointError(f"{directory}: not a model folder (no {CONFIG_NAME})")
    try:
        meta = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise CheckpointError(f"{path}: not valid JSON: {e}") from None
    missing = [k for k in ("family", "config", "spec") if k not in meta]
    if missing:
        raise CheckpointError(f"{path}: missing {', '.join(missing)}")
    return meta


def replace_dir(src: Path, dst: Path) -> None:
    """Move folder `src` to `dst`, replacing any old `dst`, so that `dst` is never half-written.

    Two renames: old → `dst.old`, new → `dst`. A crash between them leaves `dst.old`, which
    `recover_dir` puts back.
    """
    old = dst.with_name(dst.name + ".old")
    fsync_tree(src)  # the new files' bytes are on disk before any name points at them
    shutil.rmtree(old, ignore_errors=True)
    if dst.exists():
        os.replace(dst, old)
    os.replace(src, dst)
    fsync_dir(dst.parent)  # both renames are on disk before the old copy goes
    shutil.rmtree(old, ignore_errors=True)


def recover_dir(dst: Path) -> None:
    """Undo a `replace_dir` that was interrupted between its two renames."""
    old = dst.with_name(dst.name + ".old")
    if not dst.exists() and old.exists():
        os.replace(old, dst)
        fsync_dir(dst.parent)
