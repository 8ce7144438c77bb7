"""Tokenizers: exact round trips (non-ASCII included), saved form, clear errors."""

from __future__ import annotations

import pytest

from noisecraft.errors import ConfigError
from noisecraft.text.tokenizers import BPETokenizer, CharTokenizer, tokenizer_from_dict, train_tokenizer

TEXT = "naïve café — 日本語 🙂\nThe quick brown fox jumps over the lazy dog.\n" * 20


def test_char_round_trip_and_saved_form():
    tok = train_tokenizer("char", [TEXT[:100], TEXT[100:]])
    assert tok.vocab_size == len(set(TEXT))
    ids = tok.encode(TEXT)
    assert len(ids) == len(TEXT) and tok.decode(ids) == TEXT
    assert tok.encode_array(TEXT).tolist() == ids
    again = tokenizer_from_dict(tok.to_dict())
    assert isinstance(again, CharTokenizer) and again.encode(TEXT) == ids
    assert sorted(tok.chars) == tok.chars  # sorted vocabulary, as nanoGPT's


def test_char_tokenizer_names_unknown_characters():
    tok = CharTokenizer(list("abc"))
    with pytest.raises(ConfigError, match="'xz'"):
        tok.encode("abxcz")


def test_bpe_round_trips_any_text_and_compresses():
    tok = train_tokenizer("bpe", [TEXT], vocab_size=300)
    assert isinstance(tok, BPETokenizer) and 256 < tok.vocab_size <= 300
    ids = tok.encode(TEXT)
    assert tok.decode(ids) == TEXT
    assert len(ids) < len(TEXT.encode())  # merges learned
    unseen = "Ελληνικά ∑ ünïcödé 🐍 \t tabs"
    assert tok.decode(tok.encode(unseen)) == unseen
    again = tokenizer_from_dict(tok.to_dict())
    assert again.encode(TEXT) == ids and again.encode(unseen) == tok.encode(unseen)


def test_unknown_kinds_are_errors():
    with pytest.raises(ConfigError, match="unknown tokenizer 'word'"):
        train_tokenizer("word", [TEXT])
    with pytest.raises(Exception, match="unknown saved tokenizer type"):
        tokenizer_from_dict({"type": "word"})
