"""Models that ship inside the package: `pretrained:NAME` wherever a run or model folder is taken.

Each lives in `noisecraft/pretrained/NAME/` laid out as a run folder (`config.yaml`, the resolved recipe, and
`model/`), beside `card.json`: the model card (recipe, data and its licence, training budget and time,
metrics) with the sha256 of every file, checked before a file is used. `scripts/make_pretrained.py`
trains and writes them; nothing here downloads anything.
"""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from noisecraft.errors import CheckpointError

PREFIX = "pretrained:"
PRETRAINED_DIR = Path(__file__).resolve().parent.parent / "pretrained"


def is_pretrained(path: str | Path) -> bool:
    return str(path).startswith(PREFIX)


def pretrained_names() -> list[str]:
    return sorted(p.parent.name for p in PRETRAINED_DIR.glob("*/card.json"))


def card(name: str) -> dict[str, Any]:
    """The model card of a shipped model (card.json), as written by scripts/make_pretrained.py."""
    path = PRETRAINED_DIR / name / "card.json"
    if not path.is_file():
        names = ", ".join(pretrained_names()) or "none ship with this installation"
        raise CheckpointError(f"{PREFIX}{name}: no such pretrained model (available: {names}; `noisecraft models list`)")
    return json.loads(path.read_text(encoding="utf-8"))


def resolve(path: str | Path) -> Path:
    """`pretrained:NAME` -> its verified folder in the package; any other path as it is."""
    if not is_pretrained(path):
        return Path(path)
    name = str(path)[len(PREFIX):]
    return verified(name, _mtimes(name))


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _mtimes(name: str) -> tuple:
    """Cache key: a file replaced after a check is checked again."""
    folder = PRETRAINED_DIR / name
    return tuple((str(p), p.stat().st_mtime_ns, p.stat().st_size) for p in sorted(folder.rglob("*")) if p.is_file())


@lru_cache(maxsize=64)
def verified(name: str, _key: tuple = ()) -> Path:
    """The folder of `name`, every file listed in its card matching its sha256 (checked once per process)."""
    files = card(name).get("files") or {}
    folder = PRETRAINED_DIR / name
    if "model/model.safetensors" not in files:
        raise CheckpointError(f"{PREFIX}{name}: its card.json lists no checksum for model/model.safetensors")
    for relative, expected in files.items():
        file = folder / relative
        if not file.is_file():
            raise CheckpointError(f"{PREFIX}{name}: {file} is missing: reinstall noisecraft")
        if sha256(file) != expected:
            raise CheckpointError(f"{PREFIX}{name}: {file} does not match its sha256 in card.json (damaged or "
                                  "changed): reinstall noisecraft")
    return folder
