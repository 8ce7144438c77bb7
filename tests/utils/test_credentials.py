"""Content credentials: every image family's output signs and verifies; a changed pixel, a stripped manifest,
another key and other weights are each reported as such; keys live in the config folder."""

from __future__ import annotations

import io
import os
import stat
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from noisecraft.cli.main import run as cli
from noisecraft.models.registry import load_recipe
from noisecraft.data import build_dataset
from noisecraft.errors import ConfigError
from noisecraft.models.provenance import image_claims, weights_sha256
from noisecraft.models.registry import get_family
from noisecraft.utils.credentials import verify_png
from noisecraft.utils.images import save_each, save_grid
from noisecraft.utils.signing_keys import create_local_key, signing_key

from .pngs import change_one_pixel, chunks, without

IMAGE_RECIPES = ["mnist-vae-tiny", "mnist-vqvae-tiny", "mnist-gan-tiny", "mnist-diffusion-tiny", "mnist-pixelcnn-tiny",
                 "mnist-flow-tiny", "mnist-diffusion-cond-tiny"]


def tiny_model(recipe: str, seed: int = 0):
    resolved = load_recipe(recipe)
    torch.manual_seed(seed)
    return get_family(resolved.model.family)(resolved.model, build_dataset(resolved.recipe.data, "test").spec).eval()


@pytest.fixture(scope="module")
def signed(tmp_path_factory) -> Path:
    """Two signed samples of a tiny VAE."""
    model = tiny_model("mnist-vae-tiny")
    return save_each(model.sample(2, generator=torch.Generator().manual_seed(0)), tmp_path_factory.mktemp("signed"),
                     claims=image_claims(model, {"seed": 0, "num": 2}, name="vae"))[0]


@pytest.mark.parametrize("recipe", IMAGE_RECIPES)
def test_every_family_output_round_trips(recipe: str, tmp_path: Path):
    model = tiny_model(recipe)
    images = model.sample(2, generator=torch.Generator().manual_seed(1))
    path = save_grid(images, tmp_path / "grid.png", claims=image_claims(model, {"seed": 1, "num": 2}, name=recipe))
    found = verify_png(path.read_bytes(), str(path))
    assert found.status == "verified" and found.yours and found.ai_generated, found.message
    assert found.source_type == "trainedAlgorithmicMedia"
    assert found.model == {"family": model.family, "weights_sha256": weights_sha256(model),
                           "parameters": model.num_parameters(), "name": recipe}
    assert found.settings == {"seed": 1, "num": 2}
    assert Image.open(path).size[0] > images.shape[-1]  # the grid itself, readable by any PNG reader


@pytest.mark.parametrize("recipe", ["zelda-vae-tiny", "smb-transformer-tiny"])
def test_level_drawings_round_trip(recipe: str):
    from noisecraft.models.levels import generate_levels, level_png

    resolved = load_recipe(recipe)
    torch.manual_seed(0)
    model = get_family(resolved.model.family)(resolved.model, build_dataset(resolved.recipe.data).spec).eval()
    (level,) = generate_levels(model, 1, None if "zelda" in recipe else 20, seed=0)
    found = verify_png(level_png(level, model, claims=image_claims(model, {"seed": 0})))
    assert found.ok and found.model["family"] == model.family and found.settings == {"seed": 0}


def test_a_signed_file_keeps_its_settings_chunk(tmp_path: Path):
    from noisecraft.utils.images import png_bytes

    model = tiny_model("mnist-vae-tiny")
    png = png_bytes(model.sample(1)[0], {"noisecraft": '{"seed": 5}'}, image_claims(model, {"seed": 5}))
    assert Image.open(io.BytesIO(png)).info["noisecraft"] == '{"seed": 5}'
    assert b"caBX" in [kind for kind, _ in chunks(png)] and verify_png(png).ok


def test_one_changed_pixel_is_detected(signed: Path, tmp_path: Path, capsys):
    changed = tmp_path / "changed.png"
    changed.write_bytes(change_one_pixel(signed.read_bytes(), 3, 4))
    before, after = (torch.from_numpy(np.array(Image.open(p))) for p in (signed, changed))
    assert int((before != after).sum()) == 1  # exactly one pixel differs, by one level
    found = verify_png(changed.read_bytes())
    assert found.status == "altered" and not found.ok and any("dataHash.mismatch" in f for f in found.failures)
    assert cli(["verify", str(signed), str(changed)]) == 3
    out = capsys.readouterr().out
    assert f"{signed}: verified" in out and f"{changed}: altered: the file was changed after it was signed" in out


