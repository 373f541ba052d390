"""The portal's CRM records: objects, property values, unique indexes and associations.

Every value is stored as HubSpot returns it: a string (numbers ``"120"``, booleans
``"true"``, datetimes ISO-8601 UTC with milliseconds ``"2026-03-14T05:22:31.000Z"``) or
``None``. ``createdate``/``hs_createdate`` and ``lastmodifieddate``/``hs_lastmodifieddate`` are
kept by the store: a write that changes a value moves both modified dates; a write that
changes nothing leaves them alone [U].
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

from sandbox.hubspot.objects import OBJECT_TYPES, ObjectType

__all__ = ["CrmStore", "PropertyError", "Record", "UniqueConflictError", "format_ms", "parse_ms"]

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def format_ms(ms: int) -> str:
    """Epoch milliseconds as HubSpot's datetime string (``2026-03-14T05:22:31.123Z``)."""
    dt = datetime.fromtimestamp(ms / 1000, tz=UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def parse_ms(value: Any) -> int:
    """Epoch milliseconds from a datetime value (ms digits, or ISO-8601).

    Raises:
        ValueError: Neither form.
    """
    text = str(value).strip()
    if text.lstrip("-").isdigit():
        return int(text)
    dt = datetime.fromisoformat(text)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return round(dt.timestamp() * 1000)


class PropertyError(ValueError):
    """A property value the portal refuses.

    Attributes:
        name: The property.
        code: HubSpot's validation code (``PROPERTY_DOESNT_EXIST``, ``INVALID_EMAIL``, ...).
    """

    def __init__(self, name: str, code: str, message: str):
        super().__init__(message)
        self.name, self.code, self.message = name, code, message


class UniqueConflictError(ValueError):
    """A unique property value (``email``) already belongs to another record."""

    def __init__(self, existing_id: int, singular: str):
        super().__init__(f"{singular} already exists. Existing ID: {existing_id}")
        self.existing_id = existing_id


class Record:
    """One stored object."""

    __slots__ = ("archived", "created_ms", "id", "props", "updated_ms")

    def __init__(self, id: int, props: dict[str, str | None], created_ms: int, updated_ms: int):
        self.id = id
        self.props = props
        self.created_ms = created_ms
        self.updated_ms = updated_ms
        self.archived = False


def _normalise(obj: ObjectType, name: str, value: Any) -> str | None:
    prop = obj.prop(name)
    if prop is None:
        raise PropertyError(name, "PROPERTY_DOESNT_EXIST", f'Property "{name}" does not exist')
    if prop.read_only:
        raise PropertyError(name, "READ_ONLY_VALUE",
                            f'"{name}" is a read only property; its value cannot be set.')
    if value is None:
        return None
    if isinstance(value, bool):
        text = "true" if value else "false"
    else:
        text = str(value)
    if text == "":
        return ""
    if prop.type == "number":
        try:
            number = float(text)
        except ValueError:
            raise PropertyError(name, "INVALID_FLOAT",
                                f"{text} was not a valid number.") from None
        text = str(int(number)) if number.is_integer() else repr(number)
    elif prop.type == "bool":
        if text.lower() not in ("true", "false"):
            raise PropertyError(name, "INVALID_BOOLEAN", f"{text} was not a valid boolean.")
        text = text.lower()
    elif prop.type in ("datetime", "date"):
        try:
            text = format_ms(parse_ms(text))
        except ValueError:
            raise PropertyError(name, "INVALID_DATE", f"{text} was not a valid date.") from None
    elif prop.type == "enumeration" and text not in prop.options:
        raise PropertyError(name, "INVALID_OPTION",
                            f"{text} was not one of the allowed options: {list(prop.options)}")
    elif name == "email" and not _EMAIL.match(text):
        raise PropertyError(name, "INVALID_EMAIL", f"Email address {text} is invalid")
    return text


class CrmStore:
    """Thread-safe records of every object type.

    Args:
        clock: Wall clock in epoch seconds.
    """

    def __init__(self, clock: Callable[[], float]):
        self._clock = clock
        self.lock = threading.RLock()
        self.records: dict[str, dict[int, Record]] = {name: {} for name in OBJECT_TYPES}
        self._unique: dict[tuple[str, str], dict[str, int]] = {
            (o.name, p.name): {} for o in OBJECT_TYPES.values() for p in o.properties
            if p.unique and p.name != "hs_object_id"}
        self._next: dict[str, int] = {}
        self._assoc: dict[tuple[str, str], dict[int, dict[int, int]]] = {}

    def now_ms(self) -> int:
        return int(self._clock() * 1000)

    # -- ids -----------------------------------------------------------------------------------

    def _new_id(self, obj: ObjectType) -> int:
        key = "engagements" if obj.shared_ids else obj.name
        start = {"contacts": 1001, "companies": 5_000_001, "deals": 9_000_001}.get(key, 20_000_001)
        value = self._next.get(key, start)
        self._next[key] = value + 1
        return value

    # -- reads ---------------------------------------------------------------------------------

    def get(self, obj: str, record_id: int) -> Record | None:
        record = self.records[obj].get(record_id)
        return None if record is None or record.archived else record

    def find_unique(self, obj: str, prop: str, value: str) -> Record | None:
        """The live record whose unique ``prop`` equals ``value`` (emails case-insensitive)."""
        if prop == "hs_object_id":
            return self.get(obj, int(value)) if str(value).isdigit() else None
        index = self._unique.get((obj, prop))
        if index is None:
            raise KeyError(prop)
        found = index.get(str(value).strip().lower())
        return None if found is None else self.get(obj, found)

    def live(self, obj: str) -> Iterator[Record]:
        return (r for r in self.records[obj].values() if not r.archived)

    def value(self, record: Record, name: str) -> str | None:
        """A property's value, system properties included."""
        if name == "hs_object_id":
            return str(record.id)
        if name in ("createdate", "hs_createdate"):
            return format_ms(record.created_ms)
        if name in ("lastmodifieddate", "hs_lastmodifieddate"):
            return format_ms(record.updated_ms)
        return record.props.get(name)

    # -- writes --------------------------------------------------------------------------------

    def validate(self, obj: ObjectType, values: Mapping[str, Any]) -> dict[str, str | None]:
        """Normalised values, or :class:`PropertyError` for the first bad one."""
        return {name: _normalise(obj, name, value) for name, value in values.items()}

    def _check_unique(self, obj: ObjectType, values: Mapping[str, str | None],
                      own_id: int | None) -> None:
        for (name, prop), index in self._unique.items():
            if name != obj.name or not values.get(prop):
                continue
            holder = index.get(str(values[prop]).strip().lower())
            if holder is not None and holder != own_id and self.get(obj.name, holder):
                raise UniqueConflictError(holder, obj.singular)

    def _index(self, obj: ObjectType, record: Record, old: Mapping[str, str | None]) -> None:
        for (name, prop), index in self._unique.items():
            if name != obj.name:
                continue
            before, after = old.get(prop), record.props.get(prop)
            if before and index.get(before.strip().lower()) == record.id:
                del index[before.strip().lower()]
            if after:
                index[after.strip().lower()] = record.id

    def create(self, obj_name: str, values: Mapping[str, Any], *, at_ms: int | None = None,
               created_ms: int | None = None) -> Record:
        """Create a record from raw values.

        Raises:
            PropertyError: A value is refused.
            UniqueConflictError: A unique value is taken.
        """
        obj = OBJECT_TYPES[obj_name]
        clean: dict[str, str | None] = {
            k: v for k, v in self.validate(obj, values).items() if v is not None}
        with self.lock:
            self._check_unique(obj, clean, None)
            now = self.now_ms() if at_ms is None else at_ms
            record = Record(self._new_id(obj), clean, created_ms or now, now)
            self.records[obj_name][record.id] = record
            self._index(obj, record, {})
            return record

    def load(self, obj_name: str, values: dict[str, str | None], created_ms: int,
             updated_ms: int) -> Record:
        """Insert already-normalised seed values without validation (seeding only)."""
        obj = OBJECT_TYPES[obj_name]
        with self.lock:
            record = Record(self._new_id(obj), values, created_ms, updated_ms)
            self.records[obj_name][record.id] = record
            self._index(obj, record, {})
            return record

    def update(self, obj_name: str, record_id: int, values: Mapping[str, Any], *,
               at_ms: int | None = None) -> Record:
        """Change some values of a live record; moves the modified dates if any changed.

        Raises:
            KeyError: No live record with that id.
            PropertyError, UniqueConflictError: As for :meth:`create`.
        """
        obj = OBJECT_TYPES[obj_name]
        clean = self.validate(obj, values)
        with self.lock:
            record = self.get(obj_name, record_id)
            if record is None:
                raise KeyError(record_id)
            self._check_unique(obj, clean, record.id)
            changed = {k: v for k, v in clean.items() if record.props.get(k) != v}
            if changed:
                old = dict(record.props)
                record.props.update(changed)
                self._index(obj, record, old)
                record.updated_ms = max(record.updated_ms,
                                        self.now_ms() if at_ms is None else at_ms)
            return record

    def archive(self, obj_name: str, record_id: int) -> bool:
        with self.lock:
            record = self.get(obj_name, record_id)
            if record is None:
                return False
            record.archived = True
            record.updated_ms = self.now_ms()
            return True

    def touch(self, obj_name: str, ids: Iterable[int], at_ms: int) -> int:
        """Set the modified time of many records at once (sandbox helper for tests)."""
        with self.lock:
            count = 0
            for record_id in ids:
                record = self.get(obj_name, record_id)
                if record is not None:
                    record.updated_ms = at_ms
                    count += 1
            return count

    # -- associations --------------------------------------------------------------------------

    def associate(self, from_obj: str, from_id: int, to_obj: str, to_id: int,
                  type_id: int, reverse_type_id: int) -> None:
        with self.lock:
            self._assoc.setdefault((from_obj, to_obj), {}).setdefault(from_id, {})[to_id] = type_id
            self._assoc.setdefault((to_obj, from_obj), {}).setdefault(to_id, {})[from_id] = (
                reverse_type_id)

    def associations(self, from_obj: str, from_id: int, to_obj: str) -> dict[int, int]:
        """``{to_id: association type id}`` of one record, live targets only."""
        with self.lock:
            linked = self._assoc.get((from_obj, to_obj), {}).get(from_id, {})
            return {t: k for t, k in linked.items() if self.get(to_obj, t) is not None}
