"""The generation loop and its options, on tiny untrained models and hand-made logits."""

from __future__ import annotations

import pytest
import torch

from noisecraft.data.base import DataSpec
from noisecraft.errors import ConfigError
from noisecraft.models.autoregressive import LSTM, LSTMConfig, Transformer, TransformerConfig, filter_logits
from noisecraft.models.autoregressive.sampling import window_start
from noisecraft.sampling import Streamer, cut_at_stop, generate, generate_text
from noisecraft.text.tokenizers import CharTokenizer

CHARS = list("\n !,.:?ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")


def spec(context: int = 8) -> DataSpec:
    tok = CharTokenizer(CHARS)
    return DataSpec(modality="tokens", shape=(context,), vocab_size=tok.vocab_size, tokenizer=tok.to_dict(),
                    start_tokens=tok.encode("\n"))


def models(context: int = 8):
    torch.manual_seed(0)
    return {
        "rotary": Transformer(TransformerConfig(layers=2, heads=2, dim=16), spec(context)).eval(),
        "learned": Transformer(TransformerConfig(layers=2, heads=2, dim=16, positions="learned"), spec(context)).eval(),
        "lstm": LSTM(LSTMConfig(layers=2, hidden=16), spec(context)).eval(),
    }


@pytest.mark.parametrize("name", ["rotary", "learned", "lstm"])
def test_cached_sampling_equals_uncached_past_the_context(name):
    model = models(context=8)[name]
    for seed in range(3):
        kw = dict(condition="ROMEO:", max_tokens=30, temperature=1.5)
        cached = model.sample(2, generator=torch.Generator().manual_seed(seed), use_cache=True, **kw)
        plain = model.sample(2, generator=torch.Generator().manual_seed(seed), use_cache=False, **kw)
        assert cached == plain and all(len(row) == 30 for row in cached)


@pytest.mark.parametrize("name", ["rotary", "learned"])
def test_cached_logits_equal_the_full_forward(name):
    model = models(context=16)[name]
    x = torch.randint(0, model.vocab_size, (3, 16))
    cache = model.new_cache(3)
    pieces = [model.logits(x[:, :5], cache), model.logits(x[:, 5:6], cache), model.logits(x[:, 6:], cache)]
    assert torch.allclose(torch.cat(pieces, 1), model.logits(x), atol=1e-5)
    with pytest.raises(ValueError, match="exceed the context"):
        model.logits(x[:, :1], cache)


def test_window_keeps_the_last_half_when_full():
    assert window_start(5, 0, 8, first=True) == 0
    assert window_start(12, 0, 8, first=True) == 4  # a long prompt: its last 8 tokens
    assert window_start(9, 0, 8, first=False) == 5  # then the last half
    assert window_start(9, 5, 8, first=False) == 5
    assert window_start(10**6, 0, None, first=False) == 0  # recurrent: no limit


def test_greedy_ignores_the_seed_and_top_k_1_is_greedy():
    model = models()["rotary"]
    greedy = [model.sample(1, "AB", torch.Generator().manual_seed(s), max_tokens=12, temperature=0) for s in range(3)]
    assert greedy[0] == greedy[1] == greedy[2]
    assert model.sample(1, "AB", torch.Generator().manual_seed(7), max_tokens=12, top_k=1) == greedy[0]
    seeded = [model.sample(1, "AB", torch.Generator().manual_seed(s), max_tokens=12, temperature=2.0) for s in range(2)]
    assert seeded[0] != seeded[1]


def test_filters_on_hand_made_logits():
    logits = torch.tensor([[3.0, 1.0, 2.0, 0.0, -1.0]])
    tokens = torch.tensor([[0]])
    top2 = filter_logits(logits, tokens, top_k=2)
    assert torch.isfinite(top2).tolist() == [[True, False, True, False, False]]
    p = torch.softmax(logits, -1)[0]  # sorted: 0 (0.64), 2 (0.24), 1 (0.09) ...
    nucleus = filter_logits(logits, tokens, top_p=float(p[0] + p[2]) - 1e-4)
    assert torch.isfinite(nucleus).tolist() == [[True, False, True, False, False]]
    assert torch.isfinite(filter_logits(logits, tokens, top_p=0.01)).sum() == 1  # the top token always stays
    hot = filter_logits(logits, tokens, temperature=2.0)
    assert torch.allclose(hot, logits / 2)
    seen = torch.tensor([[0, 4]])
    penalised = filter_logits(logits, seen, repetition_penalty=2.0)
    assert penalised[0].tolist() == [1.5, 1.0, 2.0, 0.0, -2.0]  # positive halved, negative doubled


