"""What every data set hands to a model: examples as dicts, and a `DataSpec` saying their shape.

Images are the common currency of the image families: uint8 in memory, float32 in [0, 1] when served,
shape (C, H, W). Token streams (text, and later music, SMILES, VQ codes) are int64 windows, {"x": [L + 1]}.
A model never sees file formats or folders, only tensors and the spec.
"""

from __future__ import annotations

from typing import Any, Literal

import torch
from pydantic import BaseModel, ConfigDict
from torch.utils.data import Dataset


class DataSpec(BaseModel):
    """The shape of the examples a model is built for; saved beside its weights in `config.json`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    modality: Literal["image", "tokens"] = "image"
    shape: tuple[int, ...]  # (C, H, W) for images; (block_size,) for tokens: the context a model is built for
    num_classes: int | None = None  # None: unlabelled data
    class_names: list[str] | None = None
    # token data only
    vocab_size: int | None = None
    tokenizer: dict[str, Any] | None = None  # `Tokenizer.to_dict()`: saved with the model, plain JSON
    start_tokens: list[int] | None = None  # what an unprompted sample starts from
    # captioned images: each item also has "caption" ids of this length (vocab_size, tokenizer: the caption's)
    caption_tokens: int | None = None
    # game levels only (image or token encoding): game, tiles, window, padding; see data/levels/dataset.py
    level: dict[str, Any] | None = None
    # grids that are not pictures (music rolls): what the axes mean, for the code that decodes samples
    layout: dict[str, Any] | None = None


class ImageDataset(Dataset):
    """In-memory images (uint8, N x C x H x W) with optional integer labels.

    `__getitem__` returns {"x": float32 [C, H, W] in [0, 1]} plus "y" (int64 scalar) when labelled.
    """

    def __init__(
        self,
        images: torch.Tensor,
        labels: torch.Tensor | None = None,
        class_names: list[str] | None = None,
        name: str = "images",
    ) -> None:
        if images.dtype != torch.uint8 or images.ndim != 4:
            raise ValueError(f"images must be uint8 N x C x H x W, got {images.dtype} {tuple(images.shape)}")
        if labels is not None and len(labels) != len(images):
            raise ValueError(f"{len(labels)} labels for {len(images)} images")
        self.images = images
        self.labels = labels.long() if labels is not None else None
        self.class_names = class_names
        self.name = name

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        item = {"x": self.images[index].float().div_(255.0)}
        if self.labels is not None:
            item["y"] = self.labels[index]
        return item

    @property
    def spec(self) -> DataSpec:
        num_classes = None
        if self.labels is not None:
            num_classes = len(self.class_names) if self.class_names else int(self.labels.max()) + 1
        return DataSpec(
            modality="image",
            shape=tuple(self.images.shape[1:]),
            num_classes=num_classes,
            class_names=self.class_names,
        )

    def subset(self, indices: torch.Tensor) -> "ImageDataset":
        labels = self.labels[indices] if self.labels is not None else None
        return ImageDataset(self.images[indices], labels, self.class_names, self.name)
