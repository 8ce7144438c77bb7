"""Data sets: in-memory `ImageDataset`s (mnist, digits, any folder of images) and memory-mapped
`TokenDataset`s (tinyshakespeare, any text).

`build_dataset(cfg.data, split)` is what the trainer and evaluators call; the loaders are public for
use from Python.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import torch

from noisecraft.config import MUSIC_DATASETS
from noisecraft.data.base import DataSpec, ImageDataset
from noisecraft.data.catalog import DATASETS, DatasetInfo, get_dataset_info
from noisecraft.data.digits import load_digits
from noisecraft.data.image_folder import load_image_folder
from noisecraft.data.mnist import download_mnist, load_mnist
from noisecraft.data.text import TokenDataset, load_text_dataset
from noisecraft.data.transforms import check_split, convert_channels, resize_images

if TYPE_CHECKING:
    from noisecraft.config import DataConfig
    from noisecraft.text.tokenizers import Tokenizer

__all__ = [
    "DATASETS",
    "DataSpec",
    "DatasetInfo",
    "ImageDataset",
    "TokenDataset",
    "build_dataset",
    "download_mnist",
    "get_dataset_info",
    "load_digits",
    "load_image_folder",
    "load_mnist",
    "load_text_dataset",
]


def build_dataset(cfg: DataConfig, split: Literal["train", "validation", "test"] = "train",
                  tokenizer: Tokenizer | None = None) -> ImageDataset | TokenDataset:
    """The `split` of the data set a recipe's `data:` section describes, resized, converted and limited;
    text is tokenized with `tokenizer` (a trained model's) or one trained on the corpus.

    "validation" is for pilots and early choices, never the test split: the data set's own where it ships
    one, else the end of its train split (MNIST: the last 10,000 digits; text: the last 5% of the training
    characters; others: the last 10% of the training examples), which `data.hold_out_validation` leaves
    out of "train"."""
    if cfg.dataset in ("moses", "smiles"):
        from noisecraft.data.molecules import load_molecule_dataset

        return load_molecule_dataset(cfg, split, tokenizer)
    if cfg.dataset in ("smb", "zelda", "level_folder"):  # game levels: one-hot windows or column tokens
        from noisecraft.data.levels.dataset import load_level_dataset

        return load_level_dataset(cfg, split, tokenizer)
    if cfg.dataset in MUSIC_DATASETS:
        from noisecraft.data.music_data import build_music_dataset

        return build_music_dataset(cfg, split, tokenizer)
    check_split(split)  # molecules and music above also know their own (valid, test_scaffolds)
    if cfg.modality == "tokens":
        return load_text_dataset(cfg, split, tokenizer)
    if cfg.dataset == "shapes" or cfg.captions:
        from noisecraft.data.captions import load_captioned_folder, load_shapes

        if cfg.dataset == "shapes":
            return load_shapes(split, num=cfg.limit, image_size=cfg.image_size, caption_tokens=cfg.caption_tokens,
                               hold_out_validation=cfg.hold_out_validation)
        return load_captioned_folder(cfg.image_folder, split=split, tokenizer=tokenizer, caption_tokens=cfg.caption_tokens,
                                     skip_bad_files=cfg.skip_bad_files, image_size=cfg.image_size,
                                     channels=cfg.channels or 3, test_fraction=cfg.test_fraction, limit=cfg.limit,
                                     max_pixels=cfg.max_image_pixels, hold_out_validation=cfg.hold_out_validation)
    if cfg.dataset == "image_folder":
        return load_image_folder(
            cfg.image_folder,
            split=split,
            image_size=cfg.image_size,
            channels=cfg.channels or 3,
            labels=cfg.labels,
            skip_bad_files=cfg.skip_bad_files,
            test_fraction=cfg.test_fraction,
            limit=cfg.limit,
            max_pixels=cfg.max_image_pixels,
            hold_out_validation=cfg.hold_out_validation,
        )
    if cfg.dataset == "mnist":
        data = load_mnist(split, source=cfg.source, cache_dir=cfg.cache_dir, hold_out_validation=cfg.hold_out_validation)
    else:
        data = load_digits(split, test_fraction=cfg.test_fraction, hold_out_validation=cfg.hold_out_validation)
    if cfg.limit is not None:  # before resizing: no work on examples that are dropped
        data = data.subset(torch.arange(min(cfg.limit, len(data))))
    images = data.images
    if cfg.channels == 1:  # convert first when it shrinks the data, last when it grows it
        images = convert_channels(images, 1)
    if cfg.image_size is not None:
        images = resize_images(images, cfg.image_size)
    if cfg.channels == 3:
        images = convert_channels(images, 3)
    return ImageDataset(images, data.labels, data.class_names, data.name)
