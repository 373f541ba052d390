"""The write-only ``activities`` stream: hub activities as Marketo custom activities.

A record is one activity::

    {"leadId": 1234, "activityDate": "2026-09-10T05:03:00Z",
     "activityType": "renkeiWebinarAttended",        # or "activityTypeId": 100001
     "primaryAttributeValue": "zoom:…:tanaka@…",     # the hub's source id
     "minutes": 71.5, "title": "製造業DXセミナー"}     # secondary attributes by API name

Keys other than the activity's own (``leadId``, ``activityDate``, ``activityTypeId``,
``activityType``, ``primaryAttributeValue``, ``attributes``) are secondary attributes by API
name; null ones are left out (Marketo omits empty attributes). ``attributes`` may also carry
the vendor's own ``[{"apiName"|"name": .., "value": ..}]`` list.

Vendor behaviour relied on (``AdobeDocs/marketo-developer.en`` ``help/rest-api/activities.md``,
``error-codes.md``) [C]:

* ``POST /rest/v1/activities/external.json`` takes at most 300 activities; each answers
  ``added`` with ``marketoGUID`` (the id to keep: ``id`` "should not be treated as unique"
  after the Activity Service migration) or ``skipped`` with ``errors`` (``reasons`` in other
  endpoints; both are read); 1004 lead not found, 1001/1006 bad attribute value or name,
  1049 attributes over 64 KB;
* custom activities are write-once: there is no update, and no key that makes a resend
  harmless, so the stream declares ``create_idempotent=False`` and offers
  :func:`find_created` as the recovery read;
* ``GET /rest/v1/activities/external/types.json`` lists the types with ``id``, ``apiName``,
  ``name`` and ``status`` (``draft``, ``approved``, ``approved with draft``); only approved
  types take activities;
* ``GET /rest/v1/activities.json`` with a paging token, up to 10 ``activityTypeIds`` and up
  to 30 ``leadIds`` reads activities back; pages may be short while ``moreResult`` is true.

Assumed [U]: whether a paging token's ``sinceDatetime`` selects activities by their
``activityDate`` or by when they were added is not documented, so the recovery read starts
at the earlier of the two (the oldest marker less a margin, the oldest activity date).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from connectors.marketo.api import MarketoApi, batch_results
from connectors.marketo.errors import record_error
from connectors.marketo.incremental import parse_time
from connectors.sdk import (
    ErrorCategory,
    ProtocolError,
    RecordError,
    StreamSpec,
    WriteMode,
    WriteOp,
    WriteResult,
)

__all__ = ["MAX_ACTIVITIES", "ActivityType", "ActivityWriter", "activities_stream"]

MAX_ACTIVITIES = 300
MAX_BODY = 900_000
"""Bytes of JSON per call we allow ourselves, below the vendor's 1 MB."""
LEAD_IDS_PER_READ = 30
TYPES_PER_READ = 10
RECOVERY_MARGIN = timedelta(minutes=15)
"""How far before the oldest marker the recovery read starts (clock skew between the hub
and Marketo's data centre)."""

_OWN_KEYS = frozenset({"leadId", "activityDate", "activityTypeId", "activityType",
                       "primaryAttributeValue", "attributes"})
_USABLE = frozenset({"approved", "approved with draft"})
_SCALAR = {"type": ["string", "number", "integer", "boolean", "null"]}


def activities_stream() -> StreamSpec:
    """The ``activities`` stream spec (no vendor call: the attributes depend on the types)."""
    schema = {
        "type": "object",
        "properties": {
            "marketoGUID": {"type": "string", "readOnly": True},
            "leadId": {"type": "integer"},
            "activityDate": {"type": "string", "format": "date-time"},
            "activityTypeId": {"type": ["integer", "null"]},
            "activityType": {"type": ["string", "null"],
                             "description": "API name or name of a custom activity type"},
            "primaryAttributeValue": {"type": "string"},
            "attributes": {"type": ["array", "object", "null"]},
        },
        "required": ["leadId", "activityDate", "primaryAttributeValue"],
        "additionalProperties": _SCALAR,
    }
    return StreamSpec(
        name="activities", schema=schema, primary_key=("marketoGUID",), page_size=300,
        write_batch_size=MAX_ACTIVITIES, write_modes=frozenset({WriteMode.CREATE}),
        create_idempotent=False, readable=False,
        description="Marketo custom activities (write only, write-once); secondary "
                    "attributes by API name; the primary attribute carries the hub's "
                    "source id, which the recovery read matches on after a crash.")