def test_top_k_samples_only_among_the_k_best():
    model = models()["learned"]
    torch.manual_seed(0)
    seen = set()
    original = model.logits

    def spy(tokens, cache=None):
        out = original(tokens, cache)
        seen.add(tuple(out[0, -1].topk(3).indices.tolist()))
        spy.last = out[0, -1].topk(3).indices.tolist()
        return out

    picks = []
    model.logits = spy
    model.sample(1, "A", torch.Generator().manual_seed(0), max_tokens=20, top_k=3, temperature=5.0,
                 on_step=lambda t: picks.append((int(t[0]), spy.last)))
    assert all(token in best for token, best in picks) and len({t for t, _ in picks}) > 1


def test_repetition_penalty_makes_repeats_rarer():
    model = models()["rotary"]
    def repeats(penalty):
        rows = model.sample(4, "A", torch.Generator().manual_seed(0), max_tokens=40, temperature=0.7,
                            repetition_penalty=penalty)
        return sum(len(r) - len(set(r)) for r in rows)
    assert repeats(5.0) < repeats(1.0)


def test_bad_options_are_errors():
    model = models()["rotary"]
    for kw, flag in [({"temperature": -1}, "--temperature"), ({"top_k": 0}, "--top-k"), ({"top_p": 1.5}, "--top-p"),
                     ({"repetition_penalty": 0}, "--repetition-penalty"), ({"max_tokens": -2}, "--max-tokens")]:
        with pytest.raises(ConfigError, match=flag):
            model.sample(1, "A", **kw)
    with pytest.raises(ConfigError, match="prompt: token ids must be in"):
        model.sample(1, [999])
    with pytest.raises(ConfigError, match="--steps: the transformer family does not take it"):
        generate(model, 1, steps=4)


def test_prompt_as_text_or_ids_and_max_tokens():
    model = models()["lstm"]
    tok = model.tokenizer
    a = model.sample(2, "HI", torch.Generator().manual_seed(1), max_tokens=7)
    b = model.sample(2, tok.encode("HI"), torch.Generator().manual_seed(1), max_tokens=7)
    assert a == b and [len(r) for r in a] == [7, 7]
    assert model.sample(1, "HI", max_tokens=0) == [[]]


def test_stop_strings_cut_the_text_and_streaming_matches():
    model = models()["rotary"]
    full = generate_text(model, 1, seed=3, prompt="A", max_tokens=60, temperature=1.5)[0]
    stop = full[10:12]  # a string that occurs in this generation
    pieces: list[str] = []
    cut = generate_text(model, 1, seed=3, prompt="A", max_tokens=60, temperature=1.5, stop=[stop], stream=pieces.append)[0]
    assert cut == full[: full.find(stop)] and stop not in cut
    assert "".join(pieces) == cut
    pieces.clear()
    again = generate_text(model, 1, seed=3, prompt="A", max_tokens=60, temperature=1.5, stream=pieces.append)[0]
    assert again == full and "".join(pieces) == full
    assert cut_at_stop("abc\n\ndef", ["\n\n", "d"]) == "abc"


def test_streamer_holds_back_a_possible_stop_and_partial_utf8():
    class Bytes:  # decodes byte ids as UTF-8, like a byte-level tokenizer
        @staticmethod
        def decode(ids):
            return bytes(ids).decode("utf-8", errors="replace")

    out: list[str] = []
    streamer = Streamer(Bytes, ["END"], out.append)
    for b in "hé E".encode():
        streamer(torch.tensor([b]))
    assert "".join(out) == "hé"  # "é" only once both its bytes arrived; " E" could start "END"
    streamer.finish("hé Ex")
    assert "".join(out) == "hé Ex"


def test_generate_returns_texts_for_token_models():
    model = models()["rotary"]
    texts = generate(model, 3, seed=0, condition="AB", max_tokens=5)
    assert isinstance(texts, list) and len(texts) == 3 and all(isinstance(t, str) and len(t) == 5 for t in texts)
    assert texts == generate(model, 3, seed=0, condition="AB", max_tokens=5)
