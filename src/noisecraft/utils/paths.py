"""Where noisecraft keeps things on disk: the download/feature cache and the project's shared data sets."""

from __future__ import annotations

import os
from pathlib import Path

from noisecraft.errors import DataError


def default_cache_dir() -> Path:
    """Downloads, tokenized corpora and reference features ($NOISECRAFT_CACHE, else ~/.cache/noisecraft)."""
    return Path(os.environ.get("NOISECRAFT_CACHE") or "~/.cache/noisecraft").expanduser()


def shared_datasets_dir() -> Path:
    """The corpora that a checkout finds beside it rather than inside the package (JSB chorales, VGLC, ...):
    $NOISECRAFT_SHARED_DATASETS, else `../shared/datasets` beside the repository (source checkouts and CI)."""
    if env := os.environ.get("NOISECRAFT_SHARED_DATASETS"):
        return Path(env).expanduser()
    repo_root = Path(__file__).resolve().parents[3]  # src/noisecraft/utils/paths.py -> repository root
    return repo_root.parent / "shared" / "datasets"


def shared_dataset(name: str) -> Path:
    """One shared corpus folder by name; a clear error naming where it was looked for when missing."""
    folder = shared_datasets_dir() / name
    if not folder.is_dir():
        raise DataError(f"data set {name!r} not found at {folder} (set NOISECRAFT_SHARED_DATASETS to the "
                        "folder that holds it)")
    return folder


def config_dir() -> Path:
    """The user's own settings and keys, never inside a checkout: $NOISECRAFT_CONFIG, else
    $XDG_CONFIG_HOME/noisecraft, else ~/.config/noisecraft."""
    if env := os.environ.get("NOISECRAFT_CONFIG"):
        return Path(env).expanduser()
    return Path(os.environ.get("XDG_CONFIG_HOME") or "~/.config").expanduser() / "noisecraft"
