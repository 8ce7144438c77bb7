"""Molecular properties with RDKit (QED, logP, SA, molecular weight), and the property tokens that
condition a token model: a molecule's line starts with `<qed:0.9>`, the property rounded to its bin, so a
model learns p(molecule | property) and p(property) from the same stream, and `--condition qed=0.9` is a
prompt of that token.

SA is Ertl & Schuffenhauer's synthetic accessibility from RDKit's Contrib folder: the same scores as the
copy inside molsets (checked on 2,000 MOSES test molecules), the one MOSES's reference statistics used.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from functools import cache
from typing import Any

from noisecraft.errors import ConfigError

# name -> (lowest bin, highest bin, bin width): a value is rounded to the nearest bin inside the range
PROPERTY_BINS: dict[str, tuple[float, float, float]] = {
    "qed": (0.0, 1.0, 0.1),
    "logp": (-2.0, 7.0, 1.0),
    "sa": (1.0, 8.0, 0.5),
    "mw": (100.0, 600.0, 50.0),
}
PROPERTIES = tuple(PROPERTY_BINS)


@cache
def _sascorer() -> Any:
    from rdkit import RDConfig

    path = f"{RDConfig.RDContribDir}/SA_Score/sascorer.py"
    spec = importlib.util.spec_from_file_location("noisecraft_sascorer", path)
    if spec is None or spec.loader is None:
        raise ConfigError(f"RDKit's SA scorer is missing ({path}): reinstall rdkit")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@cache
def property_functions() -> dict[str, Callable[[Any], float]]:
    """RDKit molecule -> value, by property name."""
    from rdkit.Chem import Crippen, Descriptors
    from rdkit.Chem.QED import qed

    return {"qed": qed, "logp": Crippen.MolLogP, "sa": lambda mol: _sascorer().calculateScore(mol),
            "mw": Descriptors.MolWt}


def molecule_properties(smiles: str, names: tuple[str, ...] = PROPERTIES) -> dict[str, float] | None:
    """The named properties of one molecule; None when RDKit cannot read it."""
    from rdkit import Chem

    mol = Chem.MolFromSmiles(smiles)
    if mol is None:
        return None
    functions = property_functions()
    return {name: float(functions[name](mol)) for name in names}


def property_token(name: str, value: float) -> str:
    low, high, step = PROPERTY_BINS[name]
    binned = min(max(round((value - low) / step) * step + low, low), high)
    return f"<{name}:{binned:g}>"


def property_prefix(smiles: str, names: tuple[str, ...]) -> str:
    values = molecule_properties(smiles, names) or {}
    return "".join(property_token(n, values[n]) for n in names if n in values)


def parse_condition(text: str) -> dict[str, float]:
    """`qed=0.9,logp=2` -> {"qed": 0.9, "logp": 2.0}; an unknown name or a bad number is an error naming it."""
    out: dict[str, float] = {}
    for part in [p.strip() for p in text.split(",") if p.strip()]:
        name, sep, value = part.partition("=")
        name = name.strip().lower()
        if not sep or name not in PROPERTY_BINS:
            raise ConfigError(f"--condition {part!r}: expected NAME=VALUE with NAME one of {', '.join(PROPERTIES)}")
        try:
            out[name] = float(value)
        except ValueError:
            raise ConfigError(f"--condition {part!r}: {value!r} is not a number") from None
    if not out:
        raise ConfigError("--condition: give at least one NAME=VALUE, e.g. qed=0.9")
    return out


def condition_prompt(condition: dict[str, float], vocab: list[str]) -> str:
    """The prompt that asks a model for molecules with these properties: a newline, then their tokens in
    the order the model was trained with. A property the model never saw is an error naming it."""
    trained = [n for n in PROPERTIES if any(t.startswith(f"<{n}:") for t in vocab)]
    missing = [n for n in condition if n not in trained]
    if missing:
        raise ConfigError(f"--condition {missing[0]}: this model was not trained with {missing[0]} tokens "
                          f"(trained with: {', '.join(trained) or 'no property'}; set data.properties in the recipe)")
    asked = trained[: len(condition)]
    if set(asked) != set(condition):  # a molecule's line names its properties in the trained order
        raise ConfigError(f"--condition: this model reads its properties in the order {', '.join(trained)}; "
                          f"condition on the first {len(condition)} of them ({', '.join(asked)})")
    tokens = [property_token(n, condition[n]) for n in asked]
    unseen = [t for t in tokens if t not in vocab]
    if unseen:
        raise ConfigError(f"--condition: no training molecule had {unseen[0]}, so the model cannot be asked for it")
    return "\n" + "".join(tokens)
