"""Classifier-free guidance on a class-conditional diffusion run: does `--class C` draw class C, and at what
cost in variety? For each guidance weight: the share of samples the shipped MNIST classifier assigns to the
requested class (class accuracy), its mean confidence, and classifier FID against the test split.

  python benchmarks/diffusion_guidance.py runs/mnist-diffusion-cond --num 500 --guidance 0,1,2,3
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import common
import torch

import noisecraft
from noisecraft.evaluate.classifier import classify, load_feature_classifier
from noisecraft.evaluate.evaluator import ClassifierExtractor
from noisecraft.evaluate.metrics import fid
from noisecraft.evaluate.reference import reference_features
from noisecraft.sampling import generate
from noisecraft.utils.paths import RunDir


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("--num", type=int, default=500)
    parser.add_argument("--guidance", type=lambda s: [float(v) for v in s.split(",")], default=[0.0, 1.0, 2.0, 3.0])
    parser.add_argument("--sampler", default=None)
    parser.add_argument("--steps", type=int, default=None)
    parser.add_argument("--name", default="diffusion-guidance")
    args = parser.parse_args()

    model = noisecraft.load(args.run)
    classifier = load_feature_classifier()
    real, _ = reference_features(RunDir(args.run).data_config(), "test", ClassifierExtractor(classifier), progress=False)
    requested = torch.arange(args.num) % model.num_classes  # what generate() draws with no condition given
    rows = {}
    for w in args.guidance:
        start = time.perf_counter()
        images = generate(model, args.num, seed=0, batch_size=250, guidance=w, sampler=args.sampler, steps=args.steps)
        seconds = time.perf_counter() - start
        features, probs = classify(classifier, images)
        probs = torch.as_tensor(probs)
        rows[str(w)] = {"class_accuracy": float((probs.argmax(1) == requested).float().mean()),
                        "mean_confidence": float(probs.max(1).values.mean()),
                        "classifier_fid": fid(real, features), "sampling_seconds": seconds}
        print(w, rows[str(w)], flush=True)
    summary = f"{args.run.name} class-conditional, N={args.num}: class accuracy " + ", ".join(
        f"w={w} {r['class_accuracy']:.3f}" for w, r in rows.items()) + "; classifier FID " + ", ".join(
        f"{r['classifier_fid']:.1f}" for r in rows.values())
    common.write_result(args.name, {"run": str(args.run), "num": args.num, "sampler": args.sampler or model.config.sampler,
                                    "steps": args.steps or model.config.steps, "by_guidance": rows}, summary)


if __name__ == "__main__":
    main()
