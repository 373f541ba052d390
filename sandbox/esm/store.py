"""Sheets of the emulated eセールスマネージャー: records with dotted item keys."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from typing import Any

from sandbox.seed import companies, people

__all__ = ["SHEETS", "EsmError", "Sheet", "SheetStore", "render_time", "zone"]


@dataclass(frozen=True)
class Sheet:
    """One sheet: its item prefix and the items a write may set."""

    name: str
    prefix: str
    items: frozenset[str]
    required: frozenset[str] = frozenset()


SHEETS: dict[str, Sheet] = {
    "businesscard": Sheet("businesscard", "business_cards.business_card.", frozenset({
        "last_name", "first_name", "last_name_kana", "first_name_kana", "email",
        "customer_name", "department", "position", "tel_no", "prefecture", "zipcode"}),
        frozenset({"last_name"})),
    "customer": Sheet("customer", "customers.customer.", frozenset({
        "customer_name", "customer_name_other", "tel_no", "url", "existing_flg"}),
        frozenset({"customer_name"})),
    "activity": Sheet("activity", "activities.activity.", frozenset({
        "business_card_id", "activity_type", "activity_date", "title", "memo"}),
        frozenset({"activity_type"})),
}
_ZONES: dict[str, tzinfo] = {"Asia/Tokyo": timezone(timedelta(hours=9)), "UTC": UTC,
                             "Etc/UTC": UTC}


class EsmError(ValueError):
    """A request the API refuses: HTTP status, code, message, item."""

    def __init__(self, status: int, code: str, message: str, item: str | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.item = status, code, item


def zone(name: str | None) -> tzinfo:
    """The X-ESM-TIMEZONE zone.

    Raises:
        EsmError: missing or unknown.
    """
    if not name:
        raise EsmError(400, "MISSING_TIMEZONE", "X-ESM-TIMEZONE header is required")
    found = _ZONES.get(name)
    if found is None:
        raise EsmError(400, "INVALID_TIMEZONE", f"unknown time zone {name}")
    return found


def render_time(moment: datetime, tz: tzinfo) -> str:
    """``yyyy/mm/dd hh:MM:ss`` in the caller's zone (the documented datetime format)."""
    return moment.astimezone(tz).strftime("%Y/%m/%d %H:%M:%S")


def parse_time(text: str, tz: tzinfo) -> datetime:
    """``yyyy/mm/dd hh:MM[:ss]`` (or a date) in the caller's zone.

    Raises:
        EsmError: another format.
    """
    for pattern in ("%Y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M", "%Y/%m/%d"):
        try:
            return datetime.strptime(text.strip(), pattern).replace(tzinfo=tz)
        except ValueError:
            continue
    raise EsmError(400, "INVALID_DATETIME", f"'{text}' is not yyyy/mm/dd hh:MM:ss")


