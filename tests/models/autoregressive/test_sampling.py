"""Sampling from token models: the KV cache changes nothing, and every option does what it says, checked on
tiny untrained models and on a stub model whose logits are written by hand."""

from __future__ import annotations

import pytest
import torch

from noisecraft.data.base import DataSpec
from noisecraft.errors import ConfigError
from noisecraft.models.autoregressive import LSTM, LSTMConfig, Transformer, TransformerConfig, filter_logits, sample_tokens
from noisecraft.models.autoregressive.sampling import window_start
from noisecraft.sampling import Streamer, cut_at_stop, generate, generate_text
from noisecraft.text.tokenizers import CharTokenizer, Tokenizer, train_tokenizer

CHAR = CharTokenizer(sorted(set("\n !',.:;?ABCDEHIMNORSTWabcdefghiklmnoprstuvwy")))


def spec(context: int, tokenizer: Tokenizer = CHAR) -> DataSpec:
    return DataSpec(modality="tokens", shape=(context,), vocab_size=tokenizer.vocab_size,
                    tokenizer=tokenizer.to_dict(), start_tokens=tokenizer.encode("\n"))


def make(name: str, context: int = 8, tokenizer: Tokenizer = CHAR, **config):
    torch.manual_seed(1)
    if name == "lstm":
        return LSTM(LSTMConfig(layers=2, hidden=16, **config), spec(context, tokenizer)).eval()
    return Transformer(TransformerConfig(layers=2, heads=2, dim=16, positions=name, **config), spec(context, tokenizer)).eval()


