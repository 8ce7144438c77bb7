"""Test accuracy of the MNIST classifier that ships in the package (the classifier-FID feature network).

Made by `noisecraft train mnist-classifier --out RUN`, whose model/ folder was copied to
src/noisecraft/evaluate/weights/mnist-classifier/. Pass that run to record its training time too:

    python benchmarks/classifier_accuracy.py --run RUN
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from common import write_result
from noisecraft.data import load_mnist
from noisecraft.evaluate.classifier import MNIST_CLASSIFIER_DIR, classify, load_feature_classifier


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--run", type=Path, help="the training run the shipped weights came from")
    args = parser.parse_args()
    test = load_mnist("test")
    model = load_feature_classifier()
    start = time.perf_counter()
    probs = classify(model, test.images.float() / 255)[1]
    seconds = time.perf_counter() - start
    accuracy = (probs.argmax(1) == test.labels).float().mean().item()
    weights = sum(p.stat().st_size for p in MNIST_CLASSIFIER_DIR.iterdir())
    training = {}
    if args.run is not None:
        state = json.loads((args.run / "checkpoints" / "last" / "trainer_state.json").read_text())
        training = {"train_command": f"noisecraft train mnist-classifier --out {args.run}",
                    "train_seconds": state["train_seconds"], "train_steps": state["step"],
                    "train_examples": state["examples_seen"]}
    summary = (f"shipped MNIST classifier: test accuracy {accuracy:.4f} on 10,000 images, {model.num_parameters():,} "
               f"parameters, {weights / 1000:.0f} kB; classifies 10k in {seconds:.1f} s")
    write_result("mnist-classifier", {"test_accuracy": accuracy, "test_examples": len(test),
                                      "parameters": model.num_parameters(), "weights_bytes": weights,
                                      "classify_10k_seconds": seconds, **training}, summary)


if __name__ == "__main__":
    main()