class SheetStore:
    """Records per sheet; ``updated_at`` moves on every change."""

    def __init__(self, size: int, seed: int, clock: Callable[[], float] = time.time) -> None:
        self.size, self.seed, self.clock = size, seed, clock
        self.lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.rows: dict[str, dict[int, dict[str, Any]]] = {s: {} for s in SHEETS}
            self.next_id = 1
            customers: dict[str, int] = {}
            for company in companies(self.seed)[: max(1, self.size // 10)]:
                customers[company.name] = self._insert("customer", {
                    "customer_name": company.name, "customer_name_other": None,
                    "tel_no": None, "url": f"https://www.{company.domain}/",
                    "existing_flg": "存続"}, datetime(2026, 1, 5, tzinfo=UTC))
            # Sales already know a share of the people (every fourth one) as business cards.
            for person in people(self.size, seed=self.seed):
                if person.index % 4:
                    continue
                self._insert("businesscard", {
                    "last_name": person.last_name, "first_name": person.first_name,
                    "last_name_kana": person.last_name_kana,
                    "first_name_kana": person.first_name_kana, "email": person.email,
                    "customer_name": person.company.name, "department": person.department,
                    "position": person.title, "tel_no": person.phone,
                    "prefecture": person.prefecture, "zipcode": person.postal_code},
                    datetime.fromisoformat(person.created_at))

    def _insert(self, sheet: str, values: Mapping[str, Any], when: datetime) -> int:
        ident = self.next_id
        self.next_id += 1
        self.rows[sheet][ident] = {**dict.fromkeys(SHEETS[sheet].items), **values, "id": ident,
                                   "created_at": when, "updated_at": when}
        return ident

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), UTC).replace(microsecond=0)

    @staticmethod
    def sheet(name: str) -> Sheet:
        """The sheet called ``name``.

        Raises:
            EsmError: 404 for an unknown sheet.
        """
        found = SHEETS.get(name)
        if found is None:
            raise EsmError(404, "NOT_FOUND", f"no sheet {name}")
        return found

    def render(self, sheet: str, row: Mapping[str, Any], tz: tzinfo) -> dict[str, Any]:
        """A record as the API shows it: ``id`` plus dotted item keys."""
        prefix = SHEETS[sheet].prefix
        out: dict[str, Any] = {"id": str(row["id"])}
        for key, value in row.items():
            if key == "id":
                continue
            out[prefix + key] = render_time(value, tz) if isinstance(value, datetime) else value
        return out

    def _values(self, sheet: Sheet, body: Mapping[str, Any], creating: bool) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for key, value in body.items():
            if not key.startswith(sheet.prefix) or key[len(sheet.prefix):] not in sheet.items:
                raise EsmError(400, "INVALID_ITEM", f"unknown item {key}", key)
            values[key[len(sheet.prefix):]] = value
        for item in sheet.required if creating else ():
            if values.get(item) in (None, ""):
                raise EsmError(400, "REQUIRED_ITEM", f"{sheet.prefix}{item} is required",
                               sheet.prefix + item)
        email = values.get("email")
        if email is not None and ("@" not in str(email) or not str(email).isascii()):
            raise EsmError(400, "INVALID_VALUE", "email is not an e-mail address",
                           sheet.prefix + "email")
        return values

    def create(self, name: str, body: Mapping[str, Any]) -> int:
        """Store a new record; its id.

        Raises:
            EsmError: 400 with the item at fault.
        """
        sheet = self.sheet(name)
        values = self._values(sheet, body, True)
        with self.lock:
            return self._insert(name, values, self._now())

    def update(self, name: str, ident: int, body: Mapping[str, Any]) -> None:
        """Change a record (``updated_at`` moves when a value changes).

        Raises:
            EsmError: 404 unknown id, 400 bad item.
        """
        sheet = self.sheet(name)
        values = self._values(sheet, body, False)
        with self.lock:
            row = self.rows[name].get(ident)
            if row is None:
                raise EsmError(404, "NOT_FOUND", f"no {name} record {ident}")
            if any(row.get(k) != v for k, v in values.items()):
                row.update(values)
                row["updated_at"] = self._now()

    def get(self, name: str, ident: int) -> dict[str, Any] | None:
        self.sheet(name)
        with self.lock:
            row = self.rows[name].get(ident)
            return dict(row) if row else None

    def search(self, name: str, conditions: list[Mapping[str, Any]], tz: tzinfo,
               page: int, size: int) -> tuple[list[dict[str, Any]], int]:
        """A page of records matching every condition, oldest ``updated_at`` first.

        Raises:
            EsmError: 400 for an unknown item or operator.
        """
        sheet = self.sheet(name)
        tests = []
        for cond in conditions:
            item, operator = str(cond.get("item", "")), str(cond.get("operator", "eq"))
            key = item[len(sheet.prefix):] if item.startswith(sheet.prefix) else None
            if key not in sheet.items | {"updated_at", "created_at", "id"}:
                raise EsmError(400, "INVALID_ITEM", f"unknown item {item}", item)
            if operator not in ("eq", "ge", "gt", "le", "lt"):
                raise EsmError(400, "INVALID_OPERATOR", f"unknown operator {operator}")
            value: Any = cond.get("value")
            if key in ("updated_at", "created_at"):
                value = parse_time(str(value), tz)
            tests.append((key, operator, value))
        compare: dict[str, Callable[[Any, Any], bool]] = {
            "eq": lambda a, b: a == b, "ge": lambda a, b: a >= b, "gt": lambda a, b: a > b,
            "le": lambda a, b: a <= b, "lt": lambda a, b: a < b}
        with self.lock:
            rows = [dict(r) for r in self.rows[name].values() if all(
                r.get(k) is not None and compare[o](r.get(k), v) for k, o, v in tests)]
        rows.sort(key=lambda r: (r["updated_at"], r["id"]))
        start = (page - 1) * size
        return rows[start:start + size], len(rows)
