"""The shipped models: each loads offline, matches its checksums and samples; `pretrained:NAME` resolves in
every verb that takes a run folder; a changed file is refused."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

import noisecraft
from noisecraft.cli.main import run
from noisecraft.errors import CheckpointError
from noisecraft.utils import pretrained as P
from noisecraft.serve.service import load_models

NAMES = P.pretrained_names()
CARD_KEYS = {"name", "description", "family", "recipe", "overrides", "command", "data", "data_licence", "training",
             "metrics", "summary", "files"}


def cli(capsys, *argv) -> tuple[int, str, str]:
    code = run([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_the_first_command_model_ships_and_all_fit_in_40_mb():
    assert "digits" in NAMES
    total = sum(p.stat().st_size for p in P.PRETRAINED_DIR.rglob("*") if p.is_file())
    assert total <= 40 * 2**20


@pytest.mark.parametrize("name", NAMES)
def test_each_shipped_model_matches_its_checksums_loads_and_samples(name):
    card = P.card(name)
    assert CARD_KEYS <= set(card) and card["name"] == name
    assert card["training"]["steps"] > 0 and card["data_licence"] and card["command"].startswith("noisecraft train ")
    folder = P.resolve(f"{P.PREFIX}{name}")
    for relative, digest in card["files"].items():
        assert P.sha256(folder / relative) == digest
    assert set(card["files"]) >= {"config.yaml", "model/config.json", "model/model.safetensors"}
    model = noisecraft.load(f"{P.PREFIX}{name}")
    assert model.family == card["family"]
    if model.modality == "tokens":
        ids = model.sample(2, generator=torch.Generator().manual_seed(0), max_tokens=20)
        assert len(ids) == 2
    else:
        images = model.sample(4, generator=torch.Generator().manual_seed(0))
        assert images.shape[0] == 4 and images.min() >= 0 and images.max() <= 1 and images.std() > 0.05


def test_a_changed_file_is_refused(tmp_path, monkeypatch):
    shutil.copytree(P.PRETRAINED_DIR / "digits", tmp_path / "digits")
    monkeypatch.setattr(P, "PRETRAINED_DIR", tmp_path)
    assert noisecraft.load("pretrained:digits").family == "vae"  # the copy is fine
    weights = tmp_path / "digits" / "model" / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 1
    weights.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match=r"model\.safetensors does not match its sha256 in card\.json"):
        noisecraft.load("pretrained:digits")
    with pytest.raises(CheckpointError, match="no such pretrained model .*available: digits"):
        noisecraft.load("pretrained:nope")


def test_pretrained_works_wherever_a_run_folder_is_taken(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out, err = cli(capsys, "sample", "pretrained:digits", "--num", 10, "--class", 7, "--out", "sevens.png")
    assert code == 0 and (tmp_path / "sevens.png").is_file(), err
    code, out, err = cli(capsys, "sample", "pretrained:digits", "--reconstruct", "--num", 4, "--out", "recon.png")
    assert code == 0 and (tmp_path / "recon.png").is_file(), err
    code, out, err = cli(capsys, "evaluate", "pretrained:digits", "--metrics", "classes", "--num", 100, "--quiet")
    metrics = json.loads((tmp_path / "runs" / "pretrained-digits" / "metrics.json").read_text())["metrics"]
    assert code == 0 and metrics["classes_covered"] == 1.0, err  # the ten digits in turn, all recognised
    code, _, err = cli(capsys, "generate", "pretrained:digits", "a 7", "--num", 2, "--out", "gen")
    assert code == 0 and len(list((tmp_path / "gen").glob("*.png"))) == 2, err
    served = load_models(["pretrained:digits", "mine=pretrained:digits"])
    assert set(served) == {"digits", "mine"} and served["digits"].model.family == "vae"


def test_models_list(capsys):
    code, out, _ = cli(capsys, "models", "list")
    assert code == 0 and [line.split("\t")[0] for line in out.splitlines()[1:]] == [f"pretrained:{n}" for n in NAMES]
    code, out, _ = cli(capsys, "models", "list", "--json")
    rows = json.loads(out)
    assert code == 0 and [r["card"]["name"] for r in rows] == NAMES and all(r["training"] for r in rows)
    code, _, err = cli(capsys, "sample", "pretrained:nope", "--out", "x.png")
    assert code == 2 and err.startswith("error: pretrained:nope: no such pretrained model")


def test_serve_pretrained_serves_every_shipped_model(capsys, monkeypatch):
    import uvicorn
    from fastapi.testclient import TestClient

    apps = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kwargs: apps.append((app, kwargs)))
    code, _, err = cli(capsys, "serve", "--pretrained", "--no-studio", "--port", 7999)
    assert code == 0 and apps[0][1]["host"] == "127.0.0.1", err
    with TestClient(apps[0][0]) as client:
        assert sorted(m["name"] for m in client.get("/v1/models").json()["models"]) == NAMES
        response = client.post("/v1/generate", json={"model": "digits", "num": 2, "seed": 1, "class": 3})
        assert response.status_code == 200 and len(response.json()["images"]) == 2


@pytest.mark.parametrize("name", NAMES)
def test_each_shipped_model_is_trained_not_just_loadable(name):
    """Images: the shipped classifier reads its samples as digits, of many classes, far more often than an
    untrained copy's (whose blobs it may read confidently, but as one digit: hence readable x classes); text: bits per character on the test split far below uniform guessing (an untrained model's level)."""
    model = noisecraft.load(f"{P.PREFIX}{name}").eval()
    if model.modality == "tokens":
        from noisecraft.evaluate.evaluator import evaluate_run

        found = evaluate_run(P.resolve(f"{P.PREFIX}{name}"), metrics="bpc", progress=False, write=False)["metrics"]
        uniform = torch.log2(torch.tensor(float(model.spec.vocab_size))).item()
        assert found["bits_per_character"] < 0.6 * uniform, found
        return
    from noisecraft.evaluate.readability import readability

    untrained = type(model)(model.config, model.spec).eval()
    with torch.no_grad():
        shipped, baseline = (readability(m.sample(64, generator=torch.Generator().manual_seed(0)))
                             for m in (model, untrained))
    score = lambda r: r.readable * r.classes / r.num_classes  # noqa: E731
    assert score(shipped) >= 0.35 and score(shipped) >= score(baseline) + 0.25, (shipped, baseline)
