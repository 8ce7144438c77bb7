"""Memorization: is a sample a copy of a training example?

Images: each sample's nearest training example, in the feature space the data's metrics use (the shipped
MNIST classifier, or Inception) and, for small images, in pixels. A sample is a near-copy when it is
closer to its neighbour than 99% of real held-out images are to theirs: the threshold is the 1st
percentile of test-to-train nearest distances, so real unseen images are flagged 1% of the time by
construction, and a model that copies is flagged far more. The closest pairs are drawn side by side.

Text: the share of generated 50-character spans found verbatim in the training text, and the longest
copied span (the spans of the training text are held as sorted 64-bit rolling hashes; a span a sample
copies is then confirmed by plain substring search).

Other kinds of data plug in through `MEMORIZATION` (data set name or modality -> "module:function"), each
function called as `fn(samples, data, model=..., out_dir=..., progress=...)` and returning
`{"metrics": {name: number}, "report": {...}}`.
"""

from __future__ import annotations

import csv
import importlib
from pathlib import Path
from typing import Any

import numpy as np
import torch

from noisecraft.config import DataConfig
from noisecraft.data import build_dataset
from noisecraft.errors import ConfigError, DataError
from noisecraft.evaluate.features import feature_network, features_of, held_out_features, held_out_images
from noisecraft.evaluate.reference import reference_features

SPAN = 50  # characters: a verbatim span this long is a copy, not a common phrase
PERCENTILE = 1.0  # of test-to-train nearest distances: the near-copy threshold
CALIBRATION_NUM = 1000  # held-out images the threshold is computed from
PIXEL_LIMIT = 64 * 64 * 3  # images with at most this many values are also compared pixel by pixel
PAIRS_SHOWN = 16

# the data set's name first, then its modality; each kind of data registers its own check here
MEMORIZATION: dict[str, str] = {
    "image": "noisecraft.evaluate.memorization:image_memorization",
    "tokens": "noisecraft.evaluate.memorization:text_memorization",
    **{game: "noisecraft.evaluate.levels:level_memorization" for game in ("smb", "zelda", "level_folder")},
    **{data: "noisecraft.evaluate.memorization:molecule_novelty" for data in ("moses", "smiles")},
}


def memorization(samples: Any, data: DataConfig, *, model: Any = None, out_dir: Path | None = None,
                 progress: bool = False) -> dict[str, Any]:
    """The memorization check for the data's kind: {"metrics": {...}, "report": {...}}."""
    target = MEMORIZATION.get(data.dataset) or MEMORIZATION.get(data.modality)
    if target is None:
        raise ConfigError(f"--metrics memorization: no memorization check for {data.dataset} data "
                          f"(known: {', '.join(MEMORIZATION)})")
    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)(samples, data, model=model, out_dir=out_dir, progress=progress)


def molecule_novelty(samples: Any, data: DataConfig, **_: Any) -> dict[str, Any]:
    """Molecules are copies when their canonical SMILES is a training molecule: MOSES's novelty says it."""
    raise ConfigError("--metrics memorization: for molecules it is MOSES's novelty (the share of valid generated "
                      "molecules not in the training set): use --metrics moses")


# ---- images ------------------------------------------------------------------------------------------

def nearest(queries: torch.Tensor, keys: torch.Tensor, chunk: int = 256) -> tuple[torch.Tensor, torch.Tensor]:
    """Euclidean distance from each query [N, D] to its nearest key [M, D], and that key's index."""
    found = [torch.cdist(q, keys).min(1) for q in queries.split(chunk)]
    return torch.cat([f.values for f in found]), torch.cat([f.indices for f in found])


def near_copies(samples: np.ndarray | torch.Tensor, train: np.ndarray | torch.Tensor,
                calibration: np.ndarray | torch.Tensor, percentile: float = PERCENTILE) -> dict[str, Any]:
    """Nearest training example of each sample, and which are closer than `percentile` % of the
    calibration (real held-out) vectors are to theirs. All three are [N, D] in one space."""
    as_tensor = lambda a: torch.as_tensor(np.asarray(a), dtype=torch.float32).flatten(1)  # noqa: E731
    train = as_tensor(train)
    calibration_distance, _ = nearest(as_tensor(calibration), train)
    threshold = float(np.percentile(calibration_distance.numpy(), percentile))
    distance, index = nearest(as_tensor(samples), train)
    flagged = distance < threshold
    return {"share": float(flagged.double().mean()), "threshold": threshold, "distance": distance, "index": index,
            "flagged": flagged, "median_distance": float(distance.median()),
            "calibration_median_distance": float(calibration_distance.median())}


