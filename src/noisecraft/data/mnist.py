"""MNIST: the copy shipped inside the package (works offline), or one downloaded from mirrors.

The shipped .gz files were recompressed, so checksums are of the decompressed IDX bytes, which are the
same for both copies. Every load checks the IDX headers (magic, count, 28x28, payload length); hashing
is always done for downloads and, for the shipped copy, only with `verify=True`.
"""

from __future__ import annotations

import gzip
import hashlib
import warnings
import zlib
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Literal

import numpy as np
import torch

from noisecraft.data.base import ImageDataset
from noisecraft.data.download import download_first
from noisecraft.data.transforms import check_split, validation_slice
from noisecraft.errors import DataError
from noisecraft.utils.paths import default_cache_dir

PACKAGE_DIR = Path(__file__).parent / "files" / "mnist"
MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
)
FILES = {  # name: (sha256 of the decompressed IDX bytes, their length)
    "train-images-idx3-ubyte.gz": ("ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db", 47040016),
    "train-labels-idx1-ubyte.gz": ("65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5", 60008),
    "t10k-images-idx3-ubyte.gz": ("0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7", 7840016),
    "t10k-labels-idx1-ubyte.gz": ("ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2", 10008),
}
SPLITS = {  # split: (images file, labels file, number of examples)
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", 60000),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz", 10000),
}
CLASS_NAMES = [str(i) for i in range(10)]
VALIDATION_DIGITS = 10000  # the last training digits: the validation split
IMAGE_MAGIC, LABEL_MAGIC = 2051, 2049  # IDX: 0x08 (unsigned byte) then the number of dimensions


def load_mnist(
    split: Literal["train", "validation", "test"],
    *,
    source: Literal["package", "download"] = "package",
    cache_dir: Path | None = None,
    verify: bool = False,
    hold_out_validation: bool = False,
) -> ImageDataset:
    """MNIST as uint8 [N, 1, 28, 28] with labels 0..9; `source="download"` fetches into `cache_dir/mnist/`.

    The validation split is the last 10,000 training digits; `hold_out_validation` leaves them out of train."""
    check_split(split)
    if source not in ("package", "download"):
        raise DataError(f"unknown MNIST source {source!r}: use 'package' or 'download'")
    if source == "download":
        cache_dir = Path(cache_dir or default_cache_dir()).expanduser().resolve()
    images, labels = _load("test" if split == "test" else "train", source, cache_dir if source == "download" else None, verify)
    if split != "test":
        part = validation_slice(len(images), split, VALIDATION_DIGITS, hold_out_validation, "mnist")
        images, labels = images[part], labels[part]
    return ImageDataset(images.clone(), labels.clone(), list(CLASS_NAMES), "mnist")


def download_mnist(cache_dir: Path | None = None, mirrors: Sequence[str] = MIRRORS) -> Path:
    """Download the four IDX files into `cache_dir/mnist/` (skipping valid ones already there); return it."""
    folder = Path(cache_dir or default_cache_dir()).expanduser() / "mnist"
    for name in FILES:
        dest = folder / name

        def verify(path: Path, name: str = name) -> None:
            _read_gz(path, FILES[name])

        if dest.exists():
            try:
                verify(dest)
                continue
            except DataError as e:
                warnings.warn(f"{e}; downloading it again", stacklevel=2)
        download_first([f"{m.rstrip('/')}/{name}" for m in mirrors], dest, verify=verify)
    return folder


def read_mnist_split(folder: Path, split: str, *, verify: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """Images uint8 [N, 1, 28, 28] and labels int64 [N] of one split from a folder holding the IDX .gz files."""
    images_file, labels_file, count = SPLITS[split]
    images = read_idx_images(Path(folder) / images_file, count, checksum=FILES[images_file] if verify else None)
    labels = read_idx_labels(Path(folder) / labels_file, count, checksum=FILES[labels_file] if verify else None)
    return torch.from_numpy(images).unsqueeze(1), torch.from_numpy(labels).long()


def read_idx_images(path: Path, count: int | None = None, *, checksum: tuple[str, int] | None = None) -> np.ndarray:
    """Parse a gzipped IDX image file of 28x28 images; `checksum` = (sha256, length) of the decompressed bytes."""
    data = _read_gz(path, checksum)
    magic, n, rows, cols = _header(path, data, 4)
    if magic != IMAGE_MAGIC:
        raise DataError(f"{path}: magic number {magic}, expected {IMAGE_MAGIC} (not an IDX image file)")
    if count is not None and n != count:
        raise DataError(f"{path}: header says {n} images, expected {count}")
    if (rows, cols) != (28, 28):
        raise DataError(f"{path}: images are {rows}x{cols}, expected 28x28")
    _check_payload(path, data, 16, n * rows * cols, f"{n}x{rows}x{cols}")
    return np.frombuffer(data, np.uint8, offset=16).reshape(n, rows, cols).copy()


def read_idx_labels(path: Path, count: int | None = None, *, checksum: tuple[str, int] | None = None) -> np.ndarray:
    """Parse a gzipped IDX label file of digits 0..9."""
    data = _read_gz(path, checksum)
    magic, n = _header(path, data, 2)
    if magic != LABEL_MAGIC:
        raise DataError(f"{path}: magic number {magic}, expected {LABEL_MAGIC} (not an IDX label file)")
    if count is not None and n != count:
        raise DataError(f"{path}: header says {n} labels, expected {count}")
    _check_payload(path, data, 8, n, f"{n}")
    labels = np.frombuffer(data, np.uint8, offset=8).copy()
    if n and labels.max() > 9:
        raise DataError(f"{path}: label {labels.max()} outside 0..9")
    return labels


@lru_cache(maxsize=8)
def _load(split: str, source: str, cache_dir: Path | None, verify: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """Parsed once per process; callers get clones, so nothing can modify the cached tensors."""
    if source == "download":
        return read_mnist_split(download_mnist(cache_dir), split)  # download_mnist verified every file
    return read_mnist_split(PACKAGE_DIR, split, verify=verify)


def _read_gz(path: Path, checksum: tuple[str, int] | None) -> bytes:
    try:
        with gzip.open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except (OSError, EOFError, zlib.error) as e:
        raise DataError(f"{path}: not a readable gzip file ({e})") from None
    if checksum is not None:
        actual = hashlib.sha256(data).hexdigest()
        if actual != checksum[0]:
            raise DataError(
                f"{path}: sha256 of the decompressed data is {actual} ({len(data)} bytes), "
                f"expected {checksum[0]} ({checksum[1]} bytes)"
            )
    return data


def _header(path: Path, data: bytes, words: int) -> tuple[int, ...]:
    if len(data) < 4 * words:
        raise DataError(f"{path}: only {len(data)} bytes, too short for an IDX header")
    return tuple(int(v) for v in np.frombuffer(data, ">u4", count=words))


def _check_payload(path: Path, data: bytes, offset: int, expected: int, shape: str) -> None:
    if len(data) - offset != expected:
        raise DataError(
            f"{path}: {len(data) - offset} bytes of data after the header, expected {shape} = {expected} "
            "(truncated or corrupt file)"
        )
