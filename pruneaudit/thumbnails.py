"""Small PNG thumbnails as data URIs, so the card shows exemplars with no image files.

A minimal, dependency-free PNG writer (zlib + CRC chunks): greyscale or RGB, 8-bit.
Output is deterministic for identical pixels.
"""

from __future__ import annotations

import base64
import struct
import zlib

import numpy as np

MAX_SIDE = 64


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def to_uint8_hwc(image: np.ndarray) -> np.ndarray:
    """(H, W), (C, H, W) or (H, W, C) of any numeric dtype → (H, W, 1|3) uint8 scaled to 0–255."""
    a = np.asarray(image)
    if a.ndim == 3 and a.shape[0] in (1, 3) and a.shape[-1] not in (1, 3):
        a = np.moveaxis(a, 0, -1)
    if a.ndim == 2:
        a = a[:, :, None]
    if a.shape[-1] == 4:
        a = a[..., :3]  # drop alpha
    if a.shape[-1] not in (1, 3):
        a = a[..., :1]  # unknown channel layout: show the first channel
    if a.dtype != np.uint8:
        a = a.astype(np.float64)
        lo, hi = float(a.min()), float(a.max())
        a = np.zeros_like(a) if hi <= lo else (a - lo) / (hi - lo) * 255.0
        a = np.rint(a).astype(np.uint8)
    return a


def png_bytes(image: np.ndarray) -> bytes:
    a = to_uint8_hwc(image)
    step = max(1, -(-max(a.shape[:2]) // MAX_SIDE))  # stride-downsample large images
    a = np.ascontiguousarray(a[::step, ::step])
    h, w, c = a.shape
    colour = {1: 0, 3: 2}[c]
    raw = b"".join(b"\x00" + a[row].tobytes() for row in range(h))  # filter byte 0 per row
    header = struct.pack(">IIBBBBB", w, h, 8, colour, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", zlib.compress(raw, 9)) + _chunk(b"IEND", b"")
    )


def png_data_uri(image: np.ndarray) -> str:
    return "data:image/png;base64," + base64.b64encode(png_bytes(image)).decode("ascii")
