# SPDX-License-Identifier: Apache-2.0
"""The Mandelbrot demo's image: the 1000x1000 grid, the expected iteration checksum, and a PNG
writer without dependencies (shared by bench/bench.py and the MQTT variant)."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

SIZE, TILE, MAX_ITER = 1000, 250, 256
PIXELS = SIZE * SIZE
CHECKSUM = 47_554_279  # sum of the iterations of every pixel


def write_png(path: Path, image: bytearray) -> None:
    """RGB PNG of the iteration image (one byte per pixel, row-major): black inside the set, a
    blue-to-gold ramp outside."""
    palette = []
    for i in range(256):
        t = (i / 255) ** 0.35
        palette.append(bytes((int(255 * t), int(200 * t), int(80 + 100 * (1 - t)))) if i < 255 else b"\0\0\0")
    raw = bytearray()
    for y in range(SIZE):
        raw.append(0)
        raw += b"".join(palette[v] for v in image[y * SIZE:(y + 1) * SIZE])

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", SIZE, SIZE, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(bytes(raw), 6))
                     + chunk(b"IEND", b""))
