"""Evaluate a trained run under a named protocol and write `metrics.json` beside it.

Two protocols fit a 2-core CPU (numbers are comparable only within one protocol: FID depends on N):
- headline: Inception FID, KID, precision/recall on 10k samples against the full reference split;
- sweep:    Inception FID, KID and precision/recall on 2k samples, plus the shipped MNIST classifier's
            FID and class coverage (seconds), for grids and quick comparisons.
"""

from __future__ import annotations

import json
import math
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import torch

from noisecraft.config import MUSIC_DATASETS
from noisecraft.data import build_dataset
from noisecraft.data.transforms import SPLITS
from noisecraft.errors import CheckpointError, ConfigError, SamplingError
from noisecraft.evaluate import metrics as M
from noisecraft.evaluate.classifier import ClassifierExtractor
from noisecraft.evaluate.inception import InceptionFeatures
from noisecraft.evaluate.likelihood import likelihood_report
from noisecraft.evaluate.reference import reference_features
from noisecraft.models.base import GenerativeModel
from noisecraft.sampling import check_options, generate
from noisecraft.utils.paths import RunDir, model_dir_of
from noisecraft.utils.pretrained import PRETRAINED_DIR, resolve
from noisecraft.utils.version import __version__

PROTOCOLS: dict[str, dict[str, Any]] = {
    "headline": {"num": 10000, "metrics": ["fid", "kid", "pr"]},
    "sweep": {"num": 2000, "metrics": ["fid", "kid", "pr", "cfid", "classes", "c2st"]},
}
METRICS = {
    "fid": "Inception FID",
    "kid": "Inception KID (unbiased MMD^2, mean and std over subsets)",
    "pr": "improved precision and recall (k=3) on Inception features",
    "cfid": "FID on the shipped MNIST classifier's features",
    "classes": "class coverage and entropy of the shipped MNIST classifier's predictions",
    "nll": "negative log-likelihood on the split (images: nats/example, bits/dim; token models: nats and bits per token)",
    "loss": "token models: validation loss, nats per token",
    "bpc": "token models: bits per character of the validation text",
    "perplexity": "token models: exp(loss)",
    "memorization": "near-copies of training examples (images: nearest neighbours; text: verbatim 50-character spans)",
    "c2st": "classifier two-sample test: held-out accuracy of a judge telling samples from real images (0.5 = cannot)",
    "moses": "molecule models: MOSES's metrics (validity, uniqueness, novelty, FCD, SNN, Frag, Scaf, IntDiv, filters)",
    "music": "models of music: harmonization accuracy and music statistics vs Bach's (with nll: frame NLL)",
    "prompt": "shapes world: prompt accuracy per GenEval category, seen and held-out pairs (plus clip_score with --scorer)",
}
TOKEN_METRICS = {"loss": "loss_nats_per_token", "bpc": "bits_per_character", "perplexity": "perplexity"}
INCEPTION_METRICS = {"fid", "kid", "pr"}
CLASSIFIER_METRICS = {"cfid", "classes"}
ANY_MODALITY = {"memorization", "nll"}  # nll: every family with a likelihood
SAMPLE_METRICS = INCEPTION_METRICS | CLASSIFIER_METRICS | {"memorization", "c2st"}  # need generated samples


def parse_metrics(text: str | None, protocol: str, has_likelihood: bool, modality: str = "image") -> list[str]:
    if text is None and modality == "tokens":
        chosen = list(TOKEN_METRICS)
    elif text is None:
        chosen = list(PROTOCOLS[protocol]["metrics"]) + (["nll"] if has_likelihood else [])
    else:
        chosen = [m.strip().lower() for m in text.split(",") if m.strip()]
    tokens_only = lambda m: m in TOKEN_METRICS or m == "moses"  # noqa: E731
    fits = lambda m: m in ANY_MODALITY or tokens_only(m) == (modality == "tokens")  # noqa: E731
    mismatched = [m for m in chosen if m in METRICS and not fits(m)]
    if mismatched:
        raise ConfigError(f"--metrics {mismatched[0]}: not a metric for {modality} models "
                          f"(choose from: {', '.join(m for m in METRICS if fits(m))})")
    unknown = [m for m in chosen if m not in METRICS]
    if "is" in unknown:
        raise ConfigError("--metrics is: the shipped Inception network gives pool features, not class logits, "
                          "so the Inception Score is not available")
    if unknown or not chosen:
        raise ConfigError(f"--metrics: unknown metric {unknown[0] if unknown else '(none)'!r} (choose from: {', '.join(METRICS)})")
    return chosen


