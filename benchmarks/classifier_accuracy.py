"""Test accuracy of the MNIST classifier that ships in the package (the classifier-FID feature network).

Made by `noisecraft train mnist-classifier --out RUN`, whose model/ folder was copied to
src/noisecraft/evaluate/weights/mnist-classifier/. Pass that run to record its training time too:

    python benchmarks/classifier_accuracy.py --run RUN
    python benchmarks/classifier_accuracy.py --quick      # smoke run: the first 500 test digits, no record
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import common
from common import write_result
from noisecraft.data import load_mnist
from noisecraft.evaluate.classifier import MNIST_CLASSIFIER_DIR, classify, load_feature_classifier


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--run", type=Path, help="the training run the shipped weights came from")
    parser.add_argument("--quick", action="store_true", help="smoke run: the first 500 test digits, no record")
    args = parser.parse_args()
    test = load_mnist("test")
    count = 500 if args.quick else len(test)
    images, labels = test.images[:count], test.labels[:count]
    model = load_feature_classifier()
    start = time.perf_counter()
    probs = classify(model, images.float() / 255)[1]
    seconds = time.perf_counter() - start
    accuracy = (probs.argmax(1) == labels).float().mean().item()
    weights = sum(p.stat().st_size for p in MNIST_CLASSIFIER_DIR.iterdir())
    training = {}
    if args.run is not None:
        state = common.trainer_state(args.run)
        training = {"train_command": f"noisecraft train mnist-classifier --out {args.run}",
                    "train_seconds": state["train_seconds"], "train_steps": state["step"],
                    "train_examples": state["examples_seen"]}
    summary = (f"shipped MNIST classifier: test accuracy {accuracy:.4f} on {count:,} images, "
               f"{model.num_parameters():,} parameters, {weights / 1000:.0f} kB; classifies {count:,} in {seconds:.1f} s")
    write_result("mnist-classifier", {"test_accuracy": accuracy, "test_examples": count,
                                      "parameters": model.num_parameters(), "weights_bytes": weights,
                                      "classify_10k_seconds": seconds, **training}, summary)


if __name__ == "__main__":
    main()
