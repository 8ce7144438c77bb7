"""Shape checks shared by convolutional families: a clear error instead of a mismatch deep in a layer."""

from __future__ import annotations

from noisecraft.errors import ConfigError


def downsampled_size(shape: tuple[int, ...], stages: int, kind: str = "down-sampling") -> tuple[int, int]:
    """Height and width after `stages` halvings of a (C, H, W) image; the sides must divide evenly."""
    _, h, w = shape
    factor = 2**stages
    if h % factor or w % factor:
        raise ConfigError(
            f"model.channels: {stages} {kind} stages need image sides divisible by {factor}, "
            f"but the data is {h}x{w}; use fewer stages or set data.image_size"
        )
    return h // factor, w // factor
