"""Collecting what is wrong with a policy document, each problem under its path
(`rules[3].when`, `detectors.weapons.terms[12]`), so that one answer lists them all."""

from __future__ import annotations

from typing import Any


class Problems:
    def __init__(self) -> None:
        self.found: list[dict[str, str]] = []

    def add(self, path: str, problem: str) -> None:
        self.found.append({"path": path, "problem": problem})

    def object(self, value: Any, path: str) -> dict[str, Any] | None:
        if isinstance(value, dict):
            return value
        self.add(path, "must be an object (a mapping of keys to values)")
        return None

    def only_keys(self, spec: dict[str, Any], path: str, allowed: tuple[str, ...]) -> None:
        for key in spec:
            if key not in allowed:
                self.add(f"{path}.{key}", f"unknown key; allowed: {', '.join(allowed)}")

    def strings(self, spec: dict[str, Any], key: str, path: str, required: bool = False) -> list[str]:
        """A list of non-empty strings under `key` (a single string counts as a list of one)."""
        value = spec.get(key)
        if value is None:
            if required:
                self.add(f"{path}.{key}", "is required")
            return []
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list):
            self.add(f"{path}.{key}", "must be a list of strings")
            return []
        good = []
        for index, item in enumerate(value):
            if isinstance(item, str) and item.strip():
                good.append(item)
            else:
                self.add(f"{path}.{key}[{index}]", "must be a non-empty string")
        return good

    def string(self, spec: dict[str, Any], key: str, path: str, required: bool = False) -> str | None:
        value = spec.get(key)
        if value is None:
            if required:
                self.add(f"{path}.{key}", "is required")
            return None
        if not isinstance(value, str) or not value.strip():
            self.add(f"{path}.{key}", "must be a non-empty string")
            return None
        return value

    def number(
        self, spec: dict[str, Any], key: str, path: str, default: float, low: float, high: float, integer: bool = False
    ) -> float:
        value = spec.get(key, default)
        kind = "an integer" if integer else "a number"
        if isinstance(value, bool) or not isinstance(value, int | float) or (integer and not isinstance(value, int)):
            self.add(f"{path}.{key}", f"must be {kind} from {low:g} to {high:g}")
            return default
        if not low <= value <= high:
            self.add(f"{path}.{key}", f"must be {kind} from {low:g} to {high:g}, not {value:g}")
            return default
        return value

    def boolean(self, spec: dict[str, Any], key: str, path: str, default: bool) -> bool:
        value = spec.get(key, default)
        if not isinstance(value, bool):
            self.add(f"{path}.{key}", "must be true or false")
            return default
        return value
