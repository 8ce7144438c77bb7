"""Text corpora as token data: files and folders, the character split, strided windows, UTF-8 and empty-input
errors, the token cache, evaluation with a model's own tokenizer, and which config keys go with text."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import noisecraft.data.text as text_data
from noisecraft.config import DataConfig
from noisecraft.data.text import TokenDataset, encode_stream, load_text_dataset, read_text
from noisecraft.errors import ConfigError, DataError
from noisecraft.text.tokenizers import CharTokenizer, train_tokenizer

# non-ASCII, so that characters, bytes and (BPE) tokens all differ in number
CORPUS = "".join(f"Line {i}: naïve café — 日本語 {i % 5} 🙂\n" for i in range(60))


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv("NOISECRAFT_CACHE", str(folder))
    return folder


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def tokens_of(dataset: TokenDataset) -> list[int]:
    return np.asarray(dataset.tokens).tolist()


def text_of(dataset: TokenDataset) -> str:
    return dataset.tokenizer.decode(tokens_of(dataset))


# --- files, folders and the split -------------------------------------------------------------------------

@pytest.mark.parametrize("fraction", [0.1, 0.25])
def test_a_file_splits_at_the_last_fraction_of_its_characters(tmp_path, fraction):
    path = write(tmp_path / "corpus.txt", CORPUS)
    cfg = DataConfig(text_path=path, block_size=8, test_fraction=fraction)
    train, test = load_text_dataset(cfg, "train"), load_text_dataset(cfg, "test")
    split = int(len(CORPUS) * (1 - fraction))
    assert len(train.tokens) + len(test.tokens) == len(CORPUS)  # char tokens: one per character, not per byte
    assert len(test.tokens) == len(CORPUS) - split
    assert text_of(train) == CORPUS[:split] and text_of(test) == CORPUS[split:]
    assert train.tokenizer.to_dict() == test.tokenizer.to_dict()
    assert train.tokenizer.vocab_size == len(set(CORPUS))


def test_a_folder_is_its_txt_files_in_path_order_and_the_split_spans_files(tmp_path):
    folder = tmp_path / "books"
    parts = {"b/2.txt": "second file, ü\n" * 20, "a.txt": "first file, é\n" * 30, "c.txt": "third 日\n" * 10}
    for name, text in parts.items():
        write(folder / name, text)
    write(folder / "notes.md", "not part of the corpus: Ω")
    whole = parts["a.txt"] + parts["b/2.txt"] + parts["c.txt"]  # sorted paths: a.txt, b/2.txt, c.txt
    cfg = DataConfig(text_path=folder, block_size=8, test_fraction=0.3)
    assert cfg.dataset == "text"
    train, test = load_text_dataset(cfg, "train"), load_text_dataset(cfg, "test")
    split = int(len(whole) * 0.7)
    assert split < len(parts["a.txt"]) + len(parts["b/2.txt"]) - 5  # the test split starts inside b/2.txt
    assert text_of(train) == whole[:split] and text_of(test) == whole[split:]
    assert len(train.tokens) + len(test.tokens) == len(whole)
    assert "Ω" not in train.tokenizer.chars


def test_bpe_is_trained_on_the_train_split_only_and_both_splits_decode_exactly(tmp_path):
    train_text = "abc abd abe, the quick fox.\n" * 40
    test_text = "zqzqzq zqzq zq\n" * 30  # the tail: never seen by the BPE trainer
    whole = train_text + test_text
    path = write(tmp_path / "c.txt", whole)
    fraction = len(test_text) / len(whole)
    cfg = DataConfig(text_path=path, tokenizer="bpe", vocab_size=290, block_size=4, test_fraction=fraction)
    train, test = load_text_dataset(cfg, "train"), load_text_dataset(cfg, "test")
    split = int(len(whole) * (1 - fraction))
    assert text_of(train) == whole[:split] and text_of(test) == whole[split:]
    vocab = train.tokenizer.tokenizer.get_vocab()
    assert any("ab" in piece for piece in vocab)  # merges from the train text
    assert not any("zq" in piece for piece in vocab)  # none from the test text
    assert len(train.tokens) < split  # merges do compress


def test_a_char_vocabulary_covers_the_test_split_too(tmp_path):
    path = write(tmp_path / "c.txt", "a" * 90 + "Ω" * 10)
    cfg = DataConfig(text_path=path, block_size=4)
    test = load_text_dataset(cfg, "test")
    assert text_of(test) == "Ω" * 10 and "Ω" in test.tokenizer.chars


def test_the_shipped_tiny_shakespeare_gives_nanogpts_numbers():
    cfg = DataConfig(dataset="tinyshakespeare", block_size=256)
    train, test = load_text_dataset(cfg, "train"), load_text_dataset(cfg, "test")
    # nanoGPT's data/shakespeare_char/prepare.py: 65 characters, 1,003,854 train and 111,540 val tokens
    assert train.tokenizer.vocab_size == 65
    assert (len(train.tokens), len(test.tokens)) == (1_003_854, 111_540)
    assert text_of(test)[:30] == text_data.SHAKESPEARE_FILE.read_text()[1_003_854 : 1_003_854 + 30]


# --- windows ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("block, stride", [(8, None), (8, 3), (5, 11), (1, 1)])
def test_item_i_is_the_window_at_i_times_stride(block, stride):
    tokens = np.arange(100, dtype=np.uint16) * 7 % 50
    data = TokenDataset(tokens, block, CharTokenizer([chr(65 + i) for i in range(50)]), stride=stride)
    step = stride or block
    assert len(data) == (len(tokens) - block - 1) // step + 1
    for i in range(len(data)):
        x = data[i]["x"]
        assert x.dtype.is_floating_point is False and x.tolist() == tokens[i * step : i * step + block + 1].tolist()
    last = (len(data) - 1) * step + block + 1
    assert last <= len(tokens) < last + step  # every full window, and no more
    with pytest.raises(IndexError):
        data[len(data)]


def test_stride_and_limit_from_the_config(tmp_path):
    path = write(tmp_path / "c.txt", CORPUS)
    full = load_text_dataset(DataConfig(text_path=path, block_size=6, stride=4), "train")
    tokens = tokens_of(full)
    assert [full[i]["x"].tolist() for i in (0, 1, 5)] == [tokens[0:7], tokens[4:11], tokens[20:27]]
    limited = load_text_dataset(DataConfig(text_path=path, block_size=6, stride=4, limit=3), "train")
    assert len(limited) == 3 and [limited[i]["x"].tolist() for i in range(3)] == [full[i]["x"].tolist() for i in range(3)]


def test_spec_describes_tokens_and_a_start_token(tmp_path):
    data = load_text_dataset(DataConfig(text_path=write(tmp_path / "c.txt", CORPUS), block_size=12), "train")
    spec = data.spec
    assert spec.modality == "tokens" and spec.shape == (12,) and spec.vocab_size == data.tokenizer.vocab_size
    assert spec.tokenizer == data.tokenizer.to_dict()
    assert spec.start_tokens == data.tokenizer.encode("\n")
    no_newline = load_text_dataset(DataConfig(text_path=write(tmp_path / "n.txt", "zyx" * 30), block_size=4), "train")
    assert no_newline.spec.start_tokens == [tokens_of(no_newline)[0]]


def test_a_block_longer_than_a_split_is_an_error(tmp_path):
    path = write(tmp_path / "short.txt", "abcdefghij" * 10)  # 90 train characters, 10 test
    cfg = DataConfig(text_path=path, block_size=20)
    assert len(load_text_dataset(cfg, "train")) > 0
    with pytest.raises(DataError, match=r"test split has 10 tokens.*block_size \+ 1 = 21"):
        load_text_dataset(cfg, "test")
    with pytest.raises(DataError, match="train split has 90 tokens"):
        load_text_dataset(DataConfig(text_path=path, block_size=90), "train")
    with pytest.raises(DataError, match="unknown split 'val'"):
        load_text_dataset(cfg, "val")


# --- reading: UTF-8 and empty inputs ----------------------------------------------------------------------

BAD_BYTES = [
    b"hello\xffworld",
    "abcé".encode() + b"xyz\xfe!",
    b"abc\xc3(xyz",  # a lead byte, then no continuation
    "日本".encode() + b"\xe6\x97",  # the file ends inside a character
    "🙂🙂".encode() + b"\xf0\x9f\x99" + b"ok",
    b"\x80" + b"a" * 20,
]


@pytest.mark.parametrize("chunk", [1, 2, 3, 4, 7, 1 << 20])
@pytest.mark.parametrize("data", BAD_BYTES)
def test_invalid_utf8_names_the_file_and_the_byte_offset(tmp_path, monkeypatch, data, chunk):
    monkeypatch.setattr(text_data, "CHUNK_BYTES", chunk)  # the bad byte at, before or after chunk boundaries
    with pytest.raises(UnicodeDecodeError) as reference:
        data.decode("utf-8")
    offset, byte = reference.value.start, data[reference.value.start]
    path = tmp_path / "bad.txt"
    path.write_bytes(data)
    with pytest.raises(DataError) as info:
        load_text_dataset(DataConfig(text_path=path, block_size=2), "train")
    assert str(path) in str(info.value)
    assert f"invalid byte 0x{byte:02x} at byte offset {offset}" in str(info.value)


def test_the_offset_is_the_example_from_the_issue(tmp_path):
    path = tmp_path / "bad.txt"
    path.write_bytes(b"hello\xffworld")
    with pytest.raises(DataError, match=r"bad\.txt: not UTF-8 text: invalid byte 0xff at byte offset 5$"):
        load_text_dataset(DataConfig(text_path=path, block_size=2), "train")


def test_the_error_names_the_bad_file_of_a_folder(tmp_path):
    write(tmp_path / "books" / "a.txt", "fine text\n" * 10)
    (tmp_path / "books" / "b.txt").write_bytes(b"ok\n" * 3 + b"\xc0\xaf")
    with pytest.raises(DataError, match=r"b\.txt: not UTF-8 text: invalid byte 0xc0 at byte offset 9"):
        load_text_dataset(DataConfig(text_path=tmp_path / "books", block_size=2), "train")


def test_read_text_returns_character_ranges_across_chunks_and_files(tmp_path, monkeypatch):
    monkeypatch.setattr(text_data, "CHUNK_BYTES", 5)
    texts = ["añb日c🙂d\n" * 3, "", "xyz€\n" * 2]
    files = [write(tmp_path / f"{i}.txt", t) for i, t in enumerate(texts)]
    whole = "".join(texts)
    for start, stop in [(0, None), (0, len(whole)), (3, 17), (20, 21), (len(texts[0]) - 2, len(texts[0]) + 3), (5, 5)]:
        assert "".join(read_text(files, start, stop)) == whole[start:stop]


def test_encode_stream_cuts_after_newlines_and_loses_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(text_data, "CHUNK_BYTES", 8)
    text = "the first line\nsecond\n" + "a" * 200 + "\nend without newline"  # one line > 16 chunks
    tok = train_tokenizer("bpe", [text], vocab_size=270)
    path = write(tmp_path / "t.txt", text)
    pieces = [tok.decode(ids.tolist()) for ids in encode_stream(tok, read_text([path]))]
    assert "".join(pieces) == text
    assert all(p.endswith("\n") or len(p) >= 16 * 8 for p in pieces[:-1])  # no word cut in two
    assert len(pieces) > 2


def test_empty_inputs_are_errors(tmp_path):
    empty = write(tmp_path / "empty.txt", "")
    with pytest.raises(DataError, match=r"empty\.txt: the file is empty"):
        load_text_dataset(DataConfig(text_path=empty), "train")
    bare = tmp_path / "bare"
    bare.mkdir()
    with pytest.raises(DataError, match="the folder has no .txt files"):
        load_text_dataset(DataConfig(text_path=bare), "train")
    write(bare / "readme.md", "words, but not in a .txt file")
    (bare / "sub.txt").mkdir()  # a folder named like a text file is not one
    with pytest.raises(DataError, match="the folder has no .txt files"):
        load_text_dataset(DataConfig(text_path=bare), "train")
    write(bare / "a.txt", "")
    write(bare / "b.txt", "")
    with pytest.raises(DataError, match="every .txt file in the folder is empty"):
        load_text_dataset(DataConfig(text_path=bare), "train")
    write(bare / "c.txt", "now there is text " * 10)  # an empty file among others is fine
    assert text_of(load_text_dataset(DataConfig(text_path=bare, block_size=4, test_fraction=0.0), "train")) == "now there is text " * 10
    with pytest.raises(DataError, match="no such file or folder"):
        load_text_dataset(DataConfig(text_path=tmp_path / "missing.txt"), "train")


# --- the token cache and evaluation with a model's tokenizer ----------------------------------------------

def test_a_second_load_reads_the_cache(tmp_path, cache, monkeypatch):
    path = write(tmp_path / "c.txt", CORPUS)
    cfg = DataConfig(text_path=path, block_size=8)
    first = load_text_dataset(cfg, "train")
    folders = list((cache / "tokens").iterdir())
    assert len(folders) == 1 and sorted(p.name for p in folders[0].iterdir()) == [
        "meta.json", "test.bin", "tokenizer.json", "train.bin"]
    meta = json.loads((folders[0] / "meta.json").read_text())
    assert meta["characters"] == {"train": int(len(CORPUS) * 0.9), "test": len(CORPUS) - int(len(CORPUS) * 0.9)}

    def fail(*args, **kwargs):
        raise AssertionError("tokenized again")

    monkeypatch.setattr(text_data, "train_tokenizer", fail)
    monkeypatch.setattr(text_data, "encode_stream", fail)
    again = load_text_dataset(cfg, "train")
    assert tokens_of(again) == tokens_of(first) and again.tokenizer.to_dict() == first.tokenizer.to_dict()
    load_text_dataset(cfg.model_copy(update={"block_size": 16}), "test")  # windows are not part of the key
    assert isinstance(again.tokens, np.memmap)
    assert not [p for p in (cache / "tokens").iterdir() if p.name.startswith(".")]  # no temp folders left


def test_the_cache_key_follows_the_text_and_the_tokenizer(tmp_path, cache):
    path = write(tmp_path / "c.txt", "abcdefgh\n" * 20)
    cfg = DataConfig(text_path=path, block_size=4)
    assert text_of(load_text_dataset(cfg, "train")).startswith("abcdefgh")
    write(path, "hgfedcba\n" * 20)  # same name, same length, new text
    assert text_of(load_text_dataset(cfg, "train")).startswith("hgfedcba")
    load_text_dataset(DataConfig(text_path=path, block_size=4, tokenizer="bpe", vocab_size=260), "train")
    load_text_dataset(DataConfig(text_path=path, block_size=4, tokenizer="bpe", vocab_size=270), "train")
    load_text_dataset(DataConfig(text_path=path, block_size=4, test_fraction=0.2), "train")
    assert len(list((cache / "tokens").iterdir())) == 5


def test_cache_dir_in_the_config_wins_over_the_environment(tmp_path, cache):
    own = tmp_path / "own-cache"
    load_text_dataset(DataConfig(text_path=write(tmp_path / "c.txt", CORPUS), block_size=8, cache_dir=own), "train")
    assert len(list((own / "tokens").iterdir())) == 1 and not cache.exists()


def test_evaluation_encodes_the_split_with_the_given_tokenizer(tmp_path):
    path = write(tmp_path / "c.txt", CORPUS)
    cfg = DataConfig(text_path=path, block_size=8)
    tail = CORPUS[int(len(CORPUS) * 0.9):]
    wider = train_tokenizer("char", ["\x01\x02ABCXYZ" + CORPUS])  # other ids than the corpus's own vocabulary
    test = load_text_dataset(cfg, "test", tokenizer=wider)
    assert test.tokenizer is wider and tokens_of(test) == wider.encode(tail)
    assert tokens_of(test) != tokens_of(load_text_dataset(cfg, "test"))
    bpe = train_tokenizer("bpe", ["something else entirely\n" * 10], vocab_size=270)
    encoded = load_text_dataset(cfg, "test", tokenizer=bpe)
    assert tokens_of(encoded) == bpe.encode(tail) and bpe.decode(tokens_of(encoded)) == tail
    narrow = CharTokenizer(sorted(set(CORPUS) - {"🙂"}))
    with pytest.raises(ConfigError, match="'🙂'"):
        load_text_dataset(cfg, "test", tokenizer=narrow)


# --- config keys ------------------------------------------------------------------------------------------

def test_text_and_image_keys_do_not_mix(tmp_path):
    with pytest.raises(ValueError, match="data.tokenizer is for text data"):
        DataConfig(dataset="mnist", tokenizer="bpe")
    with pytest.raises(ValueError, match="data.block_size is for text data"):
        DataConfig(dataset="digits", block_size=16)
    with pytest.raises(ValueError, match="data.image_size is for image data"):
        DataConfig(dataset="tinyshakespeare", image_size=32)
    with pytest.raises(ValueError, match="data.channels is for image data"):
        DataConfig(text_path=tmp_path / "a.txt", channels=3)
    with pytest.raises(ValueError, match="data.text_path is set, so data.dataset must be text"):
        DataConfig(dataset="tinyshakespeare", text_path=tmp_path / "a.txt")
    with pytest.raises(ValueError, match="data.text_path .* is missing"):
        DataConfig(dataset="text")
    cfg = DataConfig(text_path=tmp_path / "a.txt")
    assert cfg.dataset == "text" and cfg.modality == "tokens"
    assert DataConfig(dataset="tinyshakespeare").modality == "tokens" and DataConfig().modality == "image"
    assert DataConfig.model_validate(cfg.model_dump()).dataset == "text"  # a saved run config reloads
