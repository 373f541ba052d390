"""Canonical hub values: one Python value per meaning, typed by the entity schema.

The engine compares projected values with stored baselines, so ``"12"``, ``12.0`` and ``12``
in an integer field must all become ``12``, and ``2024-01-02T10:00:00+09:00`` and
``2024-01-02 01:00:00Z`` in a date-time field must both become ``2024-01-02T01:00:00Z``.
Errors never quote the value (it may be personal data), only describe it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from typing import Any

from renkei.mapping.normalize import nfkc

Converter = Callable[[Any], Any]


class FieldValueError(ValueError):
    """A value cannot be converted; the message describes it without quoting it."""


def describe(value: Any) -> str:
    """A short description of a value that does not reveal it (``text of 12 characters``)."""
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return f"text of {len(value)} characters"
    if isinstance(value, (list, tuple)):
        return f"a list of {len(value)} items"
    if isinstance(value, Mapping):
        return "an object"
    return f"a {type(value).__name__}"


def is_blank(value: Any) -> bool:
    """None, an empty or white-space-only string, or an empty list/object."""
    if value is None:
        return True
    if value.__class__ is str:
        return not value or value.isspace()
    if isinstance(value, (list, tuple, dict)):
        return not value
    return False


_CANONICAL_UTC = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")
_DATETIME = re.compile(
    r"(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})"
    r"(?:(?:T|\s+)(\d{1,2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?)?"
    r"\s*(Z|UTC|GMT|JST|[+-]\d{2}(?::?\d{2})?)?",
    re.IGNORECASE,
)
_EPOCH = re.compile(r"-?\d{10,14}")
_JAPANESE_DATE = str.maketrans({"年": "-", "月": "-", "日": " ", "時": ":", "分": "", "秒": ""})
_NAMED_ZONES = {"Z": UTC, "UTC": UTC, "GMT": UTC,
                "JST": timezone(timedelta(hours=9))}


def _offset(text: str) -> tzinfo:
    named = _NAMED_ZONES.get(text.upper())
    if named is not None:
        return named
    sign = -1 if text[0] == "-" else 1
    digits = text[1:].replace(":", "")
    hours, minutes = int(digits[:2]), int(digits[2:4] or 0)
    return timezone(sign * timedelta(hours=hours, minutes=minutes))


def parse_datetime(value: Any, tz: tzinfo | None = None) -> datetime:
    """Parse a system date-time into an aware ``datetime``.

    Accepts ISO 8601 (``T`` or space, optional seconds and fraction, ``Z``/offset/``JST``),
    ``YYYY/MM/DD HH:MM``, ``2024年1月2日 10時00分``, a date alone (midnight), epoch seconds
    or milliseconds (number or digit string), and ``datetime``/``date`` objects.

    Args:
        value: The value.
        tz: Zone of naive values; UTC when ``None``.

    Raises:
        FieldValueError: not a date-time.
    """
    zone = tz or UTC
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=zone)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=zone)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return _from_epoch(value)
    if not isinstance(value, str):
        raise FieldValueError(f"expected a date-time, got {describe(value)}")
    text = value.strip()
    if _CANONICAL_UTC.fullmatch(text):
        return datetime(int(text[:4]), int(text[5:7]), int(text[8:10]), int(text[11:13]),
                        int(text[14:16]), int(text[17:19]), tzinfo=UTC)
    if _EPOCH.fullmatch(text):
        return _from_epoch(int(text))
    match = _DATETIME.fullmatch(nfkc(text).translate(_JAPANESE_DATE).strip())
    if match is None:
        raise FieldValueError(f"not a date-time ({describe(value)})")
    year, month, day, hour, minute, second, fraction, zone_text = match.groups()
    try:
        parsed = datetime(
            int(year), int(month), int(day), int(hour or 0), int(minute or 0),
            int(second or 0), int((fraction or "0")[:6].ljust(6, "0")),
            tzinfo=_offset(zone_text) if zone_text else zone,
        )
    except ValueError as exc:
        raise FieldValueError(f"not a valid date-time ({exc})") from None
    return parsed


def _from_epoch(number: float) -> datetime:
    if math.isnan(number) or math.isinf(number):
        raise FieldValueError("not a date-time (not a finite number)")
    seconds = number / 1000 if abs(number) >= 100_000_000_000 else number
    try:
        return datetime.fromtimestamp(seconds, tz=UTC)
    except (OverflowError, OSError, ValueError):
        raise FieldValueError("not a date-time (epoch out of range)") from None


def format_utc(moment: datetime) -> str:
    """The hub's canonical form: UTC, whole seconds, ``YYYY-MM-DDTHH:MM:SSZ``."""
    utc = moment.astimezone(UTC)
    return (f"{utc.year:04d}-{utc.month:02d}-{utc.day:02d}T"
            f"{utc.hour:02d}:{utc.minute:02d}:{utc.second:02d}Z")


