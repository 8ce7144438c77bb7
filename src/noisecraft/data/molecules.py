"""Molecules as token streams: MOSES's data set (shipped inside the `molsets` wheel) or any .smi / .csv of
SMILES, one molecule a line.

- Every SMILES of a user's file is parsed and canonicalized with RDKit; one RDKit cannot read is an error
  naming the file and line, or (`data.skip_bad_smiles`) skipped and counted. MOSES's SMILES are used as
  shipped: they are canonical, and MOSES's novelty compares against exactly those strings.
- Splits. `moses`: train, test, test_scaffolds as MOSES defines them, plus `valid`, the last
  `data.test_fraction` of MOSES's train, held out of our train split for validation loss. A file: the
  last `test_fraction` of its molecules is `test` (also called `valid`), and `validation` the last 10% of
  the rest (left out of train with `data.hold_out_validation`); MOSES's `validation` is its `valid`.
- `data.properties: [qed, ...]` starts each molecule's line with its property tokens (`<qed:0.9>`).
- `data.sequences`: `packed` (molecules joined by newlines; one window of block_size + 1 tokens starts at
  each molecule's newline and runs on into the next ones, so no context is wasted) or `padded` (one molecule a row, the newline token before it,
  after it and as padding: what a sequence VAE encodes whole). Longer molecules are skipped and counted.
Tokenized splits are cached under the cache folder, keyed by the data and every setting that shapes them.
"""

from __future__ import annotations

import csv
import hashlib
import importlib.util
import json
import os
import warnings
from functools import cache
from multiprocessing import Pool
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch.utils.data import Dataset

from noisecraft.data.base import DataSpec
from noisecraft.data.molecule_properties import property_prefix
from noisecraft.data.text import TokenDataset
from noisecraft.data.transforms import VALIDATION_FRACTION, holdout_size, validation_slice
from noisecraft.errors import ConfigError, DataError
from noisecraft.text.molecule_tokenizers import MOLECULE_TOKENIZERS
from noisecraft.text.tokenizers import Tokenizer, tokenizer_from_dict
from noisecraft.utils.paths import default_cache_dir
from noisecraft.utils.durable import building_cache_dir

if TYPE_CHECKING:
    from noisecraft.config import DataConfig

MOSES_SPLITS = ("train", "test", "test_scaffolds")
CACHE_VERSION = 1


def moses_dir() -> Path:
    """molsets' data folder, found without importing it (its package import needs old pandas and RDKit)."""
    spec = importlib.util.find_spec("moses")
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError("data.dataset moses: the molsets package is not installed (./install.sh installs it; "
                          "by hand: pip install --no-deps molsets)")
    return Path(spec.submodule_search_locations[0])


@cache
def moses_smiles(split: str) -> tuple[str, ...]:
    """MOSES's `split` (train 1,584,663 / test 176,074 / test_scaffolds 176,225 molecules), as shipped."""
    import pandas as pd

    if split not in MOSES_SPLITS:
        raise DataError(f"unknown MOSES split {split!r} (choose from: {', '.join(MOSES_SPLITS)})")
    return tuple(pd.read_csv(moses_dir() / "dataset" / "data" / f"{split}.csv.gz", compression="gzip")["SMILES"].tolist())


def canonical_smiles(smiles: str) -> str | None:
    """RDKit's canonical SMILES, or None when RDKit cannot read it."""
    from rdkit import Chem, RDLogger

    RDLogger.DisableLog("rdApp.*")
    mol = Chem.MolFromSmiles(smiles) if smiles else None
    return Chem.MolToSmiles(mol) if mol is not None else None


