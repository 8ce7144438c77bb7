"""Where noisecraft keeps things on disk: the download/feature cache, the project's shared data sets, and the
run folder's layout (one home for paths, below every layer that reads or writes them)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from noisecraft.errors import CheckpointError, DataError

if TYPE_CHECKING:
    from noisecraft.config import DataConfig


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


# --- the run folder: everything one training run writes, in one place -------------------------------------
#
#     RUN_DIR/config.yaml            resolved recipe (defaults and --set applied)
#     RUN_DIR/checkpoints/last/      full training state, for --resume
#     RUN_DIR/model/                 config.json + model.safetensors (EMA weights), for sampling and sharing
#     RUN_DIR/samples/step-000500.png
#     RUN_DIR/metrics.csv, tensorboard/, loss.png


@dataclass(frozen=True)
class RunDir:
    root: Path

    @property
    def config(self) -> Path:
        return self.root / "config.yaml"

    @property
    def checkpoints(self) -> Path:
        return self.root / "checkpoints"

    @property
    def last_checkpoint(self) -> Path:
        return self.checkpoints / "last"

    @property
    def model(self) -> Path:
        return self.root / "model"

    @property
    def samples(self) -> Path:
        return self.root / "samples"

    @property
    def metrics(self) -> Path:
        return self.root / "metrics.csv"

    @property
    def loss_plot(self) -> Path:
        return self.root / "loss.png"

    def is_run(self) -> bool:
        return self.config.is_file()

    def data_config(self) -> "DataConfig":
        """The data section the run was trained on (evaluation and reconstruction use its test split)."""
        import yaml

        from noisecraft.config import DataConfig

        return DataConfig.model_validate(yaml.safe_load(self.config.read_text())["data"])


def model_dir_of(path: Path) -> Path:
    """A run folder's `model/`, or the path itself if it is a model folder."""
    if not path.exists():
        raise CheckpointError(f"{path}: no such run or model folder")
    if (path / "config.json").is_file():
        return path
    if (path / "model" / "config.json").is_file():
        return path / "model"
    if (path / "config.yaml").is_file():
        raise CheckpointError(f"{path}: this run has not saved a model yet (no model/config.json)")
    raise CheckpointError(f"{path}: not a run folder (no model/config.json) nor a model folder (no config.json)")


def default_run_dir(name: str, runs_root: Path = Path("runs")) -> Path:
    """runs/NAME, or runs/NAME-2, -3, ... if taken: running the same recipe twice never clobbers a run."""
    candidate = runs_root / name
    i = 2
    while candidate.exists():
        candidate = runs_root / f"{name}-{i}"
        i += 1
    return candidate


def latest_run_dir(name: str, runs_root: Path = Path("runs")) -> Path | None:
    """The most recent runs/NAME* that has a checkpoint (what a bare --resume continues)."""
    runs = [p for p in runs_root.glob(f"{name}*") if (p / "checkpoints" / "last").is_dir()]
    return max(runs, key=lambda p: p.stat().st_mtime) if runs else None


def config_dir() -> Path:
    """The user's own settings and keys, never inside a checkout: $NOISECRAFT_CONFIG, else
    $XDG_CONFIG_HOME/noisecraft, else ~/.config/noisecraft."""
    if env := os.environ.get("NOISECRAFT_CONFIG"):
        return Path(env).expanduser()
    return Path(os.environ.get("XDG_CONFIG_HOME") or "~/.config").expanduser() / "noisecraft"
