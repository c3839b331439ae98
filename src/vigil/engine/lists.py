"""Named value lists (blocklists and allowlists): their kinds and how values are normalised.

A list has one kind, which says how its values are written and which detectors read it:

- `keyword`: terms for `keyword` detectors (folded like the text they are matched in);
- `string`: exact values (seller ids, phone numbers) for `list` detectors on chosen fields;
- `domain`: domains for `list` detectors; a listed domain also matches its subdomains;
- `email`: e-mail addresses for `list` detectors, matched without regard to case;
- `pdq`: PDQ image hashes (64 hex digits) for `image_hash` detectors.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

KINDS = ("keyword", "string", "domain", "email", "pdq")
NAME_RULE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")
NAME_RULE_TEXT = "a list name is 1-64 characters of a-z, 0-9, '_', '.' and '-', starting with a letter or digit"
MAX_VALUE_CHARS = 1000

_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_TOP = r"[A-Za-z0-9][A-Za-z0-9-]{0,61}[A-Za-z0-9]"
# Spaces are named one by one: `\s` means more in Python than in the ECMA dialect of the
# OpenAPI document, and the two must agree.
SPACES = " \t\n\r\f\v"
_SPACES = r" \t\n\r\f\v"  # the same, as escapes in a pattern
_SP = rf"[{_SPACES}]"
# What each kind accepts, as a regular expression searched in the value as sent. The same
# patterns are in the API's OpenAPI document, so the document and the server agree exactly.
VALUE_PATTERNS = {
    "keyword": rf"[^{_SPACES}]",  # (a term without letters or digits is kept, and never matches)
    "string": rf"[^{_SPACES}]",
    "domain": rf"^{_SP}*(?:\*\.)?(?:{_LABEL}\.)+{_TOP}\.?{_SP}*$",
    "email": rf"^{_SP}*[^@{_SPACES}]+@(?:{_LABEL}\.)+[A-Za-z0-9-]{{2,63}}{_SP}*$",
    "pdq": rf"^{_SP}*[0-9A-Fa-f]{{64}}{_SP}*$",
}
_PATTERNS = {
    "keyword": r"[^\W_]",  # a letter or digit to match
    "string": r"\S",
    "domain": rf"^\s*(?:\*\.)?(?:{_LABEL}\.)+{_TOP}\.?\s*$",
    "email": rf"^\s*[^@\s]+@(?:{_LABEL}\.)+[A-Za-z0-9-]{{2,63}}\s*$",
    "pdq": r"^\s*[0-9A-Fa-f]{64}\s*$",
}
# No value may hold U+0000: PostgreSQL cannot store it, so it is refused on every database.
NO_NUL_PATTERN = r"^[^\x00]*$"
_PATTERNS = {kind: re.compile(pattern) for kind, pattern in VALUE_PATTERNS.items()}
_WHY = {
    "keyword": "must not be empty or blank",
    "string": "must not be empty or blank",
    "domain": "is not a domain like example.com",
    "email": "is not an e-mail address like name@example.com",
    "pdq": "must be a PDQ hash: 64 hexadecimal digits",
}


@dataclass(frozen=True)
class NamedList:
    name: str
    kind: str
    values: tuple[str, ...]  # normalised
    version: int


def normalise_value(kind: str, value: object) -> tuple[str | None, str | None]:
    """(the value as stored, None) or (None, why it is not acceptable)."""
    if not isinstance(value, str):
        return None, "must be a string"
    if len(value) > MAX_VALUE_CHARS:
        return None, f"is {len(value)} characters; at most {MAX_VALUE_CHARS} are allowed"
    if "\x00" in value:
        return None, "contains the NUL character (\\u0000), which cannot be stored; remove it"
    if not _PATTERNS[kind].search(value):
        return None, f"{value[:60]!r} {_WHY[kind]}"
    text = value.strip(SPACES)
    if kind == "domain":
        return text.lower().rstrip(".").removeprefix("*."), None
    if kind in ("email", "pdq"):
        return text.lower(), None
    return text, None