@pytest.mark.parametrize("how", ["chunk removed", "re-saved by an editor"])
def test_a_stripped_manifest_says_no_credentials(signed: Path, tmp_path: Path, capsys, how: str):
    stripped = tmp_path / "stripped.png"
    if how == "chunk removed":
        stripped.write_bytes(without(signed.read_bytes(), b"caBX"))
    else:
        Image.open(signed).save(stripped)
    found = verify_png(stripped.read_bytes())
    assert found.status == "none" and not found.ok
    assert cli(["verify", str(stripped)]) == 3
    assert "none: no credentials" in capsys.readouterr().out


def test_a_signature_from_another_key_is_reported_as_such(signed: Path, tmp_path: Path, monkeypatch, capsys):
    mine = os.environ["NOISECRAFT_CONFIG"]
    monkeypatch.setenv("NOISECRAFT_CONFIG", str(tmp_path / "someone-else"))
    model = tiny_model("mnist-vae-tiny")
    theirs = save_grid(model.sample(1), tmp_path / "theirs.png", claims=image_claims(model, {"seed": 0}))
    assert verify_png(theirs.read_bytes()).yours  # to its own signer, it is theirs
    monkeypatch.setenv("NOISECRAFT_CONFIG", mine)
    found = verify_png(theirs.read_bytes())
    assert found.status == "untrusted" and not found.yours and found.failures == ["signingCredential.untrusted"]
    assert "signed by another key" in found.message
    assert cli(["verify", str(theirs)]) == 3
    assert "untrusted: signed by another key" in capsys.readouterr().out
    # trusting their authority makes it verified, still not "yours"
    authority = tmp_path / "someone-else" / "credentials" / "authority.pem"
    assert cli(["verify", str(theirs), "--trust", str(authority)]) == 0
    assert "signed by a trusted key" in capsys.readouterr().out


def test_verify_checks_the_model_that_made_the_images(tmp_path: Path, capsys):
    folder = tiny_model("mnist-vae-tiny").save_pretrained(tmp_path / "model")
    assert cli(["sample", str(folder), "--num", "3", "--seed", "4", "--out", str(tmp_path / "each")]) == 0
    files = sorted((tmp_path / "each").glob("*.png"))
    capsys.readouterr()
    assert cli(["verify", *map(str, files), "--model", str(folder)]) == 0
    out = capsys.readouterr().out
    assert out.count("matches --model") == 3 and '"seed": 4' in out and '"index": 2' in out
    other = tiny_model("mnist-vae-tiny", seed=1).save_pretrained(tmp_path / "other")
    assert cli(["verify", str(files[0]), "--model", str(other)]) == 3
    assert "other-model" in capsys.readouterr().out


def test_key_is_made_on_first_use_in_the_config_folder_and_is_private(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("NOISECRAFT_CONFIG", str(tmp_path / "cfg"))
    key = signing_key()
    folder = tmp_path / "cfg" / "credentials"
    assert key.alg == "es256" and key.source == str(folder / "signing-key.pem")
    assert stat.S_IMODE((folder / "signing-key.pem").stat().st_mode) == 0o600
    assert signing_key() == key  # made once, then read


def test_a_user_supplied_key_signs_and_a_mismatched_one_is_refused(tmp_path: Path, monkeypatch):
    create_local_key(tmp_path / "org")  # stands in for an organisation's key and chain
    create_local_key(tmp_path / "stray")
    monkeypatch.setenv("NOISECRAFT_SIGNING_KEY", str(tmp_path / "org" / "signing-key.pem"))
    monkeypatch.setenv("NOISECRAFT_SIGNING_CERT", str(tmp_path / "org" / "signing-chain.pem"))
    model = tiny_model("mnist-vae-tiny")
    path = save_grid(model.sample(1), tmp_path / "org.png", claims=image_claims(model, {"seed": 0}))
    found = verify_png(path.read_bytes())
    assert found.status == "verified" and found.yours  # its chain's root is trusted while it is configured
    monkeypatch.setenv("NOISECRAFT_SIGNING_CERT", str(tmp_path / "stray" / "signing-chain.pem"))
    with pytest.raises(ConfigError, match="not the certificate of the key"):
        signing_key()
    monkeypatch.delenv("NOISECRAFT_SIGNING_CERT")
    with pytest.raises(ConfigError, match="set both"):
        signing_key()


def test_verify_of_a_missing_file_is_one_error_line(tmp_path: Path, capsys):
    assert cli(["verify", str(tmp_path / "nope.png")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and "nope.png" in err and "Traceback" not in err
