"""VQ-VAE: quantiser maths, codebook usage and restarts, codes in and out, training from the CLI."""

from __future__ import annotations

import pytest
import torch

import noisecraft
from noisecraft.cli.main import run
from noisecraft.data.base import DataSpec
from noisecraft.errors import ConfigError
from noisecraft.models.vqvae import VQVAE, VQVAEConfig
from noisecraft.models.vqvae.model import Quantizer


def make(**config) -> VQVAE:
    torch.manual_seed(0)
    return VQVAE(VQVAEConfig(**{"codebook_size": 16, "code_dim": 4, "channels": [8, 16], **config}), DataSpec(shape=(1, 28, 28)))


def test_nearest_code_and_straight_through_gradient():
    q = Quantizer(4, 2, decay=0.9, restart_after=100).eval()
    q.codebook.copy_(torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [5.0, 5.0]]))
    z = torch.tensor([[0.9, 0.1], [0.1, 0.8], [4.0, 4.5], [-0.2, 0.1]])
    z_q, codes = q(z)
    assert codes.tolist() == [1, 2, 3, 0] and torch.equal(z_q, q.codebook[codes])
    model = make()
    z_e = torch.randn(2, 4, 7, 7, requires_grad=True)
    z_st, _ = model.quantize(z_e)
    z_st.sum().backward()
    assert torch.equal(z_e.grad, torch.ones_like(z_e))  # straight through


def test_codebook_follows_its_vectors_and_dead_codes_restart():
    q = Quantizer(8, 2, decay=0.5, restart_after=3).train()
    z = torch.tensor([[3.0, 3.0]] * 10)
    for _ in range(20):
        q(z)
    used = q.codes(z)[0]
    assert torch.allclose(q.codebook[used], torch.tensor([3.0, 3.0]), atol=1e-2)
    assert (q.unused_steps < 3).all()  # every unused code was restarted on a batch vector
    q2 = Quantizer(8, 2, decay=0.5, restart_after=1000).train()
    for _ in range(5):
        q2(z)
    assert (q2.unused_steps == 5).sum() == 7  # without restarts they stay dead


def test_training_spreads_usage_and_reconstructs_better():
    model = make(restart_after=5)
    x = (torch.rand(64, 1, 28, 28) > 0.8).float()
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    first = None
    for _ in range(40):
        out = model({"x": x})
        first = first if first is not None else out.logs["recon"].item()
        opt.zero_grad()
        out.loss.backward()
        opt.step()
    assert out.logs["recon"].item() < first
    assert out.logs["codes_used"] > 2 / 16


def test_codes_round_trip_and_sampling():
    model = make().eval()
    x = torch.rand(3, 1, 28, 28)
    codes = model.encode_codes(x)
    assert codes.shape == (3, 7, 7) and codes.dtype == torch.long and 0 <= codes.min() and codes.max() < 16
    assert torch.equal(model.decode_codes(codes), model.reconstruct(x))
    assert torch.equal(model.encode_codes(model.decode_codes(codes) * 0 + x), codes)
    with pytest.raises(ConfigError, match="codes must be in 0..15"):
        model.decode_codes(torch.full((1, 7, 7), 16))
    s = model.sample(4, generator=torch.Generator().manual_seed(0))
    assert s.shape == (4, 1, 28, 28) and torch.equal(s, model.sample(4, generator=torch.Generator().manual_seed(0)))


def test_cli_trains_saves_and_reconstructs(tmp_path):
    out = tmp_path / "vq"
    assert run(["train", "mnist-vqvae-tiny", "--out", str(out), "--quiet"]) == 0
    header = (out / "metrics.csv").read_text().splitlines()[0].split(",")
    assert {"recon", "commitment", "codes_used"} <= set(header)
    model = noisecraft.load(out)
    assert model.family == "vqvae" and int(model.quantizer.unused_steps.max()) < 5 + 1
    assert run(["sample", str(out), "--reconstruct", "--num", "4", "--out", str(tmp_path / "r.png")]) == 0
    assert run(["sample", str(out), "--num", "4", "--out", str(tmp_path / "s.png")]) == 0
