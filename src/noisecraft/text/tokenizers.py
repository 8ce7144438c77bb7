"""Tokenizers: text <-> token ids, saved with the model as plain JSON (no code, no pickles).

- `char`: one token per character of the corpus (sorted), nanoGPT's shakespeare_char vocabulary;
- `caption`: the words of text-to-image captions (closed vocabulary, unknown words -> <unk>);
- `bpe`: byte-level BPE trained on the corpus with Hugging Face `tokenizers` (any text encodes);
- `words`: a fixed vocabulary of whitespace-separated words (event streams such as music; the data
  loader that made it describes them in `meta`, which no model reads).

A model never sees text: its data spec carries `tokenizer.to_dict()`, and `tokenizer_from_dict` rebuilds it
to encode prompts and decode samples.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any, Protocol

import numpy as np

from noisecraft.errors import ConfigError, DataError

# trained on a corpus (smiles, selfies: text/molecule_tokenizers.py); "words" (a fixed list) is made by the data that uses it
TOKENIZERS = ("char", "bpe", "smiles", "selfies")


class Tokenizer(Protocol):
    kind: str
    vocab_size: int

    def encode(self, text: str) -> list[int]: ...

    def encode_array(self, text: str) -> np.ndarray: ...

    def decode(self, ids: Sequence[int]) -> str: ...

    def to_dict(self) -> dict[str, Any]: ...


class CharTokenizer:
    """Each character its own token; characters outside the vocabulary are an error naming them."""

    kind = "char"

    def __init__(self, chars: Sequence[str]) -> None:
        if len(set(chars)) != len(chars) or any(len(c) != 1 for c in chars):
            raise ValueError("a character vocabulary is a list of distinct single characters")
        self.chars = list(chars)
        self._codes = np.array([ord(c) for c in self.chars], dtype=np.int64)
        self._order = np.argsort(self._codes)
        self._index = {c: i for i, c in enumerate(self.chars)}

    @classmethod
    def train(cls, texts: Iterable[str]) -> "CharTokenizer":
        seen: set[str] = set()
        for text in texts:
            seen.update(text)
        return cls(sorted(seen))

    @property
    def vocab_size(self) -> int:
        return len(self.chars)

    def encode_array(self, text: str) -> np.ndarray:
        """Vectorised: a 1 MB text encodes in milliseconds."""
        codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32).astype(np.int64)
        sorted_codes = self._codes[self._order]
        pos = np.clip(np.searchsorted(sorted_codes, codes), 0, max(len(sorted_codes) - 1, 0))
        bad = sorted_codes[pos] != codes if len(sorted_codes) else np.ones(len(codes), bool)
        if bad.any():
            unknown = sorted({chr(c) for c in codes[bad]})
            raise ConfigError(f"text has characters the model's vocabulary lacks: {''.join(unknown)!r} "
                              f"(a character tokenizer knows only the {self.vocab_size} characters of its corpus)")
        return self._order[pos]

    def encode(self, text: str) -> list[int]:
        return self.encode_array(text).tolist()

    def decode(self, ids: Sequence[int]) -> str:
        return "".join(self.chars[int(i)] for i in ids)

    def to_dict(self) -> dict[str, Any]:
        return {"type": "char", "chars": "".join(self.chars)}


class BPETokenizer:
    """Byte-level BPE (GPT-2 style) from Hugging Face `tokenizers`: no unknown tokens, any UTF-8 round trips."""

    kind = "bpe"

    def __init__(self, tokenizer: Any) -> None:
        self.tokenizer = tokenizer

    @classmethod
    def train(cls, texts: Iterable[str], vocab_size: int) -> "BPETokenizer":
        from tokenizers import Tokenizer as HFTokenizer
        from tokenizers import decoders, models, pre_tokenizers, trainers

        tokenizer = HFTokenizer(models.BPE())
        tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tokenizer.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(vocab_size=vocab_size, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                      show_progress=False)
        tokenizer.train_from_iterator(texts, trainer=trainer)
        return cls(tokenizer)

    @property
    def vocab_size(self) -> int:
        return self.tokenizer.get_vocab_size()

    def encode(self, text: str) -> list[int]:
        return self.tokenizer.encode(text).ids

    def encode_array(self, text: str) -> np.ndarray:
        return np.asarray(self.encode(text), dtype=np.int64)

    def decode(self, ids: Sequence[int]) -> str:
        return self.tokenizer.decode([int(i) for i in ids])

    def to_dict(self) -> dict[str, Any]:
        return {"type": "bpe", "tokenizer": json.loads(self.tokenizer.to_str())}


class WordTokenizer:
    """A fixed list of words; text is words separated by whitespace, and an unknown word is an error."""

    kind = "words"

    def __init__(self, words: Sequence[str], meta: dict[str, Any] | None = None) -> None:
        if len(set(words)) != len(words) or any(not w or w.split() != [w] for w in words):
            raise ValueError("a word vocabulary is a list of distinct words without whitespace")
        self.words, self.meta = list(words), dict(meta or {})
        self._index = {w: i for i, w in enumerate(self.words)}

    @property
    def vocab_size(self) -> int:
        return len(self.words)

    def encode(self, text: str) -> list[int]:
        try:
            return [self._index[w] for w in text.split()]
        except KeyError as e:
            raise ConfigError(f"text has a word the vocabulary lacks: {e.args[0]!r}") from None

    def encode_array(self, text: str) -> np.ndarray:
        return np.asarray(self.encode(text), dtype=np.int64)

    def decode(self, ids: Sequence[int]) -> str:
        return "".join(self.words[int(i)] + " " for i in ids)

    def to_dict(self) -> dict[str, Any]:
        return {"type": "words", "words": self.words, "meta": self.meta}


class CaptionTokenizer:
    """Caption words for text-to-image models: lower-case words split on spaces, unknown words -> <unk>.
    Ids 0, 1, 2 are <pad>, <unk> and <start> (what a caption encoder reads first, so an empty caption
    still has one token to attend to)."""

    kind = "caption"
    SPECIAL = ("<pad>", "<unk>", "<start>")
    PAD, UNK, START = 0, 1, 2

    def __init__(self, words: Sequence[str]) -> None:
        self.words = list(self.SPECIAL) + [w for w in dict.fromkeys(words) if w not in self.SPECIAL]
        self._index = {w: i for i, w in enumerate(self.words)}

    @classmethod
    def train(cls, texts: Iterable[str]) -> "CaptionTokenizer":
        return cls(sorted({w for text in texts for w in text.lower().split()}))

    @property
    def vocab_size(self) -> int:
        return len(self.words)

    def encode(self, text: str) -> list[int]:
        return [self._index.get(w, self.UNK) for w in text.lower().split()]

    def encode_array(self, text: str) -> np.ndarray:
        return np.asarray(self.encode(text), dtype=np.int64)

    def encode_padded(self, text: str, length: int) -> list[int]:
        """<start> + the words, cut or padded with <pad> to `length` tokens."""
        ids = [self.START, *self.encode(text)][:length]
        return ids + [self.PAD] * (length - len(ids))

    def decode(self, ids: Sequence[int]) -> str:
        return " ".join(self.words[int(i)] for i in ids if int(i) >= len(self.SPECIAL))

    def to_dict(self) -> dict[str, Any]:
        return {"type": "caption", "words": self.words[len(self.SPECIAL) :]}


def train_tokenizer(kind: str, texts: Iterable[str], vocab_size: int = 512) -> Tokenizer:
    if kind == "char":
        return CharTokenizer.train(texts)
    if kind == "bpe":
        return BPETokenizer.train(texts, vocab_size)
    if kind in ("smiles", "selfies"):
        from noisecraft.text.molecule_tokenizers import MOLECULE_TOKENIZERS

        return MOLECULE_TOKENIZERS[kind].train(texts)
    raise ConfigError(f"data.tokenizer: unknown tokenizer {kind!r} (choose from: {', '.join(TOKENIZERS)})")


def tokenizer_from_dict(data: dict[str, Any]) -> Tokenizer:
    kind = data.get("type")
    if kind == "char":
        return CharTokenizer(list(data["chars"]))
    if kind == "bpe":
        from tokenizers import Tokenizer as HFTokenizer

        try:
            return BPETokenizer(HFTokenizer.from_str(json.dumps(data["tokenizer"])))
        except Exception as e:  # tokenizers raises its own exception type for a malformed file
            raise DataError(f"cannot read the saved BPE tokenizer: {e}") from None
    if kind == "caption":
        return CaptionTokenizer(list(data["words"]))
    if kind in ("smiles", "selfies"):
        from noisecraft.text.molecule_tokenizers import MOLECULE_TOKENIZERS

        return MOLECULE_TOKENIZERS[kind](list(data["vocab"]))
    if kind == "words":
        try:
            return WordTokenizer(data["words"], data.get("meta"))
        except (KeyError, TypeError, ValueError) as e:
            raise DataError(f"cannot read the saved word tokenizer: {e}") from None
    if kind == "columns":  # tile grids, one token per column (game levels)
        from noisecraft.text.columns import ColumnTokenizer

        return ColumnTokenizer(data["columns"])
    if kind == "tiles":  # tile grids, one token per tile, snaking (game levels)
        from noisecraft.text.level_tiles import TileTokenizer

        return TileTokenizer(data["tiles"], int(data["height"]), data["empty"])
    raise DataError(f"unknown saved tokenizer type {kind!r} (known: {', '.join(TOKENIZERS)}, words, columns, tiles, "
                    "caption)")
