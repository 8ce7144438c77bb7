"""Folders of captioned images: side-car .txt, captions.jsonl, captions.csv; bad rows name file and line."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from noisecraft.cli.main import run
from noisecraft.config import DataConfig
from noisecraft.data import build_dataset
from noisecraft.errors import DataError

CAPTIONS = {"a.png": "a red circle", "b.png": "two blue squares", "c.png": "a green cross"}


def images(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i, name in enumerate(CAPTIONS):
        Image.fromarray(np.full((8, 8, 3), 40 * i, np.uint8)).save(folder / name)
    return folder


def load(folder: Path, **options):
    return build_dataset(DataConfig(image_folder=folder, captions=True, test_fraction=0, caption_tokens=6, **options))


@pytest.mark.parametrize("layout", ["txt", "jsonl", "csv"])
def test_captions_from_each_layout(tmp_path, layout):
    folder = images(tmp_path / "imgs")
    if layout == "txt":
        for name, caption in CAPTIONS.items():
            (folder / name).with_suffix(".txt").write_text(caption + "\n")
    elif layout == "jsonl":
        (folder / "captions.jsonl").write_text("".join(json.dumps({"file": n, "caption": c}) + "\n" for n, c in CAPTIONS.items()))
    else:
        (folder / "captions.csv").write_text("file,caption\n" + "".join(f"{n},{c}\n" for n, c in CAPTIONS.items()))
    data = load(folder)
    assert sorted(data.captions) == sorted(CAPTIONS.values())
    for i, file in enumerate(data.files):  # each image with its own caption
        assert data.captions[i] == CAPTIONS[file.name]
        assert data.tokenizer.decode(data[i]["caption"].tolist()) == CAPTIONS[file.name]
        assert data[i]["x"].shape == (3, 8, 8)
    assert data.spec.caption_tokens == 6 and data.spec.tokenizer["type"] == "caption"


@pytest.mark.parametrize("rows,line,what", [
    ('{"file": "a.png", "caption": "x"}\n{"file": "b.png", "caption": ""}\n', 2, "empty caption"),
    ('{"file": "a.png", "caption": "x"}\n{"caption": "y"}\n', 2, "names no file"),
    ('{"file": "zz.png", "caption": "x"}\n', 1, "does not exist"),
    ('not json\n', 1, "not a JSON object"),
])
def test_a_bad_row_is_one_error_line_naming_file_and_line(tmp_path, capsys, rows, line, what):
    folder = images(tmp_path / "imgs")
    (folder / "captions.jsonl").write_text(rows)
    recipe = tmp_path / "r.yaml"
    recipe.write_text(f"data: {{image_folder: {folder}, captions: true}}\nmodel: {{family: vae}}\n")
    code = run(["train", str(recipe), "--out", str(tmp_path / "run")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1
    assert err[0].startswith(f"error: {folder / 'captions.jsonl'}:{line}:") and what in err[0]


def test_csv_rows_and_side_cars_name_their_line_and_file(tmp_path):
    folder = images(tmp_path / "csv")
    (folder / "captions.csv").write_text("file,caption\na.png,x\nb.png,\nc.png,z\n")
    with pytest.raises(DataError, match=r"captions.csv:3: empty caption"):
        load(folder)
    folder = images(tmp_path / "txt")
    (folder / "a.txt").write_text("x")
    (folder / "b.txt").write_text("  \n")
    with pytest.raises(DataError, match=r"b.txt:1: empty caption"):
        load(folder)


def test_skip_bad_files_skips_and_counts(tmp_path):
    folder = images(tmp_path / "imgs")
    (folder / "captions.jsonl").write_text('{"file": "a.png", "caption": "a red circle"}\n{"file": "b.png", "caption": ""}\n'
                                           '{"file": "c.png", "caption": "a green cross"}\n')
    with pytest.warns(UserWarning, match="skipped 2 bad caption row"):  # b's row, and b itself uncaptioned
        data = load(folder, skip_bad_files=True)
    assert sorted(data.captions) == ["a green cross", "a red circle"]
