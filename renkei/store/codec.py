"""JSON for the state store: orjson's speed with the standard library's results.

Every hub record, link baseline and journal entry is encoded on write and decoded on read, so
the codec is on the engine's hot path; orjson does both several times faster than :mod:`json`.
Where the two libraries would disagree, the standard library decides, so rows written before
(and rows written now) read back exactly as they always did:

* NaN and infinities: orjson writes them as ``null``; the store writes them as the strings
  ``'nan'``/``'inf'`` (PostgreSQL refuses them as numbers, and a string stays visible);
* integers beyond 64 bits: orjson refuses to write them and reads them as floats;
* lone surrogates (``"\\ud800"``), which :func:`json.dumps` escapes: orjson refuses them;
* dates and dataclasses, which :func:`json.dumps` refuses (so orjson must not store them).

Output differs only in spacing and escaping (compact, UTF-8), which no reader sees.
"""

from __future__ import annotations

import json
import math
from typing import Any

import orjson

from connectors.sdk import jsonfast

_DUMP_OPTIONS = (orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME
                 | orjson.OPT_PASSTHROUGH_DATACLASS)


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)  # 'nan', 'inf': kept visible, and still invalid on a retry
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def _std_dumps(value: Any) -> str:
    try:
        return json.dumps(value, allow_nan=False)
    except ValueError:
        return json.dumps(_finite(value), allow_nan=False)


_PLAIN = frozenset({str, int, bool, type(None)})


def _has_odd_float(value: Any, keys: bool) -> bool:
    """A non-finite float anywhere (orjson wrote it as ``null``), among dict keys too when
    ``keys`` (the output has a ``"null":`` key).

    Only called when the output holds a ``null``; containers of plain scalars (the usual
    baseline) are cleared by their set of types without a Python-level loop.
    """
    if isinstance(value, float):
        return not math.isfinite(value)
    if isinstance(value, dict):
        if keys and any(isinstance(k, float) and not math.isfinite(k) for k in value):
            return True
        items: Any = value.values()
    elif isinstance(value, (list, tuple)):
        items = value
    else:
        return False
    if set(map(type, items)) <= _PLAIN:
        return False
    return any(_has_odd_float(v, keys) for v in items if type(v) not in _PLAIN)


def dumps(value: Any) -> str:
    """JSON text for the store: NaN and infinities (a vendor's raw record may hold them) are
    not JSON, and PostgreSQL refuses them, so they are written as strings.

    Raises:
        TypeError: a value JSON cannot hold (as :func:`json.dumps`).
    """
    try:
        out = orjson.dumps(value, option=_DUMP_OPTIONS)
    except TypeError:  # orjson.JSONEncodeError included: let the standard library decide
        return _std_dumps(value)
    if b"null" in out and _has_odd_float(value, b'"null":' in out):
        return _std_dumps(value)
    return out.decode()


#: Decode stored JSON (text from SQLite, bytes from psycopg) exactly as :func:`json.loads`
#: would, at orjson's speed (see :mod:`connectors.sdk.jsonfast`).
loads = jsonfast.loads


__all__ = ["dumps", "loads"]
