"""A parser for the SOQL subset the emulator serves.

Grammar (keywords case-insensitive)::

    query     := SELECT select FROM ident [WHERE cond] [ORDER BY order (, order)*]
                 [LIMIT int] [OFFSET int]
    select    := COUNT() | COUNT(field) | field (, field)*
    cond      := term ((AND term)* | (OR term)*)      -- mixing AND/OR needs parentheses
    term      := NOT term | '(' cond ')' | field op value | field [NOT] IN (value, ...)
                 | field LIKE 'pattern'
    op        := = | != | <> | < | > | <= | >=
    value     := 'string' | number | true | false | null | datetime | date
                 | TODAY | YESTERDAY | LAST_N_DAYS:n
    order     := field [ASC|DESC] [NULLS FIRST|LAST]

Strings are quoted as simple-salesforce's ``format_soql`` quotes them (backslash escapes).
Parsing knows nothing about objects; :mod:`sandbox.salesforce.query` binds names to fields.
A syntax error raises :class:`SoqlError` with Salesforce's ``MALFORMED_QUERY`` message shape:
the query line, a caret, ``ERROR at Row:r:Column:c`` and ``unexpected token: X``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sandbox.salesforce.soql_lexer import (
    KEYWORDS,
    LIKE_PERCENT,
    LIKE_UNDERSCORE,
    SoqlError,
    Tok,
    malformed,
    tokenize,
)

__all__ = [
    "KEYWORDS", "LIKE_PERCENT", "LIKE_UNDERSCORE",
    "And", "Comparison", "DateLiteral", "Not", "Or", "OrderItem", "Query", "SoqlError",
    "Value", "parse",
]


@dataclass(frozen=True)
class DateLiteral:
    """A relative date literal (``TODAY``, ``LAST_N_DAYS:7``) resolved at query time."""

    name: str
    n: int | None = None

    def bounds(self, today: date) -> tuple[date, date]:
        """The [start, end) day range the literal covers."""
        if self.name == "TODAY":
            return today, today + timedelta(days=1)
        if self.name == "YESTERDAY":
            return today - timedelta(days=1), today
        # LAST_N_DAYS:n covers today and the n-1 days before it... Salesforce counts
        # "the last n days" as n days ending at the current day (inclusive) [S].
        assert self.n is not None
        return today - timedelta(days=self.n - 1), today + timedelta(days=1)


Value = str | int | float | bool | None | datetime | date | DateLiteral | tuple[Any, ...]


@dataclass(frozen=True)
class Comparison:
    """``field op value``; ``op`` is one of = != < > <= >= LIKE IN NOT IN."""

    field: str
    op: str
    value: Value


@dataclass(frozen=True)
class And:
    items: tuple[Cond, ...]


@dataclass(frozen=True)
class Or:
    items: tuple[Cond, ...]


@dataclass(frozen=True)
class Not:
    item: Cond


Cond = Comparison | And | Or | Not


@dataclass(frozen=True)
class OrderItem:
    field: str
    descending: bool = False
    nulls_last: bool = False


@dataclass(frozen=True)
class Query:
    """A parsed SELECT.

    Attributes:
        sobject: Object name as written.
        fields: Selected field names as written (empty for ``COUNT()``).
        count: ``COUNT()`` (no records, only ``totalSize``).
        count_field: The field of ``COUNT(field)`` (an aggregate result row).
    """

    sobject: str
    fields: tuple[str, ...]
    where: Cond | None = None
    order_by: tuple[OrderItem, ...] = ()
    limit: int | None = None
    offset: int | None = None
    count: bool = False
    count_field: str | None = None


class _Parser:
    def __init__(self, text: str):
        self.text = text
        self.toks = tokenize(text)
        self.i = 0

    # -- token helpers -------------------------------------------------------------------
    def peek(self, k: int = 0) -> Tok:
        return self.toks[min(self.i + k, len(self.toks) - 1)]

    def next(self) -> Tok:
        tok = self.peek()
        self.i += 1
        return tok

    def is_kw(self, word: str, k: int = 0) -> bool:
        tok = self.peek(k)
        return tok.kind == "ident" and tok.text.upper() == word

    def expect_kw(self, word: str) -> None:
        if not self.is_kw(word):
            self.fail()
        self.i += 1

    def expect_punct(self, ch: str) -> None:
        tok = self.peek()
        if tok.kind != "punct" or tok.text != ch:
            self.fail()
        self.i += 1

    def fail(self, tok: Tok | None = None) -> SoqlError:
        tok = tok or self.peek()
        raise malformed(self.text, tok.pos, f"unexpected token: {tok.text}")

    def field_name(self) -> str:
        tok = self.peek()
        if tok.kind != "ident" or tok.text.upper() in KEYWORDS:
            self.fail()
        self.i += 1
        return tok.text

    def integer(self) -> int:
        tok = self.next()
        if tok.kind != "number" or not isinstance(tok.value, int) or tok.value < 0:
            self.fail(tok)
        assert isinstance(tok.value, int)
        return tok.value

    # -- grammar -------------------------------------------------------------------------
    def query(self) -> Query:
        self.expect_kw("SELECT")
        fields: list[str] = []
        count = False
        count_field: str | None = None
        if self.is_kw("COUNT") and self.peek(1).text == "(":
            self.i += 2
            if self.peek().text == ")":
                count = True
            else:
                count_field = self.field_name()
            self.expect_punct(")")
        else:
            fields.append(self.field_name())
            while self.peek().text == ",":
                self.i += 1
                fields.append(self.field_name())
        self.expect_kw("FROM")
        sobject = self.field_name()
        where = None
        if self.is_kw("WHERE"):
            self.i += 1
            where = self.condition()
        order: list[OrderItem] = []
        if self.is_kw("ORDER"):
            self.i += 1
            self.expect_kw("BY")
            order.append(self.order_item())
            while self.peek().text == ",":
                self.i += 1
                order.append(self.order_item())
        limit = offset = None
        if self.is_kw("LIMIT"):
            self.i += 1
            limit = self.integer()
        if self.is_kw("OFFSET"):
            self.i += 1
            offset = self.integer()
        if self.peek().kind != "eof":
            self.fail()
        return Query(sobject=sobject, fields=tuple(fields), where=where, order_by=tuple(order),
                     limit=limit, offset=offset, count=count, count_field=count_field)

    def order_item(self) -> OrderItem:
        name = self.field_name()
        descending = False
        if self.is_kw("ASC"):
            self.i += 1
        elif self.is_kw("DESC"):
            self.i += 1
            descending = True
        # SOQL's default: ascending sorts put nulls first, descending sorts put them last.
        nulls_last = descending
        if self.is_kw("NULLS"):
            self.i += 1
            if self.is_kw("FIRST"):
                nulls_last = False
            elif self.is_kw("LAST"):
                nulls_last = True
            else:
                self.fail()
            self.i += 1
        return OrderItem(name, descending, nulls_last)

    def condition(self) -> Cond:
        first = self.term()
        items = [first]
        joiner: str | None = None
        while self.is_kw("AND") or self.is_kw("OR"):
            word = self.peek().text.upper()
            if joiner is not None and word != joiner:
                # Salesforce refuses "a AND b OR c": the grouping must be explicit.
                self.fail()
            joiner = word
            self.i += 1
            items.append(self.term())
        if joiner is None:
            return first
        return And(tuple(items)) if joiner == "AND" else Or(tuple(items))

    def term(self) -> Cond:
        if self.is_kw("NOT"):
            self.i += 1
            return Not(self.term())
        if self.peek().text == "(":
            self.i += 1
            inner = self.condition()
            self.expect_punct(")")
            return inner
        name = self.field_name()
        tok = self.peek()
        if tok.kind == "op":
            self.i += 1
            return Comparison(name, tok.text, self.value())
        if self.is_kw("LIKE"):
            self.i += 1
            pat = self.next()
            if pat.kind != "string":
                self.fail(pat)
            return Comparison(name, "LIKE", pat.value)
        negated = False
        if self.is_kw("NOT") and self.is_kw("IN", 1):
            self.i += 1
            negated = True
        if self.is_kw("IN"):
            self.i += 1
            self.expect_punct("(")
            values = [self.value()]
            while self.peek().text == ",":
                self.i += 1
                values.append(self.value())
            self.expect_punct(")")
            return Comparison(name, "NOT IN" if negated else "IN", tuple(values))
        self.fail()
        raise AssertionError("unreachable")

    def value(self) -> Value:
        tok = self.next()
        if tok.kind in ("string", "number", "datetime", "date"):
            literal: Value = tok.value
            return literal
        if tok.kind == "ident":
            word = tok.text.upper()
            if word == "NULL":
                return None
            if word == "TRUE":
                return True
            if word == "FALSE":
                return False
            if word in ("TODAY", "YESTERDAY"):
                return DateLiteral(word)
            if word.startswith("LAST_N_DAYS:"):
                return DateLiteral("LAST_N_DAYS", int(word.split(":", 1)[1]))
        self.fail(tok)
        raise AssertionError("unreachable")


def parse(text: str) -> Query:
    """Parse one SOQL SELECT.

    Raises:
        SoqlError: ``MALFORMED_QUERY`` with Salesforce's message shape.

    Example:
        >>> parse("SELECT Id FROM Lead WHERE Email = 'a@b.jp' LIMIT 1").limit
        1
    """
    if not text or not text.strip():
        raise SoqlError("MALFORMED_QUERY", "unexpected token: <EOF>")
    return _Parser(text).query()
