"""PNG surgery for credential tests: change pixels or drop chunks while keeping every other byte."""

from __future__ import annotations

import struct
import zlib


def chunks(png: bytes) -> list[tuple[bytes, bytes]]:
    out, pos = [], 8
    while pos < len(png):
        (length,) = struct.unpack(">I", png[pos : pos + 4])
        out.append((png[pos + 4 : pos + 8], png[pos + 8 : pos + 8 + length]))
        pos += 12 + length
    return out


def assemble(parts: list[tuple[bytes, bytes]]) -> bytes:
    return b"\x89PNG\r\n\x1a\n" + b"".join(
        struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body)) for kind, body in parts)


def without(png: bytes, kind: bytes) -> bytes:
    return assemble([(k, b) for k, b in chunks(png) if k != kind])


def change_one_pixel(png: bytes, y: int = 0, x: int = 0) -> bytes:
    """Pixel (y, x) one level brighter or darker, pixels re-encoded (filter 0, 8-bit), every other chunk as it was."""
    import io

    import numpy as np
    from PIL import Image

    pixels = np.array(Image.open(io.BytesIO(png)))
    pixels[y, x] = np.where(pixels[y, x] < 255, pixels[y, x] + 1, 254)
    rows = pixels.reshape(pixels.shape[0], -1)
    raw = b"".join(b"\0" + row.tobytes() for row in rows)
    out, done = [], False
    for kind, body in chunks(png):
        if kind != b"IDAT":
            out.append((kind, body))
        elif not done:
            out.append((kind, zlib.compress(raw)))
            done = True
    return assemble(out)