def evaluate_run(path: Path, *, metrics: str | None = None, protocol: str = "headline", num: int | None = None,
                 split: str = "test", seed: int = 0, batch_size: int = 250, nll_samples: int = 100,
                 nll_num: int | None = None, sample_options: dict[str, Any] | None = None,
                 progress: bool = True, write: bool = True, condition: str | None = None,
                 scorer: Path | None = None, prompts: int = 32) -> dict[str, Any]:
    """Sample from the run's model, compare with its data's `split`, write RUN/metrics.json, return it."""
    if protocol not in PROTOCOLS:
        raise ConfigError(f"--protocol: unknown protocol {protocol!r} (choose from: {', '.join(PROTOCOLS)})")
    if split not in (*SPLITS, "valid"):  # valid: the music data sets' own name for their validation split
        raise ConfigError(f"--split: unknown split {split!r} (choose from: {', '.join(SPLITS)})")
    run = RunDir(resolve(path))
    if not run.is_run():
        raise CheckpointError(f"{path}: not a run folder (no config.yaml): evaluation needs the recipe's data section")
    data = run.data_config()
    model = GenerativeModel.from_pretrained(model_dir_of(run.root))
    if model.spec.level is not None:  # game levels: playability, novelty, diversity, pattern KL (evaluate/levels.py)
        from noisecraft.evaluate.levels import evaluate_levels, parse_level_metrics

        result = evaluate_levels(model, data, num=num or 32, seed=seed, metrics_chosen=tuple(parse_level_metrics(metrics)),
                                 sample_options=check_options(model, sample_options or {}))
        return finish(run, model, result.pop("protocol"), result, write)
    if data.dataset in MUSIC_DATASETS:  # its own metrics: evaluate/music.py
        from noisecraft.evaluate.music import evaluate_music

        result = evaluate_music(model, data, metrics, split=split, num=num, seed=seed, nll_num=nll_num,
                                progress=progress, sample_options=sample_options)
        return finish(run, model, {"name": "music", "split": split, "seed": seed, "dataset": data.dataset}, result, write)
    chosen = parse_metrics(metrics, protocol, model.has_likelihood, model.modality)
    if "moses" in chosen:
        from noisecraft.evaluate.molecules import evaluate_molecule_run

        info, result = evaluate_molecule_run(run, model, data, num=num or 10000, seed=seed, sample_options=sample_options,
                                             condition=condition)
        return finish(run, model, info, result, write)
    if model.modality == "tokens":
        return evaluate_token_run(run, model, data, chosen, split=split, max_windows=nll_num, progress=progress, write=write,
                                  num=num, seed=seed, sample_options=sample_options)
    num = num or PROTOCOLS[protocol]["num"]
    if "pr" in chosen and num <= 3:
        raise ConfigError(f"--num: precision/recall (k=3 neighbours) needs more than 3 samples, got {num}")
    if "c2st" in chosen and num < 10:
        raise ConfigError(f"--num: c2st judges at least 10 samples against 10 real images, got {num}")
    options = check_options(model, sample_options or {})
    if "nll" in chosen and not model.has_likelihood:
        raise ConfigError(f"--metrics nll: the {model.family} family has no likelihood")
    if CLASSIFIER_METRICS & set(chosen) and data.dataset != "mnist":
        raise ConfigError(f"--metrics cfid/classes: the shipped classifier knows MNIST digits; this run's data is {data.dataset}")
    started = time.perf_counter()
    result: dict[str, Any] = {"metrics": {}, "timing": {}}
    protocol_info: dict[str, Any] = {"name": protocol, "num_samples": num, "seed": seed, "split": split,
                                     "sample_options": options}

    if SAMPLE_METRICS & set(chosen):
        t = time.perf_counter()
        samples = generate(model, num, seed=seed, batch_size=batch_size, progress=progress, **options)
        result["timing"]["sampling_seconds_per_image"] = (time.perf_counter() - t) / num
        scores = score_samples(samples, data, split, chosen, protocol_info, progress=progress)
        result["metrics"].update(scores["metrics"])
        result["timing"].update(scores["timing"])
        trust_checks(result, samples, data, split, chosen, model, run.root, progress)

    if "prompt" in chosen:
        from noisecraft.evaluate.prompt_accuracy import prompt_metrics

        report = prompt_metrics(model, data, scorer=scorer, prompts=prompts, seed=seed, options=options)
        result["metrics"].update(report.pop("metrics"))
        result["timing"]["prompt_seconds_per_image"] = report["seconds_per_image"]
        protocol_info["prompt"] = report

    if "nll" in chosen:
        report = likelihood_report(model, build_dataset(data, split), num=nll_num, importance_samples=nll_samples,
                                   seed=seed, progress=progress)
        result["metrics"].update(nll_nats_per_image=report["nll_nats_per_image"], bits_per_dim=report["bits_per_dim"])
        result["likelihood"] = report

    result["timing"]["total_seconds"] = time.perf_counter() - started
    return finish(run, model, protocol_info, result, write)


