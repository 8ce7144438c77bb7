import numpy as np
import pytest
import torch
from PIL import Image

from noisecraft.data.image_folder import load_image_folder
from noisecraft.errors import DataError

RED, BLUE = (255, 0, 0), (0, 0, 255)


def save(path, size=(12, 12), color=RED, mode="RGB", **kwargs):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new(mode, size, color).save(path, **kwargs)
    return path


@pytest.fixture
def classes(tmp_path):
    """cats are red, dogs are blue; different sizes, formats, nesting and extension case."""
    save(tmp_path / "cats" / "a.png", (20, 30))
    save(tmp_path / "cats" / "b.jpg", (40, 40), quality=95)
    save(tmp_path / "dogs" / "c.bmp", (16, 16), BLUE)
    save(tmp_path / "dogs" / "deep" / "d.PNG", (16, 24), BLUE)
    (tmp_path / "dogs" / "notes.txt").write_text("not an image")
    (tmp_path / "cats" / "._a.png").write_bytes(b"macOS resource fork, hidden")
    return tmp_path


def test_labels_from_subfolders(classes):
    data = load_image_folder(classes, image_size=8, labels=True, test_fraction=0)
    assert data.images.shape == (4, 3, 8, 8) and data.images.dtype == torch.uint8
    assert data.class_names == ["cats", "dogs"] and data.spec.num_classes == 2
    red = data.images[:, 0].float().mean((1, 2)) > data.images[:, 2].float().mean((1, 2))
    assert sorted(data.labels.tolist()) == [0, 0, 1, 1] and torch.equal(red, data.labels == 0)


def test_grayscale_uses_luma(classes):
    data = load_image_folder(classes, image_size=8, channels=1, labels=True, test_fraction=0)
    assert data.images.shape == (4, 1, 8, 8)
    png_red = data.images[data.labels == 0].amax((1, 2, 3))  # 0.299 * 255 (jpeg: about)
    assert all(abs(int(v) - 76) <= 3 for v in png_red)


def test_unlabelled_allows_files_in_root_and_native_size(tmp_path):
    save(tmp_path / "x.png")
    save(tmp_path / "sub" / "y.webp")
    data = load_image_folder(tmp_path, test_fraction=0)
    assert data.images.shape == (2, 3, 12, 12) and data.labels is None and data.class_names is None
    with pytest.raises(DataError, match=r"x\.png: with data.labels every image must be inside a class sub-folder"):
        load_image_folder(tmp_path, labels=True)


def test_resize_then_center_crop(tmp_path):
    image = Image.new("RGB", (30, 10), RED)
    image.paste(BLUE, (10, 0, 20, 10))  # only the middle third is blue
    image.save(tmp_path / "wide.png")
    data = load_image_folder(tmp_path, image_size=10, test_fraction=0)
    assert (data.images[0, 2] == 255).all() and (data.images[0, 0] == 0).all()


def test_mixed_sizes_without_image_size_take_the_most_common_with_one_warning(tmp_path):
    save(tmp_path / "a.png", (12, 12))
    save(tmp_path / "b.png", (20, 10), BLUE)
    save(tmp_path / "c.png", (12, 12))
    with pytest.warns(UserWarning, match=r"3 images|2 sizes: resized to 12x12, the most common") as caught:
        data = load_image_folder(tmp_path, test_fraction=0)
    assert len(caught) == 1
    assert data.images.shape == (3, 3, 12, 12)
    blue = (data.images[:, 2] == 255).flatten(1).all(1)
    assert blue.sum() == 1 and (data.images[~blue, 0] == 255).all()  # b is still all blue, a and c red


def test_exif_orientation_and_transparency(tmp_path):
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees when displayed
    save(tmp_path / "rotated.jpg", (20, 10), exif=exif)
    assert load_image_folder(tmp_path, test_fraction=0).images.shape == (1, 3, 20, 10)
    (tmp_path / "rotated.jpg").unlink()
    save(tmp_path / "clear.png", (4, 4), (255, 0, 0, 0), mode="RGBA")  # fully transparent red: shows white
    assert (load_image_folder(tmp_path, test_fraction=0).images == 255).all()


def test_corrupt_file_is_an_error_naming_it(classes):
    (classes / "cats" / "x.png").write_bytes(np.random.default_rng(0).bytes(500))
    with pytest.raises(DataError, match=r"cats/x\.png: cannot read image \(cannot identify image file.*skip_bad_files"):
        load_image_folder(classes, image_size=8, test_fraction=0)


def test_skip_bad_files_warns_with_count(classes):
    (classes / "cats" / "x.png").write_bytes(np.random.default_rng(0).bytes(500))
    (classes / "dogs" / "y.jpg").write_bytes(b"\xff\xd8\xff truncated jpeg")
    with pytest.warns(UserWarning, match=r"skipped 2 unreadable image\(s\) in .*: cats/x\.png, dogs/y\.jpg"):
        data = load_image_folder(classes, image_size=8, labels=True, skip_bad_files=True, test_fraction=0)
    assert len(data) == 4 and sorted(data.labels.tolist()) == [0, 0, 1, 1]


def test_all_bad_with_skip_is_an_error(tmp_path):
    (tmp_path / "x.png").write_bytes(b"nope")
    with pytest.warns(UserWarning), pytest.raises(DataError, match="no readable images"):
        load_image_folder(tmp_path, skip_bad_files=True, test_fraction=0)


def test_missing_empty_and_imageless_folders(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        load_image_folder(tmp_path / "nope")
    with pytest.raises(DataError, match=r"no images in .*found nothing; looked for \.png, \.jpg"):
        load_image_folder(tmp_path)
    (tmp_path / "a.txt").write_text("x")
    (tmp_path / "b.gif").write_bytes(b"GIF89a")
    with pytest.raises(DataError, match=f"no images in {tmp_path} .*only 2 other file"):
        load_image_folder(tmp_path)


@pytest.fixture
def numbered(tmp_path):
    """20 grey images whose level identifies them."""
    for i in range(20):
        save(tmp_path / f"{i:02d}.png", (4, 4), (i * 10,) * 3)
    return tmp_path


def levels(data):
    return data.images[:, 0, 0, 0].tolist()


def test_split_is_disjoint_complete_and_deterministic(numbered):
    train, test = (load_image_folder(numbered, split=s, test_fraction=0.25) for s in ("train", "test"))
    assert len(train) == 15 and len(test) == 5
    assert sorted(levels(train) + levels(test)) == [i * 10 for i in range(20)]
    assert levels(test) == levels(load_image_folder(numbered, split="test", test_fraction=0.25))
    with pytest.raises(DataError, match="no test split: data.test_fraction is 0"):
        load_image_folder(numbered, split="test", test_fraction=0)


def test_limit_stops_early(numbered):
    full = load_image_folder(numbered, test_fraction=0)
    assert levels(load_image_folder(numbered, test_fraction=0, limit=3)) == levels(full)[:3]