def image_memorization(samples: torch.Tensor, data: DataConfig, *, model: Any = None, out_dir: Path | None = None,
                       progress: bool = False, calibration_num: int = CALIBRATION_NUM) -> dict[str, Any]:
    """Near-copies of training images among `samples` [N, C, H, W] in [0, 1]."""
    extractor = feature_network(data)
    train_set = build_dataset(data, "train")
    train_features, _ = reference_features(data, "train", extractor, progress=progress)
    calibration = held_out_features(data, "test", calibration_num, extractor, progress=progress)
    spaces = {"features": near_copies(features_of(extractor, samples, progress), train_features, calibration)}
    if samples[0].numel() <= PIXEL_LIMIT:
        if tuple(samples.shape[1:]) != tuple(train_set.images.shape[1:]):
            raise DataError(f"samples of shape {tuple(samples.shape[1:])} cannot be compared pixel by pixel with "
                            f"training images of shape {tuple(train_set.images.shape[1:])}")
        levels = samples.clamp(0, 1).mul(255).round()  # as a PNG would hold them
        spaces["pixels"] = near_copies(levels / 255, train_set.images.float() / 255,
                                       held_out_images(data, "test", calibration_num))
    headline = spaces["features"]
    report: dict[str, Any] = {
        "feature_network": extractor.name, "train_examples": len(train_set), "samples": len(samples),
        "calibration": {"split": "test", "num": len(calibration), "percentile": PERCENTILE},
        **{name: {k: s[k] for k in ("share", "threshold", "median_distance", "calibration_median_distance")}
           for name, s in spaces.items()},
    }
    if out_dir is not None:
        report["nearest_csv"] = str(write_nearest(out_dir / "memorization.csv", spaces))
        report["closest_pairs_png"] = str(draw_closest_pairs(out_dir / "memorization.png", samples, train_set, headline))
    metrics = {"near_copy_share": headline["share"]}
    if "pixels" in spaces:
        metrics["near_copy_share_pixels"] = spaces["pixels"]["share"]
    return {"metrics": metrics, "report": report}


