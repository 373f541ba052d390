"""Running a parsed query against an app's records: checks, filtering, order, paging.

Checks and their errors:

* unknown field → 400 GAIA_IQ11 "指定されたフィールド（X）が見つかりません。"
  [C: kintone/cli-kintone features, "[400] [GAIA_IQ11] Specified field (X) not found."];
* operator not allowed for the field type → 400 GAIA_IQ03 [S: SonicGarden notes]; the
  operator table is kintone.dev "Query string" [C];
* syntax errors → 400 CB_VA01 with ``errors.query.messages = ["クエリ記法が間違っています。"]``
  [S: SonicGarden notes, observed on kintone]; the sandbox appends a second message naming
  the character position (a sandbox addition: kintone gives none);
* ``limit`` over 500 → GAIA_QU01, ``offset`` over 10,000 → GAIA_QU02 [S: same notes; the
  limits themselves C: js-sdk].

Semantics: no ``order by`` means ``$id desc`` [S]; ``like`` is a case-insensitive substring
match (kintone does a word search, so it can match less) [S]; ``in ("")`` matches empty
values [S]; dates given without a time, and TODAY()/THIS_MONTH() and friends, are whole days
or months in the user's time zone, Asia/Tokyo here [U]; a datetime literal is its minute,
as kintone keeps no seconds [S]; an empty value fails every comparison but ``!=`` [U].
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from typing import Any

from sandbox.kintone.errors import KintoneError, validation_error
from sandbox.kintone.query import Compare, Condition, Func, Literal, Query, QuerySyntaxError
from sandbox.kintone.schema import AppDef, FieldDef
from sandbox.kintone.store import StoredRecord
from sandbox.kintone.values import minute_stamp, parse_datetime

__all__ = ["JST", "QueryContext", "compile_query", "syntax_error"]

JST = timezone(timedelta(hours=9), "JST")
_NUMERIC = {"__ID__", "RECORD_NUMBER", "__REVISION__", "NUMBER"}
_TEMPORAL = {"DATE", "DATETIME", "CREATED_TIME", "UPDATED_TIME"}
_ENTITY = {"USER_SELECT", "CREATOR", "MODIFIER"}
_CMP = {"=", "!=", ">", "<", ">=", "<="}
_ALLOWED: dict[str, set[str]] = {
    "SINGLE_LINE_TEXT": {"=", "!=", "in", "not in", "like", "not like"},
    "MULTI_LINE_TEXT": {"like", "not like", "is empty", "is not empty"},
    "DROP_DOWN": {"in", "not in"},
    **{t: _CMP | {"in", "not in"} for t in _NUMERIC},
    **{t: set(_CMP) for t in _TEMPORAL},
    **{t: {"in", "not in"} for t in _ENTITY},
}
Interval = tuple[datetime, datetime]


def syntax_error(exc: QuerySyntaxError) -> KintoneError:
    """CB_VA01 for a malformed query, with the sandbox's position hint."""
    return validation_error({"query": [
        "クエリ記法が間違っています。", f"{exc.position + 1}文字目: {exc.detail}"]})


class QueryContext:
    """What functions resolve against: the current time and the calling user."""

    def __init__(self, now: datetime, login_user: str) -> None:
        self.now = now
        self.login_user = login_user


def _day(d: date) -> Interval:
    start = datetime(d.year, d.month, d.day, tzinfo=JST)
    return start, start + timedelta(days=1)


def _month(year: int, month: int, shift: int) -> Interval:
    index = year * 12 + month - 1 + shift
    y, m = divmod(index, 12)
    start = datetime(y, m + 1, 1, tzinfo=JST)
    ny, nm = divmod(index + 1, 12)
    return start, datetime(ny, nm + 1, 1, tzinfo=JST)


