"""Tokenizers for molecules written as SMILES, one molecule a line (saved as JSON like the text ones).

- `smiles`: the SMILES tokens of Schwaller et al. (2019): bracket atoms (`[nH]`, `[C@@H]`, `[O-]`) and
  two-letter atoms (`Cl`, `Br`) are single tokens, every other character its own; `<...>` property tokens
  (`<qed:0.9>`) and the newline that ends a molecule are tokens too. Decoding joins the tokens back.
- `selfies`: each line is encoded to SELFIES symbols (Krenn et al. 2020; the `selfies` package), so that
  *every* token string decodes to a valid molecule; decoding gives SMILES again.

Models never see the difference: both are lists of strings, `vocab` in the saved dict.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from noisecraft.errors import ConfigError

SMILES_PATTERN = re.compile(
    r"(<[^>\n]*>|\[[^\]\n]+\]|Br?|Cl?|N|O|S|P|F|I|b|c|n|o|s|p|\(|\)|\.|=|#|-|\+|\\|/|:|~|@|\?|\*|\$|%[0-9]{2}|[0-9]|\n)"
)


def smiles_tokens(text: str) -> list[str]:
    """`text` cut into SMILES tokens; a character no token covers is an error naming it and its place."""
    tokens = SMILES_PATTERN.findall(text)
    if sum(map(len, tokens)) != len(text):
        position = 0
        for match in SMILES_PATTERN.finditer(text):
            if match.start() != position:
                break
            position = match.end()
        line = text.count("\n", 0, position) + 1
        raise ConfigError(f"not a SMILES character: {text[position]!r} (line {line})")
    return tokens


class _VocabTokenizer:
    """Shared: a fixed list of string tokens; subclasses say how text becomes tokens and back."""

    kind = ""

    def __init__(self, vocab: Sequence[str]) -> None:
        if len(set(vocab)) != len(vocab):
            raise ValueError("a token vocabulary is a list of distinct strings")
        self.vocab = list(vocab)
        self._index = {t: i for i, t in enumerate(self.vocab)}

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    def split(self, text: str) -> list[str]:
        raise NotImplementedError

    def join(self, tokens: list[str]) -> str:
        return "".join(tokens)

    @classmethod
    def train(cls, texts: Iterable[str]) -> "_VocabTokenizer":
        seen: set[str] = {"\n"}
        for text in texts:
            seen.update(cls.split(cls([]), text))
        return cls(sorted(seen))

    def encode(self, text: str) -> list[int]:
        return self.ids(self.split(text))

    def ids(self, tokens: list[str]) -> list[int]:
        unknown = sorted({t for t in tokens if t not in self._index})
        if unknown:
            raise ConfigError(f"tokens the model's {self.kind} vocabulary lacks: {' '.join(unknown[:10])} "
                              f"(it knows the {self.vocab_size} tokens of its training molecules)")
        return [self._index[t] for t in tokens]

    def encode_array(self, text: str) -> np.ndarray:
        return np.asarray(self.encode(text), dtype=np.int64)

    def decode(self, ids: Sequence[int]) -> str:
        return self.join([self.vocab[int(i)] for i in ids])

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.kind, "vocab": self.vocab}


class SmilesTokenizer(_VocabTokenizer):
    kind = "smiles"

    def split(self, text: str) -> list[str]:
        return smiles_tokens(text)


class SelfiesTokenizer(_VocabTokenizer):
    """SMILES in, SMILES out; SELFIES symbols in between. A line that RDKit-free SELFIES cannot encode is
    an error naming it; a `<...>` property prefix is kept as one token."""

    kind = "selfies"

    def split(self, text: str) -> list[str]:
        import selfies

        tokens: list[str] = []
        for line in text.split("\n"):
            prefix = re.match(r"(<[^>]*>)*", line).group(0)
            tokens += re.findall(r"<[^>]*>", prefix)
            smiles = line[len(prefix):]
            if smiles:
                try:
                    tokens += list(selfies.split_selfies(selfies.encoder(smiles)))
                except selfies.EncoderError as e:
                    raise ConfigError(f"SMILES {smiles!r} cannot be written as SELFIES: {e}") from None
            tokens.append("\n")
        return tokens[:-1]

    def join(self, tokens: list[str]) -> str:
        import selfies

        lines, current = [], []
        for token in tokens + ["\n"]:
            if token == "\n":
                prefix = "".join(t for t in current if t.startswith("<"))
                body = "".join(t for t in current if not t.startswith("<"))
                lines.append(prefix + (selfies.decoder(body) if body else ""))
                current = []
            else:
                current.append(token)
        return "\n".join(lines)


MOLECULE_TOKENIZERS = {"smiles": SmilesTokenizer, "selfies": SelfiesTokenizer}
