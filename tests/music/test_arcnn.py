"""The AR-CNN family: it learns, inpainting touches only the hidden cells, harmonizing keeps the melody,
and its likelihood is a normalised distribution computed as the chain rule says."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from noisecraft.compose import harmonize
from noisecraft.data.base import DataSpec
from noisecraft.data.music import SATB
from noisecraft.data.music_data import roll_layout
from noisecraft.models.arcnn import ARCNN, ARCNNConfig


def tiny(objective: str, voices=SATB, steps: int = 16, pitches: int = 48, **kw) -> ARCNN:
    torch.manual_seed(0)
    spec = DataSpec(shape=(len(voices), steps, pitches), layout=roll_layout(tuple(voices), 4, 36))
    return ARCNN(ARCNNConfig(objective=objective, channels=4, depth=2, **kw), spec).eval()


def random_voices(n: int, steps: int, pitches: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(1)
    pitch = torch.randint(0, pitches + 1, (n, 4, steps), generator=g)
    return F.one_hot(pitch, pitches + 1)[..., :-1].float()


@pytest.mark.parametrize("objective", ["flip", "orderless"])
def test_it_learns_a_batch(objective, fit, chorale):
    """Bach's 4 bars in 16-step windows: the loss under one fixed draw of corruptions / masks falls."""
    torch.manual_seed(0)  # the initial weights too: unseeded, they followed whatever tests ran before
    model = tiny(objective)
    roll = torch.from_numpy(chorale.roll[:, :, 36:84].astype(np.float32))
    batch = {"x": torch.stack([roll[:, i : i + 16] for i in range(0, 48, 8)])}

    def fixed_loss() -> float:
        model.eval()
        torch.manual_seed(5)
        with torch.no_grad():
            loss = model(batch).loss.item()
        model.train()
        return loss

    before = fixed_loss()
    torch.manual_seed(0)
    fit(model, batch, steps=120, lr=1e-2)
    assert fixed_loss() < 0.9 * before  # an untrained or frozen model stays at 1.0 x


@pytest.mark.parametrize("objective,sampler", [("flip", "flip"), ("orderless", "gibbs")])
def test_inpainting_touches_only_hidden_cells(objective, sampler):
    model = tiny(objective)
    x = random_voices(3, 16, 48)
    known = torch.rand(x.shape, generator=torch.Generator().manual_seed(2)) < 0.6
    out = model.inpaint(x, known, torch.Generator().manual_seed(0), sampler=sampler, passes=0.5)
    assert torch.equal(out[known], x[known])
    assert not torch.equal(out[~known], x[~known])  # it did change hidden cells (it is not a no-op)
    again = model.inpaint(x, known, torch.Generator().manual_seed(0), sampler=sampler, passes=0.5)
    assert torch.equal(out, again)  # same seed, same result


@pytest.mark.parametrize("objective,voices", [("flip", ("all",)), ("orderless", ("all",)), ("orderless", SATB)])
def test_harmonization_never_changes_the_melody(chorale, objective, voices):
    model = tiny(objective, voices)
    melody = chorale.split_voices(("soprano",))
    for piece in harmonize(model, chorale, num=2, seed=3, passes=0.5):
        assert piece.voices == SATB
        assert (piece.roll[0] == melody.roll[0]).all() and (piece.starts()[0] == melody.starts()[0]).all()
        assert piece.roll[1:].any()  # the other voices were written
        if voices == ("all",):  # one roll: nothing may sound above the melody, or it would not be the top voice
            above = piece.frames() & (np.arange(128) > melody.to_voices()[:, :1])
            assert not above.any()


@pytest.mark.parametrize("blocks", [1, 2])
def test_likelihood_is_normalised_and_the_chain_rule(blocks):
    """All 2^(T*P) grids of a 2 x 2 roll: probabilities sum to 1; one of them by hand."""
    model = tiny("orderless", ("all",), steps=2, pitches=2, nll_blocks=blocks)
    grids = torch.tensor(list(itertools.product([0.0, 1.0], repeat=4))).view(16, 1, 2, 2)
    ll = model.log_likelihood(grids)
    assert math.isclose(float(torch.logsumexp(ll, 0)), 0.0, abs_tol=1e-5)
    x = grids[11:12]
    by_hand = 0.0
    for t in range(2):
        for b in range(blocks):
            cells = (torch.arange(2) % blocks == b)
            known = torch.zeros(1, 1, 2, 2, dtype=torch.bool)
            known[:, :, :t] = True
            known[:, :, t, torch.arange(2) % blocks < b] = True
            p = torch.sigmoid(model.cell_logits(x, known).detach())[0, 0, t]
            by_hand += float(torch.where(x[0, 0, t] > 0, p, 1 - p).log()[cells].sum())
    assert math.isclose(float(ll[11]), by_hand, rel_tol=1e-5)


def test_flip_model_has_no_likelihood():
    from noisecraft.errors import ConfigError

    with pytest.raises(ConfigError, match="orderless"):
        tiny("flip", ("all",)).log_likelihood(torch.zeros(1, 1, 16, 48))


def test_token_frame_nll_by_hand(chorale):
    """A token model that gives every token 1/V: a piece of N tokens after <s> costs N log V, whatever the
    window (the sliding windows score each token exactly once)."""
    from noisecraft.data import music_tokens
    from noisecraft.evaluate.music import token_nll
    from noisecraft.text.tokenizers import WordTokenizer

    vocab = len(music_tokens.VOCABULARY)

    class Uniform:
        tokenizer = WordTokenizer(music_tokens.VOCABULARY)
        device = torch.device("cpu")

        def __init__(self, block):
            self.spec = DataSpec(modality="tokens", shape=(block,), vocab_size=vocab)

        def token_log_probs(self, x):
            return torch.full((x.shape[0], x.shape[1] - 1), -math.log(vocab))

    n = len(music_tokens.encode(chorale)) - 1
    for block in (7, 64, 4096):
        assert math.isclose(token_nll(Uniform(block), chorale), n * math.log(vocab), rel_tol=1e-6)
