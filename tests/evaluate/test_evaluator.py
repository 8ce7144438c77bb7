"""`noisecraft evaluate` and `noisecraft bench` end to end on tiny runs (tiny data: limit applies to every split)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
import yaml

from noisecraft.cli.main import run as cli
from noisecraft.config import DataConfig
from noisecraft.data import build_dataset
from noisecraft.errors import ConfigError, SamplingError
from noisecraft.evaluate.evaluator import evaluate_run, score_samples
from noisecraft.evaluate.likelihood import likelihood_report

TINY = ["--set", "train.max_steps=4", "--set", "train.checkpoint_every=4", "--set", "train.sample_every=4",
        "--set", "data.limit=64", "--quiet"]


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("eval") / "run"
    assert cli(["train", "mnist-vae-tiny", "--out", str(out), *TINY]) == 0
    return out


def test_every_metric_on_a_tiny_run(tiny_run: Path, tmp_path: Path, monkeypatch):
    monkeypatch.setenv("NOISECRAFT_CACHE", str(tmp_path))
    result = evaluate_run(tiny_run, metrics="fid,kid,pr,cfid,classes,nll", num=32, nll_num=20, nll_samples=4,
                          progress=False)
    m = result["metrics"]
    for key in ("fid", "kid", "kid_std", "precision", "recall", "classifier_fid", "classes_covered",
                "class_entropy", "mean_confidence", "nll_nats_per_image", "bits_per_dim"):
        assert isinstance(m[key], float) and math.isfinite(m[key]), key
    assert m["fid"] > 0 and 0 <= m["precision"] <= 1 and 0 <= m["classes_covered"] <= 1
    assert m["bits_per_dim"] == pytest.approx(m["nll_nats_per_image"] / (784 * math.log(2)))
    p = result["protocol"]
    assert p["num_samples"] == 32 and p["reference"]["num"] == 64 and p["reference"]["split"] == "test"
    assert "inception" in p["feature_network"] and "299" in p["preprocessing"]
    assert result["likelihood"]["importance_samples"] == 4 and result["likelihood"]["examples"] == 20
    assert json.loads((tiny_run / "metrics.json").read_text())["metrics"] == m
    # the reference features were cached: a second evaluation finds them
    again = evaluate_run(tiny_run, metrics="fid", num=32, progress=False)
    assert again["timing"]["reference_seconds"] is None and again["metrics"]["fid"] == pytest.approx(m["fid"])


def test_samples_with_nan_or_inf_are_refused_with_a_count():
    samples = torch.rand(6, 1, 28, 28)
    samples[1, 0, 3, 3], samples[4, 0, 0, 0] = float("nan"), float("inf")
    data = DataConfig(dataset="mnist", limit=8)
    with pytest.raises(SamplingError, match="2 of 6 samples hold NaN or inf"):
        score_samples(samples, data, "test", ["fid"], {})


def test_features_computed_beforehand_score_as_extracted_ones_and_must_match_the_samples():
    from noisecraft.evaluate.inception import InceptionFeatures

    samples, blank = torch.rand(6, 1, 28, 28), torch.zeros(6, 1, 28, 28)
    data = DataConfig(dataset="mnist", limit=8)
    extracted = score_samples(samples, data, "test", ["fid"], {})["metrics"]["fid"]
    given = score_samples(samples, data, "test", ["fid"], {}, fake_features=InceptionFeatures()(samples))
    other = score_samples(samples, data, "test", ["fid"], {}, fake_features=InceptionFeatures()(blank))
    assert given["metrics"]["fid"] == pytest.approx(extracted) and other["metrics"]["fid"] != pytest.approx(extracted)
    with pytest.raises(ValueError, match=r"shape \(5, 2048\), but 6 samples"):
        score_samples(samples, data, "test", ["fid"], {}, fake_features=InceptionFeatures()(samples[:5]))


def test_likelihood_report_is_deterministic_and_tightens_with_more_importance_samples(tiny_run: Path):
    import noisecraft

    model = noisecraft.load(tiny_run)
    data = build_dataset(DataConfig.model_validate(yaml.safe_load((tiny_run / "config.yaml").read_text())["data"]), "test")
    one = likelihood_report(model, data, importance_samples=1, progress=False)
    same = likelihood_report(model, data, importance_samples=1, progress=False)
    many = likelihood_report(model, data, importance_samples=64, progress=False)
    assert one["nll_nats_per_image"] == same["nll_nats_per_image"]
    assert many["nll_nats_per_image"] < one["nll_nats_per_image"]  # the IWAE bound is tighter than the ELBO


def test_evaluate_cli_writes_metrics_and_prints_a_table(tiny_run: Path, capsys):
    code = cli(["evaluate", str(tiny_run), "--metrics", "cfid,classes,nll", "--num", "40", "--nll-num", "10",
                "--nll-samples", "2", "--quiet"])
    out = capsys.readouterr().out
    assert code == 0 and "classifier_fid" in out and "nll_nats_per_image" in out and "metrics.json" in out
    assert json.loads((tiny_run / "metrics.json").read_text())["protocol"]["num_samples"] == 40


@pytest.mark.parametrize("argv, message", [
    (["--metrics", "fid,bogus"], "--metrics: unknown metric 'bogus'"),
    (["--metrics", "is"], "Inception Score is not available"),
    (["--protocol", "fast"], "--protocol: unknown protocol 'fast'"),
    (["--metrics", "cfid", "--temperature", "0.5", "--num", "1"], "--num"),
    (["--metrics", "pr", "--num", "3"], "needs more than 3 samples"),
    (["--split", "valdation"], "--split: unknown split 'valdation' (choose from: train, validation, test)"),
])
def test_evaluate_errors(tiny_run: Path, capsys, argv, message):
    code = cli(["evaluate", str(tiny_run), *argv])
    err = capsys.readouterr().err
    assert code == 2 and message in err and "Traceback" not in err


def test_evaluate_on_the_validation_split(tiny_run: Path, tmp_path: Path, monkeypatch, capsys):
    """Pilots score on validation (the last 10k training digits), never on test; the reference cache is per split."""
    monkeypatch.setenv("NOISECRAFT_CACHE", str(tmp_path))
    assert cli(["evaluate", str(tiny_run), "--split", "validation", "--metrics", "cfid", "--num", "32", "--quiet"]) == 0
    result = json.loads((tiny_run / "metrics.json").read_text())
    assert result["protocol"]["split"] == "validation" and "classifier_fid" in result["metrics"]
    test = evaluate_run(tiny_run, metrics="cfid", num=32, split="test", progress=False, write=False)
    assert test["metrics"]["classifier_fid"] != result["metrics"]["classifier_fid"]  # other reference images
    cached = sorted(p.name.split("-")[1] for p in (tmp_path / "reference").glob("*.safetensors"))
    assert cached == ["test", "validation"]


def test_evaluate_needs_a_run_folder(tiny_run: Path):
    with pytest.raises(Exception, match="not a run folder"):
        evaluate_run(tiny_run / "model")


def test_bench_trains_evaluates_ranks_and_resumes(tmp_path: Path, capsys):
    suite = tmp_path / "suite.yaml"
    suite.write_text(yaml.safe_dump({
        "name": "tiny-suite", "budget": {"steps": 4}, "protocol": "sweep", "num": 40, "metrics": "cfid,classes,nll",
        "entries": [{"name": "small", "recipe": "mnist-vae-tiny", "set": ["data.limit=64", "model.latent_dim=2"]},
                    {"name": "wide", "recipe": "mnist-vae-tiny", "set": ["data.limit=64", "model.latent_dim=8"]}],
    }))
    assert cli(["bench", str(suite), "--out", str(tmp_path / "bench"), "--quiet"]) == 0
    out = tmp_path / "bench" / "tiny-suite"
    board = json.loads((out / "leaderboard.json").read_text())
    assert {e["entry"] for e in board["entries"]} == {"small", "wide"}
    assert all(e["train_steps"] == 4 and e["params"] > 0 and e["train_images_per_s"] > 0 for e in board["entries"])
    fids = [e["classifier_fid"] for e in board["entries"]]
    assert fids == sorted(fids)
    # one field, one meaning: the NLL of a binarized digit, and the board says which images it is of
    assert all(e["likelihood_data"] == "binarized" and e["nll_nats_per_image"] > 0 for e in board["entries"])
    table = (out / "leaderboard.md").read_text()
    assert "| entry | family | params |" in table and "small" in table and "wide" in table
    assert (out / "samples.png").is_file()
    from noisecraft.utils.credentials import verify_png

    signed = verify_png((out / "samples.png").read_bytes())
    assert signed.ok and [e["entry"] for e in signed.model["entries"]] == [e["entry"] for e in board["entries"]]
    weights = out / "small" / "run" / "model" / "model.safetensors"
    before = weights.stat().st_mtime_ns
    capsys.readouterr()
    assert cli(["bench", str(suite), "--out", str(tmp_path / "bench"), "--quiet"]) == 0
    assert "small: done before, kept" in capsys.readouterr().out
    assert weights.stat().st_mtime_ns == before


def test_bad_suites_are_clear_errors(tmp_path: Path, capsys):
    suite = tmp_path / "bad.yaml"
    suite.write_text(yaml.safe_dump({"name": "x", "budget": {"steps": 4, "seconds": 3},
                                     "entries": [{"name": "a", "recipe": "mnist-vae-tiny"}]}))
    assert cli(["bench", str(suite)]) == 2
    assert "budget: give exactly one of seconds or steps" in capsys.readouterr().err
    assert cli(["bench", "no-such-suite"]) == 2
    assert "unknown suite 'no-such-suite'" in capsys.readouterr().err
    with pytest.raises(ConfigError, match="entries.0.recipe|unknown recipe"):
        from noisecraft.bench import run_suite

        suite.write_text(yaml.safe_dump({"name": "x", "budget": {"steps": 4}, "entries": [{"name": "a", "recipe": "nope"}]}))
        run_suite(suite, tmp_path / "b")
