"""Game levels as tile grids: the games, their tile legends, level files, and the two encodings models see.

A level is a list of equal-length strings, one character per tile, read left to right (the VGLC format).
- one-hot: [C, H, W] with one channel per legend tile, what the image families (VAE, GAN, diffusion) take;
  padded with the empty tile to a square side when a family needs one, cropped again when decoded; decoded
  by argmax, so any sample is a valid level of the legend's tiles;
- columns: each column of a level is one token (see `noisecraft.text.columns`), for the token models.
Super Mario Bros levels are 14 rows high and any width; Zelda levels are rooms, 16 rows x 11 columns, cut
from the dungeon maps (rooms that are all void are gaps in a map, not rooms).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from noisecraft.errors import DataError
from noisecraft.utils.paths import shared_dataset


@dataclass(frozen=True)
class Game:
    name: str
    folder: str  # under the VGLC corpus
    legend_file: str
    height: int  # rows of a level (Mario) or of a room (Zelda)
    room_width: int | None  # levels are rooms of this width (Zelda); None: any width (Mario)
    description: str
    empty: str = "-"  # the padding tile: sky in Mario, void in Zelda


GAMES: dict[str, Game] = {
    "smb": Game("smb", "super-mario-bros", "smb.json", 14, None,
                "Super Mario Bros: 15 levels, 14 rows high, 149-373 columns wide"),
    "zelda": Game("zelda", "zelda", "README.txt", 16, 11,
                  "The Legend of Zelda: dungeon rooms of 16 rows x 11 columns, cut from 18 dungeon maps"),
}


@dataclass(frozen=True)
class Level:
    name: str  # file name, plus the room's place in the map for Zelda
    rows: tuple[str, ...]

    @property
    def width(self) -> int:
        return len(self.rows[0])


def get_game(name: str) -> Game:
    try:
        return GAMES[name]
    except KeyError:
        raise DataError(f"unknown game {name!r} (known: {', '.join(GAMES)})") from None


def corpus_folder(game: Game) -> Path:
    return shared_dataset("vglc") / game.folder


def read_legend(game: Game, folder: Path | None = None) -> dict[str, list[str]]:
    """Tile character -> its properties, in the corpus's order. Mario's come from the corpus JSON (smb.json);
    the Zelda folder's JSON describes its dungeon graphs, so its tiles come from README.txt (`F = FLOOR`)."""
    path = (folder or corpus_folder(game)) / game.legend_file
    if not path.is_file():
        path = corpus_folder(game) / game.legend_file
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".json":
        return {tile: [str(p) for p in props] for tile, props in json.loads(text)["tiles"].items()}
    legend = {m.group(1): [m.group(2).lower()] for m in re.finditer(r"^(\S) = (.+?)\s*$", text, flags=re.M)}
    if not legend:
        raise DataError(f"{path}: no tile legend (lines like 'F = FLOOR')")
    return legend


def read_level_file(path: Path, tiles: str, game: Game) -> list[str]:
    """The rows of one level file; an unknown tile or a ragged row is an error naming file, line and column."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise DataError(f"{path}: cannot read: {e}") from None
    rows = text.splitlines()
    while rows and not rows[-1].strip():
        rows.pop()
    if not rows:
        raise DataError(f"{path}: the file is empty")
    known = set(tiles)
    for line, row in enumerate(rows, 1):
        for column, char in enumerate(row, 1):
            if char not in known:
                raise DataError(f"{path}:{line}:{column}: unknown tile {char!r} (the {game.name} legend has: {tiles})")
        if len(row) != len(rows[0]):
            raise DataError(f"{path}:{line}: {len(row)} tiles, but line 1 has {len(rows[0])}: a level is a rectangle")
    if game.room_width is None and len(rows) != game.height:
        raise DataError(f"{path}: {len(rows)} rows, but {game.name} levels have {game.height}")
    if game.room_width is not None and (len(rows) % game.height or len(rows[0]) % game.room_width):
        raise DataError(f"{path}: {len(rows)} x {len(rows[0])} tiles is not a map of {game.height} x "
                        f"{game.room_width} {game.name} rooms")
    return rows


def split_rooms(name: str, rows: list[str], game: Game) -> list[Level]:
    """A Zelda dungeon map -> its rooms (all-void blocks are holes in the map, not rooms)."""
    h, w = game.height, game.room_width or len(rows[0])
    rooms = []
    for top in range(0, len(rows), h):
        for left in range(0, len(rows[0]), w):
            room = tuple(r[left : left + w] for r in rows[top : top + h])
            if any(c != game.empty for r in room for c in r):
                rooms.append(Level(f"{name}@{top // h},{left // w}", room))
    return rooms


def load_levels(game: Game, folder: Path | None = None) -> list[Level]:
    """Every level (Zelda: every room) of a folder of level text files, in file-name order."""
    folder = Path(folder).expanduser() if folder is not None else corpus_folder(game)
    if not folder.is_dir():
        raise DataError(f"data.level_folder: {folder}: no such folder")
    tiles = "".join(read_legend(game, folder))
    files = sorted(p for p in folder.glob("*.txt") if p.name != "README.txt")
    if not files:
        raise DataError(f"{folder}: no level files (*.txt)")
    levels: list[Level] = []
    for path in files:
        rows = read_level_file(path, tiles, game)
        levels += split_rooms(path.stem, rows, game) if game.room_width else [Level(path.stem, tuple(rows))]
    return levels


# --- encodings ------------------------------------------------------------------------------------------
def to_indices(rows: list[str] | tuple[str, ...], tiles: str) -> np.ndarray:
    """Rows of tile characters -> [H, W] tile indices into `tiles`."""
    lookup = np.full(128, -1, dtype=np.int64)
    lookup[[ord(t) for t in tiles]] = np.arange(len(tiles))
    codes = np.array([[ord(c) for c in row] for row in rows], dtype=np.int64)
    return lookup[codes]


def to_rows(indices: np.ndarray, tiles: str) -> list[str]:
    """[H, W] tile indices -> rows of tile characters."""
    chars = np.array(list(tiles))
    return ["".join(row) for row in chars[np.asarray(indices)]]


def one_hot(indices: np.ndarray, num_tiles: int) -> np.ndarray:
    """[..., H, W] indices -> [..., C, H, W] uint8 one-hot, 255 for the tile (images are uint8 in memory)."""
    out = np.zeros((*indices.shape[:-2], num_tiles, *indices.shape[-2:]), dtype=np.uint8)
    np.put_along_axis(out, indices[..., None, :, :], 255, axis=-3)
    return out


def pad_indices(indices: np.ndarray, top: int, right: int, empty: int) -> np.ndarray:
    """Pad [N, H, W] with the empty tile: rows above (sky), columns to the right (void)."""
    return np.pad(indices, ((0, 0), (top, 0), (0, right)), constant_values=empty)


def windows(indices: np.ndarray, width: int, stride: int) -> np.ndarray:
    """[H, W] -> [N, H, width]: every `stride`-th window of a level (and the last one, so the end is seen)."""
    starts = list(range(0, indices.shape[1] - width + 1, stride))
    if starts and starts[-1] != indices.shape[1] - width:
        starts.append(indices.shape[1] - width)
    return np.stack([indices[:, s : s + width] for s in starts]) if starts else np.zeros((0, indices.shape[0], width), np.int64)