def canonical_datetime(value: Any, tz: tzinfo | None = None) -> str:
    """Any accepted date-time → ``YYYY-MM-DDTHH:MM:SSZ`` (naive values read in ``tz``)."""
    if value.__class__ is str and tz is None and _CANONICAL_UTC.fullmatch(value):
        return str(value)
    return format_utc(parse_datetime(value, tz))


def parse_date(value: Any) -> date:
    """``YYYY-MM-DD``, ``YYYY/MM/DD``, ``2024年1月2日`` or a date-time's own date part.

    Raises:
        FieldValueError: not a date.
    """
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if not isinstance(value, str):
        raise FieldValueError(f"expected a date, got {describe(value)}")
    match = _DATETIME.fullmatch(nfkc(value).translate(_JAPANESE_DATE).strip())
    if match is None:
        raise FieldValueError(f"not a date ({describe(value)})")
    try:
        return date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
    except ValueError as exc:
        raise FieldValueError(f"not a valid date ({exc})") from None


def canonical_date(value: Any) -> str:
    """Any accepted date → ``YYYY-MM-DD``."""
    return parse_date(value).isoformat()


_INTEGER = re.compile(r"[-+]?\d+")


def _number_text(value: str) -> str:
    return nfkc(value).strip().replace(",", "").replace("_", "")


def to_integer(value: Any) -> int:
    """``12``, ``12.0``, ``"12"``, ``"１，２００"`` → int; anything else is an error."""
    if value.__class__ is int:
        return int(value)
    if isinstance(value, bool):
        raise FieldValueError("expected an integer, got a boolean")
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        if value.is_integer():
            return int(value)
        raise FieldValueError("expected an integer, got a number with a fraction")
    if isinstance(value, str):
        if value.isascii() and value.isdigit():
            return int(value)
        text = _number_text(value)
        if _INTEGER.fullmatch(text):
            return int(text)
        try:
            number = float(text)
        except ValueError:
            raise FieldValueError(f"not an integer ({describe(value)})") from None
        if number.is_integer():
            return int(number)
        raise FieldValueError("expected an integer, got a number with a fraction")
    raise FieldValueError(f"expected an integer, got {describe(value)}")


def to_number(value: Any) -> int | float:
    """A finite number; whole numbers become ``int`` so ``12.0`` and ``12`` are one value."""
    if isinstance(value, bool):
        raise FieldValueError("expected a number, got a boolean")
    if isinstance(value, int):
        return int(value)
    if isinstance(value, str):
        try:
            value = float(_number_text(value))
        except ValueError:
            raise FieldValueError(f"not a number ({describe(value)})") from None
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            raise FieldValueError("not a finite number")
        return int(value) if value.is_integer() else value
    raise FieldValueError(f"expected a number, got {describe(value)}")


TRUE_WORDS = frozenset({"true", "t", "yes", "y", "1", "on", "はい", "有", "あり", "○", "◯",
                        "済", "✓", "✔"})
FALSE_WORDS = frozenset({"false", "f", "no", "n", "0", "off", "いいえ", "無", "なし", "×",
                         "✕", "未"})


_BOOLEAN_WORDS = {**dict.fromkeys(TRUE_WORDS, True), **dict.fromkeys(FALSE_WORDS, False)}


def to_boolean(value: Any) -> bool:
    """true/false, 1/0, "yes"/"no", "はい"/"いいえ", "○"/"×", ... → bool."""
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        quick = _BOOLEAN_WORDS.get(value)
        if quick is not None:
            return quick
        word = nfkc(value).strip().lower()
        if word in TRUE_WORDS:
            return True
        if word in FALSE_WORDS:
            return False
    raise FieldValueError(f"not a boolean ({describe(value)})")


def to_text(value: Any) -> str | None:
    """Strings as they are (blank → None); numbers as their decimal text."""
    if value.__class__ is str:
        return None if not value or value.isspace() else str(value)
    if isinstance(value, bool):
        raise FieldValueError("expected text, got a boolean")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    raise FieldValueError(f"expected text, got {describe(value)}")


def to_list(value: Any) -> list[Any] | None:
    """A list (tuples too); an empty list is blank."""
    if isinstance(value, (list, tuple)):
        return list(value) if value else None
    raise FieldValueError(f"expected a list, got {describe(value)} (use the split transform)")


def to_object(value: Any) -> dict[str, Any] | None:
    """A JSON object; an empty one is blank."""
    if isinstance(value, Mapping):
        return dict(value) if value else None
    raise FieldValueError(f"expected an object, got {describe(value)}")


def _identity(value: Any) -> Any:
    return value


def canonicalizer(json_type: str | None, json_format: str | None) -> Converter:
    """The converter that makes a value canonical for an entity field of this type."""
    if json_type == "string":
        if json_format == "date-time":
            return canonical_datetime
        if json_format == "date":
            return canonical_date
        return to_text
    return {
        "integer": to_integer,
        "number": to_number,
        "boolean": to_boolean,
        "array": to_list,
        "object": to_object,
    }.get(json_type or "", _identity)
