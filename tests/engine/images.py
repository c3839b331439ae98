"""Test images drawn with Pillow: a structured picture (PDQ needs texture to be confident)
and its near-duplicates."""

from __future__ import annotations

import io

from PIL import Image, ImageDraw


def picture(seed: int = 0, size: tuple[int, int] = (480, 360)) -> Image.Image:
    image = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(image)
    width, height = size
    for i in range(0, width, 24):
        top = (i * (7 + seed)) % (height - 60)
        draw.rectangle(
            [i, top, i + 18, top + 60], fill=((i * 3 + seed * 40) % 256, (90 + seed * 70) % 256, 200 - i % 200)
        )
    draw.ellipse([width // 8, height // 8, width // 2, height // 2 + 40], outline="black", width=9)
    draw.line([0, height - 1, width - 1, 0], fill=(seed * 50 % 256, 0, 0), width=7)
    return image


def encoded(image: Image.Image, fmt: str = "JPEG", **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()
