"""The transformer and the LSTM: causal, exact likelihoods, able to learn a text by heart, and saved with their
tokenizer in a model folder."""

from __future__ import annotations

import itertools
import json
import math

import numpy as np
import pytest
import torch

import noisecraft
from noisecraft.data.base import DataSpec
from noisecraft.data.text import TokenDataset
from noisecraft.errors import ConfigError
from noisecraft.evaluate.token_metrics import token_report
from noisecraft.models.autoregressive import LSTM, LSTMConfig, Transformer, TransformerConfig
from noisecraft.models.base import GenerativeModel
from noisecraft.text.tokenizers import CharTokenizer, Tokenizer, train_tokenizer

TEXT = ("First Citizen:\nBefore we proceed any further, hear me speak.\n\nAll:\nSpeak, speak.\n\n"
        "First Citizen:\nYou are all resolved rather to die than to famish?\n\nAll:\nResolved. resolved.\n\n"
        "First Citizen:\nFirst, you")
CHAR = CharTokenizer.train([TEXT])
FAMILIES = ["rotary", "learned", "lstm"]


def spec(context: int, tokenizer: Tokenizer = CHAR) -> DataSpec:
    return DataSpec(modality="tokens", shape=(context,), vocab_size=tokenizer.vocab_size,
                    tokenizer=tokenizer.to_dict(), start_tokens=[0])


def make(name: str, context: int = 16, tokenizer: Tokenizer = CHAR, seed: int = 0, **config):
    torch.manual_seed(seed)
    if name == "lstm":
        return LSTM(LSTMConfig(**{"layers": 1, "hidden": 32, **config}), spec(context, tokenizer))
    config = {"layers": 2, "heads": 2, "dim": 16, "positions": name, **config}
    return Transformer(TransformerConfig(**config), spec(context, tokenizer))


def random_tokens(shape, vocab: int, seed: int = 0) -> torch.Tensor:
    return torch.randint(0, vocab, shape, generator=torch.Generator().manual_seed(seed))


# --- causality ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", FAMILIES)
def test_a_token_changes_no_logit_before_it_and_the_logits_from_it_on(name):
    model = make(name, context=12, layers=2).eval()
    x = random_tokens((2, 12), model.vocab_size)
    base = model.logits(x)
    assert base.shape == (2, 12, model.vocab_size)
    for j in range(12):
        y = x.clone()
        y[:, j] = (y[:, j] + 1 + torch.arange(2)) % model.vocab_size
        out = model.logits(y)
        assert torch.allclose(out[:, :j], base[:, :j], atol=1e-6, rtol=0), f"position {j} leaks backwards"
        changed = (out - base).abs().amax(dim=-1) > 1e-6  # [2, 12]
        assert changed[:, j].all(), f"the token at {j} does not affect its own position's logits"
        if j < 11:
            assert changed[:, j + 1 :].any(), f"the token at {j} does not affect anything after it"


@pytest.mark.parametrize("name", ["rotary", "learned"])
def test_causality_holds_in_training_mode_too(name):
    model = make(name, context=10).train()  # no dropout in these configs: training mode is deterministic
    x = random_tokens((1, 10), model.vocab_size, seed=3)
    y = x.clone()
    y[0, 6] = (y[0, 6] + 1) % model.vocab_size
    assert torch.equal(model.logits(x)[:, :6], model.logits(y)[:, :6])


# --- likelihood ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", FAMILIES)
def test_log_likelihood_is_the_sum_of_log_softmax_by_hand(name):
    model = make(name, context=9).eval()
    x = random_tokens((3, 10), model.vocab_size, seed=1)
    logits = model.logits(x[:, :-1]).double()
    by_hand = torch.zeros(3, dtype=torch.float64)
    for i in range(3):
        for t in range(9):
            row = logits[i, t]
            by_hand[i] += row[x[i, t + 1]] - torch.log(torch.exp(row - row.max()).sum()) - row.max()
    assert torch.allclose(model.log_likelihood(x).double(), by_hand, atol=1e-4, rtol=0)
    per_token = model.token_log_probs(x)
    assert per_token.shape == (3, 9) and (per_token <= 0).all()
    assert torch.allclose(model({"x": x}).loss, -per_token.mean(), atol=1e-5)


@pytest.mark.parametrize("name", FAMILIES)
def test_the_likelihood_of_every_continuation_sums_to_one(name):
    tok = CharTokenizer(list("abc"))
    model = make(name, context=4, tokenizer=tok).eval()
    first = torch.tensor([1])
    continuations = torch.tensor(list(itertools.product(range(3), repeat=4)))  # all 81 of length 4
    x = torch.cat([first.expand(len(continuations), 1), continuations], dim=1)
    total = model.log_likelihood(x).double().exp().sum()
    assert total.item() == pytest.approx(1.0, abs=1e-5)