@dataclass(frozen=True)
class ActivityType:
    """A custom activity type of the subscription."""

    id: int
    api_name: str
    name: str
    status: str

    @property
    def usable(self) -> bool:
        return self.status in _USABLE


def _fail(category: ErrorCategory, message: str, field: str | None = None) -> WriteResult:
    return WriteResult.failure(RecordError(category, message, fields=(field,) if field else ()))


def _when(value: str) -> datetime | None:
    return parse_time(value.strip())


def _iso(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class ActivityWriter:
    """Writes and recovery reads of the ``activities`` stream.

    Args:
        api: The Marketo calls.
    """

    def __init__(self, api: MarketoApi):
        self._api = api
        self._types: list[ActivityType] | None = None

    def types(self) -> list[ActivityType]:
        """The subscription's custom activity types (one call per connector, then cached)."""
        if self._types is None:
            body = self._api.http.json("GET", "/rest/v1/activities/external/types.json",
                                       kind="read")
            result = body.get("result") if isinstance(body, dict) else None
            if not isinstance(body, dict) or body.get("success") is not True:
                raise ProtocolError("Marketo custom activity types: answer without success")
            self._types = [ActivityType(int(t["id"]), str(t.get("apiName", "")),
                                        str(t.get("name", "")), str(t.get("status", "")))
                           for t in result or [] if isinstance(t, dict) and "id" in t]
        return self._types

    def _type_of(self, values: Mapping[str, Any]) -> ActivityType | WriteResult:
        wanted: Any = values.get("activityTypeId")
        name = values.get("activityType")
        if wanted is None and name is None:
            return _fail(ErrorCategory.VALIDATION, "a custom activity needs activityTypeId or "
                         "activityType", "activityType")
        for t in self.types():
            if (wanted is not None and str(wanted) == str(t.id)) or name in (t.api_name, t.name):
                if not t.usable:
                    return _fail(ErrorCategory.CONFIGURATION, f"custom activity type "
                                 f"'{t.api_name}' is not approved in Marketo", "activityType")
                return t
        shown = wanted if wanted is not None else name
        return _fail(ErrorCategory.CONFIGURATION, f"Marketo has no custom activity type "
                     f"'{shown}'", "activityType")

    def item(self, op: WriteOp) -> dict[str, Any] | WriteResult:
        """The vendor's input item for one op, or why it cannot be sent."""
        if op.mode is not WriteMode.CREATE:
            return _fail(ErrorCategory.VALIDATION, "Marketo custom activities are write-once: "
                         "an activity cannot be changed after it was added")
        values = op.values
        lead = values.get("leadId")
        if isinstance(lead, str) and lead.isdigit():
            lead = int(lead)
        if isinstance(lead, bool) or not isinstance(lead, int):
            return _fail(ErrorCategory.VALIDATION, "a custom activity needs the Marketo lead "
                         "id (leadId)", "leadId")
        date = values.get("activityDate")
        if not isinstance(date, str) or _when(date) is None:
            return _fail(ErrorCategory.VALIDATION, "activityDate must be an ISO-8601 date-time",
                         "activityDate")
        primary = values.get("primaryAttributeValue")
        if primary is None or primary == "":
            return _fail(ErrorCategory.VALIDATION, "a custom activity needs "
                         "primaryAttributeValue (the hub's source id)", "primaryAttributeValue")
        kind = self._type_of(values)
        if isinstance(kind, WriteResult):
            return kind
        raw = values.get("attributes")
        attributes: list[dict[str, Any]] = []
        if isinstance(raw, Mapping):
            attributes += [{"apiName": k, "value": v} for k, v in raw.items() if v is not None]
        elif isinstance(raw, list):
            attributes += [a for a in raw if isinstance(a, dict) and a.get("value") is not None]
        attributes += [{"apiName": k, "value": v} for k, v in values.items()
                       if k not in _OWN_KEYS and v is not None]
        return {"leadId": lead, "activityDate": date, "activityTypeId": kind.id,
                "primaryAttributeValue": str(primary), "attributes": attributes}

    # -- writes -------------------------------------------------------------------------------

    def write(self, ops: Sequence[WriteOp]) -> list[WriteResult]:
        """Add the activities; one result per op, in order.

        Raises:
            ConnectorError: a whole call failed (the engine keeps the creates' markers, so
                the next run checks what landed before it writes again).
        """
        results: list[WriteResult | None] = [None] * len(ops)
        items: list[tuple[int, dict[str, Any]]] = []
        for index, op in enumerate(ops):
            item = self.item(op)
            if isinstance(item, WriteResult):
                results[index] = item
            else:
                items.append((index, item))
        for chunk in _chunks(items):
            answers = self._add([item for _, item in chunk])
            for (index, _), answer in zip(chunk, answers):
                results[index] = _result(answer)
        return [r if r is not None else _fail(ErrorCategory.UNKNOWN, "not written")
                for r in results]

    def _add(self, items: list[dict[str, Any]]) -> list[Any]:
        # Never resent by the HTTP layer: a timed-out add may have landed, and a second one
        # would be a second activity. The engine's markers cover that case instead.
        body = self._api.http.json("POST", "/rest/v1/activities/external.json", kind="write",
                                   idempotent=False, json={"input": items})
        return batch_results(body, len(items), "add custom activities")

    # -- the recovery read --------------------------------------------------------------------

    def find_created(self, ops: Sequence[WriteOp], *, since: str) -> dict[str, str]:
        """``{op.ref: marketoGUID}`` of the ops Marketo already has.

        An activity matches an op when lead, type and primary attribute value (the hub's
        source id) are equal. Reads ``activities.json`` for the ops' leads, 30 per query, and
        their types, from one paging token: a few calls per 300 ops, never one per op.
        """
        wanted: dict[tuple[int, int, str], str] = {}
        starts: list[datetime] = []
        for op in ops:
            item = self.item(op)
            if isinstance(item, WriteResult) or op.ref is None:
                continue  # it could not have been sent, so it cannot have landed
            key = (item["leadId"], item["activityTypeId"], item["primaryAttributeValue"])
            wanted.setdefault(key, op.ref)
            when = _when(item["activityDate"])
            if when is not None:
                starts.append(when)
        if not wanted:
            return {}
        marker = _when(since)
        if marker is not None:
            starts.append(marker - RECOVERY_MARGIN)
        token = self._api.paging_token(_iso(min(starts)))
        leads = sorted({k[0] for k in wanted})
        types = sorted({k[1] for k in wanted})
        found: dict[str, str] = {}
        for i in range(0, len(leads), LEAD_IDS_PER_READ):
            for j in range(0, len(types), TYPES_PER_READ):
                for activity in self._read(token, leads[i:i + LEAD_IDS_PER_READ],
                                           types[j:j + TYPES_PER_READ]):
                    key = (activity.get("leadId"), activity.get("activityTypeId"),
                           str(activity.get("primaryAttributeValue")))
                    ref = wanted.get(key)
                    guid = activity.get("marketoGUID") or activity.get("id")
                    if ref is not None and guid is not None and ref not in found:
                        found[ref] = str(guid)  # the oldest, if a duplicate already exists
        return found

    def _read(self, token: str, leads: list[int], types: list[int]) -> list[dict[str, Any]]:
        params: dict[str, Any] = {"activityTypeIds": ",".join(map(str, types)),
                                  "leadIds": ",".join(map(str, leads)),
                                  "batchSize": 300, "nextPageToken": token}
        out: list[dict[str, Any]] = []
        while True:
            body = self._api.http.json("GET", "/rest/v1/activities.json", kind="read",
                                       params=params)
            if not isinstance(body, dict) or body.get("success") is not True:
                raise ProtocolError("Marketo activities: answer without success:true")
            out += [a for a in body.get("result") or [] if isinstance(a, dict)]
            following = body.get("nextPageToken")
            # Pages may be short, even empty, while more remain: only moreResult ends it.
            if not body.get("moreResult") or not isinstance(following, str):
                return out
            params["nextPageToken"] = following


def _chunks(items: list[tuple[int, dict[str, Any]]]) -> list[list[tuple[int, dict[str, Any]]]]:
    chunks: list[list[tuple[int, dict[str, Any]]]] = []
    current: list[tuple[int, dict[str, Any]]] = []
    size = 20
    for entry in items:
        entry_size = len(json.dumps(entry[1], ensure_ascii=False).encode()) + 1
        if current and (len(current) >= MAX_ACTIVITIES or size + entry_size > MAX_BODY):
            chunks.append(current)
            current, size = [], 20
        current.append(entry)
        size += entry_size
    if current:
        chunks.append(current)
    return chunks


def _result(answer: Any) -> WriteResult:
    if not isinstance(answer, dict):
        return _fail(ErrorCategory.UNKNOWN, "no result for this activity")
    guid = answer.get("marketoGUID") or answer.get("id")
    if answer.get("status") == "added" and guid is not None:
        return WriteResult.success(str(guid), created=True)
    error = record_error(answer.get("errors") or answer.get("reasons"))
    if error.code == "1049":  # attributes over 64 KB: the record itself must change
        error = RecordError(ErrorCategory.VALIDATION, error.message, code=error.code)
    return WriteResult.failure(error)
