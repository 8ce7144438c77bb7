"""Transformer and LSTM: causality, exact likelihood, learning a text, model folders."""

from __future__ import annotations

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
from noisecraft.text.tokenizers import CharTokenizer

TEXT = "To be, or not to be, that is the question:\nWhether 'tis nobler in the mind to suffer\n"
TOKENIZER = CharTokenizer(sorted(set(TEXT)))


def spec(context: int = 16) -> DataSpec:
    return DataSpec(modality="tokens", shape=(context,), vocab_size=TOKENIZER.vocab_size,
                    tokenizer=TOKENIZER.to_dict(), start_tokens=TOKENIZER.encode("\n"))


def build(name: str, context: int = 16, **kw):
    torch.manual_seed(0)
    if name == "lstm":
        return LSTM(LSTMConfig(layers=1, hidden=32, **kw), spec(context))
    return Transformer(TransformerConfig(layers=2, heads=2, dim=32, positions=name, **kw), spec(context))


@pytest.mark.parametrize("name", ["rotary", "learned", "lstm"])
def test_a_future_token_never_changes_an_earlier_logit(name):
    model = build(name).eval()
    x = torch.randint(0, model.vocab_size, (2, 16))
    base = model.logits(x)
    for j in (0, 7, 15):
        y = x.clone()
        y[:, j] = (y[:, j] + 1) % model.vocab_size
        out = model.logits(y)
        assert torch.equal(out[:, :j], base[:, :j])
        assert not torch.allclose(out[:, j:], base[:, j:])


@pytest.mark.parametrize("name", ["rotary", "lstm"])
def test_log_likelihood_is_the_sum_of_next_token_log_probs(name):
    model = build(name).eval()
    x = torch.randint(0, model.vocab_size, (3, 17))
    logits = model.logits(x[:, :-1])
    by_hand = sum(torch.log_softmax(logits[:, t], -1)[torch.arange(3), x[:, t + 1]] for t in range(16))
    assert torch.allclose(model.log_likelihood(x), by_hand, atol=1e-4)
    assert torch.allclose(-model(({"x": x})).loss * 16 * 3, by_hand.sum(), atol=1e-3)


@pytest.mark.parametrize("name", ["rotary", "lstm"])
def test_a_tiny_model_learns_a_short_text_by_heart(name):
    model = build(name, context=len(TEXT) - 1)
    ids = torch.tensor([TOKENIZER.encode(TEXT)])
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    first = None
    for _ in range(150):
        loss = model({"x": ids}).loss
        first = first if first is not None else loss.item()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert first > 2.5 and loss.item() < 0.2
    model.eval()
    out = model.sample(1, TEXT[:10], max_tokens=30, temperature=0)[0]
    assert TOKENIZER.decode(out) == TEXT[10:40]


def test_token_report_units(tmp_path):
    model = build("rotary", context=8).eval()
    tokens = np.array(TOKENIZER.encode(TEXT * 2), dtype=np.uint16)
    data = TokenDataset(tokens, 8, TOKENIZER, stride=3)  # the report reads non-overlapping windows anyway
    report = token_report(model, data, progress=False)
    windows = (len(tokens) - 9) // 8 + 1
    assert report["windows"] == windows and report["tokens"] == windows * 8 == report["characters"]
    x = torch.stack([torch.from_numpy(tokens[i * 8 : i * 8 + 9].astype(np.int64)) for i in range(windows)])
    assert report["loss_nats_per_token"] == pytest.approx(-model.log_likelihood(x).sum().item() / (windows * 8), rel=1e-5)
    assert report["bits_per_character"] == pytest.approx(report["loss_nats_per_token"] / math.log(2))
    assert report["perplexity"] == pytest.approx(math.exp(report["loss_nats_per_token"]))


@pytest.mark.parametrize("name", ["rotary", "lstm"])
def test_model_folder_round_trip(tmp_path, name):
    model = build(name).eval()
    folder = model.save_pretrained(tmp_path / "model")
    meta = json.loads((folder / "config.json").read_text())
    assert meta["spec"]["tokenizer"] == TOKENIZER.to_dict() and meta["family"] == model.family
    loaded = noisecraft.load(folder)
    x = torch.randint(0, model.vocab_size, (2, 16))
    assert torch.equal(loaded.logits(x), model.logits(x))
    assert loaded.head.weight.data_ptr() == loaded.embed.weight.data_ptr()  # still tied
    sample = lambda m: m.sample(2, "To", torch.Generator().manual_seed(0), max_tokens=20)  # noqa: E731
    assert sample(loaded) == sample(model)


def test_configs_and_data_must_fit():
    with pytest.raises(ValueError, match="must split into 3 heads"):
        TransformerConfig(dim=32, heads=3)
    image = DataSpec(modality="image", shape=(1, 28, 28))
    with pytest.raises(ConfigError, match="the transformer family models tokens data, but the data is image"):
        Transformer(TransformerConfig(), image)
