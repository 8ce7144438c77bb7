"""A tokenizer for tile grids with one token per tile, read as a snake: up the first column, down the
next, a direction marker opening each column (Summerville & Mateas 2016, "Super Mario as a String": their
snaking encoding with column delimiters). The vocabulary is the game's legend, so a model can write columns
the corpus never had; `data.encoding: columns` (text/columns.py) only recombines whole corpus columns.

Decoding goes by position, not by what the model wrote: every `tokens_per_column` tokens are a column
(the first is its marker, whichever marker it is), read upward in even columns and downward in odd ones;
a marker where a tile belongs becomes the empty tile, an unfinished last column is dropped. So any
token sequence decodes to a grid of the right height.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from noisecraft.errors import ConfigError
from noisecraft.text.columns import columns_of

MARKERS = ("^", "v")  # opening an upward column, a downward one: ids 0 and 1, tiles from 2


class TileTokenizer:
    kind = "tiles"

    def __init__(self, tiles: str, height: int, empty: str) -> None:
        if len(set(tiles)) != len(tiles) or empty not in tiles or height < 1:
            raise ValueError("a tile vocabulary is distinct tile characters including the empty tile, and a height")
        self.tiles, self.height, self.empty = tiles, height, empty
        self._index = {t: i + len(MARKERS) for i, t in enumerate(tiles)}

    @property
    def vocab_size(self) -> int:
        return len(MARKERS) + len(self.tiles)

    @property
    def tokens_per_column(self) -> int:
        return self.height + 1

    def encode(self, text: str) -> list[int]:
        ids = []
        for c, column in enumerate(columns_of(text)):
            if len(column) != self.height:
                raise ConfigError(f"column {c + 1} of the level: {len(column)} tiles high, the game's levels {self.height}")
            unknown = [r for r, t in enumerate(column) if t not in self._index]
            if unknown:
                r = unknown[0]
                raise ConfigError(f"row {r + 1}, column {c + 1} of the level: tile {column[r]!r} is not in the legend "
                                  f"({self.tiles})")
            ids.append(c % 2)
            ids.extend(self._index[t] for t in (column[::-1] if c % 2 == 0 else column))
        return ids

    def encode_array(self, text: str) -> np.ndarray:
        return np.asarray(self.encode(text), dtype=np.int64)

    def decode(self, ids: Sequence[int]) -> str:
        per = self.tokens_per_column
        columns = []
        for c in range(len(ids) // per):
            tiles = "".join(self.tiles[i - len(MARKERS)] if i >= len(MARKERS) else self.empty
                            for i in (int(x) for x in ids[c * per + 1 : (c + 1) * per]))
            columns.append(tiles[::-1] if c % 2 == 0 else tiles)
        return "\n".join("".join(col[r] for col in columns) for r in range(self.height)) if columns else ""

    def to_dict(self) -> dict[str, Any]:
        return {"type": "tiles", "tiles": self.tiles, "height": self.height, "empty": self.empty}
