import gzip
import struct

import numpy as np
import pytest
import torch

from noisecraft.data.mnist import (
    FILES,
    PACKAGE_DIR,
    download_mnist,
    load_mnist,
    read_idx_images,
    read_idx_labels,
    read_mnist_split,
)
from noisecraft.errors import DataError


def write_idx(path, magic, dims, payload=None):
    """A gzipped IDX file; payload defaults to the length the header implies."""
    size = int(np.prod(dims))
    body = payload if payload is not None else bytes(i % 10 for i in range(size))
    path.write_bytes(gzip.compress(struct.pack(f">{1 + len(dims)}I", magic, *dims) + body, compresslevel=1))
    return path


@pytest.mark.parametrize("split, count", [("train", 60000), ("test", 10000)])
def test_shipped_splits(split, count):
    data = load_mnist(split, verify=True)
    assert data.images.shape == (count, 1, 28, 28) and data.images.dtype == torch.uint8
    assert data.labels.dtype == torch.int64 and set(data.labels.unique().tolist()) == set(range(10))
    assert data.class_names == [str(i) for i in range(10)] and data.name == "mnist"
    assert data.spec.shape == (1, 28, 28) and data.spec.num_classes == 10
    assert 0 < data.images.float().mean() < 255


def test_repeated_loads_share_nothing():
    first = load_mnist("test")
    first.images.fill_(7)
    assert load_mnist("test").images[0, 0, 0, 0] == 0


def test_valid_fake_files_parse(tmp_path):
    images = read_idx_images(write_idx(tmp_path / "i.gz", 2051, (3, 28, 28)), 3)
    labels = read_idx_labels(write_idx(tmp_path / "l.gz", 2049, (3,)), 3)
    assert images.shape == (3, 28, 28) and images[0, 0, 1] == 1 and labels.tolist() == [0, 1, 2]


@pytest.mark.parametrize(
    "make, expected",
    [
        (lambda p: write_idx(p, 1234, (3, 28, 28)), r"magic number 1234, expected 2051 \(not an IDX image file\)"),
        (lambda p: write_idx(p, 2051, (3, 28, 28), bytes(100)), r"100 bytes of data .* 3x28x28 = 2352 \(truncated"),
        (lambda p: write_idx(p, 2051, (5, 28, 28)), "header says 5 images, expected 3"),
        (lambda p: write_idx(p, 2051, (3, 32, 32)), "images are 32x32, expected 28x28"),
        (lambda p: p.write_bytes(gzip.compress(b"\x00\x00")), "too short for an IDX header"),
        (lambda p: p.write_bytes(b"not gzip at all"), "not a readable gzip file"),
        (lambda p: p.write_bytes(gzip.compress(np.random.default_rng(0).bytes(5000))[:-100]), "not a readable gzip"),
    ],
)
def test_bad_image_files_name_the_file(tmp_path, make, expected):
    path = tmp_path / "train-images-idx3-ubyte.gz"
    make(path)
    with pytest.raises(DataError, match=expected) as err:
        read_idx_images(path, 3)
    assert str(err.value).startswith(str(path))


def test_bad_label_files(tmp_path):
    with pytest.raises(DataError, match="magic number 2051, expected 2049"):
        read_idx_labels(write_idx(tmp_path / "a.gz", 2051, (3,)), 3)
    with pytest.raises(DataError, match="label 12 outside 0..9"):
        read_idx_labels(write_idx(tmp_path / "b.gz", 2049, (1,), bytes([12])), 1)
    with pytest.raises(DataError, match=r"a\.gz: file not found"):
        read_idx_labels(tmp_path / "missing" / "a.gz")


def test_split_from_folder_checks_counts_and_checksums(tmp_path):
    write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", 2051, (10000, 28, 28))
    write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", 2049, (9999,))
    with pytest.raises(DataError, match="t10k-labels-idx1-ubyte.gz: header says 9999 labels, expected 10000"):
        read_mnist_split(tmp_path, "test")
    write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", 2049, (10000,))
    images, labels = read_mnist_split(tmp_path, "test")  # headers fine: loads without verify
    assert images.shape == (10000, 1, 28, 28) and labels.shape == (10000,)
    expected = FILES["t10k-images-idx3-ubyte.gz"][0]
    with pytest.raises(DataError, match=f"t10k-images-idx3-ubyte.gz: sha256 .* expected {expected}"):
        read_mnist_split(tmp_path, "test", verify=True)


@pytest.fixture
def mnist_server(file_server):
    for name in FILES:
        file_server.files[f"/mnist/{name}"] = (PACKAGE_DIR / name).read_bytes()
    return file_server


def test_download_mnist_from_local_mirror(mnist_server, tmp_path):
    mirrors = [mnist_server.url("/gone/"), mnist_server.url("/mnist")]
    folder = download_mnist(tmp_path, mirrors)
    assert folder == tmp_path / "mnist" and sorted(p.name for p in folder.iterdir()) == sorted(FILES)
    assert len(mnist_server.requests) == 8  # each file: 404 from the first mirror, then the second
    download_mnist(tmp_path, mirrors)
    assert len(mnist_server.requests) == 8  # present and valid: skipped

    (folder / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(b"garbage"))
    with pytest.warns(UserWarning, match="t10k-labels-idx1-ubyte.gz: .*downloading it again"):
        download_mnist(tmp_path, mirrors)
    assert mnist_server.requests[-1] == ("/mnist/t10k-labels-idx1-ubyte.gz", None)
    assert torch.equal(read_mnist_split(folder, "test", verify=True)[1], load_mnist("test").labels)


def test_download_mnist_rejects_wrong_content(mnist_server, tmp_path):
    # a mirror serving the test labels under the train labels' name: the checksum catches it
    mnist_server.files["/mnist/train-labels-idx1-ubyte.gz"] = mnist_server.files["/mnist/t10k-labels-idx1-ubyte.gz"]
    with pytest.raises(DataError, match="train-labels-idx1-ubyte.gz.*sha256 of the decompressed data"):
        download_mnist(tmp_path, [mnist_server.url("/mnist/")])
    assert not (tmp_path / "mnist" / "train-labels-idx1-ubyte.gz").exists()
    assert not (tmp_path / "mnist" / "train-labels-idx1-ubyte.gz.part").exists()


def test_load_mnist_download_source_uses_the_cache(mnist_server, tmp_path):
    download_mnist(tmp_path, [mnist_server.url("/mnist/")])
    requests = len(mnist_server.requests)
    data = load_mnist("test", source="download", cache_dir=tmp_path)  # default mirrors: must not be needed
    assert torch.equal(data.images, load_mnist("test").images) and len(mnist_server.requests) == requests
