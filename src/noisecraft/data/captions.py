"""Images with captions: the shapes world, or any folder of captioned images.

A folder's captions come from `captions.jsonl` ({"file": ..., "caption": ...} per line), `captions.csv`
(columns file, caption) or a side-car `.txt` beside each image (`cat.png` + `cat.txt`). A missing or
empty caption, or a row naming no file, is an error naming the file and line; with `data.skip_bad_files`
such rows and images are skipped and counted instead.

Captions become word tokens (`CaptionTokenizer`), <start> first and padded to `caption_tokens`: a batch is
{"x": image, "caption": ids [caption_tokens]}. The tokenizer travels in the data spec, so the model folder
keeps it, as the text models' do.
"""

from __future__ import annotations

import csv
import json
import warnings
from pathlib import Path
from typing import Literal

import torch

from noisecraft.data.base import DataSpec, ImageDataset
from noisecraft.data.image_folder import load_image_folder
from noisecraft.data.transforms import VALIDATION_FRACTION, holdout_size
from noisecraft.errors import DataError
from noisecraft.text.tokenizers import CaptionTokenizer

CAPTION_FILES = ("captions.jsonl", "captions.csv")
SHAPES_TRAIN = 20000  # scenes of the shapes world's train split (data.limit makes it longer: the world has no end)
SHAPES_TEST = 2000  # scenes of its test split (data.limit takes the first N, never more: a fixed FID reference)


class CaptionedImageDataset(ImageDataset):
    """An `ImageDataset` whose items also carry their caption's token ids."""

    def __init__(self, images: torch.Tensor, captions: list[str], tokenizer: CaptionTokenizer, caption_tokens: int,
                 name: str = "captioned images") -> None:
        super().__init__(images, None, None, name)
        if len(captions) != len(images):
            raise ValueError(f"{len(captions)} captions for {len(images)} images")
        self.captions, self.tokenizer, self.caption_tokens = captions, tokenizer, caption_tokens
        self.caption_ids = torch.tensor([tokenizer.encode_padded(c, caption_tokens) for c in captions], dtype=torch.long)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        return {**super().__getitem__(index), "caption": self.caption_ids[index]}

    @property
    def spec(self) -> DataSpec:
        return DataSpec(modality="image", shape=tuple(self.images.shape[1:]), vocab_size=self.tokenizer.vocab_size,
                        tokenizer=self.tokenizer.to_dict(), caption_tokens=self.caption_tokens)

    def subset(self, indices: torch.Tensor) -> "CaptionedImageDataset":
        return CaptionedImageDataset(self.images[indices], [self.captions[int(i)] for i in indices], self.tokenizer,
                                     self.caption_tokens, self.name)


def load_shapes(split: Literal["train", "validation", "test"], *, num: int | None = None, image_size: int | None = None,
                caption_tokens: int = 16, seed: int = 0, hold_out_validation: bool = False) -> CaptionedImageDataset:
    """Scenes of the shapes world with their captions (never a held-out colour-shape pair). `num` scenes of
    train (any number); test: the first `num` of its 2,000 scenes, so a recipe's long train split does not
    make its FID reference longer. Validation: the last 10% of the 20,000 train scenes (whatever `num`),
    which `hold_out_validation` leaves out of train (then 18,000 scenes by default)."""
    import numpy as np

    from noisecraft.data.shapes import make_scenes, render, vocabulary

    val_start = SHAPES_TRAIN - holdout_size(SHAPES_TRAIN, VALIDATION_FRACTION)
    if split == "test":
        scenes = make_scenes(min(num or SHAPES_TEST, SHAPES_TEST), "test", seed)
    elif split == "validation":
        scenes = make_scenes(SHAPES_TRAIN, "train", seed, val_start)
    elif not hold_out_validation:
        scenes = make_scenes(num or SHAPES_TRAIN, "train", seed)
    else:  # the world has no end: past the validation scenes, a longer train split goes on after them
        num = num or val_start
        scenes = make_scenes(min(num, val_start), "train", seed) + make_scenes(SHAPES_TRAIN + num - val_start, "train", seed, SHAPES_TRAIN)
    images = torch.from_numpy(np.stack([render(s.things, image_size or 64) for s in scenes]))
    return CaptionedImageDataset(images, [s.caption for s in scenes], CaptionTokenizer(vocabulary()), caption_tokens,
                                 "shapes")


