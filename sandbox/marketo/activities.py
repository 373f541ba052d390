"""The activity log: New Lead, Change Data Value and Delete Lead activities, and paging tokens.

Facts relied on (``activities.md``, ``paging-tokens.md``) [C]:

* type ids 12 New Lead, 13 Change Data Value, 37 Delete Lead (the Delete Lead id is the one in
  the deleted-leads example; 12 and 13 also [S] in third-party type tables);
* ``GET /activities/pagingtoken.json?sinceDatetime=`` returns a date-based ``nextPageToken``;
  list endpoints always return ``nextPageToken`` and ``moreResult`` and a page may be short,
  even empty, while ``moreResult`` is true;
* Get Lead Changes returns only Data Value Change and New Lead activities, and only changes
  of the fields named in its required ``fields`` parameter; each item carries
  ``fields: [{id, name, newValue, oldValue}]`` and ``attributes``;
* batch size 300 by default and at most;
* Get Lead Activities (``activities.json``) takes up to ten ``activityTypeIds``, any type of
  the types list, Delete Lead (37) included (connectors such as tap-marketo page every type
  through it) [S]; its items carry ``primaryAttributeValueId``/``primaryAttributeValue``
  instead of Get Lead Changes' ``fields``: for Change Data Value the field's Describe Leads
  id and display name, with ``New Value``/``Old Value`` among the attributes [S]; for New
  Lead and Delete Lead the lead id and name (the deleted-leads example) [C].

The log is ordered by activity date. Seeded New Lead activities are not stored: position
``p < seed size`` is computed from the seed's creation order, so a million-lead sandbox starts
without materialising anything. Later activities are appended with dates that never go back.
"""

from __future__ import annotations

import base64
import bisect
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sandbox.marketo.schema import FIELD_BY_NAME, format_dt

__all__ = [
    "ACTIVITY_TYPES",
    "CHANGE_DATA_VALUE",
    "DELETE_LEAD",
    "NEW_LEAD",
    "Activity",
    "ActivityLog",
    "BadTokenError",
    "decode_token",
    "encode_date_token",
    "encode_token",
]

NEW_LEAD = 12
CHANGE_DATA_VALUE = 13
DELETE_LEAD = 37

ACTIVITY_TYPES: list[dict[str, Any]] = [
    {"id": NEW_LEAD, "name": "New Lead",
     "description": "New person/record is added to the lead database",
     "primaryAttribute": {"name": "Lead ID", "dataType": "integer"},
     "attributes": [{"name": "Source Type", "dataType": "string"},
                    {"name": "Lead Source", "dataType": "string"}]},
    {"id": CHANGE_DATA_VALUE, "name": "Change Data Value",
     "description": "Changed attribute value for a person",
     "primaryAttribute": {"name": "Attribute Name", "dataType": "integer"},
     "attributes": [{"name": "New Value", "dataType": "string"},
                    {"name": "Old Value", "dataType": "string"},
                    {"name": "Reason", "dataType": "string"},
                    {"name": "Source", "dataType": "string"}]},
    {"id": DELETE_LEAD, "name": "Delete Lead",
     "description": "Delete a person from the lead database",
     "primaryAttribute": {"name": "Lead ID", "dataType": "integer"},
     "attributes": [{"name": "Remove from CRM", "dataType": "boolean"}]},
]


class BadTokenError(ValueError):
    """A paging token this emulator did not issue."""


def encode_token(position: int) -> str:
    """An opaque base32 token for a log position (the vendor's tokens are base32 too)."""
    return base64.b32encode(f"mkto:p:{position}".encode()).decode()


def encode_date_token(since: float) -> str:
    """A date-based token: resolved to a log position when it is used, as the vendor's
    tokens from ``pagingtoken.json`` stand for a date, not a position."""
    return base64.b32encode(f"mkto:d:{since:.0f}".encode()).decode()


def decode_token(token: str) -> tuple[str, float]:
    """``("p", position)`` or ``("d", epoch seconds)``.

    Raises:
        BadTokenError: not a token of this emulator.
    """
    try:
        text = token.strip()
        text = base64.b32decode((text + "=" * (-len(text) % 8)).encode()).decode()
        prefix, kind, number = text.split(":")
        if prefix != "mkto" or kind not in ("p", "d"):
            raise ValueError(text)
        return kind, float(number)
    except (ValueError, UnicodeDecodeError):
        raise BadTokenError("Invalid next page token") from None


