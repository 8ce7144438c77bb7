"""Token models from the command line: train the tiny recipes, generate, sample, evaluate, resume."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from noisecraft.cli.main import run


def cli(capsys, *argv) -> tuple[int, str, str]:
    code = run([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("text-cli")
    paths = {name: root / name for name in ("shakespeare-char-tiny", "shakespeare-char-lstm-tiny", "shakespeare-bpe-tiny")}
    for name, path in paths.items():
        assert run(["train", name, "--out", str(path), "--set", f"data.cache_dir={root / 'cache'}"]) == 0
    return paths


def test_training_writes_text_samples_and_a_model_with_its_tokenizer(runs):
    for path in runs.values():
        assert "--- sample 1 ---" in (path / "samples" / "step-000020.txt").read_text()
        meta = json.loads((path / "model" / "config.json").read_text())
        assert meta["spec"]["modality"] == "tokens" and meta["spec"]["tokenizer"]["type"] in ("char", "bpe")
        assert "tokens_per_s" in (path / "metrics.csv").read_text().splitlines()[0]


def test_generate_streams_prompt_and_continuation(runs, capsys, tmp_path):
    for path in runs.values():
        code, out, _ = cli(capsys, "generate", path, "ROMEO:", "--max-tokens", 20, "--temperature", 0.8, "--seed", 1)
        assert code == 0 and out.startswith("ROMEO:") and len(out) > len("ROMEO:\n")
        assert cli(capsys, "generate", path, "ROMEO:", "--max-tokens", 20, "--temperature", 0.8, "--seed", 1)[1] == out
    path = runs["shakespeare-char-tiny"]
    code, out, err = cli(capsys, "generate", path, "ROMEO:", "--max-tokens", 40, "--stop", " ", "--num", 2,
                         "--out", tmp_path / "g.txt")
    assert code == 0 and "--- sample 2 (seed 1) ---" in out
    saved = (tmp_path / "g.txt").read_text()
    assert saved.count("--- sample") == 2 and all(" " not in line[len("ROMEO:"):] for line in saved.splitlines()
                                                   if line.startswith("ROMEO:"))


def test_generate_errors_are_one_line(runs, capsys):
    code, out, err = cli(capsys, "generate", runs["shakespeare-char-tiny"], "ROMEO: ü")
    assert code == 2 and "error: text has characters the model's vocabulary lacks: 'ü'" in err and out == ""
    code, _, err = cli(capsys, "generate", runs["shakespeare-char-tiny"], "A", "--top-p", "1.5")
    assert code == 2


def test_sample_prints_texts(runs, capsys, tmp_path):
    code, out, _ = cli(capsys, "sample", runs["shakespeare-bpe-tiny"], "--num", 2, "--temperature", 0.5)
    assert code == 0 and out.count("--- sample") == 2
    code, out, _ = cli(capsys, "sample", runs["shakespeare-bpe-tiny"], "--num", 2, "--out", tmp_path / "s.txt")
    assert code == 0 and (tmp_path / "s.txt").read_text().count("--- sample") == 2
    code, _, err = cli(capsys, "sample", runs["shakespeare-bpe-tiny"], "--steps", 3)
    assert code == 2 and "--steps: the transformer family does not take it" in err


def test_evaluate_writes_validation_metrics(runs, capsys):
    for path in runs.values():
        code, out, _ = cli(capsys, "evaluate", path, "--quiet")
        assert code == 0
        record = json.loads((path / "metrics.json").read_text())
        metrics = record["metrics"]
        assert set(metrics) == {"loss_nats_per_token", "bits_per_character", "perplexity"}
        assert 0 < metrics["loss_nats_per_token"] < 7 and record["protocol"]["split"] == "test"
    code, _, err = cli(capsys, "evaluate", runs["shakespeare-char-tiny"], "--metrics", "fid")
    assert code == 2 and "--metrics fid: not a metric for tokens models" in err
    code, _, _ = cli(capsys, "evaluate", runs["shakespeare-char-tiny"], "--metrics", "bpc", "--quiet")
    assert code == 0 and set(json.loads((runs["shakespeare-char-tiny"] / "metrics.json").read_text())["metrics"]) == {"bits_per_character"}


def test_family_and_data_must_match(capsys, tmp_path):
    code, _, err = cli(capsys, "train", "mnist-vae-tiny", "--out", tmp_path / "a", "--set", "data.dataset=tinyshakespeare")
    assert code == 2 and "the vae family models image data, but the data is tokens" in err
    code, _, err = cli(capsys, "train", "shakespeare-char-tiny", "--out", tmp_path / "b", "--set", "data.dataset=mnist",
                       "--set", "data.tokenizer=char")
    assert code == 2 and "error:" in err


def test_resume_continues_a_token_run(tmp_path, capsys):
    out = tmp_path / "run"
    assert run(["train", "shakespeare-char-lstm-tiny", "--out", str(out), "--max-steps", "10"]) == 0
    assert run(["train", "shakespeare-char-lstm-tiny", "--out", str(out), "--resume", "--set", "train.max_steps=20"]) == 0
    steps = [int(line.split(",")[0]) for line in (out / "metrics.csv").read_text().splitlines()[1:]]
    assert steps[-1] == 20 and steps == sorted(steps)
