"""The lead database: seeded leads overlaid with every change, and the activity log.

Facts relied on (``leads.md``, ``error-codes.md``) [C]: Sync Leads takes ``action``
(``createOnly``, ``updateOnly``, ``createOrUpdate`` (default), ``createDuplicate``) and
``lookupField`` (default ``email``); ``id`` may only be sent with ``updateOnly``; results come
back in input order as ``created``/``updated``/``skipped`` with ``reasons`` (1004 lead not
found, 1005 lead already exists, 1006 field not found, 1007 multiple leads match); an
unsupported lookup field is 1011.

Choices where the docs are silent [U]: lookups by email are case-insensitive; a write that
changes no value answers ``updated`` but neither moves ``updatedAt`` nor logs an activity;
one Change Data Value activity is logged per changed field (the vendor's activities carry
one attribute each).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from sandbox.marketo.activities import (
    CHANGE_DATA_VALUE,
    DELETE_LEAD,
    NEW_LEAD,
    Activity,
    ActivityLog,
)
from sandbox.marketo.schema import SEARCHABLE, FieldError, coerce, format_dt
from sandbox.marketo.seeding import SeedLeads

__all__ = ["API", "UI", "LeadStore", "Origin", "RecordRule", "UnsupportedFieldError"]


@dataclass(frozen=True)
class Origin:
    """Who made a change: the ``Reason``/``Source`` attributes of its activities."""

    reason: str
    source: str
    source_type: str


API = Origin("Web service API", "Web service API", "Web service API")
UI = Origin("Changed by user", "Web UI", "New lead")


@dataclass(frozen=True)
class RecordRule:
    """Configured record-level failure: inputs whose email matches ``pattern`` are skipped.

    Attributes:
        pattern: Regular expression searched in the input's email.
        code: Reason code (``1003`` invalid data, or a transient one).
        message: Reason message.
    """

    pattern: str
    code: str = "1003"
    message: str = "Invalid data"


class UnsupportedFieldError(Exception):
    """A lookup or filter field the API does not support (response-level 1011)."""


def _name(record: dict[str, Any]) -> str:
    return f"{record.get('lastName') or ''} {record.get('firstName') or ''}".strip()


class LeadStore:
    """Leads and their activities.

    Args:
        seed: The seeded leads.
        clock: Wall clock in epoch seconds.
        rules: Configured record-level failures.
    """

    def __init__(self, seed: SeedLeads, *, clock: Callable[[], float],
                 rules: Iterable[RecordRule] = ()):
        self.seed = seed
        self._clock = clock
        self._rules = [(re.compile(r.pattern), r) for r in rules]
        self._lock = threading.RLock()
        self.reset()

    def reset(self) -> None:
        """Back to the seeded state."""
        with self._lock:
            self._overlay: dict[int, dict[str, Any]] = {}
            self._deleted: set[int] = set()
            self._by_email: dict[str, set[int]] = {}
            self._next_id = self.seed.size + 1
            self.log = ActivityLog(self.seed.size, self.seed.new_lead_at,
                                   self.seed.created_times, self._clock)

    # -- reads --------------------------------------------------------------------------------

    @property
    def count(self) -> int:
        """Leads that exist now."""
        with self._lock:
            return self._next_id - 1 - len(self._deleted)

    def get(self, lead_id: int) -> dict[str, Any] | None:
        """A copy of a live lead, or ``None``."""
        with self._lock:
            if lead_id in self._deleted:
                return None
            record = self._overlay.get(lead_id)
            if record is not None:
                return dict(record)
        return self.seed.lead(lead_id)

    def ids(self, start: int = 1) -> Iterator[int]:
        """Ids of live leads in ascending order."""
        lead_id = start
        while lead_id < self._next_id:
            if lead_id not in self._deleted:
                yield lead_id
            lead_id += 1

    def find(self, field: str, values: Iterable[Any], *, limit: int | None = None) -> list[int]:
        """Ids of live leads whose ``field`` equals one of ``values`` (ascending).

        Raises:
            UnsupportedFieldError: ``field`` cannot be searched.
        """
        if field not in SEARCHABLE:
            raise UnsupportedFieldError(f"Field '{field}' not supported")
        wanted = [str(v).strip() for v in values if v is not None and str(v).strip() != ""]
        found: set[int] = set()
        if field == "id":
            for v in wanted:
                if v.isdigit() and self.get(int(v)) is not None:
                    found.add(int(v))
        elif field == "email":
            # The seed index may still be building (a large sandbox warms up in the
            # background): wait for it without holding the store lock.
            seeded = {i for v in wanted for i in self.seed.ids_for_email(v)}
            with self._lock:
                for v in wanted:
                    found |= self._by_email.get(v.lower(), set())
                found |= {i for i in seeded if i not in self._overlay and i not in self._deleted}
        else:
            found = self._scan(field, set(wanted), limit)
        return sorted(found)

    def _scan(self, field: str, wanted: set[str], limit: int | None) -> set[int]:
        found: set[int] = set()
        with self._lock:
            for lead_id, record in self._overlay.items():
                if lead_id not in self._deleted and str(record.get(field)) in wanted:
                    found.add(lead_id)
            overlaid = set(self._overlay) | self._deleted
        # Seeded leads never carry some fields (renkeiHubId): skip the full scan for those.
        if (self.seed.lead(1) or {}).get(field) is not None:
            for record in self.seed.iter_leads():
                if record["id"] not in overlaid and str(record.get(field)) in wanted:
                    found.add(record["id"])
                    if limit is not None and len(found) > limit:
                        break
        return found

    # -- writes -------------------------------------------------------------------------------

    def _materialise(self, lead_id: int) -> dict[str, Any]:
        record = self._overlay.get(lead_id)
        if record is None:
            seeded = self.seed.lead(lead_id)
            if seeded is None:
                raise KeyError(lead_id)
            record = self._overlay[lead_id] = seeded
            if record.get("email"):
                self._by_email.setdefault(record["email"].lower(), set()).add(lead_id)
        return record

    def _coerce_all(self, values: dict[str, Any], skip: Iterable[str] = ()) -> dict[str, Any]:
        out: dict[str, Any] = {}
        errors: list[FieldError] = []
        for key, value in values.items():
            if key in skip:
                continue
            try:
                out[key] = coerce(key, value)
            except FieldError as exc:
                errors.append(exc)
        if errors:
            raise errors[0]
        return out

    def rule_for(self, email: Any) -> RecordRule | None:
        """The configured failure rule an input's email triggers, if any."""
        if not isinstance(email, str):
            return None
        return next((r for pattern, r in self._rules if pattern.search(email)), None)

    def create(self, values: dict[str, Any], origin: Origin = API) -> dict[str, Any]:
        """Create a lead from already-coerced values; logs a New Lead activity."""
        with self._lock:
            now = self.log.now()
            lead_id = self._next_id
            self._next_id += 1
            stamp = format_dt(now)
            record = {**{k: None for k in self._blank_fields()}, **values,
                      "id": lead_id, "createdAt": stamp, "updatedAt": stamp}
            self._overlay[lead_id] = record
            if record.get("email"):
                self._by_email.setdefault(record["email"].lower(), set()).add(lead_id)
            self.log.append([Activity(lead_id, now, NEW_LEAD, reason=origin.source_type,
                                      label=_name(record))])
            return dict(record)

    @staticmethod
    def _blank_fields() -> list[str]:
        from sandbox.marketo.schema import FIELDS

        return [f.name for f in FIELDS]

    def update(self, lead_id: int, values: dict[str, Any], origin: Origin = API) -> dict[str, Any]:
        """Apply coerced values; logs one Change Data Value per changed field.

        Raises:
            KeyError: no live lead with that id.
        """
        with self._lock:
            if lead_id in self._deleted or lead_id >= self._next_id:
                raise KeyError(lead_id)
            record = self._materialise(lead_id)
            changed = [(k, record.get(k), v) for k, v in values.items() if record.get(k) != v]
            if not changed:
                return dict(record)
            now = self.log.now()
            for key, old, new in changed:
                record[key] = new
                if key == "email":
                    if old:
                        self._by_email.get(old.lower(), set()).discard(lead_id)
                    if new:
                        self._by_email.setdefault(new.lower(), set()).add(lead_id)
            record["updatedAt"] = format_dt(now)
            self.log.append(Activity(lead_id, now, CHANGE_DATA_VALUE, field=k, old=o, new=n,
                                     reason=origin.reason, source=origin.source)
                            for k, o, n in changed)
            return dict(record)

    def delete(self, lead_id: int) -> bool:
        """Delete a lead; logs a Delete Lead activity. False if there was none."""
        with self._lock:
            record = self.get(lead_id)
            if record is None:
                return False
            self._deleted.add(lead_id)
            self._overlay.pop(lead_id, None)
            if record.get("email"):
                self._by_email.get(record["email"].lower(), set()).discard(lead_id)
            self.log.append([Activity(lead_id, self.log.now(), DELETE_LEAD, label=_name(record))])
            return True

    def sync(self, action: str, lookup: str, inputs: list[Any],
             origin: Origin = API) -> list[dict[str, Any]]:
        """Sync Leads: one result per input, in order.

        Raises:
            UnsupportedFieldError: ``lookup`` is not a supported lookup field.
        """
        if lookup not in SEARCHABLE:
            raise UnsupportedFieldError(f"Field '{lookup}' not supported")
        self.seed.ensure_index()  # before taking the lock: it may take a while on a big seed
        with self._lock:
            return [self._sync_one(action, lookup, item, origin) for item in inputs]

    def _sync_one(self, action: str, lookup: str, item: Any, origin: Origin) -> dict[str, Any]:
        if not isinstance(item, dict):
            return _skip("1003", "Invalid data")
        if "id" in item and action != "updateOnly":
            return _skip("1003", "Invalid data: id is only allowed with updateOnly")
        rule = self.rule_for(item.get("email"))
        if rule is not None:
            return _skip(rule.code, rule.message)
        try:
            values = self._coerce_all(item, skip=("id",) if lookup == "id" else ())
        except FieldError as exc:
            return _skip(exc.code, exc.message)
        key = item.get(lookup)
        if action == "createDuplicate":
            return {"id": self.create(values, origin)["id"], "status": "created"}
        matches = self.find(lookup, [key]) if key not in (None, "") else []
        if action == "updateOnly" and key in (None, ""):
            return _skip("1002", f"Missing value for the required parameter '{lookup}'")
        if len(matches) > 1:
            return _skip("1007", "Multiple leads match the lookup criteria")
        if action == "createOnly" and matches:
            return _skip("1005", "Lead already exists")
        if action == "updateOnly" and not matches:
            return _skip("1004", "Lead not found")
        if matches:
            self.update(matches[0], values, origin)
            return {"id": matches[0], "status": "updated"}
        return {"id": self.create(values, origin)["id"], "status": "created"}


def _skip(code: str, message: str) -> dict[str, Any]:
    return {"status": "skipped", "reasons": [{"code": code, "message": message}]}
