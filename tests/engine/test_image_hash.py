"""Image-hash detector: PDQ hashes of fetched images, matched against `pdq` lists within a
Hamming distance; a failed fetch fails the object with its reason."""

from __future__ import annotations

import pytest
from PIL import Image

from tests.engine.helpers import labels, named, policy, run
from tests.engine.images import encoded, picture
from vigil.engine.detectors.image_hash import ImageFailure, hash_image
from vigil.engine.models import EvaluationError
from vigil.engine.text import ObjectView

URL = "https://cdn.example/p/1.jpg"


def _distance(a: str, b: str) -> int:
    return bin(int(a, 16) ^ int(b, 16)).count("1")


def test_near_duplicates_hash_close_and_other_pictures_far() -> None:
    original = hash_image(encoded(picture(0), quality=95))
    resized = hash_image(encoded(picture(0).resize((240, 180)), "PNG"))
    recompressed = hash_image(encoded(picture(0), quality=40))
    other = hash_image(encoded(picture(3)))
    assert original.quality >= 50 and len(original.hex) == 64
    assert _distance(original.hex, resized.hex) <= 31
    assert _distance(original.hex, recompressed.hex) <= 31
    assert _distance(original.hex, other.hex) > 60


def test_listed_hashes_match_within_max_distance() -> None:
    listed = hash_image(encoded(picture(0))).hex
    source = """
detectors:
  known: {type: image_hash, list: known-bad, max_distance: 31}
rules:
  - name: known
    when: detectors.known.matched
    labels:
      - {label: image.known_bad, explanation: "{{ match.field }} is {{ match.distance }} bits from a listed image"}
"""
    compiled = policy(source, named("known-bad", "pdq", listed, "0" * 64))
    near = hash_image(encoded(picture(0).resize((300, 225)), quality=70))
    obj = {"id": "p", "images": [URL]}
    assert compiled.image_urls(ObjectView({"images": {"content_type": "image_url"}}, obj)) == [URL]
    result = run(compiled, obj, images={URL: near})
    assert labels(result) == ["image.known_bad"]
    hit = result.provenance.rules[0].evidence[0]
    assert (hit.field, hit.term, hit.list) == ("images[0]", listed, "known-bad")
    assert hit.distance == _distance(near.hex, listed)
    assert result.output.labels[0].explanation == f"images[0] is {hit.distance} bits from a listed image"
    other = hash_image(encoded(picture(5)))
    assert labels(run(compiled, obj, images={URL: other})) == []


def test_low_quality_hashes_do_not_match() -> None:
    flat = hash_image(encoded(picture(0).resize((8, 8)).resize((400, 400))))
    blank = hash_image(encoded(Image.new("RGB", (300, 300), "gray")))
    assert blank.quality < 50
    compiled = policy(
        "detectors: {k: {type: image_hash, list: l, max_distance: 256}}\nrules: []", named("l", "pdq", blank.hex)
    )
    assert run(compiled, {"id": "p", "images": URL}, images={URL: blank}).provenance.detectors == {"k": 0}
    assert flat.hex  # a blurry picture still hashes


def test_fetch_failures_fail_the_object_with_the_reason() -> None:
    compiled = policy("detectors: {k: {type: image_hash, list: l}}\nrules: []", named("l", "pdq", "0" * 64))
    refused = ImageFailure("refused to connect to 127.0.0.1: 127.0.0.1 is a loopback address", retry=False)
    with pytest.raises(EvaluationError) as caught:
        run(compiled, {"id": "p", "images": [URL]}, images={URL: refused})
    assert str(caught.value) == f"images[0]: image '{URL}': {refused.reason}" and caught.value.retry is False
    with pytest.raises(EvaluationError) as caught:
        run(compiled, {"id": "p", "images": [URL]}, images={URL: ImageFailure("no answer within 10 s", retry=True)})
    assert caught.value.retry is True


def test_bytes_that_are_not_an_image_are_refused() -> None:
    with pytest.raises(ValueError, match="not a decodable image"):
        hash_image(b"<html>not an image</html>")