def _temporal_function(fn: Func, ctx: QueryContext) -> Interval:
    today = ctx.now.astimezone(JST).date()
    if fn.name == "NOW" and not fn.args:
        minute = ctx.now.replace(second=0, microsecond=0)
        return minute, minute + timedelta(minutes=1)
    simple = {"TODAY": 0, "YESTERDAY": -1, "TOMORROW": 1}
    if fn.name in simple and not fn.args:
        return _day(today + timedelta(days=simple[fn.name]))
    months = {"THIS_MONTH": 0, "LAST_MONTH": -1, "NEXT_MONTH": 1}
    if fn.name in months and not fn.args:
        return _month(today.year, today.month, months[fn.name])
    years = {"THIS_YEAR": 0, "LAST_YEAR": -1, "NEXT_YEAR": 1}
    if fn.name in years and not fn.args:
        y = today.year + years[fn.name]
        return datetime(y, 1, 1, tzinfo=JST), datetime(y + 1, 1, 1, tzinfo=JST)
    if fn.name == "FROM_TODAY" and len(fn.args) == 2 and fn.args[0].lstrip("-").isdigit():
        n, unit = int(fn.args[0]), fn.args[1].upper()
        if unit in ("DAYS", "WEEKS"):
            return _day(today + timedelta(days=n * (7 if unit == "WEEKS" else 1)))
        if unit in ("MONTHS", "YEARS"):
            start, _ = _month(today.year, today.month, n * (12 if unit == "YEARS" else 1))
            day = min(today.day, 28)
            return _day(start.date().replace(day=day))
    raise QuerySyntaxError(f"function {fn.name}({', '.join(fn.args)}) is not supported here",
                           fn.position)


def _interval(value: Literal | Func, ctx: QueryContext) -> Interval:
    if isinstance(value, Func):
        return _temporal_function(value, ctx)
    text = value.text.strip()
    if len(text) == 10:
        try:
            return _day(date.fromisoformat(text))
        except ValueError:
            pass
    moment = parse_datetime(text)
    if moment is None:
        raise QuerySyntaxError(f"{value.text!r} is not a date or datetime", value.position)
    minute = moment.replace(second=0, microsecond=0)
    return minute, minute + timedelta(minutes=1)


def _record_instant(f: FieldDef, raw: Any) -> datetime | None:
    if raw in (None, ""):
        return None
    if f.type == "DATE":
        return _day(date.fromisoformat(raw))[0]
    return parse_datetime(raw)


def _decimal(value: Literal | Func) -> Decimal:
    if isinstance(value, Literal):
        try:
            return Decimal(value.text.strip())
        except InvalidOperation:
            pass
    raise QuerySyntaxError(f"{getattr(value, 'text', value)!r} is not a number", value.position)


def _getter(app: AppDef, code: str) -> tuple[FieldDef, Callable[[StoredRecord], list[Any]]]:
    """The field and a function giving its value(s): one for a field, one per table row."""
    f = app.field(code)
    if f is not None and f.type != "SUBTABLE":
        def one(rec: StoredRecord) -> list[Any]:
            if f.type in ("__ID__", "RECORD_NUMBER"):
                return [rec.id]
            if f.type == "__REVISION__":
                return [rec.revision]
            if f.type == "CREATED_TIME":
                return [rec.created_at]
            if f.type == "UPDATED_TIME":
                return [rec.updated_at]
            if f.type == "CREATOR":
                return [[rec.creator]]
            if f.type == "MODIFIER":
                return [[rec.modifier]]
            return [rec.values.get(code)]
        return f, one
    table = app.subtable_of(code)
    if table is None:
        raise KintoneError(400, "GAIA_IQ11", f"指定されたフィールド（{code}）が見つかりません。")
    col = table.fields[code]
    return col, lambda rec: [cells.get(code) for _, cells in rec.values.get(table.code) or []]


def _user_function(fn: Func, ctx: QueryContext) -> str:
    if fn.name == "LOGINUSER" and not fn.args:
        return ctx.login_user
    raise QuerySyntaxError(f"function {fn.name}() cannot name a user", fn.position)


