"""Evaluate a trained run under a protocol and record the numbers with the command that made them.

    python benchmarks/evaluate_run.py runs/mnist-vae --protocol headline --name mnist-vae-headline
"""

from __future__ import annotations

import argparse
from pathlib import Path

from common import write_result
from noisecraft.evaluate.evaluator import evaluate_run


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("run", type=Path)
    parser.add_argument("--protocol", default="headline")
    parser.add_argument("--metrics", default=None)
    parser.add_argument("--num", type=int, default=None)
    parser.add_argument("--nll-samples", type=int, default=100)
    parser.add_argument("--name", required=True)
    args = parser.parse_args()
    result = evaluate_run(args.run, protocol=args.protocol, metrics=args.metrics, num=args.num,
                          nll_samples=args.nll_samples)
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
