"""Game levels as training data: windows of one-hot tiles for the image families, a stream of column
(or tile) tokens for the token models. Whole levels (Zelda: rooms) are held out for the test split.

The data spec carries `level`, what turns a sample back into a level without the corpus at hand:
{game, tiles (channel order), height, window, pad_top, pad_right, encoding}.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from noisecraft.config import TOKEN_LEVEL_ENCODINGS
from noisecraft.data.base import DataSpec, ImageDataset
from noisecraft.data.levels.tiles import (Game, Level, get_game, load_levels, one_hot, pad_indices, read_legend,
                                         to_indices, windows)
from noisecraft.data.text import TokenDataset
from noisecraft.data.transforms import holdout_indices
from noisecraft.errors import ConfigError, DataError
from noisecraft.text.columns import ColumnTokenizer
from noisecraft.text.level_tiles import TileTokenizer

if TYPE_CHECKING:
    from noisecraft.config import DataConfig
    from noisecraft.text.tokenizers import Tokenizer

DEFAULT_WINDOW = 16


def level_game(cfg: "DataConfig") -> Game:
    return get_game(cfg.game or cfg.dataset)


def corpus_levels(cfg: "DataConfig", split: str | None = None) -> list[Level]:
    """The levels (Zelda: rooms) a recipe's data section names; `split` None: all of them."""
    game = level_game(cfg)
    levels = load_levels(game, cfg.level_folder)
    if split is None:
        return levels
    what = f"{cfg.level_folder or game.name} ({len(levels)} {'rooms' if game.room_width else 'levels'})"
    return [levels[i] for i in holdout_indices(len(levels), split, cfg.test_fraction, what, cfg.hold_out_validation)]


def window_width(cfg: "DataConfig", game: Game) -> int:
    if game.room_width is not None:
        if cfg.window not in (None, game.room_width):
            raise ConfigError(f"data.window: {game.name} levels are rooms {game.room_width} tiles wide; leave it unset")
        return game.room_width
    return cfg.window or DEFAULT_WINDOW


def level_info(cfg: "DataConfig", game: Game, tiles: str) -> dict[str, Any]:
    width = window_width(cfg, game)
    side = cfg.pad_to
    if side is not None and (side < game.height or side < width):
        raise ConfigError(f"data.pad_to {side}: smaller than a {game.height} x {width} window")
    return {"game": game.name, "tiles": tiles, "height": game.height, "window": width, "encoding": cfg.encoding,
            "pad_top": (side - game.height) if side else 0, "pad_right": (side - width) if side else 0}


class LevelImageDataset(ImageDataset):
    """One-hot tile windows [C, H, W] (0 or 1 when served), with the level description in the spec."""

    def __init__(self, images: torch.Tensor, level: dict[str, Any], name: str) -> None:
        super().__init__(images, name=name)
        self.level = level

    @property
    def spec(self) -> DataSpec:
        return super().spec.model_copy(update={"level": self.level})

    def subset(self, indices: torch.Tensor) -> "LevelImageDataset":
        return LevelImageDataset(self.images[indices], self.level, self.name)


class LevelTokenDataset(TokenDataset):
    """Columns of the split's levels, one after another, as one token stream."""

    def __init__(self, *args: Any, level: dict[str, Any], start: list[int], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.level, self.start = level, start

    @property
    def spec(self) -> DataSpec:
        return super().spec.model_copy(update={"level": self.level, "start_tokens": self.start})

    def limit(self, windows: int) -> "LevelTokenDataset":
        end = min(len(self.tokens), (windows - 1) * self.stride + self.block_size + 1)
        return LevelTokenDataset(self.tokens[:end], self.block_size, self.tokenizer, stride=self.stride,
                                 name=self.name, split=self.split, level=self.level, start=self.start)


def load_level_dataset(cfg: "DataConfig", split: str = "train",
                       tokenizer: "Tokenizer | None" = None) -> LevelImageDataset | LevelTokenDataset:
    """The `split` of a level corpus in the recipe's encoding (one-hot windows, or column tokens)."""
    game = level_game(cfg)
    everything = corpus_levels(cfg)
    levels = corpus_levels(cfg, split)
    tiles = "".join(read_legend(game, cfg.level_folder))
    level = level_info(cfg, game, tiles)
    name = str(cfg.level_folder or game.name)
    if cfg.encoding in TOKEN_LEVEL_ENCODINGS:
        # columns: the vocabulary is every column of the corpus, both splits, so that held-out levels encode
        tokenizer = tokenizer or (ColumnTokenizer.train("\n".join(lv.rows) for lv in everything) if cfg.encoding == "columns"
                                  else TileTokenizer(tiles, game.height, game.empty))
        tokens = np.concatenate([tokenizer.encode_array("\n".join(lv.rows)) for lv in levels])
        firsts = Counter(tuple(tokenizer.encode("\n".join(r[:1] for r in lv.rows))) for lv in levels)
        dataset = LevelTokenDataset(tokens, cfg.block_size, tokenizer, stride=cfg.stride or 1, name=name, split=split,
                                    level=level, start=list(firsts.most_common(1)[0][0]))
        return dataset.limit(cfg.limit) if cfg.limit is not None else dataset
    width, stride = level["window"], cfg.stride or 1
    short = [lv for lv in levels if lv.width < width]
    if short:
        raise DataError(f"{short[0].name}: {short[0].width} columns, narrower than data.window {width}")
    grids = np.concatenate([windows(to_indices(lv.rows, tiles), width, stride) for lv in levels])
    grids = pad_indices(grids, level["pad_top"], level["pad_right"], tiles.index(game.empty))
    if cfg.limit is not None:
        grids = grids[: cfg.limit]
    return LevelImageDataset(torch.from_numpy(one_hot(grids, len(tiles))), level, name)
