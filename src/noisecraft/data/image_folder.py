"""Any folder of images, searched recursively, decoded up front into one uint8 tensor.

Files are taken in sorted order of their path relative to the folder, so the same folder gives the same
data set (and the same train/test split) everywhere. Hidden files and folders (".*") are ignored: they
are editor / OS leftovers such as macOS "._x.png", not images.

A scraped folder is read as hostile: an image over `max_pixels` (a decompression bomb) is refused from its
header, before any pixel is decoded; JPEGs are decoded reduced (`draft`) when `image_size` is set; the
data set's size is estimated before loading; and loading the train split also decodes the held-out files,
so a corrupt file anywhere is named before training starts, not by `evaluate` later.
"""

from __future__ import annotations

import warnings
from collections import Counter
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from PIL import Image, ImageOps
from tqdm import tqdm

from noisecraft.data.base import ImageDataset
from noisecraft.data.transforms import holdout_indices, holdout_size
from noisecraft.errors import DataError

EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp", ".bmp")
MAX_PIXELS = 64_000_000  # per image: 8000 x 8000; a photo is 12-50 MP
READ_ERRORS = (OSError, ValueError, EOFError, Image.DecompressionBombError, Image.DecompressionBombWarning)


def load_image_folder(
    root: Path,
    *,
    split: Literal["train", "validation", "test"] = "train",
    image_size: int | None = None,
    channels: Literal[1, 3] = 3,
    labels: bool = False,
    skip_bad_files: bool = False,
    test_fraction: float = 0.1,
    limit: int | None = None,
    max_pixels: int = MAX_PIXELS,
    hold_out_validation: bool = False,
) -> ImageDataset:
    """Images as uint8 [N, channels, S, S]; `image_size` resizes the shorter side then center crops.

    With `labels`, each image's class is its first-level sub-folder. The test split is a fixed-seed
    holdout of `test_fraction` of the files (see `transforms.holdout_indices`); `limit` stops after that
    many good images, so a quick run on a large folder does not decode all of it. The train split also
    checks the held-out files (as many as `limit`), so that no split holds a file that cannot be read.
    The validation split is the last 10% of the train split, which `hold_out_validation` leaves out of it.
    """
    root = Path(root).expanduser()
    if not root.is_dir():
        raise DataError(f"image folder {root} {'is not a folder' if root.exists() else 'does not exist'}")
    files = find_images(root)
    class_names, targets = _class_labels(root, files) if labels else (None, None)
    index = holdout_indices(len(files), split, test_fraction, f"image folder {root}", hold_out_validation)
    mode = {1: "L", 3: "RGB"}[channels]
    check_memory(root, [files[i] for i in index[:limit]], channels, image_size, max_pixels)
    if split == "train" and holdout_size(len(files), test_fraction) > 0:
        held_out = holdout_indices(len(files), "test", test_fraction, f"image folder {root}")
        if hold_out_validation:
            held_out = np.concatenate([held_out, holdout_indices(len(files), "validation", test_fraction, str(root))])
        skipped = _decode_all([files[i] for i in held_out], mode, image_size, max_pixels, skip_bad_files, limit)
        if skipped:
            warnings.warn(f"the held-out split of {root} has {len(skipped)} unreadable image(s), skipped: "
                          f"{', '.join(str(p.relative_to(root)) for p in skipped[:3])}", stacklevel=2)
    arrays, kept, bad = [], [], []
    for i in tqdm(index, desc=f"decoding {root.name}", disable=len(index) <= 1000, leave=False):
        try:
            array = _decode(files[i], mode, image_size, max_pixels)
        except READ_ERRORS as e:
            if not skip_bad_files:
                raise unreadable(files[i], e) from None
            bad.append(files[i])
            continue
        arrays.append(array)
        kept.append(i)
        if limit is not None and len(arrays) >= limit:
            break
    if bad:
        names = ", ".join(str(p.relative_to(root)) for p in bad[:3]) + (", ..." if len(bad) > 3 else "")
        warnings.warn(f"skipped {len(bad)} unreadable image(s) in {root}: {names}", stacklevel=2)
    if not arrays:
        raise DataError(f"no readable images in {root}: all {len(bad)} in the {split} split failed to decode")
    arrays = one_size(arrays, root)
    images = torch.from_numpy(np.stack(arrays)).reshape(len(arrays), *arrays[0].shape[:2], channels)
    labels_tensor = torch.from_numpy(targets[kept]) if targets is not None else None
    data = ImageDataset(images.permute(0, 3, 1, 2).contiguous(), labels_tensor, class_names, root.name)
    data.files = [files[i] for i in kept]  # which file each image is (captions are matched to them)
    return data


