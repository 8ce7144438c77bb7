"""The validation split of every data set (issue 18: pilots and early choices never see the test split):
its size, that it is disjoint from test and (with data.hold_out_validation) from train, that it is the same
on every call, and that the default train split did not change."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from noisecraft.config import DataConfig
from noisecraft.data import build_dataset
from noisecraft.data.levels.dataset import corpus_levels
from noisecraft.data.music_data import load_jsb, load_music
from noisecraft.data.transforms import holdout_indices
from noisecraft.errors import DataError


def splits(cfg: DataConfig) -> tuple:
    """train (default), train (held out), validation, test."""
    held = cfg.model_copy(update={"hold_out_validation": True})
    return build_dataset(cfg, "train"), build_dataset(held, "train"), build_dataset(cfg, "validation"), build_dataset(cfg, "test")


def rows(images: torch.Tensor) -> set[bytes]:
    return {bytes(x.numpy().tobytes()) for x in images}


def test_mnist_validation_is_the_last_10000_training_digits():
    train, held, val, test = splits(DataConfig(dataset="mnist"))
    assert (len(train), len(held), len(val), len(test)) == (60000, 50000, 10000, 10000)
    assert torch.equal(val.images, train.images[50000:]) and torch.equal(held.images, train.images[:50000])
    assert torch.equal(val.labels, train.labels[50000:]) and len(set(val.labels.tolist())) == 10
    assert not rows(val.images[:2000]) & rows(test.images)  # MNIST's test digits are other writers'
    limited = build_dataset(DataConfig(dataset="mnist", limit=100, hold_out_validation=True), "train")
    assert torch.equal(limited.images, train.images[:100])  # data.limit counts from the start of train
    assert torch.equal(build_dataset(DataConfig(dataset="mnist", limit=100), "validation").images, val.images[:100])


def test_digits_validation_is_the_end_of_the_shuffled_train_split():
    train, held, val, test = splits(DataConfig(dataset="digits"))
    assert (len(train), len(val), len(test)) == (1617, 162, 180) and len(held) == len(train) - len(val)
    assert torch.equal(torch.cat([held.images, val.images]), train.images)
    index = {s: set(holdout_indices(1797, s, 0.1, "digits", True)) for s in ("train", "validation", "test")}
    assert not index["validation"] & index["train"] and not index["validation"] & index["test"]
    assert torch.equal(build_dataset(DataConfig(dataset="digits"), "validation").images, val.images)  # deterministic


def test_image_folder_splits_are_disjoint_files(tmp_path):
    for i in range(40):  # every image different: its index in the pixels
        Image.fromarray(np.full((6, 6, 3), i * 6, np.uint8)).save(tmp_path / f"{i:02}.png")
    cfg = DataConfig(dataset="image_folder", image_folder=tmp_path, image_size=6)
    train, held, val, test = splits(cfg)
    assert (len(train), len(held), len(val), len(test)) == (36, 32, 4, 4)
    assert not rows(val.images) & rows(held.images) and not rows(val.images) & rows(test.images)
    assert rows(train.images) == rows(held.images) | rows(val.images)


def test_text_validation_is_the_last_5_percent_of_the_training_characters(tmp_path):
    cfg = DataConfig(dataset="tinyshakespeare", tokenizer="char", block_size=32, cache_dir=tmp_path)
    train, held, val, test = splits(cfg)
    n = len(train.tokens)
    assert len(val.tokens) == round(n * 0.05) and len(held.tokens) == n - len(val.tokens)
    assert np.array_equal(np.concatenate([held.tokens, val.tokens]), train.tokens)
    text = train.tokenizer.decode(np.asarray(val.tokens[:200]).tolist())
    assert text not in train.tokenizer.decode(np.asarray(test.tokens).tolist())
    assert train.tokenizer.decode(np.asarray(val.tokens[:200]).tolist()) == text  # same on every call


def test_shapes_validation_is_the_last_10_percent_of_the_train_scenes(monkeypatch):
    from noisecraft.data import captions

    monkeypatch.setattr(captions, "SHAPES_TRAIN", 200)  # 20,000 in truth: the same rule, fewer scenes to draw
    val = build_dataset(DataConfig(dataset="shapes", image_size=8), "validation")
    train = build_dataset(DataConfig(dataset="shapes", image_size=8, limit=205), "train")
    held = build_dataset(DataConfig(dataset="shapes", image_size=8, limit=185, hold_out_validation=True), "train")
    assert len(val) == 20 and len(held) == 185 and len(build_dataset(DataConfig(dataset="shapes", image_size=8,
                                                                                    hold_out_validation=True))) == 180
    assert val.captions == train.captions[180:200]  # the same scenes as the default train split's end
    assert held.captions == train.captions[:180] + train.captions[200:]  # a longer train split steps over them


def test_shapes_test_split_is_fixed_whatever_the_train_limit(monkeypatch):
    from noisecraft.data import captions

    monkeypatch.setattr(captions, "SHAPES_TEST", 30)  # 2,000 in truth
    test = build_dataset(DataConfig(dataset="shapes", image_size=8), "test")
    longer = build_dataset(DataConfig(dataset="shapes", image_size=8, limit=400), "test")  # a recipe's long train split
    shorter = build_dataset(DataConfig(dataset="shapes", image_size=8, limit=10), "test")
    assert len(test) == len(longer) == 30 and longer.captions == test.captions and shorter.captions == test.captions[:10]


def test_levels_and_music_validation():
    smb = DataConfig(dataset="smb")
    train, held, val = (corpus_levels(smb, "train"), corpus_levels(smb.model_copy(update={"hold_out_validation": True}),
                                                                   "train"), corpus_levels(smb, "validation"))
    names = lambda levels: {level.name for level in levels}  # noqa: E731
    assert len(val) == 1 and names(held) | names(val) == names(train) and not names(val) & names(corpus_levels(smb, "test"))
    jsb = DataConfig(dataset="jsb-chorales")
    assert [m.name for m in load_music(jsb, "validation")] == [m.name for m in load_jsb("valid")]  # the chorales' own


def test_smiles_file_validation_is_the_end_of_train(tmp_path):
    path = tmp_path / "m.smi"
    path.write_text("".join(f"{'C' * (i + 1)}O\n" for i in range(30)))
    cfg = DataConfig(dataset="smiles", smiles_path=path, tokenizer="char", block_size=40, cache_dir=tmp_path,
                     test_fraction=0.1, sequences="padded")
    train, held, val, test = splits(cfg)
    assert (len(train), len(held), len(val), len(test)) == (27, 24, 3, 3)
    decode = lambda d: {d.tokenizer.decode(d[i]["x"].tolist()).strip() for i in range(len(d))}  # noqa: E731
    assert decode(val) == {"C" * k + "O" for k in (25, 26, 27)} and not decode(val) & decode(held)
    assert not decode(val) & decode(test)


@pytest.mark.parametrize("cfg", [DataConfig(dataset="mnist"), DataConfig(dataset="digits"),
                                 DataConfig(dataset="tinyshakespeare", tokenizer="char")])
def test_an_unknown_split_is_one_clear_error(cfg):
    with pytest.raises(DataError, match="unknown split 'valdation'"):
        build_dataset(cfg, "valdation")


def test_a_recipe_holds_validation_out_only_when_asked():
    from noisecraft.models.registry import load_recipe

    assert load_recipe("mnist-vae-tiny").recipe.data.hold_out_validation is False  # every recipe as before
    data = load_recipe("mnist-vae-tiny", ["data.hold_out_validation=true"]).recipe.data
    assert data.hold_out_validation is True and len(build_dataset(data.model_copy(update={"limit": None}))) == 50000
