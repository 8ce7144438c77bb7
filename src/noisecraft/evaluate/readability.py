"""Can a reader tell the digits? The share of generated images the shipped MNIST classifier reads as one
digit with confidence, and how many digits appear: the figure `noisecraft train` prints after an MNIST run
(and the first command's target), computed here once for the CLI, benchmarks and tests."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from noisecraft.evaluate.classifier import MNIST_CLASSIFIER_DIR, classify, load_feature_classifier

CONFIDENT = 0.9  # the classifier's probability for its top class that counts as "reads as a digit"


@dataclass(frozen=True)
class Readability:
    num: int            # images judged
    readable: float     # share read as one class with probability >= CONFIDENT
    classes: int        # classes among the confident readings
    num_classes: int

    def summary(self) -> str:
        """'64 samples: 81% read as digits, 10/10 classes'."""
        return (f"{self.num} samples: {self.readable:.0%} read as digits, "
                f"{self.classes}/{self.num_classes} classes")

    def to_dict(self) -> dict:
        return asdict(self)


def readability(images: torch.Tensor, classifier_dir: str | Path = MNIST_CLASSIFIER_DIR,
                confident: float = CONFIDENT) -> Readability:
    """Images [N, C, H, W] in [0, 1] -> how many the classifier reads as digits, and which digits."""
    _, probs = classify(load_feature_classifier(classifier_dir), images)
    top, label = probs.max(1)
    sure = top >= confident
    return Readability(num=len(images), readable=float(sure.float().mean()),
                       classes=int(label[sure].unique().numel()), num_classes=probs.shape[1])


def run_readability(run_dir: str | Path) -> tuple[Readability, Path] | None:
    """The figure for a run's last sample grid: its images drawn again (same weights, same seed, so the same
    pixels) and judged, with the grid's path. None when the run's data are not MNIST digits."""
    import yaml

    from noisecraft.models.base import GenerativeModel
    from noisecraft.utils.paths import RunDir, model_dir_of

    run = RunDir(Path(run_dir))
    config = yaml.safe_load(run.config.read_text())
    data = config["data"]
    if data.get("dataset") != "mnist" or data.get("image_size") not in (None, 28) or data.get("channels") == 3:
        return None
    grids = sorted(run.samples.glob("step-*.png"))
    if not grids:
        return None
    model = GenerativeModel.from_pretrained(model_dir_of(run.root)).eval()
    train = config["train"]
    images = model.sample(train["num_samples"], generator=torch.Generator().manual_seed(train["seed"]))
    return readability(images), grids[-1]