def test_token_report_units_on_a_bpe_dataset():
    text = "the cat sat on the mat, naïve café 🙂\n" * 12
    tok = train_tokenizer("bpe", [text], vocab_size=280)
    tokens = np.asarray(tok.encode(text), dtype=np.uint16)
    model = make("rotary", context=8, tokenizer=tok).eval()
    data = TokenDataset(tokens, 8, tok, stride=3)  # the report reads non-overlapping windows whatever the stride
    report = token_report(model, data, batch_size=4, progress=False)
    windows = (len(tokens) - 9) // 8 + 1
    x = torch.stack([torch.from_numpy(tokens[i * 8 : i * 8 + 9].astype(np.int64)) for i in range(windows)])
    nats = -model.log_likelihood(x).double().sum().item()
    characters = len(tok.decode(tokens[1 : windows * 8 + 1].tolist()))
    assert characters > windows * 8  # BPE: more characters than tokens, so the units really differ
    assert (report["windows"], report["tokens"], report["characters"]) == (windows, windows * 8, characters)
    loss = report["loss_nats_per_token"]
    assert loss == pytest.approx(nats / (windows * 8), rel=1e-5)
    assert report["bits_per_character"] == pytest.approx(loss * report["tokens"] / report["characters"] / math.log(2),
                                                         rel=1e-9)
    assert report["perplexity"] == pytest.approx(math.exp(loss), rel=1e-9)
    few = token_report(model, data, max_windows=2, progress=False)
    assert few["windows"] == 2 and few["tokens"] == 16
    assert few["loss_nats_per_token"] == pytest.approx(-model.log_likelihood(x[:2]).sum().item() / 16, rel=1e-5)


# --- learning ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", FAMILIES)
def test_a_tiny_model_learns_a_short_text_by_heart(name, fit):
    model = make(name, context=len(TEXT) - 1)
    assert sum(p.numel() for p in model.parameters()) < 12_000
    ids = torch.tensor([CHAR.encode(TEXT)])
    losses = fit(model, {"x": ids}, steps=150, lr=1e-2)
    assert losses[0] > 3.0 and losses[-1] < 0.1
    model.eval()
    prompt = 16
    continuation = model.sample(1, TEXT[:prompt], max_tokens=len(TEXT) - prompt, temperature=0)[0]
    assert CHAR.decode(continuation) == TEXT[prompt:]


# --- model folders -------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def bpe() -> Tokenizer:
    return train_tokenizer("bpe", ["naïve café — 日本語 🙂 " + TEXT], vocab_size=270)


@pytest.mark.parametrize("name, tied", [("rotary", True), ("learned", True), ("lstm", True), ("learned", False)])
def test_a_model_folder_round_trip_gives_the_same_logits_and_samples(tmp_path, bpe, name, tied):
    model = make(name, context=16, tokenizer=bpe, tie_weights=tied, max_tokens=9, temperature=0.7).eval()
    folder = model.save_pretrained(tmp_path / "model")
    meta = json.loads((folder / "config.json").read_text())
    assert meta["spec"]["tokenizer"] == bpe.to_dict() and meta["spec"]["modality"] == "tokens"
    assert meta["config"]["tie_weights"] is tied and meta["config"]["max_tokens"] == 9
    loaded = GenerativeModel.from_pretrained(folder)
    assert type(loaded) is type(model) and not loaded.training
    assert (loaded.head.weight is loaded.embed.weight) is tied
    x = random_tokens((2, 16), model.vocab_size)
    assert torch.equal(loaded.logits(x), model.logits(x))
    prompt = "naïve café"
    assert loaded.tokenizer.encode(prompt) == bpe.encode(prompt)
    assert loaded.sample(3, prompt, torch.Generator().manual_seed(4)) == \
        model.sample(3, prompt, torch.Generator().manual_seed(4))
    assert noisecraft.load(folder).sample(2, None, torch.Generator().manual_seed(1)) == \
        model.sample(2, None, torch.Generator().manual_seed(1))


def test_tied_weights_stay_tied_through_training_after_loading(tmp_path):
    model = make("rotary", context=8)
    loaded = GenerativeModel.from_pretrained(model.save_pretrained(tmp_path / "m"))
    optimizer = torch.optim.SGD(loaded.parameters(), lr=0.5)
    loaded({"x": random_tokens((2, 9), loaded.vocab_size)}).loss.backward()
    optimizer.step()
    assert torch.equal(loaded.head.weight, loaded.embed.weight)
    assert not torch.equal(loaded.embed.weight, model.embed.weight)


# --- configs that do not fit ---------------------------------------------------------------------------------

def test_configs_and_data_must_fit():
    with pytest.raises(ValueError, match=r"model.dim \(30\) must split into 4 heads"):
        TransformerConfig(dim=30, heads=4)
    with pytest.raises(ValueError, match="of even size"):
        TransformerConfig(dim=18, heads=2, positions="rotary")
    assert TransformerConfig(dim=18, heads=2, positions="learned").dim == 18
    with pytest.raises(ConfigError, match="the transformer family models tokens data, but the data is image"):
        Transformer(TransformerConfig(dim=16, heads=2), DataSpec(modality="image", shape=(1, 8, 8)))
    with pytest.raises(ConfigError, match="lstm family models token streams; the data spec has no vocab_size"):
        LSTM(LSTMConfig(hidden=8), DataSpec(modality="tokens", shape=(8,)))