def evaluate_token_run(run: RunDir, model, data, chosen: list[str], *, split: str, max_windows: int | None,
                       progress: bool, write: bool, num: int | None = None, seed: int = 0,
                       sample_options: dict[str, Any] | None = None) -> dict[str, Any]:
    """Validation loss, bits per character and perplexity on `split`, tokenized with the model's own tokenizer;
    memorization of `num` (default 100) generated texts."""
    from noisecraft.evaluate.token_metrics import token_report

    started = time.perf_counter()
    result: dict[str, Any] = {"metrics": {}, "timing": {}}
    protocol_info: dict[str, Any] = {"name": "validation", "split": split}
    if set(chosen) & {*TOKEN_METRICS, "nll"}:
        report = token_report(model, build_dataset(data, split, tokenizer=model.tokenizer), max_windows=max_windows,
                              progress=progress)
        protocol_info.update(tokens=report["tokens"], characters=report["characters"], windows=report["windows"],
                             block_size=report["block_size"])
        result["metrics"].update({TOKEN_METRICS[m]: report[TOKEN_METRICS[m]] for m in chosen if m in TOKEN_METRICS})
        if "nll" in chosen:  # the same likelihood, per token (a token is one dimension of the sequence)
            result["metrics"].update(nll_nats_per_token=report["loss_nats_per_token"],
                                     bits_per_token=report["loss_nats_per_token"] / math.log(2))
    if "memorization" in chosen:
        options = check_options(model, sample_options or {})
        texts = generate(model, num or 100, seed=seed, **options)
        protocol_info.update(num_samples=len(texts), seed=seed, sample_options=options)
        trust_checks(result, texts, data, split, chosen, model, run.root, progress)
    result["timing"]["total_seconds"] = time.perf_counter() - started
    return finish(run, model, protocol_info, result, write)


def trust_checks(out: dict[str, Any], samples, data, split: str, chosen: list[str], model, out_dir: Path,
                 progress: bool) -> None:
    """Memorization and C2ST of generated samples into `out`: their metrics, plus a report section each."""
    if "memorization" in chosen:
        from noisecraft.evaluate.memorization import memorization

        found = memorization(samples, data, model=model, out_dir=out_dir, progress=progress)
        out["metrics"].update(found["metrics"])
        out["memorization"] = found["report"]
    if "c2st" in chosen:
        from noisecraft.evaluate.c2st import image_c2st

        judged = image_c2st(samples, data, split, progress=progress)
        out["metrics"].update(c2st_accuracy=judged["accuracy"], c2st_ci_low=judged["ci95"][0], c2st_ci_high=judged["ci95"][1])
        out["c2st"] = judged


