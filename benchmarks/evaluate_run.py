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
    m = result["metrics"]
    parts = [f"{k} {m[k]:.4g}" for k in ("fid", "kid", "precision", "recall", "classifier_fid", "nll_nats") if k in m]
    summary = f"{args.run.name} ({args.protocol}, {result['protocol']['num_samples']} samples): " + ", ".join(parts)
    write_result(args.name, result, summary)


if __name__ == "__main__":
    main()
