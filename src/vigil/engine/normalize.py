"""Text folding for keyword matching, so that "G L 0 C K", "Glöck" and "Glосk" (Cyrillic о, с)
all read "glock".

Each character is folded on its own: Unicode NFKC, case folding, diacritics stripped (NFD,
combining marks dropped), Cyrillic and Greek look-alikes mapped to Latin letters, common
leetspeak digits and symbols mapped to letters, and anything that is not a letter or digit
becomes a space. Runs of spaces then collapse to one. Terms and texts go through the same
folding, so a term matches wherever the folded text contains it between word boundaries.

Folding per character keeps a map back to the original text; it is built only when a match
needs its span (`fold_with_offsets`), because most texts match nothing.
"""

from __future__ import annotations

import bisect
import re
import unicodedata

# Cyrillic and Greek letters that look like Latin ones (after case folding).
CONFUSABLES = {
    # Cyrillic
    "а": "a", "в": "b", "е": "e", "ё": "e", "з": "3", "к": "k", "м": "m", "н": "h",
    "о": "o", "п": "n", "р": "p", "с": "c", "т": "t", "у": "y", "х": "x", "ь": "b", "ѕ": "s",
    "і": "i", "ї": "i", "ј": "j", "һ": "h", "ԁ": "d", "ԛ": "q", "ԝ": "w", "ӏ": "l", "ɡ": "g",
    # Greek
    "α": "a", "β": "b", "γ": "y", "ε": "e", "η": "n", "ι": "i", "κ": "k", "ν": "v", "ο": "o",
    "ρ": "p", "σ": "o", "ς": "c", "τ": "t", "υ": "u", "χ": "x", "ω": "w", "μ": "u",
}  # fmt: skip

# Leetspeak: digits and symbols written for letters. "1" and "l" both fold to "i", so a term
# with either letter matches text written with the other or with the digit.
LEET = {
    "0": "o", "1": "i", "l": "i", "3": "e", "4": "a", "@": "a", "5": "s",
    "$": "s", "7": "t", "8": "b", "9": "g",
}  # fmt: skip


def fold_char(char: str) -> str:
    """What one character folds to: "" (dropped), " " (a separator) or letters and digits."""
    text = unicodedata.normalize("NFKC", char).casefold()
    text = "".join(c for c in unicodedata.normalize("NFD", text) if not unicodedata.combining(c))
    folded = []
    for c in text:
        c = CONFUSABLES.get(c, c)
        c = LEET.get(c, c)
        folded.append(c if c.isalnum() else " ")
    return "".join(folded)


class _FoldTable(dict[int, str]):
    """A `str.translate` table that folds characters on first sight and remembers them."""

    def __missing__(self, codepoint: int) -> str:
        folded = fold_char(chr(codepoint))
        if len(self) < 200_000:
            self[codepoint] = folded
        return folded


_TABLE = _FoldTable()
for _codepoint in range(128):
    _TABLE[_codepoint] = fold_char(chr(_codepoint))
    assert len(_TABLE[_codepoint]) == 1  # `Offsets` relies on it


def fold(text: str) -> str:
    """The folded text: letters and digits separated by single spaces, no space at either end."""
    return " ".join(text.translate(_TABLE).split())


def fold_with_offsets(text: str) -> tuple[str, list[int]]:
    """The folded text (exactly `fold(text)`) and, for each of its characters, the index of
    the character of `text` it came from. A loop in Python: for texts with characters that
    fold to several or none; `Offsets` is quicker for the rest."""
    out: list[str] = []
    origin: list[int] = []
    for index, char in enumerate(text):
        for c in _TABLE[ord(char)]:
            if c == " " and (not out or out[-1] == " "):
                continue
            out.append(c)
            origin.append(index)
    if out and out[-1] == " ":
        out.pop()
        origin.pop()
    return "".join(out), origin


_SPACES = re.compile(r" {2,}")


class Offsets:
    """Maps an index of `fold(text)` back to an index of `text`.

    When every character folds to exactly one (always for ASCII), `fold(text)` is the text
    with its characters replaced one for one and each run of spaces collapsed to one: the
    map is the identity shifted by the spaces removed before the index. Only runs of two or
    more spaces (and leading ones) shift it, found with a regular expression, looked up by
    bisection."""

    def __init__(self, text: str) -> None:
        self._slow: list[int] | None = None
        if not text.isascii() and any(len(_TABLE[ord(c)]) != 1 for c in set(text)):
            self._slow = fold_with_offsets(text)[1]
            return
        spread = text.translate(_TABLE)
        self._lead = len(spread) - len(spread.lstrip(" "))
        removed = self._lead
        self._kept: list[int] = []  # folded index of the one space each long run keeps
        self._removed: list[int] = []  # spaces removed up to and including that run
        for run in _SPACES.finditer(spread, self._lead):
            self._kept.append(run.start() - removed)
            removed += run.end() - run.start() - 1
            self._removed.append(removed)

    def original(self, index: int) -> int:
        if self._slow is not None:
            return self._slow[index]
        run = bisect.bisect_left(self._kept, index)  # runs whose kept space is before index
        return index + (self._removed[run - 1] if run else self._lead)


def is_spaced(char: str) -> bool:
    """Whether the script of `char` separates words with spaces. Chinese, Japanese and Thai
    do not, so a term in those scripts matches inside a run of text without boundaries."""
    code = ord(char)
    return not (
        0x0E00 <= code <= 0x0E7F  # Thai
        or 0x3040 <= code <= 0x30FF  # Hiragana, Katakana
        or 0x3400 <= code <= 0x9FFF  # CJK ideographs
        or 0xF900 <= code <= 0xFAFF  # CJK compatibility ideographs
    )
