"""Parser of the kintone query language subset that integrations use.

Grammar (kintone.dev "Query string"; keywords case-insensitive here)::

    query      := [or_expr] [order by item ("," item)*] [limit N] [offset N]
    or_expr    := and_expr ("or" and_expr)*
    and_expr   := primary ("and" primary)*
    primary    := "(" or_expr ")" | condition
    condition  := FIELD op value
                | FIELD ["not"] "in" "(" value ("," value)* ")"
                | FIELD ["not"] "like" value
                | FIELD "is" ["not"] "empty"
    op         := "=" | "!=" | ">" | "<" | ">=" | "<="
    value      := STRING | NUMBER | FUNCTION "(" [arg ("," arg)*] ")"
    item       := FIELD ["asc" | "desc"]

``limit`` and ``offset`` may come in either order. Field codes are checked against the app
by :mod:`sandbox.kintone.query_eval`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sandbox.kintone.query_lexer import QuerySyntaxError, Token, tokenize

__all__ = [
    "Compare",
    "Condition",
    "Func",
    "Junction",
    "Literal",
    "OrderItem",
    "Query",
    "QuerySyntaxError",
    "parse",
]


@dataclass(frozen=True)
class Literal:
    """A quoted string or a bare number, as written."""

    text: str
    position: int


@dataclass(frozen=True)
class Func:
    """A function call such as ``TODAY()`` or ``FROM_TODAY(-7, DAYS)``."""

    name: str
    args: tuple[str, ...]
    position: int


Value = Literal | Func


@dataclass(frozen=True)
class Compare:
    """``field op values``; op is one of = != > < >= <= in, not in, like, not like, is empty,
    is not empty."""

    field: str
    op: str
    values: tuple[Value, ...]
    position: int


@dataclass(frozen=True)
class Junction:
    """``and`` / ``or`` of conditions."""

    op: str
    items: tuple[Condition, ...]


Condition = Compare | Junction


@dataclass(frozen=True)
class OrderItem:
    """One ``order by`` key."""

    field: str
    descending: bool
    position: int


@dataclass
class Query:
    """A parsed query."""

    condition: Condition | None = None
    order: list[OrderItem] = field(default_factory=list)
    limit: int | None = None
    offset: int | None = None
    limit_position: int = 0
    offset_position: int = 0


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = tokenize(text)
        self.i = 0

    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def take(self) -> Token:
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def fail(self, expected: str) -> QuerySyntaxError:
        tok = self.tok
        got = "the end of the query" if tok.kind == "END" else repr(tok.text)
        return QuerySyntaxError(f"expected {expected}, found {got}", tok.position)

    def expect_keyword(self, word: str) -> Token:
        if self.tok.keyword != word:
            raise self.fail(f"'{word}'")
        return self.take()

    def query(self) -> Query:
        q = Query()
        if self.tok.kind != "END" and self.tok.keyword not in ("order", "limit", "offset"):
            q.condition = self.or_expr()
        if self.tok.keyword == "order":
            self.take()
            self.expect_keyword("by")
            q.order.append(self.order_item())
            while self.tok.kind == "COMMA":
                self.take()
                q.order.append(self.order_item())
        while self.tok.keyword in ("limit", "offset"):
            word = self.take()
            if (word.keyword == "limit" and q.limit is not None) or (
                    word.keyword == "offset" and q.offset is not None):
                raise QuerySyntaxError(f"'{word.text}' given twice", word.position)
            number = self.take()
            if number.kind != "WORD" or not number.text.lstrip("-").isdigit():
                self.i -= 1
                raise self.fail(f"a number after '{word.text}'")
            if word.keyword == "limit":
                q.limit, q.limit_position = int(number.text), number.position
            else:
                q.offset, q.offset_position = int(number.text), number.position
        if self.tok.kind != "END":
            raise self.fail("'and', 'or', 'order by', 'limit', 'offset' or the end")
        return q

    def order_item(self) -> OrderItem:
        tok = self.take()
        if tok.kind != "WORD" or tok.keyword is not None:
            self.i -= 1
            raise self.fail("a field code to order by")
        descending = False
        if self.tok.keyword in ("asc", "desc"):
            descending = self.take().keyword == "desc"
        return OrderItem(tok.text, descending, tok.position)

    def or_expr(self) -> Condition:
        items = [self.and_expr()]
        while self.tok.keyword == "or":
            self.take()
            items.append(self.and_expr())
        return items[0] if len(items) == 1 else Junction("or", tuple(items))

    def and_expr(self) -> Condition:
        items = [self.primary()]
        while self.tok.keyword == "and":
            self.take()
            items.append(self.primary())
        return items[0] if len(items) == 1 else Junction("and", tuple(items))

    def primary(self) -> Condition:
        if self.tok.kind == "LPAREN":
            self.take()
            inner = self.or_expr()
            if self.tok.kind != "RPAREN":
                raise self.fail("')'")
            self.take()
            return inner
        return self.condition()

    def condition(self) -> Compare:
        name = self.take()
        if name.kind != "WORD" or name.keyword is not None:
            self.i -= 1
            raise self.fail("a field code")
        tok = self.tok
        if tok.kind == "OP":
            self.take()
            return Compare(name.text, tok.text, (self.value(),), name.position)
        negated = False
        if tok.keyword == "not":
            self.take()
            negated = True
        word = self.tok.keyword
        if word == "in":
            self.take()
            return Compare(name.text, "not in" if negated else "in", self.value_list(),
                           name.position)
        if word == "like":
            self.take()
            return Compare(name.text, "not like" if negated else "like", (self.value(),),
                           name.position)
        if word == "is" and not negated:
            self.take()
            op = "is empty"
            if self.tok.keyword == "not":
                self.take()
                op = "is not empty"
            self.expect_keyword("empty")
            return Compare(name.text, op, (), name.position)
        raise self.fail("an operator (=, !=, >, <, >=, <=, in, not in, like, not like, is)")

    def value_list(self) -> tuple[Value, ...]:
        if self.tok.kind != "LPAREN":
            raise self.fail("'(' after 'in'")
        self.take()
        values = [self.value()]
        while self.tok.kind == "COMMA":
            self.take()
            values.append(self.value())
        if self.tok.kind != "RPAREN":
            raise self.fail("',' or ')'")
        self.take()
        return tuple(values)

    def value(self) -> Value:
        tok = self.take()
        if tok.kind == "STRING":
            return Literal(tok.text, tok.position)
        if tok.kind == "WORD" and tok.keyword is None:
            if self.tok.kind == "LPAREN":
                return self.function(tok)
            return Literal(tok.text, tok.position)
        self.i -= 1
        raise self.fail("a value (a quoted string, a number or a function)")

    def function(self, name: Token) -> Func:
        self.take()  # "("
        args: list[str] = []
        while self.tok.kind != "RPAREN":
            arg = self.take()
            if arg.kind not in ("WORD", "STRING"):
                self.i -= 1
                raise self.fail(f"an argument of {name.text}()")
            args.append(arg.text)
            if self.tok.kind == "COMMA":
                self.take()
            elif self.tok.kind != "RPAREN":
                raise self.fail(f"',' or ')' in {name.text}()")
        self.take()
        return Func(name.text.upper(), tuple(args), name.position)


def parse(text: str) -> Query:
    """Parse a query string (``""`` is the empty query).

    Raises:
        QuerySyntaxError: With the character position of the problem.
    """
    return _Parser(text or "").query()
