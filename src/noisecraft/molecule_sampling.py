"""Molecules from any token model trained on SMILES or SELFIES: one molecule per sample, SMILES out.

A sample starts from the newline token (or from the property tokens that `--condition qed=0.9` names)
and ends at the next newline; property tokens a model writes itself are dropped from the SMILES.
Used by `noisecraft generate`, `evaluate --metrics moses`, the benchmark and the server.
"""

from __future__ import annotations

import re
from typing import Any

from noisecraft.data.molecule_properties import condition_prompt, parse_condition
from noisecraft.errors import ConfigError
from noisecraft.models.base import GenerativeModel
from noisecraft.sampling import generate_text

MOLECULE_TOKENIZERS = ("smiles", "selfies")
PROPERTY_TOKEN = re.compile(r"<[^>]*>")


def is_molecule_model(model: GenerativeModel) -> bool:
    tokenizer = getattr(model.spec, "tokenizer", None) or {}
    return model.modality == "tokens" and tokenizer.get("type") in MOLECULE_TOKENIZERS


def generate_molecules(model: GenerativeModel, num: int, seed: int = 0, condition: str | dict[str, float] | None = None,
                       batch_size: int = 250, **options: Any) -> list[str]:
    """`num` SMILES (invalid ones included: validity is for the metrics to judge), deterministic for a seed."""
    if not is_molecule_model(model):
        raise ConfigError(f"this {model.family} model was not trained on molecules (its tokenizer is "
                          f"{(model.spec.tokenizer or {}).get('type')}); train it on data.dataset moses or smiles")
    prompt = None
    if condition:
        wanted = parse_condition(condition) if isinstance(condition, str) else dict(condition)
        prompt = condition_prompt(wanted, list(model.spec.tokenizer["vocab"]))
    options = {k: v for k, v in options.items() if v is not None}
    if "stop" in model.sample_options:
        options.setdefault("stop", ["\n"])
    texts = generate_text(model, num, seed=seed, prompt=prompt, batch_size=batch_size, **options)
    return [smiles_of(text) for text in texts]


def smiles_of(text: str) -> str:
    """A sampled continuation -> its first molecule's SMILES, without property tokens."""
    return PROPERTY_TOKEN.sub("", text.lstrip("\n").split("\n")[0])