@dataclass(frozen=True)
class Activity:
    """One stored activity (seeded New Lead activities are computed, not stored).

    Attributes:
        lead_id: The lead it belongs to.
        ts: Activity date, epoch seconds.
        type_id: 12, 13 or 37.
        field: For Change Data Value: the REST name of the changed field.
        old: Previous value (Change Data Value).
        new: New value (Change Data Value).
        reason: ``Reason`` attribute (Change Data Value) or ``Source Type`` (New Lead).
        source: ``Source`` attribute.
        label: Primary attribute value (the lead's name for New Lead / Delete Lead).
    """

    lead_id: int
    ts: float
    type_id: int
    field: str | None = None
    old: Any = None
    new: Any = None
    reason: str = "Web service API"
    source: str = "Web service API"
    label: str = ""


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class ActivityLog:
    """Seeded New Lead activities followed by appended ones, in date order.

    Args:
        seeded_count: How many seeded activities precede the appended ones.
        seeded_at: ``position -> (lead_id, ts, label)`` of a seeded New Lead activity.
        seeded_times: Activity dates of the seeded positions, ascending (for date tokens).
        clock: Wall clock (epoch seconds).
    """

    def __init__(
        self,
        seeded_count: int,
        seeded_at: Callable[[int], tuple[int, float, str]],
        seeded_times: Callable[[], Sequence[float]],
        clock: Callable[[], float],
    ):
        self._seeded = seeded_count
        self._seeded_at = seeded_at
        self._seeded_times = seeded_times
        self._clock = clock
        self._lock = threading.Lock()
        self._items: list[Activity] = []
        self._times: list[float] = []

    def __len__(self) -> int:
        with self._lock:
            return self._seeded + len(self._items)

    def append(self, items: Iterable[Activity]) -> None:
        """Append activities; their dates are clamped so the log stays in date order."""
        with self._lock:
            for item in items:
                last = self._times[-1] if self._times else 0.0
                if item.ts < last:
                    item = Activity(**{**item.__dict__, "ts": last})
                self._items.append(item)
                self._times.append(item.ts)

    def now(self) -> float:
        """The clock, never before the newest logged activity."""
        with self._lock:
            last = self._times[-1] if self._times else 0.0
        return max(self._clock(), last)

    def position_at(self, since: float) -> int:
        """The first position whose activity date is at or after ``since``."""
        seeded_times = self._seeded_times() if self._seeded else ()
        pos = bisect.bisect_left(seeded_times, since)
        if pos < self._seeded:
            return pos
        with self._lock:
            return self._seeded + bisect.bisect_left(self._times, since)

    def _at(self, position: int) -> Activity:
        if position < self._seeded:
            lead_id, ts, label = self._seeded_at(position)
            return Activity(lead_id, ts, NEW_LEAD, reason="Import", label=label)
        with self._lock:
            return self._items[position - self._seeded]

    def scan(
        self,
        position: int,
        *,
        keep: Callable[[Activity], bool],
        batch_size: int,
        scan_limit: int,
    ) -> tuple[list[tuple[int, Activity]], int, bool]:
        """Activities from ``position`` that ``keep`` accepts.

        Stops after ``batch_size`` kept items or ``scan_limit`` positions looked at, like the
        vendor, whose pages may be short while more remain.

        Returns:
            ``([(position, activity)...], next_position, more_result)``.
        """
        total = len(self)
        position = max(0, min(position, total))
        end = min(total, position + scan_limit)
        kept: list[tuple[int, Activity]] = []
        while position < end and len(kept) < batch_size:
            item = self._at(position)
            if keep(item):
                kept.append((position, item))
            position += 1
        return kept, position, position < len(self)

    @staticmethod
    def render(position: int, item: Activity, *, lead_changes: bool) -> dict[str, Any]:
        """An activity as the API returns it (``id`` and ``marketoGUID`` from its position)."""
        out: dict[str, Any] = {
            "id": position + 1, "marketoGUID": str(position + 1), "leadId": item.lead_id,
            "activityDate": format_dt(item.ts), "activityTypeId": item.type_id,
        }
        if item.type_id == CHANGE_DATA_VALUE and item.field is not None:
            fdef = FIELD_BY_NAME.get(item.field)
            fid = fdef.id if fdef else 0
            if lead_changes:
                out["fields"] = [{"id": fid, "name": item.field, "newValue": _text(item.new),
                                  "oldValue": _text(item.old)}]
            else:
                out["primaryAttributeValueId"] = fid
                out["primaryAttributeValue"] = fdef.display if fdef else item.field
            attributes: list[dict[str, Any]] = [
                {"name": "Reason", "value": item.reason},
                {"name": "Source", "value": item.source},
            ]
            if not lead_changes:
                attributes[:0] = [{"name": "New Value", "value": _text(item.new)},
                                  {"name": "Old Value", "value": _text(item.old)}]
            out["attributes"] = attributes
            return out
        if lead_changes:
            out["fields"] = []
        else:
            out["primaryAttributeValueId"] = item.lead_id
            out["primaryAttributeValue"] = item.label
        out["attributes"] = (
            [{"name": "Source Type", "value": item.reason}] if item.type_id == NEW_LEAD else []
        )
        return out
