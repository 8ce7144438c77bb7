"""Token models from the command line: `generate` (prompt, options, stop strings, errors), `sample`,
`evaluate`, family/data mismatches, and resuming a token run."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

import noisecraft
from noisecraft.cli.main import run
from noisecraft.data.base import DataSpec
from noisecraft.models.vae import VAE, VAEConfig
from noisecraft.sampling import generate_text


@pytest.fixture(scope="module", autouse=True)
def token_cache(tmp_path_factory):
    """Token caches of every run in this module go to a temporary folder."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("NOISECRAFT_CACHE", str(tmp_path_factory.mktemp("cache")))
        yield


@pytest.fixture(scope="module")
def runs(tmp_path_factory, token_cache) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("token-runs")
    paths = {"transformer": root / "char", "lstm": root / "lstm"}
    assert run(["train", "shakespeare-char-tiny", "--out", str(paths["transformer"]), "--quiet"]) == 0
    assert run(["train", "shakespeare-char-lstm-tiny", "--out", str(paths["lstm"]), "--quiet"]) == 0
    return paths


def cli(capsys, *argv) -> tuple[int, str, str]:
    code = run([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


# --- generate -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("family", ["transformer", "lstm"])
def test_generate_prints_the_prompt_and_its_continuation(runs, capsys, family):
    path = runs[family]
    code, out, err = cli(capsys, "generate", path, "ROMEO:", "--max-tokens", 25, "--temperature", 0.8, "--seed", 3)
    assert code == 0, err
    model = noisecraft.load(path)
    expected = generate_text(model, 1, seed=3, prompt="ROMEO:", max_tokens=25, temperature=0.8)[0]
    assert len(expected) == 25  # one character a token
    assert out == "ROMEO:" + expected + "\n"
    assert cli(capsys, "generate", path, "ROMEO:", "--max-tokens", 25, "--temperature", 0.8, "--seed", 3)[1] == out
    assert cli(capsys, "generate", path, "ROMEO:", "--max-tokens", 25, "--temperature", 0.8, "--seed", 4)[1] != out


def test_generate_options_reach_the_sampler(runs, capsys):
    path = runs["transformer"]
    model = noisecraft.load(path)
    greedy = cli(capsys, "generate", path, "KING:", "--max-tokens", 15, "--temperature", 0, "--seed", 1)[1]
    assert greedy == cli(capsys, "generate", path, "KING:", "--max-tokens", 15, "--temperature", 0, "--seed", 2)[1]
    assert greedy == cli(capsys, "generate", path, "KING:", "--max-tokens", 15, "--top-k", 1, "--seed", 5)[1]
    assert greedy == "KING:" + model.tokenizer.decode(model.sample(1, "KING:", max_tokens=15, temperature=0)[0]) + "\n"
    options = {"top_k": 5, "top_p": 0.9, "repetition_penalty": 1.3, "temperature": 1.2, "max_tokens": 30}
    code, out, _ = cli(capsys, "generate", path, "KING:", "--top-k", 5, "--top-p", 0.9, "--repetition-penalty", 1.3,
                       "--temperature", 1.2, "--max-tokens", 30, "--seed", 7)
    assert code == 0 and out == "KING:" + generate_text(model, 1, seed=7, prompt="KING:", **options)[0] + "\n"
    default = cli(capsys, "generate", path, "KING:")[1]  # the recipe's max_tokens: 64
    assert len(default) == len("KING:") + model.config.max_tokens + 1


def test_generate_stop_cuts_the_continuation(runs, capsys, tmp_path):
    path = runs["transformer"]
    args = ["generate", path, "ROMEO:", "--max-tokens", 60, "--temperature", 1.0, "--seed", 0]
    full = cli(capsys, *args)[1][len("ROMEO:") : -1]
    stop = full[12]
    code, out, _ = cli(capsys, *args, "--stop", stop)
    assert code == 0 and out.startswith("ROMEO:") and out.endswith("\n")
    continuation = out[len("ROMEO:") : -1]
    assert stop not in continuation and continuation == full[: full.index(stop)]
    code, out, _ = cli(capsys, *args, "--stop", "\\n", "--num", 2, "--out", tmp_path / "texts.txt")
    assert code == 0 and out.count("--- sample") == 2
    model = noisecraft.load(path)  # --num 2: seeds 0 and 1; "\n" on the command line is a newline
    options = dict(prompt="ROMEO:", max_tokens=60, temperature=1.0)
    unstopped = [generate_text(model, 1, seed=s, **options)[0] for s in (0, 1)]
    assert any("\n" in t for t in unstopped)  # so the stop has something to cut
    stopped = ["ROMEO:" + t[: t.index("\n")] if "\n" in t else "ROMEO:" + t for t in unstopped]
    saved = (tmp_path / "texts.txt").read_text(encoding="utf-8")
    assert saved == "".join(f"--- sample {i + 1} ---\n{t}\n" for i, t in enumerate(stopped))


def test_a_prompt_with_escapes_is_unescaped(runs, capsys):
    code, out, _ = cli(capsys, "generate", runs["lstm"], "ROMEO:\\n", "--max-tokens", 3)
    assert code == 0 and out.startswith("ROMEO:\n") and len(out) == len("ROMEO:\n") + 3 + 1


def test_bad_prompts_and_options_are_one_line_errors(runs, capsys):
    code, out, err = cli(capsys, "generate", runs["transformer"], "ROMEO: ¿qué?")
    assert code == 2 and out == ""
    assert err.startswith("error: ") and "'¿é'" in err and len(err.strip().splitlines()) == 1
    code, out, err = cli(capsys, "generate", runs["lstm"], "🙂")
    assert code == 2 and "error:" in err and "'🙂'" in err and out == ""
    for option, value in [("--top-p", 1.5), ("--temperature", -1), ("--top-k", 0), ("--max-tokens", -3)]:
        code, out, _ = cli(capsys, "generate", runs["transformer"], "A", option, value)
        assert code == 2 and out == ""
    code, _, err = cli(capsys, "generate", runs["transformer"].parent / "missing", "A")
    assert code == 2 and "error:" in err


def test_generate_on_an_image_model_is_an_error(tmp_path, capsys):
    torch.manual_seed(0)
    folder = VAE(VAEConfig(latent_dim=2, channels=[4], hidden_dim=8), DataSpec(shape=(1, 8, 8))).save_pretrained(tmp_path / "vae")
    code, out, err = cli(capsys, "generate", folder, "ROMEO:")
    assert code == 2 and out == ""
    assert "error: generate:" in err and "vae model of images" in err and "noisecraft sample" in err


# --- sample and evaluate ------------------------------------------------------------------------------------

def test_sample_prints_texts(runs, capsys, tmp_path):
    path = runs["transformer"]
    code, out, err = cli(capsys, "sample", path, "--num", 3, "--seed", 2)
    assert code == 0, err
    model = noisecraft.load(path)
    texts = generate_text(model, 3, seed=2)
    assert out == "".join(f"--- sample {i + 1} ---\n{t}\n" for i, t in enumerate(texts))
    code, out, _ = cli(capsys, "sample", path, "--num", 2, "--out", tmp_path / "s.txt")
    assert code == 0 and "wrote 2 texts" in out and (tmp_path / "s.txt").read_text().count("--- sample") == 2
    code, _, err = cli(capsys, "sample", runs["lstm"], "--guidance", 2)
    assert code == 2 and "--guidance: the lstm family does not take it" in err


def test_evaluate_writes_the_three_metrics(runs, capsys):
    from noisecraft.data import build_dataset
    from noisecraft.evaluate.token_metrics import token_report
    from noisecraft.utils.paths import RunDir

    path = runs["transformer"]
    code, out, err = cli(capsys, "evaluate", path, "--quiet")
    assert code == 0, err
    record = json.loads((path / "metrics.json").read_text())
    metrics, protocol = record["metrics"], record["protocol"]
    assert set(metrics) == {"loss_nats_per_token", "bits_per_character", "perplexity"}
    loss = metrics["loss_nats_per_token"]
    assert 0 < loss < math.log(65) + 0.5  # trained a little: about uniform over 65 characters, or better
    assert metrics["perplexity"] == pytest.approx(math.exp(loss))
    assert metrics["bits_per_character"] == pytest.approx(loss * protocol["tokens"] / protocol["characters"] / math.log(2))
    assert protocol["split"] == "test" and protocol["block_size"] == 32
    model = noisecraft.load(path)
    report = token_report(model, build_dataset(RunDir(path).data_config(), "test", tokenizer=model.tokenizer),
                          progress=False)
    assert loss == pytest.approx(report["loss_nats_per_token"], rel=1e-6)
    code, _, err = cli(capsys, "evaluate", path, "--metrics", "perplexity", "--quiet")
    assert code == 0 and set(json.loads((path / "metrics.json").read_text())["metrics"]) == {"perplexity"}


def test_image_metrics_on_a_token_run_are_an_error(runs, capsys):
    code, out, err = cli(capsys, "evaluate", runs["lstm"], "--metrics", "fid")
    assert code == 2 and err.startswith("error: --metrics fid") and "loss" in err


# --- training ------------------------------------------------------------------------------------------------

def test_a_family_and_data_mismatch_is_a_clear_error(capsys, tmp_path):
    code, _, err = cli(capsys, "train", "mnist-vae-tiny", "--out", tmp_path / "a", "--set", "data.dataset=tinyshakespeare")
    assert code == 2 and "error: the vae family models image data, but the data is tokens" in err
    code, _, err = cli(capsys, "train", "shakespeare-char-tiny", "--out", tmp_path / "b",
                       "--set", "data.dataset=mnist", "--set", "data.block_size=64")
    assert code == 2 and "error: the transformer family models tokens data, but the data is image" in err
    code, _, err = cli(capsys, "train", "shakespeare-char-tiny", "--out", tmp_path / "c", "--set", "data.dataset=mnist")
    assert code == 2 and "data.block_size is for text data" in err
    assert not (tmp_path / "a" / "model").exists() and not (tmp_path / "b" / "model").exists()


def test_resume_continues_a_token_run_exactly(runs, capsys, tmp_path):
    out = tmp_path / "run"
    assert cli(capsys, "train", "shakespeare-char-tiny", "--out", out, "--max-steps", 10, "--quiet")[0] == 0
    assert (out / "samples" / "step-000010.txt").is_file() and not (out / "samples" / "step-000020.txt").exists()
    code, stdout, err = cli(capsys, "train", "shakespeare-char-tiny", "--out", out, "--resume", "--set",
                            "train.max_steps=20", "--quiet")
    assert code == 0, err
    assert "resuming" in stdout and "at step 10" in stdout
    steps = [int(line.split(",")[0]) for line in (out / "metrics.csv").read_text().splitlines()[1:]]
    assert steps == [5, 10, 15, 20]
    # the same weights and losses as the run trained for 20 steps in one go
    assert (out / "metrics.csv").read_text().splitlines()[-1].split(",")[:3] == \
        (runs["transformer"] / "metrics.csv").read_text().splitlines()[-1].split(",")[:3]
    resumed, straight = load_file(out / "model" / "model.safetensors"), load_file(runs["transformer"] / "model" / "model.safetensors")
    assert resumed.keys() == straight.keys() and all(torch.equal(resumed[k], straight[k]) for k in resumed)


def test_undecodable_prompt_bytes_and_a_class_are_one_line_errors(runs, capsys):
    code, out, err = cli(capsys, "generate", runs["transformer"], "RO\udcffMEO")  # b"\xff" on a command line
    assert code == 2 and out == "" and "error: prompt: not valid text: undecodable bytes 0xff" in err
    code, _, err = cli(capsys, "sample", runs["transformer"], "--class", "3")
    assert code == 2 and "--class: the transformer family takes a text prompt" in err