def read_smiles_file(path: Path, column: str = "SMILES", skip_bad: bool = False) -> list[str]:
    """Canonical SMILES of a .smi (first field of each line) or .csv (the `column` column) file."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise DataError(f"data.smiles_path: {path}: no such file")
    try:
        with open(path, encoding="utf-8", newline="") as f:
            if path.suffix.lower() == ".csv":
                reader = csv.DictReader(f)
                if column not in (reader.fieldnames or []):
                    raise DataError(f"{path}: no column {column!r} (columns: {', '.join(reader.fieldnames or [])}; "
                                    "set data.smiles_column)")
                rows = [(i + 2, row[column] or "") for i, row in enumerate(reader)]
            else:
                rows = [(i + 1, (line.split() or [""])[0]) for i, line in enumerate(f)]
    except UnicodeDecodeError as e:
        raise DataError(f"{path}: not UTF-8 text: {e.reason} at byte {e.start}") from None
    rows = [(n, s.strip()) for n, s in rows if s.strip() and not s.startswith("#")]
    out, bad = [], []
    for (line, smiles), canonical in zip(rows, _map(canonical_smiles, [s for _, s in rows])):
        if canonical is None:
            if not skip_bad:
                raise DataError(f"{path}:{line}: not a valid SMILES: {smiles!r} (fix or delete the line, or set "
                                "data.skip_bad_smiles: true)")
            bad.append(line)
        else:
            out.append(canonical)
    if bad:
        warnings.warn(f"{path}: skipped {len(bad)} invalid SMILES (lines {', '.join(map(str, bad[:5]))}"
                      f"{' ...' if len(bad) > 5 else ''})")
    if not out:
        raise DataError(f"{path}: no valid SMILES in the file")
    return out


def _map(fn, items: list, chunk: int = 2000) -> list:
    """Both cores for long lists (RDKit releases nothing of the GIL)."""
    if len(items) < 5000:
        return [fn(x) for x in items]
    with Pool(min(os.cpu_count() or 1, 8)) as pool:
        return pool.map(fn, items, chunksize=chunk)


def molecule_splits(cfg: "DataConfig") -> dict[str, list[str]]:
    """Split name -> canonical SMILES (before property prefixes and limits)."""
    if cfg.dataset == "moses":
        train = list(moses_smiles("train"))
        held = int(len(train) * cfg.test_fraction)
        return {"train": train[: len(train) - held], "valid": train[len(train) - held :],
                "test": list(moses_smiles("test")), "test_scaffolds": list(moses_smiles("test_scaffolds"))}
    smiles = read_smiles_file(cfg.smiles_path, cfg.smiles_column, cfg.skip_bad_smiles)
    held = int(len(smiles) * cfg.test_fraction)
    if held == 0 and cfg.test_fraction > 0:
        held = min(1, len(smiles) - 1)
    test = smiles[len(smiles) - held :] if held else []
    train = smiles[: len(smiles) - held]
    size = holdout_size(len(train), VALIDATION_FRACTION)
    return {"train": train[validation_slice(len(train), "train", size, cfg.hold_out_validation, str(cfg.smiles_path))],
            "test": test, "valid": test, "validation": train[len(train) - size :]}


def reference_smiles(cfg: "DataConfig", split: str) -> list[str]:
    """The molecules a split's generated samples are compared with (no property tokens, no limit)."""
    if cfg.dataset == "moses" and split == "train":
        return list(moses_smiles("train"))  # MOSES's novelty: against the whole of its train set
    splits = molecule_splits(cfg)
    split = "valid" if cfg.dataset == "moses" and split == "validation" else split
    if split not in splits:
        raise DataError(f"unknown split {split!r} for {cfg.dataset} data (choose from: {', '.join(splits)})")
    return splits[split]


def _prefixed(lines: list[str], properties: tuple[str, ...]) -> list[str]:
    if not properties:
        return lines
    prefixes = _map(_PrefixFn(properties), lines)
    return [p + s for p, s in zip(prefixes, lines)]


class _PrefixFn:
    """Picklable for the process pool."""

    def __init__(self, properties: tuple[str, ...]) -> None:
        self.properties = properties

    def __call__(self, smiles: str) -> str:
        return property_prefix(smiles, self.properties)


def _source_key(cfg: "DataConfig") -> str:
    if cfg.dataset == "moses":
        return "moses-0.3.1"
    with open(Path(cfg.smiles_path).expanduser(), "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def tokenize_molecules(cfg: "DataConfig", tokenizer: Tokenizer | None) -> Path:
    """The cached folder: tokenizer.json, meta.json and per split `{split}.npy` (every molecule's tokens
    and its newline, concatenated) with `{split}-ends.npy` (where each molecule's tokens end)."""
    settings: dict[str, Any] = {"version": CACHE_VERSION, "source": _source_key(cfg), "test_fraction": cfg.test_fraction,
                                "properties": list(cfg.properties), "limit": cfg.limit,
                                "skip_bad": cfg.skip_bad_smiles, "column": cfg.smiles_column}
    if cfg.dataset != "moses":  # a file's splits gained "validation" (the last 10% of train)
        settings.update(validation=VALIDATION_FRACTION, **({"hold_out_validation": True} if cfg.hold_out_validation else {}))
    settings["tokenizer"] = cfg.tokenizer if tokenizer is None else hashlib.sha256(
        json.dumps(tokenizer.to_dict(), sort_keys=True).encode()).hexdigest()
    key = hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:20]
    folder = Path(cfg.cache_dir or default_cache_dir()).expanduser() / "molecules" / key
    if (folder / "meta.json").is_file():
        return folder
    splits = {name: _prefixed(lines[: cfg.limit] if cfg.limit else lines, tuple(cfg.properties))
              for name, lines in molecule_splits(cfg).items()}
    splitter = tokenizer or MOLECULE_TOKENIZERS[cfg.tokenizer]([])
    tokens = {name: _map(splitter.split, lines) for name, lines in splits.items()}
    if tokenizer is None:  # the vocabulary of every split, as a char vocabulary covers the whole text
        tokenizer = MOLECULE_TOKENIZERS[cfg.tokenizer](sorted({"\n"}.union(*(t for ts in tokens.values() for t in ts))))
    with building_cache_dir(folder) as tmp:
        newline = tokenizer.encode("\n")
        counts = {}
        for name, lines in splits.items():
            pieces = [np.asarray(tokenizer.ids(t) + newline, dtype=np.int32) for t in tokens[name]]
            ends = np.cumsum([len(p) for p in pieces], dtype=np.int64)
            np.save(tmp / f"{name}.npy", np.concatenate(pieces) if pieces else np.zeros(0, np.int32))
            np.save(tmp / f"{name}-ends.npy", ends)
            counts[name] = len(lines)
        (tmp / "tokenizer.json").write_text(json.dumps(tokenizer.to_dict()))
        (tmp / "meta.json").write_text(json.dumps({**settings, "molecules": counts}, indent=2))
    return folder