def write_nearest(path: Path, spaces: dict[str, dict[str, Any]]) -> Path:
    """One row per sample: its nearest training example and distance in each space, and whether it is flagged."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["sample"] + [f"{name}_{col}" for name in spaces for col in ("train_index", "distance", "near_copy")])
        columns = [(s["index"].tolist(), s["distance"].tolist(), s["flagged"].tolist()) for s in spaces.values()]
        for i in range(len(columns[0][0])):
            writer.writerow([i] + [v for index, distance, flagged in columns
                                   for v in (index[i], f"{distance[i]:.6g}", int(flagged[i]))])
    return path


def draw_closest_pairs(path: Path, samples: torch.Tensor, train_set: Any, space: dict[str, Any]) -> Path:
    """The samples closest to a training example (top row) above that example (bottom row)."""
    from noisecraft.utils.images import save_grid

    order = space["distance"].argsort()[:PAIRS_SHOWN]
    real = torch.stack([train_set[int(space["index"][i])]["x"] for i in order])
    fake = samples[order].float().clamp(0, 1)
    if fake.shape[1] != real.shape[1]:
        fake, real = fake.expand(-1, 3, -1, -1), real.expand(-1, 3, -1, -1)
    return save_grid(torch.cat([fake, real]), path, nrow=len(order))


# ---- text --------------------------------------------------------------------------------------------

BASE = 0x100000001B3  # odd, so invertible modulo 2**64
BASE_INVERSE = pow(BASE, -1, 1 << 64)


def window_hashes(text: str, span: int = SPAN) -> np.ndarray:
    """A 64-bit polynomial hash of every `span`-character window of `text` (uint64 [len - span + 1]).

    With S[k] = sum_{m<k} c[m] B^-m (prefix sums, wrapping modulo 2**64), the window at i hashes to
    (S[i + span] - S[i]) B^i = sum_j c[i + j] B^-j: the same value wherever the window occurs, all vectorized."""
    if len(text) < span:
        return np.zeros(0, np.uint64)
    codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    with np.errstate(over="ignore"):
        inverse_powers = np.cumprod(np.full(len(codes), BASE_INVERSE, np.uint64)) * np.uint64(BASE)  # B^-m
        prefix = np.concatenate([np.zeros(1, np.uint64), np.cumsum(codes * inverse_powers, dtype=np.uint64)])
        powers = np.cumprod(np.full(len(codes) - span + 1, BASE, np.uint64)) * np.uint64(BASE_INVERSE)  # B^i
        return (prefix[span:] - prefix[: len(codes) - span + 1]) * powers


class SpanIndex:
    """Every `span`-character substring of a text, as sorted unique hashes: a window lookup is a binary search."""

    def __init__(self, text: str, span: int = SPAN) -> None:
        self.text, self.span = text, span
        self.hashes = np.unique(window_hashes(text, span))

    def found(self, text: str) -> np.ndarray:
        """For each window of `text`: is it a substring of the indexed text? (bool [len - span + 1])"""
        h = window_hashes(text, self.span)
        if len(self.hashes) == 0 or len(h) == 0:
            return np.zeros(len(h), bool)
        at = np.minimum(np.searchsorted(self.hashes, h), len(self.hashes) - 1)
        return self.hashes[at] == h

    def longest_copy(self, text: str, found: np.ndarray | None = None) -> str:
        """The longest substring of `text` that occurs verbatim in the indexed text ("" below `span`)."""
        found = self.found(text) if found is None else found
        runs = _runs(found)
        best = ""
        for start, stop in sorted(runs, key=lambda r: r[0] - r[1]):  # longest run of found windows first
            if stop - start + self.span - 1 <= len(best):
                break
            best = max(best, self._longest_in(text, start, stop), key=len)
        return best

    def _longest_in(self, text: str, start: int, stop: int) -> str:
        """Windows start..stop-1 of `text` are found; the longest verbatim piece of text[start : stop + span - 1]."""
        end = stop + self.span - 1
        if text[start:end] in self.text:
            return text[start:end]
        best, j = "", start
        for i in range(start, stop):  # two pointers: text[i:j] is a known copy
            j = max(j, i + self.span)
            if text[i:j] not in self.text:  # a hash collision: not a copy after all
                continue
            while j < end and text[i : j + 1] in self.text:
                j += 1
            best = max(best, text[i:j], key=len)
        return best


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """[start, stop) of each run of True."""
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(edges == 1).tolist(), np.flatnonzero(edges == -1).tolist()))


def training_text(data: DataConfig, tokenizer: Any) -> str:
    """The training split as the model saw it (`data.limit` applied), decoded back to text."""
    dataset = build_dataset(data, "train", tokenizer=tokenizer)
    return tokenizer.decode(np.asarray(dataset.tokens).tolist())


def text_memorization(samples: list[str], data: DataConfig, *, model: Any = None, out_dir: Path | None = None,
                      progress: bool = False, span: int = SPAN) -> dict[str, Any]:
    """Verbatim copies of the training text in generated texts."""
    if model is None:
        raise ConfigError("text memorization needs the model (its tokenizer decodes the training text)")
    return span_copies(samples, training_text(data, model.tokenizer), span)


def span_copies(samples: list[str], train: str, span: int = SPAN) -> dict[str, Any]:
    index = SpanIndex(train, span)
    found = [index.found(text) for text in samples]
    windows = sum(len(f) for f in found)
    if windows == 0:
        raise ConfigError(f"--metrics memorization: no generated text is {span} characters long: generate longer "
                          "samples (the model's max_tokens)")
    longest = max((index.longest_copy(t, f) for t, f in zip(samples, found) if f.any()), key=len, default="")
    copied = sum(int(f.sum()) for f in found)
    return {
        "metrics": {"copied_span_share": copied / windows, "longest_copied_span": len(longest)},
        "report": {"span": span, "samples": len(samples), "spans": windows, "copied_spans": copied,
                   "samples_with_copies": sum(bool(f.any()) for f in found) / len(samples),
                   "longest_copied_span_text": longest, "train_characters": len(train)},
    }
