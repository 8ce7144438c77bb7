"""Text data: files and folders, the validation split, UTF-8 and emptiness errors, cached token arrays."""

from __future__ import annotations

import numpy as np
import pytest

import noisecraft.data.text as text_data
from noisecraft.config import DataConfig
from noisecraft.data import build_dataset
from noisecraft.errors import DataError
from noisecraft.text.tokenizers import train_tokenizer

CORPUS = "".join(f"line {i}: the cat sat on the mat, café {i % 7}\n" for i in range(200))


def config(tmp_path, path, **kw) -> DataConfig:
    return DataConfig(text_path=path, cache_dir=tmp_path / "cache", **kw)


def test_a_file_splits_into_train_and_the_last_tenth(tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_text(CORPUS, encoding="utf-8")
    cfg = config(tmp_path, path, block_size=16)
    assert cfg.dataset == "text"
    train, test = build_dataset(cfg, "train"), build_dataset(cfg, "test")
    split = int(len(CORPUS) * 0.9)
    assert len(train.tokens) == split and len(test.tokens) == len(CORPUS) - split
    assert train.tokenizer.decode(np.asarray(train.tokens).tolist()) == CORPUS[:split]
    assert test.tokenizer.decode(np.asarray(test.tokens).tolist()) == CORPUS[split:]
    spec = train.spec
    assert spec.modality == "tokens" and spec.shape == (16,) and spec.vocab_size == len(set(CORPUS))
    assert spec.start_tokens == train.tokenizer.encode("\n")


def test_windows_are_strided_slices(tmp_path):
    path = tmp_path / "c.txt"
    path.write_text(CORPUS)
    data = build_dataset(config(tmp_path, path, block_size=8, stride=3), "train")
    tokens = np.asarray(data.tokens)
    assert len(data) == (len(tokens) - 9) // 3 + 1
    for i in (0, 1, len(data) - 1):
        assert data[i]["x"].tolist() == tokens[3 * i : 3 * i + 9].tolist()
    with pytest.raises(IndexError):
        data[len(data)]
    limited = build_dataset(config(tmp_path, path, block_size=8, stride=3, limit=5), "train")
    assert len(limited) == 5 and limited[4]["x"].tolist() == data[4]["x"].tolist()


def test_a_folder_is_its_txt_files_in_path_order(tmp_path):
    folder = tmp_path / "books"
    (folder / "b").mkdir(parents=True)
    (folder / "a.txt").write_text("alpha " * 50)
    (folder / "b" / "c.txt").write_text("gamma " * 50)
    (folder / "ignored.md").write_text("zzzz")
    data = build_dataset(config(tmp_path, folder, block_size=8, test_fraction=0.0), "train")
    assert data.tokenizer.decode(np.asarray(data.tokens).tolist()) == "alpha " * 50 + "gamma " * 50


def test_bpe_learns_from_train_and_encodes_both_splits(tmp_path):
    path = tmp_path / "c.txt"
    path.write_text(CORPUS)
    cfg = config(tmp_path, path, tokenizer="bpe", vocab_size=280, block_size=8)
    train, test = build_dataset(cfg, "train"), build_dataset(cfg, "test")
    assert train.spec.vocab_size <= 280 and train.tokenizer.kind == "bpe"
    whole = train.tokenizer.decode(np.asarray(train.tokens).tolist()) + test.tokenizer.decode(np.asarray(test.tokens).tolist())
    assert whole == CORPUS
    assert len(train.tokens) < int(len(CORPUS) * 0.9)


def test_invalid_utf8_names_file_and_byte_offset(tmp_path, monkeypatch):
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"hello\xffworld")
    with pytest.raises(DataError, match=r"bad\.txt: not UTF-8 text: invalid byte 0xff at byte offset 5"):
        build_dataset(config(tmp_path, bad), "train")
    monkeypatch.setattr(text_data, "CHUNK_BYTES", 4)  # the bad byte lands in a later chunk, after a split é
    later = tmp_path / "later.txt"
    later.write_bytes("abcé".encode() + b"xyz\xfe!")
    with pytest.raises(DataError, match="later.txt: not UTF-8 text: invalid byte 0xfe at byte offset 8"):
        build_dataset(config(tmp_path, later), "train")


def test_empty_inputs_are_errors(tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    with pytest.raises(DataError, match="empty.txt: the file is empty"):
        build_dataset(config(tmp_path, empty), "train")
    folder = tmp_path / "none"
    folder.mkdir()
    (folder / "notes.md").write_text("not text data")
    with pytest.raises(DataError, match="the folder has no .txt files"):
        build_dataset(config(tmp_path, folder), "train")
    (folder / "a.txt").write_text("")
    (folder / "b.txt").write_text("")
    with pytest.raises(DataError, match="every .txt file in the folder is empty"):
        build_dataset(config(tmp_path, folder), "train")
    with pytest.raises(DataError, match="no such file or folder"):
        build_dataset(config(tmp_path, tmp_path / "missing.txt"), "train")


def test_a_block_longer_than_the_split_is_an_error(tmp_path):
    path = tmp_path / "short.txt"
    path.write_text("x" * 100)
    with pytest.raises(DataError, match="the test split has 10 tokens, fewer than one window"):
        build_dataset(config(tmp_path, path, block_size=32), "test")


def test_tokens_are_cached_and_a_given_tokenizer_is_used(tmp_path, monkeypatch):
    path = tmp_path / "c.txt"
    path.write_text(CORPUS)
    cfg = config(tmp_path, path, block_size=8)
    first = build_dataset(cfg, "train")
    monkeypatch.setattr(text_data, "train_tokenizer", lambda *a, **k: pytest.fail("tokenized again"))
    again = build_dataset(cfg, "train")
    assert np.array_equal(np.asarray(first.tokens), np.asarray(again.tokens))
    # a model's own tokenizer (here: a bigger vocabulary, so different ids) encodes the split for evaluation
    own = train_tokenizer("char", [CORPUS + "Z!"])
    encoded = build_dataset(cfg, "test", tokenizer=own)
    assert encoded.tokenizer is own and np.asarray(encoded.tokens).tolist() == own.encode(CORPUS[int(len(CORPUS) * 0.9):])


def test_text_and_image_keys_do_not_mix():
    with pytest.raises(ValueError, match="data.tokenizer is for text data"):
        DataConfig(dataset="mnist", tokenizer="bpe")
    with pytest.raises(ValueError, match="data.image_size is for image data"):
        DataConfig(dataset="tinyshakespeare", image_size=32)
    with pytest.raises(ValueError, match="data.text_path is set, so data.dataset must be text"):
        DataConfig(dataset="mnist", text_path="a.txt")
    with pytest.raises(ValueError, match="data.text_path .* is missing"):
        DataConfig(dataset="text")
    assert DataConfig.model_validate(DataConfig(dataset="tinyshakespeare").model_dump()).dataset == "tinyshakespeare"
