"""Text corpora as memory-mapped token arrays: any `.txt` file or folder, or the shipped Tiny Shakespeare.

Read as data flows, in two streaming passes (a corpus bigger than RAM never is read whole):
1. check every file is UTF-8 (an error names the file and the byte offset), hash it, count characters;
   the last `test_fraction` of the characters is the "test" split (nanoGPT's validation split); our
   "validation" split is the last 5% of the train split (`load_text_dataset`);
2. train the tokenizer on the train characters, encode each split into `train.bin` / `test.bin`
   (uint16 or uint32) under the cache folder, keyed by the corpus hash and tokenizer settings.
A `TokenDataset` serves windows of `block_size + 1` tokens from the memory map: the model reads the first
`block_size` and predicts the last `block_size`.
"""

from __future__ import annotations

import codecs
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch.utils.data import Dataset

from noisecraft.data.base import DataSpec
from noisecraft.data.download import download
from noisecraft.data.transforms import SPLITS, holdout_size, validation_slice
from noisecraft.utils.paths import default_cache_dir
from noisecraft.errors import DataError
from noisecraft.text.tokenizers import Tokenizer, tokenizer_from_dict, train_tokenizer
from noisecraft.utils.durable import building_cache_dir

if TYPE_CHECKING:
    from noisecraft.config import DataConfig

SHAKESPEARE_FILE = Path(__file__).parent / "files" / "tinyshakespeare" / "input.txt"
SHAKESPEARE_URL = "https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt"
SHAKESPEARE_SHA256 = "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed"
CHUNK_BYTES = 1 << 20
CACHE_VERSION = 1
VALIDATION_TEXT_FRACTION = 0.05  # of the train split, from its end: the validation split


class TokenDataset(Dataset):
    """Windows of `block_size + 1` tokens, `stride` apart, over a 1-D token array (usually a memory map)."""

    def __init__(self, tokens: np.ndarray, block_size: int, tokenizer: Tokenizer, *, stride: int | None = None,
                 name: str = "text", split: str = "train") -> None:
        self.tokens = tokens
        self.block_size = block_size
        self.stride = stride or block_size
        self.tokenizer = tokenizer
        self.name, self.split = name, split
        if len(tokens) < block_size + 1:
            raise DataError(f"{name}: the {split} split has {len(tokens):,} tokens, fewer than one window of "
                            f"data.block_size + 1 = {block_size + 1}; use a smaller block_size or more text")

    def __len__(self) -> int:
        return (len(self.tokens) - self.block_size - 1) // self.stride + 1

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        if not 0 <= index < len(self):
            raise IndexError(index)
        start = index * self.stride
        window = np.asarray(self.tokens[start : start + self.block_size + 1], dtype=np.int64)
        return {"x": torch.from_numpy(window)}

    @property
    def spec(self) -> DataSpec:
        return DataSpec(modality="tokens", shape=(self.block_size,), vocab_size=self.tokenizer.vocab_size,
                        tokenizer=self.tokenizer.to_dict(), start_tokens=start_tokens(self.tokenizer, self.tokens))

    def limit(self, windows: int) -> "TokenDataset":
        """Only the first `windows` windows (data.limit)."""
        end = min(len(self.tokens), (windows - 1) * self.stride + self.block_size + 1)
        return TokenDataset(self.tokens[:end], self.block_size, self.tokenizer, stride=self.stride, name=self.name,
                            split=self.split)


def start_tokens(tokenizer: Tokenizer, tokens: np.ndarray) -> list[int]:
    """What an unprompted sample starts from: a newline, as nanoGPT does, or else the corpus's first token."""
    try:
        ids = tokenizer.encode("\n")
    except Exception:
        ids = []
    return ids or [int(tokens[0])]


def load_text_dataset(cfg: "DataConfig", split: str, tokenizer: Tokenizer | None = None) -> TokenDataset:
    """The `split` of the text data a recipe names, tokenized with `tokenizer` (the model's, when evaluating)
    or with one trained on the train split. "validation" is the last 5% of the train split's tokens (its
    characters, with the char tokenizer), which `data.hold_out_validation` leaves out of "train"."""
    if split not in SPLITS:
        raise DataError(f"unknown split {split!r} for text data (train; validation = the last "
                        f"{VALIDATION_TEXT_FRACTION:.0%} of train; test = the last {cfg.test_fraction:.0%} of the text)")
    files, name = corpus_files(cfg)
    folder = tokenize_corpus(files, cfg, tokenizer)
    meta = json.loads((folder / "meta.json").read_text())
    tokenizer = tokenizer or tokenizer_from_dict(json.loads((folder / "tokenizer.json").read_text()))
    stored = "test" if split == "test" else "train"
    count = meta["tokens"][stored]
    tokens = np.memmap(folder / f"{stored}.bin", dtype=meta["dtype"], mode="r", shape=(count,)) if count else np.zeros(0, meta["dtype"])
    if stored == "train":
        tokens = tokens[validation_slice(count, split, holdout_size(count, VALIDATION_TEXT_FRACTION),
                                         cfg.hold_out_validation, name)]
    dataset = TokenDataset(tokens, cfg.block_size, tokenizer, stride=cfg.stride, name=name, split=split)
    return dataset.limit(cfg.limit) if cfg.limit is not None else dataset


