"""Folding text for keyword matching, and mapping folded offsets back to the original."""

from __future__ import annotations

import random

import pytest

from vigil.engine.normalize import Offsets, fold, fold_with_offsets


@pytest.mark.parametrize(
    ("text", "folded"),
    [
        ("GLOCK 19", "giock ig"),  # case, and leetspeak digits (1 → i, 9 → g); l folds to i too
        ("Gl0ck-19!!", "giock ig"),  # separators collapse
        ("Glöck", "giock"),  # diacritics
        ("Glосk", "giock"),  # Cyrillic о and с
        ("ＧＬＯＣＫ", "giock"),  # full-width letters (NFKC)
        ("𝔾𝕝𝕠𝕔𝕜", "giock"),  # mathematical letters (NFKC)
        ("Straße", "strasse"),  # case folding
        ("ΑΚ-47", "ak at"),  # Greek capitals
        ("  w.h.a.t.s   app ", "w h a t s app"),
        ("大麻 出售", "大麻 出售"),
        ("$ale @ 50%", "saie a so"),
        ("", ""),
        ("!!!", ""),
    ],
)
def test_fold(text: str, folded: str) -> None:
    assert fold(text) == folded
    assert fold_with_offsets(text)[0] == folded


def test_offsets_map_back_to_the_original_characters() -> None:
    text = "Buy  a GL0CK, now"
    folded, origin = fold_with_offsets(text)
    start = folded.index("giock")
    assert text[origin[start] : origin[start + 4] + 1] == "GL0CK"


def test_fast_offsets_agree_with_the_character_loop() -> None:
    rng = random.Random(3)
    alphabet = "abc XY-.,!0159éßﬁ大 \u0301\tGLÖ"
    for _ in range(2000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40)))
        folded, origin = fold_with_offsets(text)
        assert folded == fold(text)
        offsets = Offsets(text)
        assert [offsets.original(i) for i in range(len(folded))] == origin, text
