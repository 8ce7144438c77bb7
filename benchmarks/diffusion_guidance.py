"""Classifier-free guidance on a class-conditional diffusion run: does `--class C` draw class C, and at what
cost in variety? For each guidance weight: the share of samples the shipped MNIST classifier assigns to the
requested class (class accuracy), its mean confidence, and classifier FID, as mean +- sd over sample seeds.

The recipe's default weight is chosen from this table, so it is scored on the validation split (the last
10,000 training digits) by default, from a run trained with `data.hold_out_validation: true`; `--split test`
is for a reported figure, with seeds the choice did not use.

  noisecraft train mnist-diffusion-cond --set data.hold_out_validation=true --out runs/mnist-diffusion-cond-val
  python benchmarks/diffusion_guidance.py runs/mnist-diffusion-cond-val --num 500 --guidance 0,1,1.5,2,3
  python benchmarks/diffusion_guidance.py --quick     # a seconds-long tiny run, end to end, in a temp dir
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
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


def mean_sd(values: list[float]) -> dict[str, float | None]:
    return {"mean": statistics.mean(values), "sd": statistics.stdev(values) if len(values) > 1 else None, "values": values}


def measure(args) -> dict:
    """Per guidance weight and sample seed: class accuracy, confidence, classifier FID vs `args.split`."""
    model = noisecraft.load(args.run)
    data = RunDir(args.run).data_config()
    held_out = bool(getattr(data, "hold_out_validation", False))
    if args.split == "validation" and not held_out:
        print("warning: the run trained on the validation digits too (data.hold_out_validation is false)", file=sys.stderr)
    classifier = load_feature_classifier()
    real, _ = reference_features(data, args.split, ClassifierExtractor(classifier), progress=False)
    requested = torch.arange(args.num) % model.num_classes  # what generate() draws with no condition given
    rows = {}
    for w in args.guidance:
        per_seed = {"class_accuracy": [], "mean_confidence": [], "classifier_fid": [], "sampling_seconds": []}
        for seed in args.seeds:
            start = time.perf_counter()
            images = generate(model, args.num, seed=seed, batch_size=250, guidance=w, sampler=args.sampler, steps=args.steps)
            per_seed["sampling_seconds"].append(time.perf_counter() - start)
            features, probs = classify(classifier, images)
            probs = torch.as_tensor(probs)
            per_seed["class_accuracy"].append(float((probs.argmax(1) == requested).float().mean()))
            per_seed["mean_confidence"].append(float(probs.max(1).values.mean()))
            per_seed["classifier_fid"].append(fid(real, features))
        rows[str(w)] = {k: mean_sd(v) for k, v in per_seed.items()}
        print(w, {k: round(v["mean"], 4) for k, v in rows[str(w)].items()}, flush=True)
    best = min(rows, key=lambda w: rows[w]["classifier_fid"]["mean"])
    return {"run": str(args.run), "split": args.split, "run_held_out_validation": held_out, "num": args.num,
            "seeds": args.seeds, "sampler": args.sampler or model.config.sampler, "steps": args.steps or model.config.steps,
            "by_guidance": rows, "lowest_classifier_fid_at": float(best)}


def summary_of(result: dict) -> str:
    rows = result["by_guidance"]
    fmt = lambda r: f"{r['mean']:.3f}" + (f" +- {r['sd']:.3f}" if r["sd"] is not None else "")  # noqa: E731
    return (f"{Path(result['run']).name} class-conditional, N={result['num']} x {len(result['seeds'])} seeds, vs "
            f"{result['split']}: class accuracy " + ", ".join(f"w={w} {fmt(r['class_accuracy'])}" for w, r in rows.items())
            + "; classifier FID " + ", ".join(f"{r['classifier_fid']['mean']:.1f}" for r in rows.values())
            + f"; lowest classifier FID at w={result['lowest_classifier_fid_at']}")


def quick() -> None:
    """The tiny conditional recipe for a few seconds, then every step of the measurement, into a temp dir."""
    with tempfile.TemporaryDirectory(prefix="guidance-quick-") as tmp:
        run = Path(tmp) / "run"
        subprocess.run([str(Path(sys.executable).with_name("noisecraft")), "train", "mnist-diffusion-cond-tiny", "--out",
                        str(run), "--set", "data.hold_out_validation=true"], check=True)
        result = measure(argparse.Namespace(run=run, split="validation", num=20, guidance=[0.0, 2.0], seeds=[0, 1],
                                            sampler=None, steps=None))
        assert result["run_held_out_validation"] and set(result["by_guidance"]) == {"0.0", "2.0"}
        common.DRAFT, common.RESULTS = True, Path(tmp) / "out"  # a temp dir, never results/
        common.write_record(common.RESULTS / "diffusion-guidance.json", {"summary": summary_of(result), **result})
    print("quick: " + summary_of(result))


def main() -> None:
    if "--quick" in sys.argv:
        return quick()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("--num", type=int, default=500)
    parser.add_argument("--guidance", type=lambda s: [float(v) for v in s.split(",")], default=[0.0, 1.0, 2.0, 3.0])
    parser.add_argument("--seeds", type=lambda s: [int(v) for v in s.split(",")], default=[0, 1, 2],
                        help="sample seeds (>= 3 for a claim); a test figure takes seeds the choice did not use")
    parser.add_argument("--split", choices=["validation", "test"], default="validation")
    parser.add_argument("--sampler", default=None)
    parser.add_argument("--steps", type=int, default=None)
    parser.add_argument("--name", default="diffusion-guidance")
    args = parser.parse_args()
    result = measure(args)
    common.write_result(args.name, result, summary_of(result))


if __name__ == "__main__":
    main()
