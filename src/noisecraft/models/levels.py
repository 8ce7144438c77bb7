"""Whole game levels from any family, and only playable ones when asked.

- Token models (a token per column, or per tile) write a level column by column from the corpus's usual
  first column; the generation loop slides its window, so a level may be any width.
- Image families make windows; a level of any width is stitched from them: each next window is the one
  of `candidates` fresh draws whose first `context` columns best match the level's last ones (Hamming
  distance on tiles), and its other columns are appended.
Zelda levels are single rooms. `generate_levels(..., playable=True)` redraws each level that the game's
agent cannot play, up to `max_tries` draws, and says how many it took.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from noisecraft.data.levels.agents import play
from noisecraft.data.levels.tiles import get_game, to_rows
from noisecraft.errors import ConfigError
from noisecraft.models.base import GenerativeModel


@dataclass
class GeneratedLevel:
    rows: list[str]
    playable: bool
    paths: list[list[tuple[int, int]]] = field(default_factory=list)
    tries: int = 1

    @property
    def text(self) -> str:
        """The level in the corpus format: one line per row."""
        return "\n".join(self.rows) + "\n"


def level_of(model: GenerativeModel) -> dict[str, Any]:
    if model.spec.level is None:
        raise ConfigError(f"this {model.family} model was not trained on game levels")
    return model.spec.level


def default_width(level: dict[str, Any]) -> int:
    """Zelda: a room; Mario: 150 columns (the shortest corpus levels are 149-150 wide)."""
    room = get_game(level["game"]).room_width
    return room if room is not None else 150


def decode_windows(samples: torch.Tensor, level: dict[str, Any]) -> np.ndarray:
    """One-hot samples [N, C, H', W'] -> tile indices [N, H, W] (argmax, padding cropped)."""
    idx = samples.argmax(dim=1).cpu().numpy()
    return idx[:, level["pad_top"] :, : idx.shape[2] - level["pad_right"]]


@torch.no_grad()
def sample_levels(model: GenerativeModel, num: int, width: int | None = None, generator: torch.Generator | None = None,
                  candidates: int = 8, context: int = 1, **options: Any) -> list[list[str]]:
    """`num` levels `width` columns wide (default: a room, or 150 Mario columns), as rows of tiles."""
    level = level_of(model)
    width = width or default_width(level)
    room = get_game(level["game"]).room_width
    if room is not None and width != room:
        raise ConfigError(f"--width {width}: {level['game']} levels are rooms {room} tiles wide")
    if width < 2:
        raise ConfigError(f"--width: at least 2 columns (got {width})")
    if model.modality == "tokens":  # a column is one token, or a marker and a token a tile (text/level_tiles.py)
        start = list(model.spec.start_tokens or [0])
        per_column = model.tokenizer.tokens_per_column  # both level tokenizers say it
        ids = model.sample(num, condition=start, generator=generator, max_tokens=width * per_column - len(start), **options)
        return [model.tokenizer.decode(start + row).split("\n") for row in ids]
    window = level["window"]
    if not 0 < context < window:
        raise ConfigError(f"context: between 1 and {window - 1} columns (got {context})")
    grids = decode_windows(model.sample(num, generator=generator, **options), level)
    while grids.shape[2] < width:
        draws = decode_windows(model.sample(num * candidates, generator=generator, **options), level)
        draws = draws.reshape(num, candidates, *draws.shape[1:])
        mismatch = (draws[:, :, :, :context] != grids[:, None, :, -context:]).sum(axis=(2, 3))
        best = draws[np.arange(num), mismatch.argmin(axis=1)]
        grids = np.concatenate([grids, best[:, :, context:]], axis=2)
    return [to_rows(g[:, :width], level["tiles"]) for g in grids]


def generate_levels(model: GenerativeModel, num: int, width: int | None = None, seed: int = 0, playable: bool = False,
                    max_tries: int = 100, **options: Any) -> list[GeneratedLevel]:
    """`num` levels, each played by the game's agent. With `playable`, the levels the agent fails are drawn
    again (all pending levels in one batch per round) until each passes or has had `max_tries` draws."""
    if num < 1:
        raise ConfigError(f"--num: must be at least 1 (got {num})")
    if max_tries < 1:
        raise ConfigError(f"--max-tries: must be at least 1 (got {max_tries})")
    game = level_of(model)["game"]
    generator = torch.Generator().manual_seed(seed)
    done: dict[int, GeneratedLevel] = {}
    tries = [0] * num
    pending = list(range(num))
    while pending:
        for i, rows in zip(pending, sample_levels(model, len(pending), width, generator, **options)):
            tries[i] += 1
            result = play(rows, game)
            if result.playable or not playable or tries[i] >= max_tries:
                done[i] = GeneratedLevel(rows, result.playable, result.paths, tries[i])
        pending = [i for i in pending if i not in done]
    return [done[i] for i in range(num)]


def level_png(level: GeneratedLevel, model: GenerativeModel, text: dict[str, str] | None = None,
              claims: dict[str, Any] | None = None) -> bytes:
    """One level drawn with the agent's path, as PNG bytes (`text` goes into iTXt chunks; `claims`: signed
    content credentials), for the server and `generate --out`."""
    from noisecraft.data.levels.render import render
    from noisecraft.utils.images import encode_png

    drawing = render(level.rows, level_of(model)["game"], level.paths).convert("RGB")
    return encode_png(np.asarray(drawing), text, claims)


def write_level_sheet(model: GenerativeModel, path, num: int, seed: int, width: int | None = None):
    """What training writes every `sample_every` steps for a level model: levels drawn with the agent's
    paths, one per row (rooms side by side), beside a .txt of the same levels."""
    from pathlib import Path

    from noisecraft.data.levels.render import render, render_grid
    from noisecraft.models.provenance import image_claims
    from noisecraft.utils.images import encode_png

    level = level_of(model)
    room = get_game(level["game"]).room_width is not None
    levels = generate_levels(model, num, width or (None if room else 4 * level["window"]), seed=seed)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    sheet = render_grid([render(lv.rows, level["game"], lv.paths, tile=8) for lv in levels], columns=num if room else 1)
    claims = image_claims(model, {"seed": seed, "num": num, "width": width, "during_training": path.stem})
    path.write_bytes(encode_png(np.asarray(sheet.convert("RGB")), claims=claims, title=path.name))
    path.with_suffix(".txt").write_text("\n".join(lv.text for lv in levels), encoding="utf-8")
    return path
