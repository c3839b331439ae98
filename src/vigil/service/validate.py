"""Checks of what callers send, each failure a BadRequest that says what to fix."""

from __future__ import annotations

import re
from typing import Any

from vigil.errors import BadRequest

NAMESPACE_RULE = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")  # used with fullmatch: no trailing newline
NAMESPACE_RULE_TEXT = "a namespace name is 1-64 characters of a-z, 0-9, '_' and '-', starting with a letter or digit"
MAX_ID_CHARS = 512

CONTENT_TYPES = ("image_url", "video_url", "audio_url", "website_url", "datetime", "metadata", "card")
DISPLAY_HINT_TYPES = (
    "title", "subtitle", "description", "primary_image_url", "video_url", "audio_url", "location",
    "date", "compact_text", "markdown", "html", "card", "chat_thread", "two_person_chat",
    "email.reply_to", "email.body", "email.subject", "email.body_image", "email.logo_image",
    "email.event", "email.footer",
)  # fmt: skip
FIELD_KEYS = ("content_type", "display_hint", "field_limit", "belongs_to", "namespace_ref")
DISPLAY_HINT_KEYS = ("type", "name", "order")
UPDATE_MODES = ("replace", "merge")
SETTINGS_KEYS = ("schema", "update_mode")


def namespace(name: str) -> str:
    if not NAMESPACE_RULE.fullmatch(name):
        raise BadRequest(
            f"invalid namespace {name!r}: {NAMESPACE_RULE_TEXT}",
            details=[{"field": "namespace", "value": name[:100]}],
        )
    return name


def object_id_problem(obj: Any) -> str | None:
    """Why this is not an acceptable object, or None."""
    if not isinstance(obj, dict):
        return f"must be a JSON object, got {_json_type(obj)}"
    if "id" not in obj:
        return "missing required field 'id'"
    oid = obj["id"]
    if not isinstance(oid, str):
        return f"'id' must be a string, got {_json_type(oid)}"
    if not oid:
        return "'id' must not be empty"
    if len(oid) > MAX_ID_CHARS:
        return f"'id' is {len(oid)} characters; at most {MAX_ID_CHARS} are allowed"
    return None


# JSON can carry U+0000 only as this escape. PostgreSQL cannot store it in text or jsonb, so
# it is refused on every database alike; the cheap byte test gates the exact search.
NUL_ESCAPE = b"\\u0000"
NUL_PROBLEM = "contains the NUL character (\\u0000), which cannot be stored; remove it"


def nul_path(value: Any, path: str = "") -> str | None:
    """Where in `value` a string (or key) holds U+0000, or None."""
    if isinstance(value, str):
        return path or "(the value)" if "\x00" in value else None
    if isinstance(value, dict):
        for key, item in value.items():
            if "\x00" in key:
                return f"{path}.{key!r}" if path else repr(key)
            found = nul_path(item, f"{path}.{key}" if path else key)
            if found:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found = nul_path(item, f"{path}[{index}]")
            if found:
                return found
    return None


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def schema(value: Any, where: str = "schema") -> dict[str, Any]:
    """A namespace schema: field name → definition. Raises naming every bad part."""
    if not isinstance(value, dict):
        raise BadRequest(f"'{where}' must be an object mapping field names to definitions")
    found = nul_path(value)
    if found:
        raise BadRequest(
            f"{where}: {found} {NUL_PROBLEM}", details=[{"path": f"{where}.{found}", "problem": NUL_PROBLEM}]
        )
    problems: list[dict[str, Any]] = []
    for name, field in value.items():
        path = f"{where}.{name}"
        if not isinstance(field, dict):
            problems.append({"path": path, "problem": "a field definition must be an object"})
            continue
        for key in field:
            if key not in FIELD_KEYS:
                problems.append({"path": f"{path}.{key}", "problem": f"unknown key; allowed: {', '.join(FIELD_KEYS)}"})
        content_type = field.get("content_type")
        if content_type is not None and content_type not in CONTENT_TYPES:
            problems.append(
                {
                    "path": f"{path}.content_type",
                    "problem": f"{content_type!r} is not one of: {', '.join(CONTENT_TYPES)}",
                }
            )
        hint = field.get("display_hint")
        if hint is not None:
            problems.extend(_display_hint_problems(hint, f"{path}.display_hint"))
        limit = _integral(field, "field_limit")
        if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool) or limit <= 0):
            problems.append({"path": f"{path}.field_limit", "problem": "must be an integer greater than 0"})
        for ref_key in ("belongs_to", "namespace_ref"):
            ref = field.get(ref_key)
            if ref is not None and not (isinstance(ref, str) and NAMESPACE_RULE.fullmatch(ref)):
                problems.append(
                    {"path": f"{path}.{ref_key}", "problem": f"must be a namespace name: {NAMESPACE_RULE_TEXT}"}
                )
    if problems:
        first = problems[0]
        more = f" (and {len(problems) - 1} more problems in details)" if len(problems) > 1 else ""
        raise BadRequest(f"{first['path']}: {first['problem']}{more}", details=problems)
    return value


def _display_hint_problems(hint: Any, path: str) -> list[dict[str, Any]]:
    if not isinstance(hint, dict):
        return [{"path": path, "problem": 'must be an object like {"type": "title"}'}]
    problems = []
    for key in hint:
        if key not in DISPLAY_HINT_KEYS:
            problems.append(
                {"path": f"{path}.{key}", "problem": f"unknown key; allowed: {', '.join(DISPLAY_HINT_KEYS)}"}
            )
    hint_type = hint.get("type")
    if hint_type not in DISPLAY_HINT_TYPES:
        problems.append(
            {"path": f"{path}.type", "problem": f"{hint_type!r} is not one of: {', '.join(DISPLAY_HINT_TYPES)}"}
        )
    if "name" in hint and not isinstance(hint["name"], str):
        problems.append({"path": f"{path}.name", "problem": "must be a string"})
    order = _integral(hint, "order")
    if order is not None and (not isinstance(order, int) or isinstance(order, bool) or order < 0):
        problems.append({"path": f"{path}.order", "problem": "must be an integer of 0 or more (0 hides the field)"})
    return problems


def _integral(container: dict[str, Any], key: str) -> Any:
    """JSON has one number type: 5.0 is the integer 5 (as JSON Schema says). Stored as 5."""
    value = container.get(key)
    if isinstance(value, float) and value.is_integer():
        container[key] = value = int(value)
    return value


def settings(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise BadRequest('the settings body must be a JSON object like {"schema": {…}}')
    unknown = [key for key in body if key not in SETTINGS_KEYS]
    if unknown:
        raise BadRequest(
            f"unknown settings key {unknown[0]!r}; allowed: {', '.join(SETTINGS_KEYS)}",
            details=[{"path": key, "problem": "unknown key"} for key in unknown],
        )
    result: dict[str, Any] = {"schema": schema(body.get("schema", {}))}
    mode = body.get("update_mode", "replace")
    if mode not in UPDATE_MODES:
        raise BadRequest(
            f"update_mode {mode!r} is not one of: {', '.join(UPDATE_MODES)}",
            details=[{"path": "update_mode", "problem": "unknown value"}],
        )
    result["update_mode"] = mode
    return result
