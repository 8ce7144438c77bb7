import numpy as np
import pytest
import torch
from PIL import Image

from noisecraft.data.transforms import convert_channels, holdout_size, resize_images
from noisecraft.errors import DataError


def test_resize_keeps_uint8_and_constant_images():
    images = torch.full((3, 1, 28, 28), 200, dtype=torch.uint8)
    out = resize_images(images, 32)
    assert out.shape == (3, 1, 32, 32) and out.dtype == torch.uint8 and (out == 200).all()
    assert resize_images(images, 28) is images


def test_resize_center_crops_non_square():
    images = torch.zeros((1, 1, 10, 30), dtype=torch.uint8)
    images[..., 10:20] = 255  # the middle third
    out = resize_images(images, 5, chunk=1)
    assert out.shape == (1, 1, 5, 5) and (out[..., 1:4] == 255).all()
    assert torch.equal(out[..., 0], out[..., 4]) and (out[..., 0] > 128).all()  # centered: edges blend alike


def test_resize_chunks_agree():
    images = torch.randint(0, 256, (5, 3, 9, 9), dtype=torch.uint8)
    assert torch.equal(resize_images(images, 4, chunk=2), resize_images(images, 4))


def test_channels_round_trip_and_match_pillow_luma():
    rgb = torch.randint(0, 256, (2, 3, 4, 5), dtype=torch.uint8)
    gray = convert_channels(rgb, 1)
    pillow = np.asarray(Image.fromarray(rgb[0].permute(1, 2, 0).numpy()).convert("L"))
    assert gray.shape == (2, 1, 4, 5) and np.array_equal(gray[0, 0].numpy(), pillow)
    assert torch.equal(convert_channels(gray, 3), gray.repeat(1, 3, 1, 1)) and convert_channels(gray, 1) is gray
    with pytest.raises(DataError, match="cannot convert 2-channel"):
        convert_channels(torch.zeros((1, 2, 4, 4), dtype=torch.uint8), 3)


@pytest.mark.parametrize("n, fraction, expected", [(100, 0.1, 10), (3, 0.1, 1), (1, 0.5, 0), (2, 0.9, 1), (5, 0, 0)])
def test_holdout_size(n, fraction, expected):
    assert holdout_size(n, fraction) == expected
