"""Inception FID/KID sanity at full size, against the full MNIST test set (10k, the cached reference):
real digits of the other split must be close, noise far, and corruption must rank in order.

    python benchmarks/fid_sanity.py --train 10000 --corrupt 1000
    python benchmarks/fid_sanity.py --quick      # smoke run: 16 test, 16 train, 8 per corruption; no record
"""

from __future__ import annotations

import argparse
import time

import torch
import torch.nn.functional as F

from common import write_result
from noisecraft.config import DataConfig
from noisecraft.data import load_mnist
from noisecraft.evaluate import metrics as M
from noisecraft.evaluate.inception import InceptionFeatures
from noisecraft.evaluate.reference import reference_features


def blur(x: torch.Tensor, k: int) -> torch.Tensor:
    return F.avg_pool2d(F.pad(x, (k // 2,) * 4, mode="replicate"), k, stride=1)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--train", type=int, default=10000, help="MNIST train images compared with test")
    parser.add_argument("--corrupt", type=int, default=1000, help="images per corrupted set")
    parser.add_argument("--quick", action="store_true", help="smoke run at toy sizes (FIDs of 16 images), no record")
    args = parser.parse_args()
    if args.quick:
        args.train, args.corrupt = 16, 8
    extractor = InceptionFeatures()
    start = time.perf_counter()
    test, key = reference_features(DataConfig(dataset="mnist"), "test", extractor, num=16 if args.quick else None)
    seconds = {"reference_test": None if key["cached"] else time.perf_counter() - start}
    start = time.perf_counter()
    train, _ = reference_features(DataConfig(dataset="mnist", limit=args.train), "train", extractor)
    seconds["train"] = time.perf_counter() - start

    g = torch.Generator().manual_seed(0)
    clean = load_mnist("test").images[: args.corrupt].float() / 255
    sets = {"uniform_noise": torch.rand(clean.shape, generator=g)}
    for sigma in (0.1, 0.2, 0.4):
        sets[f"gaussian_noise_{sigma}"] = (clean + sigma * torch.randn(clean.shape, generator=g)).clamp(0, 1)
    for k in (3, 5, 7):
        sets[f"blur_{k}x{k}"] = blur(clean, k)
    rows = {"test_vs_test": {"n": len(test), "fid": M.fid(test, test)},
            f"train{len(train)}_vs_test": {"n": len(train), "fid": M.fid(train, test), "kid": M.kid(train, test)[0]}}
    for name, images in sets.items():
        start = time.perf_counter()
        feats = extractor.extract((images[i : i + 50] for i in range(0, len(images), 50)), total=len(images), desc=name)
        seconds[name] = time.perf_counter() - start
        rows[name] = {"n": len(feats), "fid": M.fid(feats, test), "kid": M.kid(feats, test)[0]}
    fids = {k: v["fid"] for k, v in rows.items()}
    checks = {
        "test_vs_test_is_zero": abs(fids["test_vs_test"]) < 1e-3,
        "train_close_noise_far": fids[f"train{len(train)}_vs_test"] < 0.1 * fids["uniform_noise"],
        "noise_ordered": fids["gaussian_noise_0.1"] < fids["gaussian_noise_0.2"] < fids["gaussian_noise_0.4"],
        "blur_ordered": fids["blur_3x3"] < fids["blur_5x5"] < fids["blur_7x7"],
    }
    summary = (f"FID vs MNIST test ({len(test):,}): train {fids[f'train{len(train)}_vs_test']:.2f}, blur 3/5/7 "
               f"{fids['blur_3x3']:.0f}/{fids['blur_5x5']:.0f}/{fids['blur_7x7']:.0f}, noise .1/.2/.4 "
               f"{fids['gaussian_noise_0.1']:.0f}/{fids['gaussian_noise_0.2']:.0f}/{fids['gaussian_noise_0.4']:.0f}, "
               f"uniform {fids['uniform_noise']:.0f}; checks {'all pass' if all(checks.values()) else checks}")
    write_result("fid_sanity", {"reference": key, "rows": rows, "checks": checks, "seconds": seconds}, summary)


if __name__ == "__main__":
    main()
