"""Named value lists (`PUT /v1/lists/{name}`) checked against an object: blocklists and
allowlists of domains, e-mail addresses and exact values such as seller ids.

    blocked_domains:
      type: list
      list: blocked-domains     # kind domain: found in text and URL fields, subdomains too
    banned_sellers:
      type: list
      list: banned-sellers      # kind string: exact values of the named fields
      fields: [seller]

A `domain` list is matched against every domain written in the text fields (in URLs, e-mail
addresses or bare) and the hosts of URL fields; `a.b.example.com` matches a listed
`example.com`. An `email` list is matched against the addresses in the text fields. A
`string` list is matched against the values of the named fields as they are (a string or a
number, or the items of an array), which may be any fields, metadata and parent ids included.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import urlsplit

import re2

from vigil.engine.detectors import COMMON_KEYS, MAX_HITS, BuildContext
from vigil.engine.lists import NamedList
from vigil.engine.models import Hit
from vigil.engine.text import ObjectView

KEYS = (*COMMON_KEYS, "list")

_OPTIONS = re2.Options()
_OPTIONS.log_errors = False
_DOMAIN = re2.compile(r"(?i)\b(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,61}[a-z0-9]\b", _OPTIONS)
# Cheap tests (no nested repetition, so linear in Python's engine too) before the RE2 scans.
_MAY_HOLD_DOMAIN = re.compile(r"[A-Za-z0-9]\.[A-Za-z]")
_MAY_HOLD_EMAIL = re.compile(r"@")
_EMAIL = re2.compile(r"(?i)\b[a-z0-9._%+-]+@(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}\b", _OPTIONS)


class ListDetector:
    type = "list"

    def __init__(self, name: str, named: NamedList, fields: frozenset[str] | None) -> None:
        self.name = name
        self.fields = fields
        self.named = named
        self.lists = (named,)
        self._values = frozenset(named.values)

    def detect(self, view: ObjectView, images: Mapping[str, Any]) -> list[Hit]:
        hits: list[Hit] = []
        for path, text, listed, start, end in self._candidates(view):
            hits.append(
                Hit(
                    detector=self.name,
                    type="list",
                    field=path,
                    text=text,
                    term=listed,
                    start=start,
                    end=end,
                    list=self.named.name,
                )
            )
            if len(hits) >= MAX_HITS:
                break
        return hits

    def _candidates(self, view: ObjectView) -> Iterator[tuple[str, str, str, int | None, int | None]]:
        kind = self.named.kind
        if kind == "string":
            for path, value in _values(view.obj, self.fields or frozenset()):
                if value in self._values:
                    yield path, value, value, None, None
            return
        pattern = _EMAIL if kind == "email" else _DOMAIN
        quick = _MAY_HOLD_EMAIL if kind == "email" else _MAY_HOLD_DOMAIN
        for field in view.text_fields(self.fields):
            if not quick.search(field.text):
                continue  # most prose has no "x.y" and no "@"
            for found in pattern.finditer(field.text):
                listed = self._listed(found.group(0).lower())
                if listed is not None:
                    yield field.path, found.group(0), listed, found.start(), found.end()
        if kind == "domain":
            for field in view.url_fields(self.fields):
                host = _host(field.text)
                listed = self._listed(host) if host else None
                if listed is not None:
                    yield field.path, field.text, listed, None, None

    def _listed(self, candidate: str) -> str | None:
        """The listed value that `candidate` matches: itself, or for a domain a parent domain."""
        if candidate in self._values:
            return candidate
        if self.named.kind != "domain":
            return None
        labels = candidate.split(".")
        for index in range(1, len(labels) - 1):
            parent = ".".join(labels[index:])
            if parent in self._values:
                return parent
        return None


def _values(obj: dict[str, Any], fields: frozenset[str]) -> Iterator[tuple[str, str]]:
    for name in sorted(fields):
        value = obj.get(name)
        items = value if isinstance(value, list) else [value]
        for index, item in enumerate(items):
            if isinstance(item, bool) or not isinstance(item, str | int | float):
                continue
            path = f"{name}[{index}]" if isinstance(value, list) else name
            yield path, str(item).strip()


def _host(url: str) -> str | None:
    try:
        host = urlsplit(url.strip()).hostname
    except ValueError:
        return None
    return host.rstrip(".") if host else None


def build(name: str, spec: dict[str, Any], path: str, context: BuildContext) -> ListDetector | None:
    problems = context.problems
    problems.only_keys(spec, path, KEYS)
    list_name = problems.string(spec, "list", path, required=True)
    named = context.named_list(list_name, f"{path}.list", ("string", "domain", "email"))
    fields = context.fields(spec, path)
    if named is None:
        return None
    if named.kind == "string" and not fields:
        problems.add(f"{path}.fields", f"list {named.name!r} holds exact values: name the fields to compare")
        return None
    return ListDetector(name, named, fields)
