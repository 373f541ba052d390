"""Tokens of the kintone query language (``連携ID = "x" and スコア >= 50 order by $id asc``).

Field codes may be Japanese and are never quoted; strings take double quotes with ``\\"`` and
``\\\\`` escapes (plus ``\\t``/``\\n``), and a raw tab or newline inside a string is a syntax
error [S: SonicGarden kintone-query-behavior.md]; whitespace between tokens may be ASCII
blanks, tabs, newlines or the ideographic space U+3000 [S: same]. Keywords are matched
without regard to case [U].
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["KEYWORDS", "QuerySyntaxError", "Token", "tokenize"]

KEYWORDS = frozenset(
    {"and", "or", "not", "in", "like", "is", "empty", "order", "by", "asc", "desc", "limit",
     "offset"}
)
_BLANKS = " \t\r\n\u3000"
_SINGLE = {"(": "LPAREN", ")": "RPAREN", ",": "COMMA", "=": "OP", "<": "OP", ">": "OP"}
_ESCAPES = {'"': '"', "\\": "\\", "t": "\t", "n": "\n", "r": "\r"}


class QuerySyntaxError(ValueError):
    """The query cannot be parsed; ``position`` is the 0-based character offset."""

    def __init__(self, message: str, position: int) -> None:
        super().__init__(f"{message} (character {position + 1})")
        self.detail = message
        self.position = position


@dataclass(frozen=True)
class Token:
    """One token: kind (WORD, STRING, OP, LPAREN, RPAREN, COMMA, END), text, position.

    A WORD is a field code, a keyword, a bare number or a function name; ``keyword`` holds
    its lower-cased form when it is one of :data:`KEYWORDS`.
    """

    kind: str
    text: str
    position: int

    @property
    def keyword(self) -> str | None:
        if self.kind != "WORD":
            return None
        lowered = self.text.lower()
        return lowered if lowered in KEYWORDS else None


def _string(query: str, start: int) -> tuple[str, int]:
    out: list[str] = []
    i = start + 1
    while i < len(query):
        ch = query[i]
        if ch == '"':
            return "".join(out), i + 1
        if ch in "\t\r\n":
            raise QuerySyntaxError("a raw tab or line break inside a string", i)
        if ch == "\\":
            nxt = query[i + 1] if i + 1 < len(query) else ""
            if nxt not in _ESCAPES:
                raise QuerySyntaxError(f"unknown escape \\{nxt}", i)
            out.append(_ESCAPES[nxt])
            i += 2
            continue
        out.append(ch)
        i += 1
    raise QuerySyntaxError("unterminated string", start)


def tokenize(query: str) -> list[Token]:
    """Split a query into tokens, ending with an END token.

    Raises:
        QuerySyntaxError: An unterminated string, a bad escape, a stray character.
    """
    tokens: list[Token] = []
    i = 0
    while i < len(query):
        ch = query[i]
        if ch in _BLANKS:
            i += 1
        elif ch == '"':
            text, end = _string(query, i)
            tokens.append(Token("STRING", text, i))
            i = end
        elif ch == "!" or ch in "<>":
            two = query[i:i + 2]
            if two in ("!=", "<=", ">="):
                tokens.append(Token("OP", two, i))
                i += 2
            elif ch == "!":
                raise QuerySyntaxError("'!' must be followed by '='", i)
            else:
                tokens.append(Token("OP", ch, i))
                i += 1
        elif ch in _SINGLE:
            tokens.append(Token(_SINGLE[ch], ch, i))
            i += 1
        elif ch in "'`":
            raise QuerySyntaxError(f"{ch} is not a quote in kintone queries; use double quotes", i)
        else:
            start = i
            while i < len(query) and query[i] not in _BLANKS and query[i] not in '"!<>=(),\'`':
                i += 1
            tokens.append(Token("WORD", query[start:i], start))
    tokens.append(Token("END", "", len(query)))
    return tokens