def _test(f: FieldDef, op: str, values: tuple[Literal | Func, ...], ctx: QueryContext
          ) -> Callable[[Any], bool]:
    """A predicate on one stored value for ``op values``."""
    if op in ("is empty", "is not empty"):
        want = op == "is empty"
        return lambda x: (x is None or str(x).strip() == "") == want
    if op in ("like", "not like"):
        needle = values[0].text.lower() if isinstance(values[0], Literal) else ""
        return lambda x: (needle in str(x or "").lower()) == (op == "like")
    if op in ("in", "not in"):
        if f.type in _ENTITY:
            wanted = {v.text if isinstance(v, Literal) else _user_function(v, ctx)
                      for v in values}
            def member(x: Any) -> bool:
                codes = x or []
                return bool(set(codes) & wanted) or ("" in wanted and not codes)
        elif f.type in _NUMERIC:
            numbers = {_decimal(v) for v in values}
            def member(x: Any) -> bool:
                return x not in (None, "") and Decimal(str(x)) in numbers
        else:
            texts = {v.text for v in values if isinstance(v, Literal)}
            def member(x: Any) -> bool:
                return (x if x is not None else "") in texts
        return member if op == "in" else (lambda x: not member(x))
    value = values[0]
    if f.type in _NUMERIC:
        target = _decimal(value)
        def compare_number(x: Any) -> bool:
            if x in (None, ""):
                return op == "!="
            n = Decimal(str(x))
            return {"=": n == target, "!=": n != target, ">": n > target, "<": n < target,
                    ">=": n >= target, "<=": n <= target}[op]
        return compare_number
    if f.type in _TEMPORAL and f.type != "DATE":
        # Stored datetimes are canonical UTC minute stamps, so strings compare as instants.
        lo_s, hi_s = (minute_stamp(t) for t in _interval(value, ctx))
        def compare_stamp(raw: Any) -> bool:
            if raw in (None, ""):
                return op == "!="
            x = str(raw)
            inside = lo_s <= x < hi_s
            return {"=": inside, "!=": not inside, ">": x >= hi_s, ">=": x >= lo_s,
                    "<": x < lo_s, "<=": x < hi_s}[op]
        return compare_stamp
    if f.type in _TEMPORAL:
        lo, hi = _interval(value, ctx)
        def compare_time(x: Any) -> bool:
            t = _record_instant(f, x)
            if t is None:
                return op == "!="
            inside = lo <= t < hi
            return {"=": inside, "!=": not inside, ">": t >= hi, ">=": t >= lo, "<": t < lo,
                    "<=": t < hi}[op]
        return compare_time
    if not isinstance(value, Literal):
        raise QuerySyntaxError(f"{value.name}() cannot be compared with text", value.position)
    text = value.text
    return lambda x: ((x or "") == text) == (op == "=")


def _compile(cond: Condition, app: AppDef, ctx: QueryContext) -> Callable[[StoredRecord], bool]:
    if not isinstance(cond, Compare):
        parts = [_compile(c, app, ctx) for c in cond.items]
        if cond.op == "and":
            return lambda rec: all(p(rec) for p in parts)
        return lambda rec: any(p(rec) for p in parts)
    f, get = _getter(app, cond.field)
    allowed = _ALLOWED.get(f.type, set())
    in_table = app.field(cond.field) is None
    if in_table:
        allowed = allowed - {"=", "!="} | ({"in", "not in"} if f.type == "SINGLE_LINE_TEXT"
                                           else set())
    if cond.op not in allowed:
        raise KintoneError(400, "GAIA_IQ03", f"{f.label}フィールドのフィールドタイプには演算子"
                           f"{cond.op}を使用できません。")
    test = _test(f, cond.op, cond.values, ctx)
    negative = cond.op in ("!=", "not in", "not like", "is not empty")
    if in_table and negative:  # a table condition holds when no row breaks it
        return lambda rec: all(test(x) for x in get(rec))
    return lambda rec: any(test(x) for x in get(rec))


def _sort_key(f: FieldDef, get: Callable[[StoredRecord], list[Any]]
              ) -> Callable[[StoredRecord], tuple[bool, Any]]:
    def key(rec: StoredRecord) -> tuple[bool, Any]:
        x = get(rec)[0]
        if x in (None, "", []):
            return (False, "")
        if f.type == "NUMBER":
            return (True, Decimal(x))
        if isinstance(x, list):
            return (True, x[0])
        return (True, x)
    return key


def compile_query(query: Query, app: AppDef, ctx: QueryContext
                  ) -> Callable[[Iterable[StoredRecord]], list[StoredRecord]]:
    """A function from records to the matching ones, in the query's order (no paging).

    Raises:
        KintoneError: GAIA_IQ11, GAIA_IQ03, or CB_VA01 for a value that does not fit.
    """
    try:
        match = _compile(query.condition, app, ctx) if query.condition else None
        keys = []
        for item in query.order:
            f, get = _getter(app, item.field)
            if app.field(item.field) is None or f.type in ("MULTI_LINE_TEXT", "USER_SELECT"):
                raise KintoneError(400, "GAIA_IQ03", f"{f.label}フィールドでは並び替えできません。")
            keys.append((_sort_key(f, get), item.descending))
    except QuerySyntaxError as exc:
        raise syntax_error(exc) from None

    def run(records: Iterable[StoredRecord]) -> list[StoredRecord]:
        hits = [r for r in records if match is None or match(r)]
        hits.sort(key=lambda r: r.id, reverse=True)  # default order, and the tie-breaker
        for key, descending in reversed(keys):
            hits.sort(key=key, reverse=descending)
        return hits

    return run