def load_captioned_folder(root: Path, *, split: Literal["train", "validation", "test"] = "train", tokenizer: CaptionTokenizer | None = None,
                          caption_tokens: int = 32, skip_bad_files: bool = False, **image_options) -> CaptionedImageDataset:
    """A folder of images with captions (see the module docstring); the tokenizer is trained on the captions
    unless given (a trained model's)."""
    root = Path(root).expanduser()
    data = load_image_folder(root, split=split, skip_bad_files=skip_bad_files, **image_options)
    captions, problems = read_captions(root, data.files, skip_bad_files)
    keep = [i for i, f in enumerate(data.files) if f in captions]
    if problems:
        warnings.warn(f"skipped {problems} bad caption row(s) or uncaptioned image(s) in {root}", stacklevel=2)
    if not keep:
        raise DataError(f"{root}: no image of the {split} split has a caption")
    texts = [captions[data.files[i]] for i in keep]
    tokenizer = tokenizer or CaptionTokenizer.train(texts)
    dataset = CaptionedImageDataset(data.images[keep], texts, tokenizer, caption_tokens, root.name)
    dataset.files = [data.files[i] for i in keep]
    return dataset


def read_captions(root: Path, files: list[Path], skip_bad: bool) -> tuple[dict[Path, str], int]:
    """Caption per image path, and how many bad rows / uncaptioned images were skipped."""
    index = next((root / name for name in CAPTION_FILES if (root / name).is_file()), None)
    captions: dict[Path, str] = {}
    bad = 0

    def problem(message: str) -> None:
        nonlocal bad
        if not skip_bad:
            raise DataError(f"{message}; data.skip_bad_files skips such rows")
        bad += 1

    if index is None:  # side-car .txt files, checked in path order
        for image in sorted(files):
            text_file = image.with_suffix(".txt")
            text = text_file.read_text(encoding="utf-8").strip() if text_file.is_file() else None
            if text is None:
                problem(f"{text_file}: missing: no caption for {image.name} (no captions.jsonl or captions.csv in {root})")
            elif not text:
                problem(f"{text_file}:1: empty caption")
            else:
                captions[image] = " ".join(text.split())
        return captions, bad
    wanted = set(files)
    for line, name, caption in _rows(index):
        where = f"{index}:{line}"
        if not name:
            problem(f"{where}: the row names no file")
        elif not (root / name).is_file():
            problem(f"{where}: file {name!r} does not exist in {root}")
        elif not caption or not caption.strip():
            problem(f"{where}: empty caption for {name}")
        elif root / name in wanted:
            captions[root / name] = " ".join(caption.split())
    missing = sorted(f for f in files if f not in captions)
    for image in missing[:1]:
        problem(f"{image}: no caption for it in {index}")
    bad += max(0, len(missing) - 1) if skip_bad else 0
    return captions, bad


def _rows(index: Path):
    """(line number, file, caption) of each row of captions.jsonl / captions.csv."""
    with index.open(encoding="utf-8", newline="") as f:
        if index.suffix == ".jsonl":
            for line, text in enumerate(f, start=1):
                if not text.strip():
                    continue
                try:
                    row = json.loads(text)
                except ValueError:
                    raise DataError(f"{index}:{line}: not a JSON object (expected {{\"file\": ..., \"caption\": ...}})") from None
                if not isinstance(row, dict):
                    raise DataError(f"{index}:{line}: not a JSON object (expected {{\"file\": ..., \"caption\": ...}})")
                yield line, _text(row.get("file")), _text(row.get("caption"))
            return
        reader = csv.DictReader(f)
        if not reader.fieldnames or not {"file", "caption"} <= set(reader.fieldnames):
            raise DataError(f"{index}:1: the header must name the columns file and caption (got {reader.fieldnames})")
        for row in reader:
            yield reader.line_num, _text(row.get("file")), _text(row.get("caption"))


def _text(value) -> str:
    return value.strip() if isinstance(value, str) else ""
