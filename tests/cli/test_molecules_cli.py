"""Molecules from the command line: train on a .smi file, `generate --num --out mols.smi`,
`evaluate --metrics moses` (metrics.json, histograms, drawn grid), and a bad SMILES file as one error line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from noisecraft.cli.main import run
from noisecraft.data.molecules import moses_smiles


def cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = run(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def molecule_run(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("molecules")
    (root / "m.smi").write_text("\n".join(moses_smiles("train")[:40]) + "\n")
    recipe = root / "r.yaml"
    recipe.write_text(f"""
data: {{smiles_path: {root / 'm.smi'}, test_fraction: 0.25, block_size: 48, cache_dir: {root / 'cache'}}}
model: {{family: lstm, layers: 1, hidden: 64, max_tokens: 60}}
train: {{max_steps: 4, batch_size: 8, log_every: 2, sample_every: 100, checkpoint_every: 100, ema_decay: null, tensorboard: false}}
""")
    assert run(["train", str(recipe), "--out", str(root / "run"), "--quiet"]) == 0
    return root / "run"


def test_generate_writes_one_smiles_a_line(capsys, molecule_run: Path, tmp_path: Path):
    code, _, err = cli(capsys, "generate", str(molecule_run), "--num", "12", "--out", str(tmp_path / "mols.smi"))
    assert code == 0, err
    lines = (tmp_path / "mols.smi").read_text().splitlines()
    assert len(lines) == 12 and all("\n" not in s and "<" not in s for s in lines)
    assert "wrote 12 SMILES" in err and "valid" in err
    code, _, err = cli(capsys, "generate", str(molecule_run), "--num", "2", "--condition", "qed=0.9")
    assert code == 2 and err.strip().splitlines() == [err.strip()] and "not trained with qed" in err


def test_evaluate_moses_writes_metrics_and_figures(capsys, molecule_run: Path):
    code, out, err = cli(capsys, "evaluate", str(molecule_run), "--metrics", "moses", "--num", "40")
    assert code == 0, err
    result = json.loads((molecule_run / "metrics.json").read_text())
    assert result["protocol"]["name"] == "moses" and result["protocol"]["num_samples"] == 40
    metrics = result["metrics"]
    assert 0 <= metrics["valid"] <= 1 and "unique@1000" in metrics
    if metrics["valid"] > 0.05:  # 4 training steps: mostly invalid, maybe none valid
        assert {"FCD/Test", "SNN/Test", "Novelty", "IntDiv"} <= set(metrics)
        assert (molecule_run / "moses-properties.png").stat().st_size > 1000
    assert len((molecule_run / "moses-samples.smi").read_text().splitlines()) == 40


def test_bad_smiles_file_is_one_error_line_naming_the_line(capsys, tmp_path: Path):
    (tmp_path / "bad.smi").write_text("CCO\nc1ccccc1\nCC(C\n")
    code, _, err = cli(capsys, "train", "moses-charrnn", "--set", "data.dataset=smiles",
                       "--set", f"data.smiles_path={tmp_path / 'bad.smi'}", "--set", "data.test_fraction=0.0",
                       "--out", str(tmp_path / "run"))
    assert code == 2
    assert err.strip() == f"error: {tmp_path / 'bad.smi'}:3: not a valid SMILES: 'CC(C' (fix or delete the line, or set data.skip_bad_smiles: true)"


def test_the_api_returns_smiles(molecule_run: Path):
    from noisecraft.serve.service import Service, load_models

    service = Service(load_models([str(molecule_run)]))
    try:
        name = next(iter(service.models))
        texts = service.run(name, num=3, seed=0).texts
        assert len(texts) == 3 and all("\n" not in t and "<" not in t for t in texts)
    finally:
        service.close()


def test_studio_cards_draw_valid_molecules_and_name_invalid_ones(tmp_path: Path):
    from noisecraft.evaluate.molecules import molecule_cards

    from noisecraft.utils.credentials import verify_png

    claims = {"model": {"family": "lstm", "weights_sha256": "0" * 64}, "settings": {"seed": 0}}
    cards = molecule_cards(["c1ccccc1O", "C1CC"], tmp_path / "card", claims=claims)
    assert cards[0][0] is not None and Path(cards[0][0]).stat().st_size > 1000
    assert cards[0][1].startswith("c1ccccc1O  |  QED 0.51") and cards[1] == (None, "C1CC  |  invalid")
    drawing = verify_png(Path(cards[0][0]).read_bytes())  # a generated molecule's drawing: signed like any image
    assert drawing.status == "verified" and drawing.ai_generated, drawing.message
