"""Visitors (リード) of the emulated SMP: seeded, searched, written."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from sandbox.seed import people

__all__ = ["FIELDS", "SearchError", "VisitorStore", "jst"]

JST = timezone(timedelta(hours=9))
FIELDS = ("Id", "Mail", "Name1", "Name2", "Name1Ka", "Name2Ka", "CompanyName", "Department",
          "Position", "Tel", "PrefectureName", "Zip", "DateCreate", "DateUpdate")
"""Name1/Name2/Name1Ka/Name2Ka/CompanyName/PrefectureName/DateUpdate are documented;
Mail, Department, Position, Tel and Zip are assumed names."""
WRITABLE = frozenset(FIELDS) - {"Id", "DateCreate", "DateUpdate"}
OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    "eq": lambda a, b: a == b, "ne": lambda a, b: a != b, "ge": lambda a, b: a >= b,
    "gt": lambda a, b: a > b, "le": lambda a, b: a <= b, "lt": lambda a, b: a < b,
}
_MAIL = re.compile(r"^[\x21-\x7e]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}$")


class SearchError(ValueError):
    """A search parameter is invalid (code, message)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def jst(moment: datetime) -> str:
    """``2026-03-14T14:22:31+09:00``, the way DateUpdate is shown."""
    return moment.astimezone(JST).replace(microsecond=0).isoformat()


def _moment(text: str) -> datetime:
    value = datetime.fromisoformat(text.strip().replace(" ", "+"))
    return value if value.tzinfo else value.replace(tzinfo=JST)


class VisitorStore:
    """Visitors by id, with DateUpdate moved by every write (API or "UI")."""

    def __init__(self, size: int, seed: int, clock: Callable[[], float] = time.time) -> None:
        self.size, self.seed, self.clock = size, seed, clock
        self.lock = threading.Lock()
        self.visitors: dict[int, dict[str, Any]] = {}
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.visitors = {}
            for person in people(self.size, seed=self.seed):
                created = datetime.fromisoformat(person.created_at)
                self.visitors[person.index + 1] = {
                    "Id": person.index + 1, "Mail": person.email, "Name1": person.last_name,
                    "Name2": person.first_name, "Name1Ka": person.last_name_kana,
                    "Name2Ka": person.first_name_kana, "CompanyName": person.company.name,
                    "Department": person.department, "Position": person.title,
                    "Tel": person.phone, "PrefectureName": person.prefecture,
                    "Zip": person.postal_code, "DateCreate": jst(created),
                    "DateUpdate": jst(created)}
            self.next_id = self.size + 1

    def _now(self) -> str:
        return jst(datetime.fromtimestamp(self.clock(), UTC))

    def search(self, conditions: list[tuple[str, str, str]], order: str | None,
               descending: bool, offset: int, limit: int) -> tuple[list[dict[str, Any]], int]:
        """A page of matching visitors and the match count.

        Raises:
            SearchError: unknown column or operator.
        """
        tests = []
        for key, operator, value in conditions:
            if key not in FIELDS and key != "VisitorId":
                raise SearchError("INVALID_SEARCH_KEY", f"unknown search key {key}")
            if operator not in OPERATORS and operator != "like":
                raise SearchError("INVALID_OPERATOR", f"unknown operator {operator}")
            tests.append((("Id" if key == "VisitorId" else key), operator, value))
        with self.lock:
            rows = [dict(v) for v in self.visitors.values() if all(
                self._test(v, k, o, x) for k, o, x in tests)]
        if order:
            if order not in FIELDS:
                raise SearchError("INVALID_ORDER", f"unknown order column {order}")
            rows.sort(key=lambda r: (self._key(order, r.get(order)), r["Id"]), reverse=descending)
        return rows[offset:offset + limit], len(rows)

    @staticmethod
    def _key(field: str, value: Any) -> Any:
        if field in ("DateUpdate", "DateCreate"):
            return _moment(str(value))
        if field == "Id":
            return int(value)
        return "" if value is None else str(value)

    def _test(self, row: Mapping[str, Any], key: str, operator: str, value: str) -> bool:
        have = row.get(key)
        if operator == "like":
            return have is not None and value.strip("%") in str(have)
        if value == "":
            return OPERATORS[operator](have, None) if operator in ("eq", "ne") else False
        try:
            return OPERATORS[operator](self._key(key, have), self._key(key, value))
        except (TypeError, ValueError):
            raise SearchError("INVALID_SEARCH_VALUE", f"bad value for {key}") from None

    def validate(self, values: Mapping[str, Any]) -> tuple[str, str] | None:
        """``(code, message)`` when a record cannot be stored (assumed codes)."""
        unknown = [k for k in values if k not in FIELDS]
        if unknown:
            return "INVALID_ITEM", f"unknown item {unknown[0]}"
        mail = values.get("Mail")
        if mail is not None and not _MAIL.match(str(mail)):
            return "INVALID_MAIL", "Mail is not a valid e-mail address"
        if mail is not None and str(mail).endswith("@reject.invalid"):
            return "INVALID_MAIL", "Mail domain is refused"
        return None

    def upsert(self, values: Mapping[str, Any], key: str | None,
               create_only: bool = False) -> tuple[int, bool]:
        """Store one visitor; ``(id, created)``.

        Raises:
            SearchError: the record cannot be stored (code, message).
        """
        problem = self.validate(values)
        if problem:
            raise SearchError(*problem)
        changes = {k: v for k, v in values.items() if k in WRITABLE}
        with self.lock:
            target: dict[str, Any] | None = None
            if values.get("Id"):
                target = self.visitors.get(int(str(values["Id"])))
                if target is None:
                    raise SearchError("NOT_FOUND", f"no visitor {values['Id']}")
            elif key:
                wanted = values.get(key)
                if wanted in (None, ""):
                    raise SearchError("MISSING_UPDATE_KEY", f"{key} is required for upsert")
                target = next((v for v in self.visitors.values() if v.get(key) == wanted), None)
                if target is not None and create_only:
                    raise SearchError("DUPLICATE", f"a visitor with this {key} exists")
            if target is None:
                now = self._now()
                ident = self.next_id
                self.next_id += 1
                self.visitors[ident] = {**dict.fromkeys(FIELDS), **changes, "Id": ident,
                                        "DateCreate": now, "DateUpdate": now}
                return ident, True
            if any(target.get(k) != v for k, v in changes.items()):
                target.update(changes)
                target["DateUpdate"] = self._now()
            return int(target["Id"]), False