def seeded(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


class Fixed:
    """A stub model whose next-token logits are always `logits` [vocab] (or [n, vocab])."""

    context_size = None

    def __init__(self, logits) -> None:
        self.fixed = torch.as_tensor(logits, dtype=torch.float32)

    def logits(self, tokens, cache=None):
        row = self.fixed if self.fixed.dim() == 2 else self.fixed.expand(tokens.shape[0], -1)
        return row[:, None, :].expand(-1, tokens.shape[1], -1)

    def new_cache(self, batch):
        return object()


def draw(logits, n: int = 2000, seed: int = 0, **options) -> torch.Tensor:
    """One next token for each of `n` rows from the stub model."""
    out = sample_tokens(Fixed(logits), torch.zeros(n, 1, dtype=torch.long), 1, generator=seeded(seed), **options)
    return torch.tensor([row[0] for row in out])


# --- the cache ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["rotary", "learned", "lstm"])
def test_cached_logits_equal_the_full_forward(name):
    model = make(name, context=16)
    x = torch.randint(0, model.vocab_size, (3, 16), generator=seeded(0))
    full = model.logits(x)
    cache = model.new_cache(3)
    pieces, at = [], 0
    for size in (4, 1, 1, 3, 1, 6):  # a prompt, then token by token and in pieces
        pieces.append(model.logits(x[:, at : at + size], cache))
        at += size
    assert at == 16
    assert torch.allclose(torch.cat(pieces, dim=1), full, atol=1e-5, rtol=0)


@pytest.mark.parametrize("name", ["rotary", "learned"])
def test_a_transformer_cache_cannot_outgrow_the_context(name):
    model = make(name, context=8)
    cache = model.new_cache(1)
    model.logits(torch.zeros(1, 8, dtype=torch.long), cache)
    with pytest.raises(ValueError, match="9 tokens exceed the context of 8"):
        model.logits(torch.zeros(1, 1, dtype=torch.long), cache)


OPTION_SETS = [
    {"temperature": 1.3},
    {"temperature": 0.0},
    {"temperature": 0.9, "top_k": 5},
    {"temperature": 1.1, "top_p": 0.8, "repetition_penalty": 1.4},
]


@pytest.mark.parametrize("options", OPTION_SETS, ids=lambda o: ",".join(o))
@pytest.mark.parametrize("name", ["rotary", "learned", "lstm"])
@pytest.mark.parametrize("prompt", ["To", "ROMEO: What, ho!"], ids=["short", "longer-than-context"])
def test_cached_sampling_equals_uncached_past_the_context(name, options, prompt):
    model = make(name, context=8)  # 30 new tokens: the transformer's window restarts several times
    cached = model.sample(3, prompt, seeded(5), max_tokens=30, use_cache=True, **options)
    plain = model.sample(3, prompt, seeded(5), max_tokens=30, use_cache=False, **options)
    assert cached == plain
    assert [len(row) for row in cached] == [30, 30, 30]


def test_the_window_keeps_the_last_tokens_that_fit():
    for context in (2, 5, 8):
        for length in range(1, 30):
            for start in range(length):
                for first in (True, False):
                    begin = window_start(length, start, context, first)
                    assert start <= begin < length and length - begin <= context
                    if length - start <= context:
                        assert begin == start  # still fits: the window does not move
                    else:
                        assert length - begin == (context if first else max(1, context // 2))
    assert window_start(10_000, 3, None, first=False) == 3  # recurrent: no limit


# --- temperature and greedy ----------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["rotary", "learned", "lstm"])
def test_temperature_zero_is_argmax_whatever_the_seed(name):
    model = make(name, context=32)
    prompt = CHAR.encode("To be")
    tokens = list(prompt)
    for _ in range(12):  # by hand: the argmax of the next-token logits given everything so far
        tokens.append(int(model.logits(torch.tensor([tokens]))[0, -1].argmax()))
    by_hand = tokens[len(prompt):]
    runs = [model.sample(2, "To be", seeded(s), max_tokens=12, temperature=0.0) for s in range(3)]
    assert runs[0] == [by_hand, by_hand] and runs[1] == runs[0] == runs[2]
    assert model.sample(1, "To be", None, max_tokens=12, temperature=0.0) == [by_hand]
    for temperature in (1.0, 5.0):  # top_k = 1 leaves only the argmax
        assert model.sample(1, "To be", seeded(9), max_tokens=12, temperature=temperature, top_k=1) == [by_hand]


def test_temperature_scales_the_logits():
    logits = torch.tensor([[2.0, -1.0, 0.5, 4.0]])
    tokens = torch.tensor([[0]])
    for t in (0.25, 1.0, 3.0):
        assert torch.allclose(filter_logits(logits, tokens, temperature=t), logits / t)
    hot = torch.bincount(draw(logits[0], temperature=5.0), minlength=4).float()
    cold = torch.bincount(draw(logits[0], temperature=0.3), minlength=4).float()
    assert cold[3] > hot[3] and (hot > 0).all()  # hot spreads out, cold piles onto the best token


# --- top-k ----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("k", [1, 3, 7, 20, 25])
def test_top_k_masks_exactly_all_but_the_k_highest(k):
    logits = torch.randn(4, 20, generator=seeded(k))
    out = filter_logits(logits, torch.zeros(4, 1, dtype=torch.long), temperature=0.5, top_k=k)
    keep = min(k, 20)
    for row in range(4):
        best = set(logits[row].topk(keep).indices.tolist())
        assert set(torch.isfinite(out[row]).nonzero().flatten().tolist()) == best
        assert torch.equal(out[row, list(best)], logits[row, list(best)] / 0.5)
        assert (out[row][~torch.isfinite(out[row])] == float("-inf")).all()


def test_top_k_samples_only_among_the_k_highest():
    logits = torch.tensor([0.3, 2.0, -1.0, 1.9, 0.1, 1.8, -2.0, 0.0])
    picked = set(draw(logits, temperature=3.0, top_k=3).tolist())
    assert picked == {1, 3, 5}  # all three appear, nothing else does
    assert set(draw(logits, temperature=3.0).tolist()) > {1, 3, 5}  # without top_k the rest do appear


# --- top-p ----------------------------------------------------------------------------------------------------

PROBS = torch.tensor([0.05, 0.5, 0.15, 0.3])  # sorted: 1 (0.5), 3 (0.3), 2 (0.15), 0 (0.05)


@pytest.mark.parametrize("p, kept", [(0.3, {1}), (0.6, {1, 3}), (0.75, {1, 3}), (0.85, {1, 2, 3}), (0.97, {0, 1, 2, 3}),
                                     (1.0, {0, 1, 2, 3})])
def test_top_p_keeps_the_smallest_set_holding_p(p, kept):
    logits = PROBS.log()[None]
    out = filter_logits(logits, torch.zeros(1, 1, dtype=torch.long), top_p=p)
    assert set(torch.isfinite(out[0]).nonzero().flatten().tolist()) == kept
    assert torch.allclose(out[0, list(kept)], logits[0, list(kept)])
    assert sum(PROBS[i] for i in kept) >= p - 1e-6  # enough mass ...
    smaller = sorted(kept, key=lambda i: -PROBS[i])[:-1]
    assert sum(PROBS[i] for i in smaller) < p  # ... and no smaller set of the likeliest has it


@pytest.mark.parametrize("vocab, p, kept", [(2, 0.5, 1), (4, 0.5, 2), (4, 0.75, 3), (4, 0.7, 3), (4, 0.25, 1)])
def test_top_p_stops_as_soon_as_the_mass_reaches_p(vocab, p, kept):
    logits = torch.zeros(1, vocab)  # equal probabilities 1/vocab: exact in floating point
    out = filter_logits(logits, torch.zeros(1, 1, dtype=torch.long), top_p=p)
    assert torch.isfinite(out).sum().item() == kept


def test_top_p_works_row_by_row_and_only_samples_the_nucleus():
    logits = torch.stack([PROBS.log(), PROBS.flip(0).log()])  # the same mass in another order
    out = filter_logits(logits, torch.zeros(2, 1, dtype=torch.long), top_p=0.7)
    assert torch.isfinite(out).tolist() == [[False, True, False, True], [True, False, True, False]]
    picks = draw(PROBS.log(), n=4000, top_p=0.7)
    counts = torch.bincount(picks, minlength=4)
    assert counts[0] == counts[2] == 0
    assert abs(counts[1].item() / 4000 - 0.5 / 0.8) < 0.04  # renormalised within the nucleus


# --- repetition penalty ---------------------------------------------------------------------------------------

def test_repetition_penalty_lowers_every_seen_token():
    logits = torch.tensor([[2.0, -1.0, 0.5, 0.0, 3.0, -0.5]])
    seen = torch.tensor([[0, 1, 1, 5]])  # a positive, a negative (twice) and another negative logit
    out = filter_logits(logits, seen, repetition_penalty=2.0)
    assert out[0].tolist() == [1.0, -2.0, 0.5, 0.0, 3.0, -1.0]  # divided if positive, multiplied if negative, once
    before, after = torch.softmax(logits[0], -1), torch.softmax(out[0], -1)
    assert (after[[0, 1, 5]] < before[[0, 1, 5]]).all() and (after[[2, 3, 4]] > before[[2, 3, 4]]).all()
    assert torch.equal(filter_logits(logits, seen, repetition_penalty=1.0), logits)


def test_repetition_penalty_counts_the_prompt_and_steers_greedy_decoding():
    logits = torch.tensor([3.0, 2.9, 2.8, 2.7, 2.6, -5.0])
    prompt = torch.tensor([[0]])
    assert sample_tokens(Fixed(logits), prompt, 4, temperature=0) == [[0, 0, 0, 0]]
    assert sample_tokens(Fixed(logits), prompt, 4, temperature=0, repetition_penalty=10.0) == [[1, 2, 3, 4]]


def test_repetition_penalty_makes_a_model_repeat_itself_less():
    model = make("rotary", context=64)

    def repeats(penalty: float) -> int:
        rows = model.sample(4, "To", seeded(0), max_tokens=40, temperature=0.8, repetition_penalty=penalty)
        return sum(len(row) - len(set(row)) for row in rows)

    assert repeats(3.0) < repeats(1.0)


# --- length, prompts and seeds -------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["rotary", "lstm"])
def test_max_tokens_is_respected(name):
    model = make(name, max_tokens=7)
    for n in (0, 1, 5, 19):
        assert [len(row) for row in model.sample(2, "To", seeded(0), max_tokens=n)] == [n, n]
    assert [len(row) for row in model.sample(2, "To", seeded(0))] == [7, 7]  # the config's default
    assert [len(t) for t in generate_text(model, 2, seed=0, prompt="To", max_tokens=5)] == [5, 5]  # 1 char a token


@pytest.mark.parametrize("name", ["learned", "lstm"])
def test_a_prompt_as_text_or_as_ids_gives_the_same_continuation(name):
    model = make(name)
    as_text = model.sample(2, "Romeo, Romeo", seeded(4), max_tokens=15)
    assert model.sample(2, CHAR.encode("Romeo, Romeo"), seeded(4), max_tokens=15) == as_text
    assert model.sample(2, torch.tensor(CHAR.encode("Romeo, Romeo")), seeded(4), max_tokens=15) == as_text
    assert generate_text(model, 2, seed=4, prompt=CHAR.encode("Romeo, Romeo"), max_tokens=15) == \
        generate_text(model, 2, seed=4, prompt="Romeo, Romeo", max_tokens=15) == [CHAR.decode(r) for r in as_text]
    start = model.sample(1, None, seeded(4), max_tokens=15)  # no prompt: the spec's start token, a newline
    assert model.sample(1, "", seeded(4), max_tokens=15) == start == model.sample(1, "\n", seeded(4), max_tokens=15)
    with pytest.raises(ConfigError, match="prompt: token ids must be in 0..") as info:
        model.sample(1, [0, model.vocab_size])
    assert str(model.vocab_size) in str(info.value)
    with pytest.raises(ConfigError, match="'Z'"):
        model.sample(1, "ZZ top")


@pytest.mark.parametrize("name", ["rotary", "lstm"])
def test_the_same_seed_gives_the_same_text_and_another_seed_another(name):
    model = make(name)
    a = generate_text(model, 3, seed=11, prompt="To", max_tokens=25, temperature=1.2)
    assert generate_text(model, 3, seed=11, prompt="To", max_tokens=25, temperature=1.2) == a
    assert generate_text(model, 3, seed=12, prompt="To", max_tokens=25, temperature=1.2) != a
    assert len(set(a)) == 3  # one generator for the batch: every row differs
    texts = generate(model, 3, seed=11, condition="To", max_tokens=25, temperature=1.2)
    assert texts == a and all(isinstance(t, str) for t in texts)


# --- stop strings and streaming -------------------------------------------------------------------------------

def test_stop_strings_cut_the_text_before_them():
    model = make("rotary", context=16)
    options = dict(prompt="To", max_tokens=80, temperature=1.5)
    full = generate_text(model, 3, seed=2, **options)
    stop = full[0][20:22]  # a string the first text does contain
    cut = generate_text(model, 3, seed=2, stop=[stop], **options)
    for whole, part in zip(full, cut):
        assert stop not in part and whole.startswith(part)
        assert part == (whole[: whole.find(stop)] if stop in whole else whole)
    assert len(cut[0]) <= 20
    other = full[0][8]
    both = generate_text(model, 3, seed=2, stop=[stop, other], **options)  # the first of several stops wins
    assert both[0] == full[0][: min(full[0].find(stop), full[0].find(other))]


def test_sampling_stops_generating_at_a_stop_string():
    model = make("lstm")
    full = model.sample(1, "To", seeded(3), max_tokens=60, temperature=1.5)[0]
    text = CHAR.decode(full)
    stop = text[12:14]
    ids = model.sample(1, "To", seeded(3), max_tokens=60, temperature=1.5, stop=[stop])[0]
    assert ids == full[: len(ids)] and len(ids) < 60
    assert CHAR.decode(ids).endswith(stop) and CHAR.decode(ids[:-1]).find(stop) == -1
    # only the continuation is searched for stop strings, not the prompt
    prompt = "ROMEO: Wherefore art thou?"
    greedy = model.sample(1, prompt, max_tokens=10, temperature=0.0)[0]
    in_prompt_only = [c for c in prompt if c not in CHAR.decode(greedy)]
    assert in_prompt_only
    assert model.sample(1, prompt, max_tokens=10, temperature=0.0, stop=in_prompt_only) == [greedy]


def test_cut_at_stop():
    assert cut_at_stop("abc\n\ndef", ["\n\n"]) == "abc"
    assert cut_at_stop("abc\n\ndef", ["d", "\n\n"]) == "abc"
    assert cut_at_stop("abcdef", ["xyz"]) == "abcdef"
    assert cut_at_stop("abcdef", []) == "abcdef"


@pytest.mark.parametrize("stop", [None, ["e "], ["\n"]])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_streamed_pieces_add_up_to_the_returned_text(seed, stop):
    model = make("rotary", context=16)
    pieces: list[str] = []
    texts = generate_text(model, 2, seed=seed, prompt="To", max_tokens=50, temperature=1.3, stop=stop,
                          stream=pieces.append)
    assert "".join(pieces) == texts[0]  # only the first sample streams
    assert texts == generate_text(model, 2, seed=seed, prompt="To", max_tokens=50, temperature=1.3, stop=stop)
    assert all(pieces)


@pytest.fixture(scope="module")
def bpe_model():
    text = "naïve café — 日本語 🙂 the cat sat on the mat\n" * 10
    tokenizer = train_tokenizer("bpe", [text], vocab_size=270)
    return make("learned", context=16, tokenizer=tokenizer)


@pytest.mark.parametrize("seed", range(4))
def test_streaming_bpe_text_with_partial_utf8(bpe_model, seed):
    pieces: list[str] = []
    text = generate_text(bpe_model, 1, seed=seed, prompt="café", max_tokens=40, temperature=2.0, stream=pieces.append)[0]
    assert "".join(pieces) == text
    assert text == bpe_model.tokenizer.decode(bpe_model.sample(1, "café", seeded(seed), max_tokens=40, temperature=2.0)[0])


def test_the_streamer_holds_back_what_may_still_change():
    class Bytes:  # decodes ids as UTF-8 bytes, as a byte-level tokenizer does
        @staticmethod
        def decode(ids):
            return bytes(ids).decode("utf-8", errors="replace")

    out: list[str] = []
    streamer = Streamer(Bytes, [], out.append)
    for byte in "añ".encode():
        streamer(torch.tensor([byte]))
        out.append("|")
    assert "".join(out) == "a||ñ|"  # ñ only once both of its bytes are in
    out = []
    streamer = Streamer(Bytes, ["STOP"], out.append)
    for byte in "añ ST".encode():
        streamer(torch.tensor([byte]))
    assert "".join(out) == "añ"  # the last 3 characters (" ST") may be the start of "STOP"
    streamer(torch.tensor([ord("O")]))
    assert "".join(out) == "añ "  # "STO" may still be "STOP", the space before it cannot
    for byte in b"Px":
        streamer(torch.tensor([byte]))
    assert "".join(out) == "añ "  # the stop appeared: nothing more is emitted
    streamer.finish("añ ")
    assert "".join(out) == "añ "
    out.clear()
    streamer = Streamer(Bytes, ["STOP"], out.append)
    for byte in b"ab ST":
        streamer(torch.tensor([byte]))
    streamer.finish("ab STx")  # no stop after all: the held-back rest comes out at the end
    assert "".join(out) == "ab STx"


# --- options --------------------------------------------------------------------------------------------------

def test_bad_and_foreign_options_are_errors():
    model = make("rotary")
    for options, flag in [({"temperature": -0.1}, "--temperature"), ({"top_k": 0}, "--top-k"),
                          ({"top_p": 0.0}, "--top-p"), ({"top_p": 1.01}, "--top-p"),
                          ({"repetition_penalty": 0.0}, "--repetition-penalty"), ({"max_tokens": -1}, "--max-tokens")]:
        with pytest.raises(ConfigError, match=flag):
            model.sample(1, "To", **options)
    with pytest.raises(ConfigError, match="--guidance: the transformer family does not take it"):
        generate_text(model, 1, guidance=2.0)
    with pytest.raises(ConfigError, match="--num: must be at least 1"):
        generate_text(model, 0)
