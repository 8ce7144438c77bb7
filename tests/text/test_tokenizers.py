"""Character and byte-level BPE tokenizers: exact round trips (non-ASCII included), the saved JSON form,
and errors that name what is wrong."""

from __future__ import annotations

import json

import numpy as np
import pytest

from noisecraft.errors import ConfigError, DataError
from noisecraft.text.tokenizers import BPETokenizer, CharTokenizer, tokenizer_from_dict, train_tokenizer

UNICODE = "naïve café — 日本語 🙂"
ASCII_CORPUS = "".join(f"the cat number {i} sat on the mat; then the dog ran.\n" for i in range(40))


@pytest.fixture(scope="module")
def bpe() -> BPETokenizer:
    return train_tokenizer("bpe", [ASCII_CORPUS], vocab_size=300)


def saved(tokenizer):
    """What a model folder holds: the dict through JSON text and back."""
    return tokenizer_from_dict(json.loads(json.dumps(tokenizer.to_dict())))


def test_char_round_trip_of_non_ascii_text():
    text = f"{UNICODE}\n{UNICODE[::-1]}\n"
    tok = train_tokenizer("char", [text])
    assert isinstance(tok, CharTokenizer)
    assert tok.vocab_size == len(set(text))
    ids = tok.encode(text)
    assert len(ids) == len(text)  # one token per character, astral-plane emoji included
    assert tok.decode(ids) == text
    array = tok.encode_array(text)
    assert array.dtype == np.int64 and array.tolist() == ids
    assert [tok.decode([i]) for i in ids] == list(text)


def test_char_ids_are_positions_in_the_vocabulary_whatever_its_order():
    trained = CharTokenizer.train(["cab", "🙂é"])
    assert trained.chars == sorted("abcé🙂")  # sorted by code point
    assert trained.encode("abc🙂") == [trained.chars.index(c) for c in "abc🙂"]
    unsorted = CharTokenizer(list("c🙂ab"))  # a vocabulary given in any order keeps that order
    assert unsorted.encode("abc🙂") == [2, 3, 0, 1]
    assert unsorted.decode([2, 3, 0, 1]) == "abc🙂"
    assert unsorted.encode("") == [] and unsorted.decode([]) == ""


def test_char_tokenizer_saved_form_gives_identical_encodings():
    text = f"{UNICODE} Hello\tworld\n"
    tok = train_tokenizer("char", [text])
    again = saved(tok)
    assert isinstance(again, CharTokenizer)
    assert again.chars == tok.chars
    assert again.encode(text) == tok.encode(text)
    assert again.decode(tok.encode(text)) == text


def test_char_tokenizer_error_names_the_unknown_characters():
    tok = CharTokenizer.train(["hello world"])
    with pytest.raises(ConfigError, match="'é'") as info:
        tok.encode("hello é")
    assert "vocabulary lacks" in str(info.value)
    with pytest.raises(ConfigError) as info:  # several: each named once
        tok.encode_array("zebra 🙂 zoo z")
    message = str(info.value)
    assert "'abz🙂'" in message  # the unknown characters, sorted, each once
    assert f"{tok.vocab_size} characters" in message


def test_char_vocabulary_must_be_distinct_single_characters():
    with pytest.raises(ValueError):
        CharTokenizer(list("abca"))
    with pytest.raises(ValueError):
        CharTokenizer(["a", "bc"])


@pytest.mark.parametrize("text", [
    UNICODE,
    "Ελληνικά ∑ ünïcödé 🐍",
    "  leading and trailing spaces  \r\n\ttabs\x00nul",
    ASCII_CORPUS[:120],
    "",
])
def test_bpe_round_trips_any_text_even_unseen_characters(bpe, text):
    ids = bpe.encode(text)
    assert all(0 <= i < bpe.vocab_size for i in ids)
    assert bpe.decode(ids) == text
    assert bpe.encode_array(text).tolist() == ids


def test_bpe_learns_merges_within_its_vocabulary_size(bpe):
    assert 256 < bpe.vocab_size <= 300
    line = ASCII_CORPUS.splitlines(keepends=True)[3]
    assert len(bpe.encode(line)) < len(line.encode())  # merges make common words single tokens
    unseen = UNICODE.encode()
    assert len(bpe.encode(UNICODE)) <= len(unseen)  # never worse than one token per byte


def test_bpe_saved_form_gives_identical_encodings(bpe):
    again = saved(bpe)
    assert isinstance(again, BPETokenizer) and again.vocab_size == bpe.vocab_size
    for text in (ASCII_CORPUS, UNICODE):
        assert again.encode(text) == bpe.encode(text)
        assert again.decode(bpe.encode(text)) == text


def test_train_tokenizer_reads_an_iterator_of_chunks():
    chunks = (ASCII_CORPUS[i : i + 100] for i in range(0, len(ASCII_CORPUS), 100))
    char = train_tokenizer("char", chunks)
    assert char.chars == sorted(set(ASCII_CORPUS))
    bpe = train_tokenizer("bpe", iter([ASCII_CORPUS[:1000], ASCII_CORPUS[1000:]]), vocab_size=280)
    assert bpe.decode(bpe.encode(ASCII_CORPUS)) == ASCII_CORPUS


def test_bad_kinds_and_broken_saved_forms_are_errors():
    with pytest.raises(ConfigError, match="unknown tokenizer 'wordpiece'"):
        train_tokenizer("wordpiece", ["abc"])
    with pytest.raises(DataError, match="unknown saved tokenizer type 'wordpiece'"):
        tokenizer_from_dict({"type": "wordpiece"})
    with pytest.raises(DataError, match="saved word tokenizer"):
        tokenizer_from_dict({"type": "words", "words": ["a", "a"]})
    with pytest.raises(DataError, match="cannot read the saved BPE tokenizer"):
        tokenizer_from_dict({"type": "bpe", "tokenizer": {"model": "not a model"}})
