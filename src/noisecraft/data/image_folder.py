"""Any folder of images, searched recursively, decoded up front into one uint8 tensor.

Files are taken in sorted order of their path relative to the folder, so the same folder gives the same
data set (and the same train/test split) everywhere. Hidden files and folders (".*") are ignored: they
are editor / OS leftovers such as macOS "._x.png", not images.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from PIL import Image, ImageOps
from tqdm import tqdm

from noisecraft.data.base import ImageDataset
from noisecraft.data.transforms import holdout_indices
from noisecraft.errors import DataError

EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp", ".bmp")


def load_image_folder(
    root: Path,
    *,
    split: Literal["train", "test"] = "train",
    image_size: int | None = None,
    channels: Literal[1, 3] = 3,
    labels: bool = False,
    skip_bad_files: bool = False,
    test_fraction: float = 0.1,
    limit: int | None = None,
) -> ImageDataset:
    """Images as uint8 [N, channels, S, S]; `image_size` resizes the shorter side then center crops.

    With `labels`, each image's class is its first-level sub-folder. The test split is a fixed-seed
    holdout of `test_fraction` of the files (see `transforms.holdout_indices`); `limit` stops after that
    many good images, so a quick run on a large folder does not decode all of it.
    """
    root = Path(root).expanduser()
    if not root.is_dir():
        raise DataError(f"image folder {root} {'is not a folder' if root.exists() else 'does not exist'}")
    files = find_images(root)
    class_names, targets = _class_labels(root, files) if labels else (None, None)
    index = holdout_indices(len(files), split, test_fraction, f"image folder {root}")
    mode = {1: "L", 3: "RGB"}[channels]
    arrays, kept, bad = [], [], []
    for i in tqdm(index, desc=f"decoding {root.name}", disable=len(index) <= 1000, leave=False):
        try:
            array = _decode(files[i], mode, image_size)
        except (OSError, ValueError, EOFError, Image.DecompressionBombError) as e:
            if not skip_bad_files:
                raise DataError(f"{files[i]}: cannot read image ({e}); data.skip_bad_files skips such files") from e
            bad.append(files[i])
            continue
        if arrays and array.shape != arrays[0].shape:
            raise DataError(
                f"{files[i]}: {array.shape[1]}x{array.shape[0]} pixels, but {files[kept[0]]} is "
                f"{arrays[0].shape[1]}x{arrays[0].shape[0]}; set data.image_size to resize all images to one size"
            )
        arrays.append(array)
        kept.append(i)
        if limit is not None and len(arrays) >= limit:
            break
    if bad:
        names = ", ".join(str(p.relative_to(root)) for p in bad[:3]) + (", ..." if len(bad) > 3 else "")
        warnings.warn(f"skipped {len(bad)} unreadable image(s) in {root}: {names}", stacklevel=2)
    if not arrays:
        raise DataError(f"no readable images in {root}: all {len(bad)} in the {split} split failed to decode")
    images = torch.from_numpy(np.stack(arrays)).reshape(len(arrays), *arrays[0].shape[:2], channels)
    labels_tensor = torch.from_numpy(targets[kept]) if targets is not None else None
    data = ImageDataset(images.permute(0, 3, 1, 2).contiguous(), labels_tensor, class_names, root.name)
    data.files = [files[i] for i in kept]  # which file each image is (captions are matched to them)
    return data


def find_images(root: Path) -> list[Path]:
    """Image files under `root` (recursive, extension case-insensitive, hidden paths skipped), sorted."""
    found = []
    others = 0
    for path in root.rglob("*"):
        relative = path.relative_to(root)
        if any(part.startswith(".") for part in relative.parts) or not path.is_file():
            continue
        if path.suffix.lower() in EXTENSIONS:
            found.append(relative)
        else:
            others += 1
    if not found:
        what = f"only {others} other file(s)" if others else "nothing"
        raise DataError(f"no images in {root} (found {what}; looked for {', '.join(EXTENSIONS)}, case-insensitive)")
    return [root / p for p in sorted(found, key=lambda p: p.as_posix())]


def _class_labels(root: Path, files: list[Path]) -> tuple[list[str], np.ndarray]:
    folders = []
    for path in files:
        relative = path.relative_to(root)
        if len(relative.parts) == 1:
            raise DataError(
                f"{path}: with data.labels every image must be inside a class sub-folder of {root}, "
                "whose name is its label"
            )
        folders.append(relative.parts[0])
    class_names = sorted(set(folders))
    lookup = {name: i for i, name in enumerate(class_names)}
    return class_names, np.array([lookup[f] for f in folders], dtype=np.int64)


def _decode(path: Path, mode: str, image_size: int | None) -> np.ndarray:
    """H x W (x 3) uint8; transparency is composited on white so hidden pixels do not leak into RGB."""
    with Image.open(path) as image:
        image = ImageOps.exif_transpose(image)
        if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
            image = Image.alpha_composite(Image.new("RGBA", image.size, "white"), image.convert("RGBA"))
        image = image.convert(mode)
        if image_size is not None:
            image = ImageOps.fit(image, (image_size, image_size), method=Image.Resampling.BICUBIC)
        return np.asarray(image)