def finish(run: RunDir, model, protocol_info: dict[str, Any], result: dict[str, Any], write: bool) -> dict[str, Any]:
    """The metrics.json record: what was measured, on what, by which version, when."""
    result = {"run": str(run.root), "model": {"family": model.family, "parameters": model.num_parameters()},
              "protocol": protocol_info, **result, "noisecraft_version": __version__,
              "created": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    if write:
        target = metrics_file(run)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(result, indent=2) + "\n")
    return result


def metrics_file(run: RunDir) -> Path:
    """RUN/metrics.json; a shipped model's (read-only, in the package) go to runs/pretrained-NAME/metrics.json."""
    if run.root.resolve().parent == PRETRAINED_DIR:
        return Path("runs") / f"pretrained-{run.root.name}" / "metrics.json"
    return run.root / "metrics.json"


def score_samples(samples: torch.Tensor, data, split: str, chosen: list[str], protocol_info: dict[str, Any],
                  progress: bool = True, fake_features: np.ndarray | None = None) -> dict[str, Any]:
    """Sample-quality metrics of images in [0, 1] against the data's `split` (its features cached).
    Fills `protocol_info` with what the numbers depend on; also used to score other libraries' samples.
    `fake_features`: the samples' Inception features computed beforehand (a run that saves them as it
    goes, so a long scoring resumes), used instead of extracting them again."""
    result: dict[str, Any] = {"metrics": {}, "timing": {}}
    num = len(samples)
    bad = int((~torch.isfinite(samples.flatten(1))).any(1).sum())
    if bad:
        raise SamplingError(f"{bad} of {num} samples hold NaN or inf values: no metric on them would mean anything "
                            "(has the model diverged? look at its samples)")
    if INCEPTION_METRICS & set(chosen):
        extractor = InceptionFeatures()
        t = time.perf_counter()
        real, key = reference_features(data, split, extractor, progress=progress)
        result["timing"]["reference_seconds"] = None if key["cached"] else time.perf_counter() - t
        if fake_features is None:
            t = time.perf_counter()
            fake = extractor.extract((samples[i : i + extractor.batch_size] for i in range(0, num, extractor.batch_size)),
                                     total=num, progress=progress, desc="sample features")
            result["timing"]["inception_seconds_per_1000"] = (time.perf_counter() - t) / num * 1000
        elif fake_features.shape != (num, extractor.dim):
            raise ValueError(f"fake_features has shape {fake_features.shape}, but {num} samples need ({num}, {extractor.dim})")
        else:
            fake = fake_features
        protocol_info.update(reference={"data": key["data"], "split": split, "num": len(real), "cache": key["cache"]},
                             feature_network=extractor.name, feature_weights_sha1=extractor.sha1,
                             preprocessing=extractor.preprocessing)
        result["metrics"].update(inception_metrics(real, fake, chosen, protocol_info))

    if CLASSIFIER_METRICS & set(chosen):
        from noisecraft.evaluate.classifier import class_coverage, classify, load_feature_classifier

        classifier = load_feature_classifier()
        real, _ = reference_features(data, split, ClassifierExtractor(classifier), progress=False)
        fake, probs = classify(classifier, samples)
        protocol_info["classifier"] = ClassifierExtractor.name
        if "cfid" in chosen:
            result["metrics"]["classifier_fid"] = M.fid(real, fake)
        if "classes" in chosen:
            result["metrics"].update(class_coverage(torch.as_tensor(probs)))
    return result


def inception_metrics(real: np.ndarray, fake: np.ndarray, chosen: list[str], protocol_info: dict) -> dict[str, float]:
    out: dict[str, float] = {}
    if "fid" in chosen:
        out["fid"] = M.fid(real, fake)
    if "kid" in chosen:
        subset = min(1000, len(real), len(fake))
        out["kid"], out["kid_std"] = M.kid(real, fake, num_subsets=100, subset_size=subset)
        protocol_info["kid"] = {"subsets": 100, "subset_size": subset}
    if "pr" in chosen:
        out["precision"], out["recall"] = M.precision_recall(real, fake, k=3)
        protocol_info["precision_recall"] = {"k": 3}
    return out
