"""A scraped image folder read as an attacker would write it: decompression bombs are refused from their
header, Pillow's bomb warning is an error naming the file, big JPEGs decode reduced, a data set too large
for memory is refused before loading, and a corrupt file in the held-out split stops `train` up front."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import pytest
from PIL import Image, ImageFile, JpegImagePlugin

from noisecraft.cli.main import run
from noisecraft.data import image_folder
from noisecraft.data.image_folder import load_image_folder
from noisecraft.data.transforms import holdout_indices
from noisecraft.errors import DataError


def png_bomb(path: Path, side: int) -> Path:
    """A grey PNG that claims side x side pixels: a real header and the first rows' compressed zeros, a few
    hundred bytes on disk (a full bomb's IDAT is all zeros too; a refusal must not need to read it)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = zlib.compress(b"\0" * (side + 1) * 64, 9)
    header = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", rows) + chunk(b"IEND", b""))
    return path


@pytest.fixture
def never_decoded(monkeypatch):
    """Fail the test if a large image's pixels are decoded."""
    original = ImageFile.ImageFile.load

    def load(self):
        assert self.width * self.height < 1_000_000, f"{self.filename}: decoded"
        return original(self)

    monkeypatch.setattr(ImageFile.ImageFile, "load", load)


def folder_with(tmp_path: Path) -> Path:
    tmp_path.mkdir(parents=True, exist_ok=True)
    for i in range(6):
        Image.new("RGB", (8, 8), (i * 40, 0, 0)).save(tmp_path / f"ok{i}.png")
    return tmp_path


def test_a_60000_square_png_bomb_is_refused_from_its_header(tmp_path, never_decoded):
    bomb = png_bomb(folder_with(tmp_path) / "bomb.png", 60000)
    assert bomb.stat().st_size < 10_000
    with pytest.raises(DataError, match=rf"{bomb}: cannot read image .*decompression bomb.*data.max_image_pixels"):
        load_image_folder(tmp_path, test_fraction=0)


def test_images_over_max_image_pixels_are_refused_naming_the_file(tmp_path, never_decoded):
    big = png_bomb(folder_with(tmp_path) / "big.png", 9000)  # 81 MP: under Pillow's own warning (89 MP)
    with pytest.raises(DataError, match=rf"{big}: cannot read image \(9000x9000 = 81,000,000 pixels, over "
                                        r"data.max_image_pixels = 64,000,000\)"):
        load_image_folder(tmp_path, test_fraction=0)
    with pytest.raises(DataError, match=r"over data.max_image_pixels = 1,000\)"):
        load_image_folder(tmp_path, test_fraction=0, max_pixels=1000)


def test_pillows_bomb_warning_is_an_error_naming_the_file(tmp_path, never_decoded):
    big = png_bomb(folder_with(tmp_path) / "big.png", 10000)  # 100 MP: Pillow warns (89-179 MP) and would decode
    with pytest.raises(DataError, match=rf"{big}: cannot read image \(Image size \(100000000 pixels\) exceeds limit"):
        load_image_folder(tmp_path, test_fraction=0, max_pixels=200_000_000)


def test_skip_bad_files_skips_a_bomb_with_a_warning(tmp_path, never_decoded):
    png_bomb(folder_with(tmp_path) / "bomb.png", 60000)
    with pytest.warns(UserWarning, match="skipped 1 unreadable image"):
        data = load_image_folder(tmp_path, test_fraction=0, skip_bad_files=True)
    assert len(data) == 6


def test_large_jpegs_decode_reduced_when_image_size_is_set(tmp_path, monkeypatch):
    Image.new("RGB", (2000, 1600), (200, 10, 10)).save(tmp_path / "photo.jpg", quality=90)
    scales = []
    draft = JpegImagePlugin.JpegImageFile.draft

    def spy(self, mode, size):
        result = draft(self, mode, size)
        scales.append(self.size)
        return result

    monkeypatch.setattr(JpegImagePlugin.JpegImageFile, "draft", spy)
    data = load_image_folder(tmp_path, image_size=64, test_fraction=0)
    assert scales == [(250, 200)]  # 1/8 scale: the smallest that keeps both sides >= 64
    assert data.images.shape == (1, 3, 64, 64) and abs(int(data.images[0, 0].float().mean()) - 200) <= 3
    load_image_folder(tmp_path, test_fraction=0)
    assert len(scales) == 1  # no image_size: full resolution, no draft


def test_a_data_set_too_large_for_memory_is_refused_before_loading(tmp_path, monkeypatch):
    folder_with(tmp_path)
    monkeypatch.setattr(image_folder, "available_memory", lambda: 1000)
    monkeypatch.setattr(image_folder, "_decode", lambda *a, **k: pytest.fail("decoded before the estimate"))
    with pytest.raises(DataError, match=r"6 images of 64 pixels would take 0.0 GiB.*set data.image_size"):
        load_image_folder(tmp_path, test_fraction=0)
    with pytest.raises(DataError, match=r"6 images of 4,096 pixels"):
        load_image_folder(tmp_path, test_fraction=0, image_size=64)


def test_a_corrupt_file_in_the_held_out_split_stops_train_up_front(tmp_path):
    for i in range(20):
        Image.new("RGB", (4, 4), (i * 10,) * 3).save(tmp_path / f"{i:02d}.png")
    held_out = sorted(tmp_path.glob("*.png"))[holdout_indices(20, "test", 0.1, "x")[0]]
    held_out.write_bytes(held_out.read_bytes()[:40])  # truncated
    with pytest.raises(DataError, match=rf"{held_out}: cannot read image"):
        load_image_folder(tmp_path, split="train", test_fraction=0.1)
    with pytest.warns(UserWarning, match=f"held-out split of {tmp_path} has 1 unreadable image.*{held_out.name}"):
        assert len(load_image_folder(tmp_path, split="train", test_fraction=0.1, skip_bad_files=True)) == 18


def test_train_on_a_bomb_is_one_error_line_and_writes_nothing(tmp_path, capsys):
    data = folder_with(tmp_path / "data")
    png_bomb(data / "bomb.png", 60000)
    out = tmp_path / "run"
    code = run(["train", "mnist-vae-tiny", "--out", str(out), "--quiet", "--max-steps", "2",
                "--set", "data.dataset=image_folder", "--set", f"data.image_folder={data}", "--set", "data.image_size=8", "--set", "data.channels=1"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("error:") == 1 and "bomb.png: cannot read image" in err
    assert not (out / "checkpoints").exists()
