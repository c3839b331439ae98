"""What the detectors read of an object: its text fields and its URL fields.

Text detectors read every field but `id`, the fields the schema types as `metadata`,
`datetime` or a URL, and the fields that hold a parent's id (`belongs_to`/`namespace_ref`).
Strings nested in arrays and objects are read too, each under its path (`tags[2]`,
`shipping.note`). A field's `field_limit` cuts a string to that many characters and an array
to that many items.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from vigil.engine.normalize import Offsets, fold

URL_TYPES = ("image_url", "video_url", "audio_url", "website_url")
NOT_TEXT = ("metadata", "datetime", *URL_TYPES)
_MAX_DEPTH = 8
FIELD_SEPARATOR = "\n\x00\n"


class FieldText:
    """One string of an object, with its folded form made on first use."""

    __slots__ = ("field", "path", "text", "_folded", "_origin")

    def __init__(self, field: str, path: str, text: str) -> None:
        self.field = field  # the top-level field it belongs to
        self.path = path
        self.text = text
        self._folded: str | None = None
        self._origin: Offsets | None = None

    @property
    def folded(self) -> str:
        """The folded text with a space at each end, so that word boundaries are spaces."""
        if self._folded is None:
            self._folded = f" {fold(self.text)} "
        return self._folded

    def original_span(self, start: int, stop: int) -> tuple[int, int]:
        """The span of `text` that characters start…stop of the folded text came from."""
        if self._origin is None:
            self._origin = Offsets(self.text)
        return self._origin.original(start), self._origin.original(stop - 1) + 1


class ObjectView:
    """The text and URL fields of one object, read once and shared by every detector."""

    def __init__(self, schema: dict[str, Any], obj: dict[str, Any]) -> None:
        self.obj = obj
        self.schema = schema
        self._joined: dict[tuple[str, frozenset[str] | None], Any] = {}
        self.texts: list[FieldText] = []
        self.urls: list[FieldText] = []
        self.url_types: dict[str, str] = {}
        for name, value in obj.items():
            if name == "id":
                continue
            spec = schema.get(name)
            spec = spec if isinstance(spec, dict) else {}
            content_type = spec.get("content_type")
            if spec.get("belongs_to") or spec.get("namespace_ref"):
                continue
            limit = spec.get("field_limit")
            if content_type in URL_TYPES:
                self.url_types[name] = content_type
                self.urls.extend(FieldText(name, path, s) for path, s in _strings(name, value, limit, 0))
            elif content_type not in NOT_TEXT:
                self.texts.extend(FieldText(name, path, s) for path, s in _strings(name, value, limit, 0))

    def text_fields(self, only: frozenset[str] | None) -> list[FieldText]:
        if only is None:
            return self.texts
        return [t for t in self.texts if t.field in only]

    def folded(self, only: frozenset[str] | None) -> tuple[str, list[int], list[FieldText]]:
        """The folded texts of these fields joined in one string, where each field starts,
        and the fields: one automaton scan then covers them all. Each folded text has a space
        at both ends, so two spaces separate fields and no term (single spaces) spans two."""
        key = ("folded", only)
        if key not in self._joined:
            fields = self.text_fields(only)
            starts, position = [], 0
            for field in fields:
                starts.append(position)
                position += len(field.folded)
            self._joined[key] = ("".join(field.folded for field in fields), starts, fields)
        return self._joined[key]

    def joined(self, only: frozenset[str] | None) -> tuple[str, list[int], list[FieldText]]:
        """The texts of these fields as sent, joined by a separator that patterns should not
        cross (a line break, NUL, a line break), where each field starts, and the fields: one
        pass of a pattern over them all."""
        key = ("text", only)
        if key not in self._joined:
            fields = self.text_fields(only)
            starts, position = [], 0
            for field in fields:
                starts.append(position)
                position += len(field.text) + len(FIELD_SEPARATOR)
            self._joined[key] = (FIELD_SEPARATOR.join(field.text for field in fields), starts, fields)
        return self._joined[key]

    def url_fields(self, only: frozenset[str] | None, content_type: str | None = None) -> list[FieldText]:
        return [
            u
            for u in self.urls
            if (only is None or u.field in only) and (content_type is None or self.url_types[u.field] == content_type)
        ]


def _strings(path: str, value: Any, limit: int | None, depth: int) -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        yield path, value[:limit] if limit else value
    elif isinstance(value, list) and depth < _MAX_DEPTH:
        for index, item in enumerate(value[:limit] if limit else value):
            yield from _strings(f"{path}[{index}]", item, None, depth + 1)
    elif isinstance(value, dict) and depth < _MAX_DEPTH:
        for key, item in value.items():
            yield from _strings(f"{path}.{key}", item, None, depth + 1)
