"""Model families by name (built-in ones imported only when first asked for), and recipes resolved against
them: the model section is validated here, by its family's config class."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from noisecraft.config import ResolvedRecipe, parse_recipe, validate_section
from noisecraft.errors import ConfigError

if TYPE_CHECKING:  # base.py looks families up here (from_pretrained), so this module does not import it
    from noisecraft.models.base import GenerativeModel

# family name -> module that defines (and registers) it
BUILTIN_FAMILIES = {
    "vae": "noisecraft.models.vae",
    "classifier": "noisecraft.models.classifier",
    "diffusion": "noisecraft.models.diffusion",
    "gan": "noisecraft.models.gan",
    "vqvae": "noisecraft.models.vqvae",
    "pixelcnn": "noisecraft.models.pixelcnn",
    "flow": "noisecraft.models.flow",
    "transformer": "noisecraft.models.autoregressive",
    "lstm": "noisecraft.models.autoregressive",
    "seqvae": "noisecraft.models.seqvae",
    "arcnn": "noisecraft.models.arcnn",
    "clip": "noisecraft.models.clip",
    "dalle": "noisecraft.models.autoregressive",
}

_FAMILIES: dict[str, type[GenerativeModel]] = {}


def register(cls: type[GenerativeModel]) -> type[GenerativeModel]:
    """Class decorator: make a family available to recipes and model folders by its `family` name."""
    _FAMILIES[cls.family] = cls
    return cls


def get_family(name: str, allow_import: bool = False) -> type[GenerativeModel]:
    """A family by name. With `allow_import` (recipes, which you write yourself) `package.module:Class`
    names your own family; model folders never import by path, so loading one runs no code it names."""
    if name not in _FAMILIES and name in BUILTIN_FAMILIES:
        importlib.import_module(BUILTIN_FAMILIES[name])
    if name not in _FAMILIES and allow_import and ":" in name:
        return _import_family(name)
    if name not in _FAMILIES:
        known = sorted(set(_FAMILIES) | set(BUILTIN_FAMILIES))
        raise ConfigError(f"model.family: unknown family {name!r} (known: {', '.join(known)}; "
                          "or your own as package.module:ClassName)")
    return _FAMILIES[name]


def _import_family(path: str) -> type[GenerativeModel]:
    module_name, _, class_name = path.partition(":")
    try:
        cls = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError) as e:
        raise ConfigError(f"model.family: cannot import {path!r}: {e}") from None
    base = sys.modules.get("noisecraft.models.base")  # imported by any subclass of GenerativeModel
    if base is None or not (isinstance(cls, type) and issubclass(cls, base.GenerativeModel)):
        raise ConfigError(f"model.family: {path!r} is not a GenerativeModel subclass")
    return register(cls)


def family_names() -> list[str]:
    return sorted(set(_FAMILIES) | set(BUILTIN_FAMILIES))


def load_recipe(recipe: str | Path | dict[str, Any], overrides: list[str] | None = None) -> ResolvedRecipe:
    """Read (a path, a built-in name or a dict), apply `--set` overrides, validate every section: the
    model section by the config class of the family it names."""
    parsed, raw_model, source = parse_recipe(recipe, overrides)
    family = get_family(str(raw_model["family"]), allow_import=True)
    model = validate_section(family.config_class, {**raw_model, "family": family.family}, source, prefix="model")
    return ResolvedRecipe(recipe=parsed, model=model, source=source)
