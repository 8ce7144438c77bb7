"""Levels as data: the legend, file reading with errors that say where, and lossless encodings."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from noisecraft.config import DataConfig
from noisecraft.data import build_dataset
from noisecraft.data.levels import mario
from noisecraft.data.levels.dataset import corpus_levels
from noisecraft.data.levels.tiles import (GAMES, corpus_folder, load_levels, one_hot, pad_indices, read_legend,
                                          read_level_file, to_indices, to_rows)
from noisecraft.errors import DataError
from noisecraft.models.levels import decode_windows
from noisecraft.text.columns import ColumnTokenizer
from noisecraft.text.level_tiles import TileTokenizer
from noisecraft.text.tokenizers import tokenizer_from_dict

SMB, ZELDA = GAMES["smb"], GAMES["zelda"]


def test_the_legend_is_the_corpus_json_and_the_agent_agrees_with_it():
    tiles = json.loads((corpus_folder(SMB) / "smb.json").read_text())["tiles"]
    legend = read_legend(SMB)
    assert list(legend) == list(tiles)
    assert mario.SOLID == {t for t, p in legend.items() if "solid" in p}
    assert mario.ENEMIES == {t for t, p in legend.items() if "enemy" in p}
    assert "".join(read_legend(ZELDA)) == "FBMPOIDSW-"


def test_the_corpus_loads_as_levels_and_rooms():
    levels = load_levels(SMB)
    assert len(levels) == 15 and {len(lv.rows) for lv in levels} == {14}
    rooms = load_levels(ZELDA)
    assert len(rooms) == 459 and {(len(r.rows), r.width) for r in rooms} == {(16, 11)}
    assert not any(set("".join(r.rows)) == {"-"} for r in rooms)  # holes in a map are not rooms


@pytest.mark.parametrize("game", ["smb", "zelda"])
def test_one_hot_and_column_encodings_round_trip_every_level(game):
    g = GAMES[game]
    tiles = "".join(read_legend(g))
    levels = load_levels(g)
    for lv in levels:
        idx = to_indices(lv.rows, tiles)
        hot = torch.from_numpy(one_hot(pad_indices(idx[None], 2, 3, tiles.index("-")), len(tiles))).float() / 255
        assert hot.sum(1).eq(1).all()
        info = {"pad_top": 2, "pad_right": 3}
        assert to_rows(decode_windows(hot, info)[0], tiles) == list(lv.rows)
    for tokenizer in (ColumnTokenizer.train("\n".join(lv.rows) for lv in levels), TileTokenizer(tiles, g.height, g.empty)):
        again = tokenizer_from_dict(json.loads(json.dumps(tokenizer.to_dict())))
        for lv in levels:
            ids = tokenizer.encode("\n".join(lv.rows))
            assert len(ids) == lv.width * tokenizer.tokens_per_column
            assert again.decode(ids) == "\n".join(lv.rows)


def test_tile_tokens_snake_up_and_down_with_a_marker_a_column():
    tokenizer = TileTokenizer("ab-", 3, "-")
    a, b, empty = 2, 3, 4  # ids: markers 0 (up) and 1 (down), then the tiles in order
    assert tokenizer.encode("ab\n-a\nbb") == [0, b, empty, a, 1, b, a, b]  # up the first column, down the second
    assert tokenizer.decode([0, b, empty, a, 1, b, a, b]) == "ab\n-a\nbb"


def test_tile_tokens_decode_by_position_whatever_the_model_wrote():
    tokenizer = TileTokenizer("ab-", 3, "-")
    # a wrong marker, a marker where a tile belongs (-> the empty tile) and an unfinished last column
    assert tokenizer.decode([1, 2, 0, 3, 0, 3, 3, 2, 0, 2]) == "bb\n-b\naa"
    assert tokenizer.decode([0, 2]) == "" and tokenizer.vocab_size == 5


def test_tile_tokens_name_the_row_and_column_of_a_bad_tile():
    from noisecraft.errors import ConfigError

    tokenizer = TileTokenizer("ab-", 3, "-")
    with pytest.raises(ConfigError, match=r"row 2, column 2 of the level: tile 'z' is not in the legend"):
        tokenizer.encode("ab\n-z\nbb")
    with pytest.raises(ConfigError, match="column 1 of the level: 2 tiles high, the game's levels 3"):
        tokenizer.encode("ab\nbb")


def test_datasets_give_one_hot_windows_and_column_streams():
    data = build_dataset(DataConfig(dataset="smb", window=16, stride=4, pad_to=16))
    assert data.spec.shape == (13, 16, 16) and data.spec.modality == "image"
    x = data[0]["x"]
    assert x.sum(0).eq(1).all() and x[:, :2].argmax(0).eq(data.spec.level["tiles"].index("-")).all()  # sky padding
    cfg = DataConfig(dataset="smb")
    train, test = {lv.name for lv in corpus_levels(cfg, "train")}, {lv.name for lv in corpus_levels(cfg, "test")}
    assert len(train) == 13 and len(test) == 2 and not train & test  # whole levels held out
    tokens = build_dataset(DataConfig(dataset="zelda", encoding="columns", block_size=22))
    assert tokens.spec.modality == "tokens" and tokens.spec.level["game"] == "zelda"
    first = tokens.tokenizer.decode(tokens.spec.start_tokens)
    assert first == "\n".join(["W"] * 16)  # every room starts with a wall column
    tiles = build_dataset(DataConfig(dataset="smb", encoding="tiles", block_size=45, stride=15))
    assert tiles.spec.modality == "tokens" and tiles.spec.vocab_size == 2 + len(tiles.spec.level["tiles"])
    assert len(tiles.spec.start_tokens) == 15 and tiles.tokenizer.decode(tiles.spec.start_tokens).split("\n")[-1] == "X"
    x = tiles[0]["x"]
    assert x.shape == (46,) and x[0] == 0 and x[15] == 1 and x[30] == 0 and x[45] == 1  # a marker, 14 tiles, a marker ...


def write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(text)
    return folder / name


def test_an_unknown_tile_names_file_line_and_column(tmp_path):
    good = "\n".join(["-" * 20] * 13 + ["X" * 20]) + "\n"
    write(tmp_path, "a.txt", good)
    bad = write(tmp_path, "b.txt", good.replace("-" * 20, "-" * 7 + "Z" + "-" * 12, 3))
    with pytest.raises(DataError, match=rf"{bad}:1:8: unknown tile 'Z'"):
        build_dataset(DataConfig(level_folder=tmp_path, game="smb"))
    bad.write_text(good.replace("-" * 20, "-" * 19, 1))
    with pytest.raises(DataError, match=rf"{bad}:2: 20 tiles, but line 1 has 19"):
        read_level_file(bad, "".join(read_legend(SMB)), SMB)
    bad.write_text("\n".join(["-" * 20] * 12))
    with pytest.raises(DataError, match="12 rows, but smb levels have 14"):
        read_level_file(bad, "".join(read_legend(SMB)), SMB)


def test_a_folder_of_levels_trains_like_the_corpus(tmp_path):
    for lv in load_levels(SMB)[:2]:
        write(tmp_path, f"{lv.name}.txt", "\n".join(lv.rows) + "\n")
    data = build_dataset(DataConfig(level_folder=tmp_path, game="smb", pad_to=16, test_fraction=0.5))
    assert data.spec.shape == (13, 16, 16) and len(data) > 100
    sources = ["\n".join(lv.rows) for lv in load_levels(SMB)[:2]]
    for i in (0, 50, len(data) - 1):
        rows = to_rows(decode_windows(data[i]["x"][None], data.spec.level)[0], data.spec.level["tiles"])
        assert any(all(r in src.split("\n")[y] for y, r in enumerate(rows)) for src in sources)


@pytest.mark.parametrize("data, message", [
    ({"dataset": "mnist", "pad_to": 16}, "data.pad_to is for game levels"),
    ({"level_folder": "/x"}, "set data.level_folder (a folder of level .txt files) and data.game"),
    ({"dataset": "smb", "image_size": 32}, "data.image_size does not apply to game levels"),
    ({"dataset": "smb", "encoding": "columns", "pad_to": 16}, "data.pad_to does not apply to game levels"),
    ({"dataset": "zelda", "game": "smb"}, "data.game 'smb': data.dataset 'zelda' is that game's corpus"),
])
def test_level_keys_are_checked(data, message):
    from noisecraft.config import Recipe, validate_section
    from noisecraft.errors import ConfigError

    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        validate_section(Recipe, {"data": data, "model": {"family": "vae"}}, "recipe")
