"""Tokens of a SOQL query, and Salesforce's MALFORMED_QUERY message shape.

String literals take the backslash escapes simple-salesforce's ``format_soql`` writes
(``\\'``, ``\\\\``, ``\\n`` ...); datetime literals are ``YYYY-MM-DDThh:mm:ss[.fff](Z|±hh:mm)``
and date literals ``YYYY-MM-DD``, both unquoted [C: SOQL and SOSL Reference, "Date Formats
and Date Literals"; fractional seconds accepted here, [U] whether Salesforce does].
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

__all__ = ["KEYWORDS", "LIKE_PERCENT", "LIKE_UNDERSCORE", "SoqlError", "Tok", "malformed",
           "tokenize"]


class SoqlError(Exception):
    """A query Salesforce would reject.

    Args:
        code: ``MALFORMED_QUERY``, ``INVALID_FIELD``, ``INVALID_TYPE``...
        message: The message as Salesforce words it.
    """

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Tok:
    kind: str  # ident, string, number, datetime, date, op, punct, eof
    text: str
    pos: int
    value: Any = None


_DT = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d+)?(Z|[+-]\d{2}:?\d{2})")
_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})(?![\dT])")
_NUM = re.compile(r"-?\d+(\.\d+)?")
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*(:\d+)?")
# ``\%`` and ``\_`` are literal characters inside a LIKE pattern; they are kept apart from
# the wildcards as private-use code points until the pattern is compiled.
LIKE_PERCENT, LIKE_UNDERSCORE = "\ue000", "\ue001"
_ESCAPES = {"\\": "\\", "'": "'", '"': '"', "n": "\n", "r": "\r", "t": "\t", "b": "\b",
            "f": "\f", "%": LIKE_PERCENT, "_": LIKE_UNDERSCORE}

KEYWORDS = {"SELECT", "FROM", "WHERE", "ORDER", "BY", "LIMIT", "OFFSET", "AND", "OR", "NOT",
            "IN", "LIKE", "ASC", "DESC", "NULLS", "FIRST", "LAST", "NULL", "TRUE", "FALSE"}


def _parse_datetime(m: re.Match[str]) -> datetime:
    year, month, day, hh, mm, ss = (int(m.group(i)) for i in range(1, 7))
    frac = m.group(7)
    micro = int((frac[1:] + "000000")[:6]) if frac else 0
    zone = m.group(8)
    if zone == "Z":
        tz = UTC
    else:
        sign = -1 if zone[0] == "-" else 1
        digits = zone[1:].replace(":", "")
        tz = timezone(sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:])))
    return datetime(year, month, day, hh, mm, ss, micro, tzinfo=tz).astimezone(UTC)


class _Lexer:
    def __init__(self, text: str):
        self.text = text
        self.toks: list[Tok] = []
        self._run()

    def error_at(self, pos: int, found: str) -> SoqlError:
        return malformed(self.text, pos, f"unexpected token: {found}")

    def _run(self) -> None:
        text, i, n = self.text, 0, len(self.text)
        while i < n:
            ch = text[i]
            if ch.isspace():
                i += 1
                continue
            if ch == "'":
                j, out = i + 1, []
                while j < n and text[j] != "'":
                    if text[j] == "\\" and j + 1 < n:
                        esc = _ESCAPES.get(text[j + 1])
                        if esc is None:
                            raise malformed(self.text, j, "Invalid string literal "
                                            f"'{text[i:j + 2]}'. Illegal character sequence "
                                            f"'\\{text[j + 1]}' in string literal.")
                        out.append(esc)
                        j += 2
                        continue
                    out.append(text[j])
                    j += 1
                if j >= n:
                    raise malformed(self.text, i, f"line 1:{i} mismatched character '<EOF>' "
                                    "expecting '''")
                self.toks.append(Tok("string", text[i:j + 1], i, "".join(out)))
                i = j + 1
                continue
            if ch in "(),":
                self.toks.append(Tok("punct", ch, i))
                i += 1
                continue
            if ch in "=!<>":
                two = text[i:i + 2]
                if two in ("!=", "<>", "<=", ">="):
                    self.toks.append(Tok("op", "!=" if two == "<>" else two, i))
                    i += 2
                elif ch == "!":
                    raise self.error_at(i, "!")
                else:
                    self.toks.append(Tok("op", ch, i))
                    i += 1
                continue
            m = _DT.match(text, i)
            if m:
                self.toks.append(Tok("datetime", m.group(0), i, _parse_datetime(m)))
                i = m.end()
                continue
            m = _DATE.match(text, i)
            if m:
                value = date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
                self.toks.append(Tok("date", m.group(0), i, value))
                i = m.end()
                continue
            m = _NUM.match(text, i)
            if m:
                raw = m.group(0)
                num: int | float = float(raw) if m.group(1) else int(raw)
                self.toks.append(Tok("number", raw, i, num))
                i = m.end()
                continue
            m = _IDENT.match(text, i)
            if m:
                self.toks.append(Tok("ident", m.group(0), i))
                i = m.end()
                continue
            raise self.error_at(i, ch)
        self.toks.append(Tok("eof", "<EOF>", n))


def malformed(text: str, pos: int, detail: str) -> SoqlError:
    """A MALFORMED_QUERY error pointing at character ``pos`` of ``text``."""
    line_start = text.rfind("\n", 0, pos) + 1
    line_end = text.find("\n", pos)
    line = text[line_start:line_end if line_end >= 0 else len(text)]
    row = text.count("\n", 0, pos) + 1
    col = pos - line_start + 1
    caret = " " * (col - 1) + "^"
    return SoqlError("MALFORMED_QUERY",
                     f"\n{line}\n{caret}\nERROR at Row:{row}:Column:{col}\n{detail}")




def tokenize(text: str) -> list[Tok]:
    """The tokens of ``text``, ending with an ``eof`` token.

    Raises:
        SoqlError: MALFORMED_QUERY for a character or string literal SOQL does not allow.
    """
    return _Lexer(text).toks
