"""Field transforms: named, two-way value conversions that mapping files list in order.

Inbound, a field's transforms run first to last (``to_hub``); outbound, last to first
(``to_system``). Normalising transforms (``trim``, ``nfkc``, ...) are the identity outbound.
A transform never sees a blank value: blanks become ``None`` (or the field's default) before.

A partner adds one with :func:`register_transform`::

    def upper_snake(args: Mapping[str, Any]) -> Transform:
        check_args("upper_snake", args, {})
        return Transform(lambda v: str(v).upper().replace(" ", "_"), identity)

    register_transform("upper_snake", upper_snake)
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import tzinfo
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers

from renkei.mapping import canonical as c
from renkei.mapping.canonical import FieldValueError
from renkei.mapping.normalize import collapse_spaces, company_name, nfkc, to_katakana

Converter = Callable[[Any], Any]


class TransformArgsError(ValueError):
    """A transform was given arguments it does not accept (a validation error)."""


class Transform:
    """A pair of conversions: system → hub (``to_hub``) and hub → system (``to_system``).

    Both raise :class:`~renkei.mapping.canonical.FieldValueError` for a value they cannot
    convert; the message must describe the value, never quote it.
    """

    __slots__ = ("to_hub", "to_system")

    def __init__(self, to_hub: Converter, to_system: Converter) -> None:
        self.to_hub = to_hub
        self.to_system = to_system


TransformFactory = Callable[[Mapping[str, Any]], Transform]
"""Builds a :class:`Transform` from the arguments in the mapping file (``{}`` when none)."""

TRANSFORMS: dict[str, TransformFactory] = {}


def register_transform(name: str, factory: TransformFactory) -> None:
    """Make ``name`` usable in ``transform:`` lists; a later registration replaces one."""
    TRANSFORMS[name] = factory


def build_transform(name: str, args: Mapping[str, Any]) -> Transform:
    """Build the transform ``name`` with ``args``.

    Raises:
        KeyError: no transform of that name.
        TransformArgsError: bad arguments.
    """
    return TRANSFORMS[name](args)


def identity(value: Any) -> Any:
    """Return the value unchanged."""
    return value


def check_args(name: str, args: Mapping[str, Any], allowed: Mapping[str, type | tuple[type, ...]]
               ) -> None:
    """Reject unknown arguments and arguments of the wrong type.

    Raises:
        TransformArgsError: naming the transform and the argument.
    """
    for key, value in args.items():
        if key not in allowed:
            accepted = ", ".join(allowed) or "no arguments"
            raise TransformArgsError(
                f"transform '{name}' has no argument '{key}' (accepts: {accepted})")
        if not isinstance(value, allowed[key]) or isinstance(value, bool) and allowed[key] is int:
            raise TransformArgsError(f"transform '{name}': argument '{key}' has the wrong type")


def _text_only(function: Callable[[str], str]) -> Converter:
    def convert(value: Any) -> Any:
        return function(value) if value.__class__ is str else value
    return convert


def _simple(function: Callable[[str], str], name: str) -> TransformFactory:
    def factory(args: Mapping[str, Any]) -> Transform:
        check_args(name, args, {})
        return Transform(_text_only(function), identity)
    return factory


_TEXT_FUNCTIONS: dict[str, Callable[[str], str]] = {
    "trim": str.strip,
    "lower": str.lower,
    "upper": str.upper,
    "nfkc": nfkc,
    "kana": to_katakana,
    "company_name": company_name,
    "collapse_spaces": collapse_spaces,
}
for _name, _function in _TEXT_FUNCTIONS.items():
    register_transform(_name, _simple(_function, _name))


def _zone(name: str, value: Any) -> tzinfo:
    if not isinstance(value, str) or not value:
        raise TransformArgsError(f"transform '{name}': tz must be a zone name like Asia/Tokyo")
    try:
        return ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise TransformArgsError(f"transform '{name}': unknown time zone '{value}'") from None


def _phone(args: Mapping[str, Any]) -> Transform:
    check_args("phone", args, {"region": str, "format": str})
    region = str(args.get("region", "JP")).upper()
    if region not in phonenumbers.SUPPORTED_REGIONS:
        raise TransformArgsError(f"transform 'phone': unknown region '{region}'")
    formats = {"e164": phonenumbers.PhoneNumberFormat.E164,
               "national": phonenumbers.PhoneNumberFormat.NATIONAL,
               "international": phonenumbers.PhoneNumberFormat.INTERNATIONAL}
    out_format = formats.get(str(args.get("format", "e164")))
    if out_format is None:
        raise TransformArgsError("transform 'phone': format must be e164, national or "
                                 "international")

    def to_hub(value: Any) -> str:
        if value.__class__ is str and region == "JP":
            quick = _japanese_fast_path(value)
            if quick is not None:
                return quick
        if not isinstance(value, (str, int)) or isinstance(value, bool):
            raise FieldValueError(f"expected a phone number, got {c.describe(value)}")
        return _slow_e164(value, region)

    def to_system(value: Any) -> str:
        if out_format == phonenumbers.PhoneNumberFormat.E164 and value.__class__ is str \
                and _E164.fullmatch(value):
            return str(value)
        return phonenumbers.format_number(_parse_phone(value, region), out_format)

    return Transform(to_hub, to_system)


_E164 = re.compile(r"\+[1-9][0-9]{6,14}")
# 0 + 9 digits (landlines, 0120, 0570) or 0[5789]0 + 8 digits (mobile, IP); 010 is the
# international prefix, so it is left to phonenumbers.
_JP_NATIONAL = re.compile(r"0(?!10)(?:[1-9][0-9]{8}|[5789]0[0-9]{8})")
_JP_E164 = re.compile(r"\+81(?!10)(?:[1-9][0-9]{8}|[5789]0[0-9]{8})")
_JP_DIGITS = str.maketrans("", "", "- ")


def _japanese_fast_path(text: str) -> str | None:
    """The common Japanese spellings (03-1234-5678, 09012345678, +81312345678) without
    phonenumbers, which costs ~20 µs a call; anything else takes the full parser."""
    if _JP_E164.fullmatch(text):
        return text
    digits = text.translate(_JP_DIGITS)
    if _JP_NATIONAL.fullmatch(digits):
        return "+81" + digits[1:]
    return None


@lru_cache(maxsize=4096)
def _slow_e164(value: str | int, region: str) -> str:
    return phonenumbers.format_number(_parse_phone(value, region),
                                      phonenumbers.PhoneNumberFormat.E164)


def _parse_phone(value: Any, region: str) -> phonenumbers.PhoneNumber:
    text = nfkc(str(value)) if isinstance(value, (str, int)) else None
    if text is None:
        raise FieldValueError(f"expected a phone number, got {c.describe(value)}")
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        raise FieldValueError(f"not a phone number ({c.describe(value)})") from None
    if not phonenumbers.is_possible_number(number):
        raise FieldValueError(f"not a possible phone number ({c.describe(value)})")
    return number


def _datetime(args: Mapping[str, Any]) -> Transform:
    check_args("datetime", args, {"tz": str, "format": str})
    zone = _zone("datetime", args["tz"]) if "tz" in args else None
    out_format = args.get("format")

    def to_hub(value: Any) -> str:
        return c.format_utc(c.parse_datetime(value, zone))

    def to_system(value: Any) -> str:
        moment = c.parse_datetime(value)
        if zone is not None:
            moment = moment.astimezone(zone)
        if out_format:
            return moment.strftime(str(out_format))
        return c.format_utc(moment) if zone is None else moment.replace(microsecond=0).isoformat()

    return Transform(to_hub, to_system)


def _date(args: Mapping[str, Any]) -> Transform:
    check_args("date", args, {"format": str})
    out_format = args.get("format")

    def to_system(value: Any) -> str:
        day = c.parse_date(value)
        return day.strftime(str(out_format)) if out_format else day.isoformat()

    return Transform(c.canonical_date, to_system)


def _coercion(name: str, to_hub: Converter) -> TransformFactory:
    def factory(args: Mapping[str, Any]) -> Transform:
        check_args(name, args, {})
        return Transform(to_hub, identity)
    return factory


register_transform("phone", _phone)
register_transform("datetime", _datetime)
register_transform("date", _date)
register_transform("integer", _coercion("integer", c.to_integer))
register_transform("number", _coercion("number", c.to_number))


def _boolean(args: Mapping[str, Any]) -> Transform:
    scalar = (str, int, float, bool)
    check_args("boolean", args, {"true": scalar, "false": scalar})
    if not args:
        return Transform(c.to_boolean, identity)
    true, false = args.get("true", True), args.get("false", False)

    def to_system(value: Any) -> Any:
        return true if c.to_boolean(value) else false

    return Transform(c.to_boolean, to_system)


register_transform("boolean", _boolean)


def _separator(name: str, args: Mapping[str, Any]) -> str:
    check_args(name, args, {"separator": str})
    separator = str(args.get("separator", ","))
    if not separator:
        raise TransformArgsError(f"transform '{name}': separator must not be empty")
    return separator


def _splitter(separator: str) -> Converter:
    def split(value: Any) -> Any:
        if not isinstance(value, str):
            return value
        return [part.strip() for part in value.split(separator) if part.strip()]
    return split


def _joiner(separator: str) -> Converter:
    def join(value: Any) -> Any:
        if isinstance(value, Sequence) and not isinstance(value, str):
            return separator.join(str(item) for item in value)
        return value
    return join


def _split(args: Mapping[str, Any]) -> Transform:
    separator = _separator("split", args)
    return Transform(_splitter(separator), _joiner(separator))


def _join(args: Mapping[str, Any]) -> Transform:
    separator = _separator("join", args)
    return Transform(_joiner(separator), _splitter(separator))


def _prefix_value(name: str, args: Mapping[str, Any]) -> str:
    check_args(name, args, {"value": str})
    if not args.get("value"):
        raise TransformArgsError(f"transform '{name}' needs a non-empty 'value' argument")
    return str(args["value"])


def _adder(prefix: str) -> Converter:
    def add(value: Any) -> Any:
        text = value if isinstance(value, str) else c.to_text(value)
        return text if text is None or text.startswith(prefix) else prefix + text
    return add


def _remover(prefix: str) -> Converter:
    def remove(value: Any) -> Any:
        if isinstance(value, str) and value.startswith(prefix):
            return value[len(prefix):]
        return value
    return remove


def _prefix(args: Mapping[str, Any]) -> Transform:
    prefix = _prefix_value("prefix", args)
    return Transform(_adder(prefix), _remover(prefix))


def _strip_prefix(args: Mapping[str, Any]) -> Transform:
    prefix = _prefix_value("strip_prefix", args)
    return Transform(_remover(prefix), _adder(prefix))


register_transform("split", _split)
register_transform("join", _join)
register_transform("prefix", _prefix)
register_transform("strip_prefix", _strip_prefix)


def _json_text(value: Any) -> Any:
    if isinstance(value, str):
        return value
    # Sorted keys: the same object always gives the same text, so a re-sync compares equal.
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def _json_value(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError:
        raise FieldValueError(f"not JSON ({c.describe(value)})") from None


def _json(args: Mapping[str, Any]) -> Transform:
    check_args("json", args, {})
    return Transform(_json_value, _json_text)


register_transform("json", _json)