class MoleculeWindows(TokenDataset):
    """One window a molecule: block_size + 1 tokens from the newline before it, running on into the
    molecules after it. Each molecule is read once from a fresh start, as it is sampled; the rest of the
    window is more text of the same language."""

    def __init__(self, tokens: np.ndarray, starts: np.ndarray, block_size: int, tokenizer: Tokenizer, *,
                 name: str, split: str) -> None:
        super().__init__(tokens, block_size, tokenizer, name=name, split=split)
        self.starts = starts

    def __len__(self) -> int:
        return len(self.starts)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        start = int(self.starts[index])
        return {"x": torch.from_numpy(np.asarray(self.tokens[start : start + self.block_size + 1], dtype=np.int64))}


class PaddedMolecules(Dataset):
    """One molecule a row of block_size + 1 tokens: newline, its tokens, newline, newline padding."""

    def __init__(self, rows: np.ndarray, tokenizer: Tokenizer, block_size: int, skipped: int = 0) -> None:
        self.rows, self.tokenizer, self.block_size, self.skipped = rows, tokenizer, block_size, skipped

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        return {"x": torch.from_numpy(self.rows[index].astype(np.int64))}

    @property
    def spec(self) -> DataSpec:
        return DataSpec(modality="tokens", shape=(self.block_size,), vocab_size=self.tokenizer.vocab_size,
                        tokenizer=self.tokenizer.to_dict(), start_tokens=self.tokenizer.encode("\n"))


def load_molecule_dataset(cfg: "DataConfig", split: str, tokenizer: Tokenizer | None = None) -> TokenDataset | PaddedMolecules:
    split = "valid" if cfg.dataset == "moses" and split == "validation" else split
    folder = tokenize_molecules(cfg, tokenizer)
    meta = json.loads((folder / "meta.json").read_text())
    if split not in meta["molecules"]:
        raise DataError(f"unknown split {split!r} for {cfg.dataset} data (choose from: {', '.join(meta['molecules'])})")
    tokenizer = tokenizer or tokenizer_from_dict(json.loads((folder / "tokenizer.json").read_text()))
    stream = np.load(folder / f"{split}.npy", mmap_mode="r")
    newline = tokenizer.encode("\n")
    ends = np.load(folder / f"{split}-ends.npy")
    starts = np.concatenate([[0], ends[:-1]]).astype(np.int64)
    if cfg.sequences == "packed":  # every molecule follows a newline; the tail is padded so each has a window
        tokens = np.concatenate([np.asarray(newline, dtype=np.int32), np.asarray(stream),
                                 np.full(cfg.block_size, newline[0], dtype=np.int32)])
        return MoleculeWindows(tokens, starts, cfg.block_size, tokenizer, name=cfg.dataset, split=split)
    keep = (ends - starts) <= cfg.block_size  # its tokens and the closing newline after the opening one
    if not keep.all():
        warnings.warn(f"{cfg.dataset} {split}: skipped {int((~keep).sum())} of {len(keep)} molecules longer than "
                      f"data.block_size - 1 = {cfg.block_size - 1} tokens")
    rows = np.full((int(keep.sum()), cfg.block_size + 1), newline[0], dtype=np.int32)
    for row, (a, b) in enumerate(zip(starts[keep], ends[keep])):
        rows[row, 1 : 1 + b - a] = stream[a:b]
    if not len(rows):
        raise DataError(f"{cfg.dataset} {split}: no molecule fits data.block_size {cfg.block_size}")
    return PaddedMolecules(rows, tokenizer, cfg.block_size, skipped=int((~keep).sum()))
