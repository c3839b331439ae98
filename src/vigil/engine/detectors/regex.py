"""Regular expressions through RE2: matching takes time linear in the text, whatever the
pattern, so no pattern a customer writes can stall a worker. RE2 refuses what it cannot
run in linear time (back-references, look-around); the policy is then refused with the
pattern's path and RE2's reason.

    phone_numbers:
      type: regex
      patterns: ['\\+?\\d[\\d\\s().-]{7,}\\d']
      ignore_case: true              # default
      fields: [description]          # optional; default: every text field

The fields are joined into one text (`ObjectView.joined`), and all patterns of a detector run
over it first as one RE2 set, which tells in a single pass which of them match at all; only
those are then run alone for their spans.
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping
from typing import Any

import re2

from vigil.engine.detectors import COMMON_KEYS, MAX_HITS, BuildContext
from vigil.engine.models import Hit
from vigil.engine.text import ObjectView

KEYS = (*COMMON_KEYS, "patterns", "ignore_case")
MAX_PATTERNS = 200
MAX_PATTERN_CHARS = 2000


def _options() -> re2.Options:
    options = re2.Options()
    options.log_errors = False  # a bad pattern is reported to the caller, not to stderr
    return options


class RegexDetector:
    type = "regex"
    lists = ()

    def __init__(self, name: str, patterns: list[str], ignore_case: bool, fields: frozenset[str] | None) -> None:
        self.name = name
        self.fields = fields
        prefix = "(?i)" if ignore_case else ""
        self.patterns = patterns
        self._compiled = [re2.compile(prefix + p, _options()) for p in patterns]
        self._set = re2.Set.SearchSet(_options())
        for pattern in patterns:
            self._set.Add(prefix + pattern)
        self._set.Compile()

    def detect(self, view: ObjectView, images: Mapping[str, Any]) -> list[Hit]:
        text, starts, fields = view.joined(self.fields)
        matched = self._set.Match(text) if self.patterns else None
        if not matched:
            return []  # the usual case: one pass over all the fields found nothing
        hits: list[Hit] = []
        for index in sorted(matched):
            for found in self._compiled[index].finditer(text):
                start, end = found.span()
                field = bisect.bisect_right(starts, start) - 1
                start, end = start - starts[field], end - starts[field]
                if start == end or end > len(fields[field].text):
                    continue  # empty, or across two fields: no evidence about either
                hits.append(
                    Hit(
                        detector=self.name,
                        type="regex",
                        field=fields[field].path,
                        text=found.group(0),
                        term=self.patterns[index],
                        start=start,
                        end=end,
                    )
                )
                if len(hits) >= MAX_HITS:
                    return hits
        return hits


def build(name: str, spec: dict[str, Any], path: str, context: BuildContext) -> RegexDetector:
    problems = context.problems
    problems.only_keys(spec, path, KEYS)
    ignore_case = problems.boolean(spec, "ignore_case", path, True)
    prefix = "(?i)" if ignore_case else ""
    patterns = []
    for index, pattern in enumerate(problems.strings(spec, "patterns", path, required=True)):
        where = f"{path}.patterns[{index}]"
        if len(pattern) > MAX_PATTERN_CHARS:
            problems.add(where, f"is {len(pattern)} characters; at most {MAX_PATTERN_CHARS} are allowed")
            continue
        try:
            re2.compile(prefix + pattern, _options())
        except re2.error as exc:
            reason = exc.args[0].decode() if exc.args and isinstance(exc.args[0], bytes) else str(exc)
            problems.add(where, f"RE2 cannot compile this pattern: {reason}")
            continue
        patterns.append(pattern)
    if len(patterns) > MAX_PATTERNS:
        problems.add(f"{path}.patterns", f"{len(patterns)} patterns; at most {MAX_PATTERNS} per detector")
    return RegexDetector(name, patterns, ignore_case, context.fields(spec, path))
