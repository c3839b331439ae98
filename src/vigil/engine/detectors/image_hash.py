"""Image hashes: PDQ perceptual hashes of the images in `image_url` fields, matched against
`pdq` lists within a Hamming distance.

    known_bad_images:
      type: image_hash
      list: known-bad-images     # kind pdq: 64 hex digits per hash
      max_distance: 31           # bits of 256; PDQ's authors suggest 31 for a match
      min_quality: 50            # PDQ quality below which a hash says too little to match
      fields: [images]           # optional; default: every image_url field

The engine does no I/O: the evaluator fetches each URL (`vigil.fetch`), hashes the bytes
with `hash_image` here, and passes the results in. A failed fetch fails the object's
evaluation with the reason, so that a refused or broken image never passes as "no match".
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pdqhash
from PIL import Image

from vigil.engine.detectors import COMMON_KEYS, MAX_HITS, BuildContext
from vigil.engine.lists import NamedList
from vigil.engine.models import EvaluationError, Hit
from vigil.engine.text import FieldText, ObjectView

KEYS = (*COMMON_KEYS, "list", "max_distance", "min_quality")
HASH_BITS = 256
# Larger images are decoded at a reduced size first: PDQ itself works on 64×64 blocks.
_HASH_INPUT_PX = 512
# Refuse to decode images above this many pixels (decompression bombs).
MAX_IMAGE_PIXELS = 50_000_000
# Images read per object and detector (a field_limit can lower it): each is a fetch.
MAX_IMAGES = 20


@dataclass(frozen=True)
class ImageHash:
    hex: str
    quality: int


@dataclass(frozen=True)
class ImageFailure:
    reason: str
    retry: bool  # a timeout may pass; a refused address or a non-image will not


ImageResult = ImageHash | ImageFailure


def hash_image(data: bytes) -> ImageHash:
    """The PDQ hash of an encoded image (JPEG, PNG, GIF, WebP …). Raises ValueError if the
    bytes are not an image Pillow can decode within `MAX_IMAGE_PIXELS`."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                width, height = image.size
                if width * height > MAX_IMAGE_PIXELS:
                    raise ValueError(f"the image is {width}×{height} pixels; at most {MAX_IMAGE_PIXELS} are hashed")
                image.draft("RGB", (_HASH_INPUT_PX, _HASH_INPUT_PX))
                rgb = image.convert("RGB")
                rgb.thumbnail((_HASH_INPUT_PX, _HASH_INPUT_PX))
                pixels = np.asarray(rgb)
    except (OSError, Image.DecompressionBombError, Image.DecompressionBombWarning, SyntaxError) as exc:
        raise ValueError(f"not a decodable image ({exc.__class__.__name__}: {exc})") from None
    bits, quality = pdqhash.compute(pixels)
    return ImageHash(_hex(bits), int(quality))


def _hex(bits: np.ndarray) -> str:
    """Hex digits of the hash, first bit most significant, as ThreatExchange writes PDQ."""
    return np.packbits(bits.astype(np.uint8)).tobytes().hex()


def _words(hexes: tuple[str, ...]) -> np.ndarray:
    """Hashes as rows of four 64-bit words, for vectorised Hamming distances."""
    if not hexes:
        return np.zeros((0, 4), dtype=np.uint64)
    raw = np.frombuffer(bytes.fromhex("".join(hexes)), dtype=">u8").reshape(-1, 4)
    return raw.astype(np.uint64)


class ImageHashDetector:
    type = "image_hash"

    def __init__(
        self, name: str, named: NamedList, max_distance: int, min_quality: int, fields: frozenset[str] | None
    ) -> None:
        self.name = name
        self.named = named
        self.lists = (named,)
        self.fields = fields
        self.max_distance = max_distance
        self.min_quality = min_quality
        self._hashes = _words(named.values)

    def image_urls(self, view: ObjectView) -> list[str]:
        return [field.text.strip() for field in self._fields(view)]

    def _fields(self, view: ObjectView) -> list[FieldText]:
        return view.url_fields(self.fields, "image_url")[:MAX_IMAGES]

    def detect(self, view: ObjectView, images: Mapping[str, Any]) -> list[Hit]:
        hits: list[Hit] = []
        for field in self._fields(view):
            url = field.text.strip()
            result = images.get(url)
            if result is None:
                raise EvaluationError(f"{field.path}: image {url!r} was not fetched", retry=True)
            if isinstance(result, ImageFailure):
                raise EvaluationError(f"{field.path}: image {url!r}: {result.reason}", retry=result.retry)
            if result.quality < self.min_quality or not len(self._hashes):
                continue
            distances = self.distances(result.hex)
            nearest = int(distances.argmin())
            distance = int(distances[nearest])
            if distance <= self.max_distance:
                hits.append(
                    Hit(
                        detector=self.name,
                        type="image_hash",
                        field=field.path,
                        text=url,
                        term=self.named.values[nearest],
                        list=self.named.name,
                        distance=distance,
                    )
                )
                if len(hits) >= MAX_HITS:
                    break
        return hits

    def distances(self, digest: str) -> np.ndarray:
        words = _words((digest,))[0]
        return np.bitwise_count(self._hashes ^ words).sum(axis=1)


def build(name: str, spec: dict[str, Any], path: str, context: BuildContext) -> ImageHashDetector | None:
    problems = context.problems
    problems.only_keys(spec, path, KEYS)
    list_name = problems.string(spec, "list", path, required=True)
    named = context.named_list(list_name, f"{path}.list", ("pdq",))
    max_distance = int(problems.number(spec, "max_distance", path, 31, 0, HASH_BITS, integer=True))
    min_quality = int(problems.number(spec, "min_quality", path, 50, 0, 100, integer=True))
    fields = context.fields(spec, path)
    if named is None:
        return None
    return ImageHashDetector(name, named, max_distance, min_quality, fields)
