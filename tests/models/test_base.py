"""The model folder: save_pretrained / from_pretrained round trip, and nothing in a folder runs code."""

import json
from pathlib import Path

import pytest
import torch

import noisecraft
from noisecraft.data.base import DataSpec
from noisecraft.errors import CheckpointError, ConfigError
from noisecraft.models.base import GenerativeModel
from noisecraft.models.vae import VAE, VAEConfig


@pytest.fixture
def model() -> VAE:
    torch.manual_seed(0)
    return VAE(VAEConfig(latent_dim=3, channels=[4], hidden_dim=8), DataSpec(shape=(1, 8, 8))).eval()


def test_round_trip_gives_the_same_model(model: VAE, tmp_path: Path):
    folder = model.save_pretrained(tmp_path / "m")
    assert sorted(p.name for p in folder.iterdir()) == ["config.json", "model.safetensors"]
    meta = json.loads((folder / "config.json").read_text())
    assert meta["family"] == "vae" and meta["spec"]["shape"] == [1, 8, 8] and meta["config"]["latent_dim"] == 3
    loaded = GenerativeModel.from_pretrained(folder)
    assert isinstance(loaded, VAE) and not loaded.training
    for (name, a), (_, b) in zip(model.state_dict().items(), loaded.state_dict().items()):
        assert torch.equal(a, b), name
    same = [m.sample(4, generator=torch.Generator().manual_seed(1)) for m in (model, loaded)]
    assert torch.equal(*same)
    assert torch.equal(noisecraft.load(folder).sample(2, generator=torch.Generator().manual_seed(2)),
                       model.sample(2, generator=torch.Generator().manual_seed(2)))


def test_saving_over_an_existing_folder_replaces_it(model: VAE, tmp_path: Path):
    folder = model.save_pretrained(tmp_path / "m")
    (folder / "stale.txt").write_text("old")
    model.save_pretrained(folder)
    assert not (folder / "stale.txt").exists()
    assert not list(tmp_path.glob(".m-*")) and not (tmp_path / "m.old").exists()


def test_broken_folders_are_clear_errors(model: VAE, tmp_path: Path):
    with pytest.raises(CheckpointError, match="no such run or model folder"):
        noisecraft.load(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(CheckpointError, match="not a run folder .* nor a model folder"):
        noisecraft.load(tmp_path / "empty")
    folder = model.save_pretrained(tmp_path / "m")
    (folder / "model.safetensors").write_bytes(b"\x00" * 10)
    with pytest.raises(CheckpointError, match="model.safetensors: cannot load weights"):
        noisecraft.load(folder)
    (folder / "config.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="config.json: not valid JSON"):
        noisecraft.load(folder)


def test_a_model_folder_cannot_make_noisecraft_import_code(model: VAE, tmp_path: Path):
    folder = model.save_pretrained(tmp_path / "m")
    meta = json.loads((folder / "config.json").read_text())
    meta["family"] = "os:system"  # allowed in recipes you write, never in folders you receive
    (folder / "config.json").write_text(json.dumps(meta))
    with pytest.raises(ConfigError, match="unknown family 'os:system'"):
        noisecraft.load(folder)


def test_weights_of_the_wrong_shape_are_refused(model: VAE, tmp_path: Path):
    folder = model.save_pretrained(tmp_path / "m")
    meta = json.loads((folder / "config.json").read_text())
    meta["config"]["latent_dim"] = 5
    (folder / "config.json").write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match="cannot load weights"):
        noisecraft.load(folder)
