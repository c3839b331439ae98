"""Keyword lists matched with Aho-Corasick over folded text (see `engine/normalize.py`).

One automaton holds every term of the detector, inline and from named `keyword` lists, so a
scan costs the length of the text whatever the number of terms. Each folded term is stored
with a space on each side whose edge is a letter of a spaced script; the folded text is
stored with a space at each end too, so the automaton itself enforces word boundaries and
every raw match is a real one.

    weapons:
      type: keyword
      terms: [glock, ak-47, "ghost gun"]
      lists: [weapon-terms]          # named lists of kind keyword
      fields: [title, description]   # optional; default: every text field
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping
from typing import Any

import ahocorasick

from vigil.engine.detectors import COMMON_KEYS, MAX_HITS, BuildContext
from vigil.engine.lists import NamedList
from vigil.engine.models import Hit
from vigil.engine.normalize import fold, is_spaced
from vigil.engine.text import FieldText, ObjectView

KEYS = (*COMMON_KEYS, "terms", "lists")
MAX_TERMS = 200_000


class KeywordDetector:
    type = "keyword"

    def __init__(
        self,
        name: str,
        terms: list[tuple[str, str | None]],
        fields: frozenset[str] | None,
        lists: tuple[NamedList, ...],
    ) -> None:
        self.name = name
        self.fields = fields
        self.lists = lists
        self._automaton = ahocorasick.Automaton()
        for term, source in terms:
            folded = fold(term)
            if not folded:
                continue
            lead = " " if is_spaced(folded[0]) else ""
            tail = " " if is_spaced(folded[-1]) else ""
            key = f"{lead}{folded}{tail}"
            if key not in self._automaton:
                self._automaton.add_word(key, (term, source, len(lead), len(tail), len(key)))
        self.size = len(self._automaton)
        if self.size:
            self._automaton.make_automaton()

    def detect(self, view: ObjectView, images: Mapping[str, Any]) -> list[Hit]:
        if not self.size:
            return []
        text, starts, fields = view.folded(self.fields)
        hits: list[Hit] = []
        for end, (term, source, lead, tail, length) in self._automaton.iter(text):
            index = bisect.bisect_right(starts, end) - 1
            offset = starts[index] + 1  # the field's leading space
            # Offsets in the field's folded text (without its leading space).
            start = end - length + 1 + lead - offset
            stop = end + 1 - tail - offset
            hits.append(_hit(self.name, fields[index], term, source, start, stop))
            if len(hits) >= MAX_HITS:
                break
        return hits


def _hit(detector: str, field: FieldText, term: str, source: str | None, start: int, stop: int) -> Hit:
    first, last = field.original_span(start, stop)
    return Hit(
        detector=detector,
        type="keyword",
        field=field.path,
        text=field.text[first:last],
        term=term,
        start=first,
        end=last,
        list=source,
    )


def build(name: str, spec: dict[str, Any], path: str, context: BuildContext) -> KeywordDetector:
    problems = context.problems
    problems.only_keys(spec, path, KEYS)
    terms: list[tuple[str, str | None]] = []
    for index, term in enumerate(problems.strings(spec, "terms", path)):
        if fold(term):
            terms.append((term, None))
        else:
            problems.add(f"{path}.terms[{index}]", f"{term!r} has no letters or digits to match")
    lists = []
    for index, list_name in enumerate(problems.strings(spec, "lists", path)):
        found = context.named_list(list_name, f"{path}.lists[{index}]", ("keyword",))
        if found is not None:
            lists.append(found)
            terms.extend((value, found.name) for value in found.values)
    if "terms" not in spec and "lists" not in spec:
        problems.add(path, "a keyword detector needs 'terms', 'lists' or both")
    if len(terms) > MAX_TERMS:
        problems.add(f"{path}.terms", f"{len(terms)} terms; at most {MAX_TERMS} per detector")
    return KeywordDetector(name, terms, context.fields(spec, path), tuple(lists))
