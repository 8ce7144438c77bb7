"""Features of a real data split, computed once and cached on disk.

The cache key covers everything the numbers depend on: data set and preprocessing (the recipe's data
section), split, number of images, feature network and its preprocessing. A hit loads the file and
computes nothing. A miss saves its features a block at a time beside the cache file, so that a long
extraction (10k MNIST test digits through Inception: about an hour on one CPU thread) that is stopped
resumes from its last block rather than from the start.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from safetensors.numpy import load_file, save_file

from noisecraft.config import DataConfig
from noisecraft.data import build_dataset
from noisecraft.utils.paths import default_cache_dir

BLOCK = 1000  # images a resumable block holds: a few minutes of Inception at one thread


def reference_key(data: DataConfig, split: str, num: int | None, extractor: Any) -> dict[str, Any]:
    data_fields = data.model_dump(mode="json", exclude={"cache_dir", "source"})  # where, not what
    if not (split == "train" and data_fields["hold_out_validation"]):  # it shapes only train: keys stay as they were
        del data_fields["hold_out_validation"]
    return {
        "data": data_fields,
        "split": split,
        "num": num,
        "features": getattr(extractor, "name", type(extractor).__name__),
        "feature_weights": getattr(extractor, "sha1", None),
        "preprocessing": getattr(extractor, "preprocessing", None),
    }


def reference_features(data: DataConfig, split: str, extractor: Callable, num: int | None = None,
                       cache_dir: Path | None = None, progress: bool = True) -> tuple[np.ndarray, dict[str, Any]]:
    """Features of the first `num` images of a split (all if None), and the key that describes them."""
    key = reference_key(data, split, num, extractor)
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]
    folder = Path(cache_dir or default_cache_dir()) / "reference"
    path = folder / f"{data.dataset}-{split}-{num or 'all'}-{digest}.safetensors"
    if path.is_file():
        return load_file(str(path))["features"], {**key, "cache": str(path), "cached": True}

    dataset = build_dataset(data, split)
    n = len(dataset) if num is None else min(num, len(dataset))
    parts = folder / f"{path.stem}.parts"
    blocks = [_block_features(dataset, start, min(start + BLOCK, n), extractor, parts, progress,
                              f"reference {data.dataset}/{split}") for start in range(0, n, BLOCK)]
    features = np.concatenate(blocks) if blocks else np.zeros((0, getattr(extractor, "dim", 0)), np.float32)
    folder.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    save_file({"features": features}, str(tmp), metadata={"key": json.dumps(key)})
    tmp.replace(path)
    shutil.rmtree(parts, ignore_errors=True)
    return features, {**key, "cache": str(path), "cached": False}


def _block_features(dataset, start: int, end: int, extractor: Callable, parts: Path, progress: bool,
                    desc: str) -> np.ndarray:
    """Features of images [start, end), loaded from `parts` if an earlier run saved them."""
    path = parts / f"{start:08d}-{end:08d}.npy"
    if path.is_file():
        return np.load(path)
    batch = getattr(extractor, "batch_size", 100)
    batches = (torch.stack([dataset[j]["x"] for j in range(i, min(i + batch, end))]) for i in range(start, end, batch))
    if hasattr(extractor, "extract"):
        features = extractor.extract(batches, total=end - start, progress=progress, desc=f"{desc} {start}-{end}")
    else:
        features = np.concatenate([extractor(b) for b in batches])
    features = np.ascontiguousarray(features, dtype=np.float32)
    parts.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    with open(tmp, "wb") as f:
        np.save(f, features)
    tmp.replace(path)
    return features
