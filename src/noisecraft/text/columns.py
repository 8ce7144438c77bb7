"""A tokenizer for tile grids: each column of a level is one token (as in "Super Mario as a String",
Summerville & Mateas 2016, read column by column). Text is the level's rows, lines of equal length; tokens
are its columns left to right, so a token model generates a level column by column and any length.

The vocabulary is the distinct columns of a corpus: every sample is made of columns seen in the corpus,
and novelty lives in how they follow each other.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from noisecraft.errors import ConfigError


def columns_of(text: str) -> list[str]:
    """A level's rows (one per line) -> its columns, each read top to bottom."""
    rows = text.split("\n")
    while rows and rows[-1] == "":
        rows.pop()
    if any(len(r) != len(rows[0]) for r in rows):
        raise ConfigError("a level's lines must all have the same length (one character per tile)")
    return ["".join(col) for col in zip(*rows)]


class ColumnTokenizer:
    kind = "columns"
    tokens_per_column = 1

    def __init__(self, columns: Sequence[str]) -> None:
        if not columns or len(set(columns)) != len(columns) or len({len(c) for c in columns}) != 1:
            raise ValueError("a column vocabulary is a list of distinct columns of one height")
        self.columns = list(columns)
        self.height = len(columns[0])
        self._index = {c: i for i, c in enumerate(self.columns)}

    @classmethod
    def train(cls, texts: Iterable[str]) -> "ColumnTokenizer":
        seen: dict[str, None] = {}
        for text in texts:
            seen.update(dict.fromkeys(columns_of(text)))
        return cls(sorted(seen))

    @property
    def vocab_size(self) -> int:
        return len(self.columns)

    def encode(self, text: str) -> list[int]:
        ids = []
        for i, column in enumerate(columns_of(text)):
            if column not in self._index:
                reason = f"{len(column)} tiles high, the vocabulary's columns {self.height}" if len(column) != self.height \
                    else "not a column of the corpus"
                raise ConfigError(f"column {i + 1} of the level: {reason}")
            ids.append(self._index[column])
        return ids

    def encode_array(self, text: str) -> np.ndarray:
        return np.asarray(self.encode(text), dtype=np.int64)

    def decode(self, ids: Sequence[int]) -> str:
        cols = [self.columns[int(i)] for i in ids]
        return "\n".join("".join(c[r] for c in cols) for r in range(self.height)) if cols else ""

    def to_dict(self) -> dict[str, Any]:
        return {"type": "columns", "columns": self.columns}
