"""Evaluate a trained run under a protocol and record the numbers with the command that made them.

    python benchmarks/evaluate_run.py runs/mnist-vae --protocol headline --name mnist-vae-headline
    python benchmarks/evaluate_run.py --quick      # smoke run: trains mnist-vae-tiny 5 steps, scores 64 samples
"""

from __future__ import annotations

import argparse
from pathlib import Path

import common
from common import write_result
from noisecraft.evaluate.evaluator import evaluate_run


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("run", type=Path, nargs="?", help="a run folder (with --quick: a fresh toy run)")
    parser.add_argument("--protocol", default="headline")
    parser.add_argument("--metrics", default=None)
    parser.add_argument("--num", type=int, default=None)
    parser.add_argument("--nll-samples", type=int, default=100)
    parser.add_argument("--name")
    parser.add_argument("--quick", action="store_true", help="smoke run on a 5-step toy run: classifier metrics and "
                        "NLL of 64 samples / test digits, no record")
    args = parser.parse_args()
    nll_num = None
    if args.quick:
        import noisecraft

        args.run = args.run or noisecraft.fit("mnist-vae-tiny", out=common.RESULTS / "evaluate_run-tiny",
                                             overrides=["train.max_steps=5"], progress=False)
        args.metrics, args.num, args.nll_samples, nll_num = "cfid,classes,nll", 64, 4, 64
        args.name = args.name or "evaluate_run-quick"
    if args.run is None or args.name is None:
        parser.error("give a RUN folder and --name (or --quick)")
    result = evaluate_run(args.run, protocol=args.protocol, metrics=args.metrics, num=args.num,
                          nll_samples=args.nll_samples, nll_num=nll_num)
    write_result(args.name, result, summary(args.run.name, result))


def summary(run_name: str, result: dict) -> str:
    """One line for the results table: what was measured on how many samples or test examples."""
    m, what = result["metrics"], []
    if "fid" in m or "classifier_fid" in m:
        what.append(f"{result['protocol']['name']}, {result['protocol']['num_samples']} samples")
    if "likelihood" in result:
        what.append(f"NLL on {result['likelihood']['examples']} test examples, "
                    f"k={result['likelihood']['importance_samples']}")
    parts = [f"{k} {m[k]:.4g}" for k in ("fid", "kid", "precision", "recall", "classifier_fid", "nll_nats_per_image") if k in m]
    return f"{run_name} ({'; '.join(what)}): " + ", ".join(parts)


if __name__ == "__main__":
    main()