def one_size(arrays: list[np.ndarray], root: Path) -> list[np.ndarray]:
    """Images of several sizes (no data.image_size) are fitted to the most common one, with one warning."""
    sizes = Counter(a.shape[:2] for a in arrays)
    if len(sizes) == 1:
        return arrays
    (height, width), _ = sizes.most_common(1)[0]
    warnings.warn(f"images in {root} come in {len(sizes)} sizes: resized to {width}x{height}, the most common "
                  "(set data.image_size to choose)", stacklevel=3)
    return [a if a.shape[:2] == (height, width) else
            np.asarray(ImageOps.fit(Image.fromarray(a), (width, height), method=Image.Resampling.BICUBIC)) for a in arrays]


def unreadable(path: Path, e: Exception) -> DataError:
    bomb = isinstance(e, (Image.DecompressionBombError, Image.DecompressionBombWarning))
    hint = "data.max_image_pixels sets the limit" if bomb else "data.skip_bad_files skips such files"
    return DataError(f"{path}: cannot read image ({e}); {hint}")


def _decode_all(paths: list[Path], mode: str, image_size: int | None, max_pixels: int, skip_bad_files: bool,
                limit: int | None) -> list[Path]:
    """Decode and drop: the check that every file of the held-out split can be read; returns those skipped."""
    good, bad = 0, []
    for path in tqdm(paths, desc="checking held-out images", disable=len(paths) <= 1000, leave=False):
        if limit is not None and good >= limit:
            break
        try:
            _decode(path, mode, image_size, max_pixels)
            good += 1
        except READ_ERRORS as e:
            if not skip_bad_files:
                raise unreadable(path, e) from None
            bad.append(path)
    return bad


def check_memory(root: Path, paths: list[Path], channels: int, image_size: int | None, max_pixels: int) -> None:
    """Refuse, before decoding, a data set that would not fit in memory (every image as large as the first,
    which without `image_size` they must be)."""
    if not paths:
        return
    if image_size is not None:
        pixels = image_size * image_size
    else:
        try:
            with _open(paths[0], max_pixels) as image:
                pixels = image.width * image.height
        except READ_ERRORS:
            return  # named when it is decoded
    need, available = len(paths) * pixels * channels, available_memory()
    if available is not None and need > available // 2:
        raise DataError(f"image folder {root}: {len(paths)} images of {pixels:,} pixels would take {need / 2**30:.1f} GiB "
                        f"in memory ({available / 2**30:.1f} GiB available); set data.image_size (e.g. 64) "
                        "or data.limit")


def available_memory() -> int | None:
    """Bytes of memory available to a new allocation (Linux: MemAvailable), None where unknown."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


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


def _open(path: Path, max_pixels: int) -> Image.Image:
    """Open (the header only) and refuse an image over `max_pixels` before any pixel is decoded. Pillow's own
    bomb warning (past its 89 MP) is an error too: a file is either read or named."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        image = Image.open(path)
    if image.width * image.height > max_pixels:
        image.close()
        raise Image.DecompressionBombError(f"{image.width}x{image.height} = {image.width * image.height:,} pixels, over "
                                           f"data.max_image_pixels = {max_pixels:,}")
    return image


def _decode(path: Path, mode: str, image_size: int | None, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """H x W (x 3) uint8; transparency is composited on white so hidden pixels do not leak into RGB."""
    with _open(path, max_pixels) as image, warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        if image_size is not None and image.format == "JPEG":
            image.draft(mode, (image_size, image_size))  # decode at 1/2, 1/4 or 1/8 scale, still >= image_size
        image = ImageOps.exif_transpose(image)
        if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
            image = Image.alpha_composite(Image.new("RGBA", image.size, "white"), image.convert("RGBA"))
        image = image.convert(mode)
        if image_size is not None:
            image = ImageOps.fit(image, (image_size, image_size), method=Image.Resampling.BICUBIC)
        return np.asarray(image)
