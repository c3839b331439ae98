"""The model layer: a JSON object from the API, read through attributes.

A model declares its fields as annotations. Reading one takes the wire key (`_aliases` maps
an attribute to a wire key that is not its own name, such as `request_id` → `requestId`),
and turns nested objects into the model the annotation names (`Output`, `list[Result]`,
`Output | None`). Nothing is validated: a missing key reads as None, like the official
SDK's lenient parsing. Keys the model does not declare are kept, readable as attributes and
listed in `model_extra`; `to_dict()` gives the object exactly as it came.
"""

from __future__ import annotations

import inspect
import types
import typing
from collections.abc import Mapping
from typing import Any, ClassVar, Union

__all__ = ["Model"]


def _nested_model(hint: Any) -> tuple[type[Model] | None, bool]:
    """(the model class a field's values become, whether the field is a list of them)."""
    if isinstance(hint, type) and issubclass(hint, Model):
        return hint, False
    origin = typing.get_origin(hint)
    if origin in (Union, types.UnionType):
        for arm in typing.get_args(hint):
            found = _nested_model(arm)
            if found[0] is not None:
                return found
    if origin is list:
        (item,) = typing.get_args(hint) or (Any,)
        if isinstance(item, type) and issubclass(item, Model):
            return item, True
    return None, False


# A field: its wire key, the model its values become (if any), and whether it holds a list of them.
_Field = tuple[str, "type[Model] | None", bool]
_FIELDS: dict[type, dict[str, _Field]] = {}


class Model:
    _aliases: ClassVar[Mapping[str, str]] = {}

    def __init__(self, raw: Mapping[str, Any]) -> None:
        object.__setattr__(self, "_raw", dict(raw))
        for name, (key, nested, is_list) in self._declared().items():
            value = raw.get(key)
            if nested is not None and value is not None:
                if is_list and isinstance(value, list):
                    value = [nested(item) if isinstance(item, Mapping) else item for item in value]
                elif isinstance(value, Mapping):
                    value = nested(value)
            object.__setattr__(self, name, value)

    @classmethod
    def _declared(cls) -> dict[str, _Field]:
        """Each declared field, resolved once per class (at first use: annotations may name
        models defined further down the module)."""
        fields = _FIELDS.get(cls)
        if fields is None:
            hints = typing.get_type_hints(cls)
            fields = {
                name: (cls._aliases.get(name, name), *_nested_model(hints.get(name)))
                for klass in reversed(cls.__mro__)
                for name in inspect.get_annotations(klass)
                if not name.startswith("_")
            }
            _FIELDS[cls] = fields
        return fields

    def __getattr__(self, name: str) -> Any:
        # Called only when normal lookup fails: an undeclared key of the answer.
        raw = self.__dict__.get("_raw", {})
        if name.startswith("__") or name not in raw:
            raise AttributeError(f"{type(self).__name__} has no field {name!r}; the answer's keys: {sorted(raw)}")
        return raw[name]

    @property
    def model_extra(self) -> dict[str, Any]:
        """The answer's keys that this model does not declare (Vigil extensions, newer fields)."""
        known = {key for key, _, _ in self._declared().values()}
        raw: dict[str, Any] = self.__dict__["_raw"]
        return {key: value for key, value in raw.items() if key not in known}

    def to_dict(self) -> dict[str, Any]:
        """The object as it came over the wire (wire key names)."""
        return dict(self.__dict__["_raw"])

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other.to_dict() == self.to_dict()

    __hash__ = None  # type: ignore[assignment]  # mutable, like the dict it wraps

    def __repr__(self) -> str:
        shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._declared())
        return f"{type(self).__name__}({shown})"