def corpus_files(cfg: "DataConfig") -> tuple[list[Path], str]:
    if cfg.dataset == "tinyshakespeare":
        if cfg.source == "download":
            return [download_shakespeare(cfg.cache_dir)], "tinyshakespeare"
        return [SHAKESPEARE_FILE], "tinyshakespeare"
    path = Path(cfg.text_path).expanduser()
    if path.is_file():
        return [path], path.name
    if path.is_dir():
        files = sorted(p for p in path.rglob("*.txt") if p.is_file())
        if not files:
            raise DataError(f"data.text_path: {path}: the folder has no .txt files")
        return files, path.name
    raise DataError(f"data.text_path: {path}: no such file or folder")


def download_shakespeare(cache_dir: Path | None = None) -> Path:
    dest = Path(cache_dir or default_cache_dir()).expanduser() / "tinyshakespeare" / "input.txt"
    if not dest.is_file():
        download(SHAKESPEARE_URL, dest, sha256=SHAKESPEARE_SHA256)
    return dest


def read_text(files: list[Path], start: int = 0, stop: int | None = None) -> Iterator[str]:
    """The corpus (files concatenated) from character `start` to `stop`, in chunks, checked as UTF-8."""
    position = 0
    for path in files:
        for chunk in _decode_file(path):
            end = position + len(chunk)
            if end > start and (stop is None or position < stop):
                yield chunk[max(0, start - position) : (None if stop is None else stop - position)]
            position = end
            if stop is not None and position >= stop:
                return


def _decode_file(path: Path) -> Iterator[str]:
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset = 0  # bytes of the file handed to the decoder so far
    try:
        with open(path, "rb") as f:
            while True:
                block = f.read(CHUNK_BYTES)
                pending = len(decoder.getstate()[0])
                try:
                    text = decoder.decode(block, final=not block)
                except UnicodeDecodeError as e:
                    raise DataError(f"{path}: not UTF-8 text: invalid byte 0x{e.object[e.start]:02x} at byte offset "
                                    f"{offset - pending + e.start}") from None
                offset += len(block)
                if text:
                    yield text
                if not block:
                    return
    except OSError as e:
        raise DataError(f"{path}: cannot read: {e}") from None


def survey(files: list[Path], root: Path | None = None) -> tuple[str, int]:
    """Pass 1: every file decodes; the corpus hash and its length in characters. Empty text is an error."""
    digest = hashlib.sha256()
    total = 0
    for path in files:
        chars = 0
        for chunk in _decode_file(path):
            chars += len(chunk)
        if chars == 0 and len(files) == 1:
            raise DataError(f"{path}: the file is empty")
        digest.update(f"{path.name}\0{chars}\0".encode())
        with open(path, "rb") as f:
            digest.update(hashlib.file_digest(f, "sha256").digest())
        total += chars
    if total == 0:
        raise DataError(f"{root or files[0].parent}: every .txt file in the folder is empty")
    return digest.hexdigest(), total


def tokenize_corpus(files: list[Path], cfg: "DataConfig", tokenizer: Tokenizer | None) -> Path:
    """Pass 2, cached: the folder with tokenizer.json, meta.json, train.bin and test.bin."""
    corpus_hash, total = survey(files, Path(cfg.text_path) if cfg.text_path is not None else None)
    split_at = int(total * (1 - cfg.test_fraction))  # nanoGPT's split of Tiny Shakespeare, to the character
    settings: dict[str, Any] = {"version": CACHE_VERSION, "corpus": corpus_hash, "test_fraction": cfg.test_fraction}
    if tokenizer is None:
        settings.update(tokenizer=cfg.tokenizer, vocab_size=cfg.vocab_size if cfg.tokenizer == "bpe" else None)
    else:
        settings["tokenizer"] = hashlib.sha256(json.dumps(tokenizer.to_dict(), sort_keys=True).encode()).hexdigest()
    key = hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:20]
    folder = Path(cfg.cache_dir or default_cache_dir()).expanduser() / "tokens" / key
    if (folder / "meta.json").is_file():
        return folder

    if tokenizer is None:  # a char vocabulary covers the whole text (nanoGPT's), BPE learns from train only
        texts = read_text(files) if cfg.tokenizer == "char" else read_text(files, 0, split_at)
        tokenizer = train_tokenizer(cfg.tokenizer, texts, cfg.vocab_size)
    dtype = "uint16" if tokenizer.vocab_size <= 1 << 16 else "uint32"
    with building_cache_dir(folder) as tmp:
        counts = {}
        for split, (start, stop) in {"train": (0, split_at), "test": (split_at, total)}.items():
            with open(tmp / f"{split}.bin", "wb") as out:
                counts[split] = 0
                for ids in encode_stream(tokenizer, read_text(files, start, stop)):
                    ids.astype(dtype).tofile(out)
                    counts[split] += len(ids)
        (tmp / "tokenizer.json").write_text(json.dumps(tokenizer.to_dict()))
        meta = {**settings, "files": [str(p) for p in files], "characters": {"train": split_at, "test": total - split_at},
                "tokens": counts, "dtype": dtype, "vocab_size": tokenizer.vocab_size}
        (tmp / "meta.json").write_text(json.dumps(meta, indent=2))
    return folder


def encode_stream(tokenizer: Tokenizer, chunks: Iterator[str]) -> Iterator[np.ndarray]:
    """Encode chunk by chunk, cutting after the last newline of each so that no word is split in two."""
    carry = ""
    for chunk in chunks:
        text = carry + chunk
        cut = text.rfind("\n") + 1
        if cut == 0 and len(text) < 16 * CHUNK_BYTES:  # a very long line: wait for its end (bounded)
            carry = text
            continue
        cut = cut or len(text)
        carry = text[cut:]
        yield tokenizer.encode_array(text[:cut])
    if carry:
        yield tokenizer.encode_array(carry)
