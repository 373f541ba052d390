"""Custom activity types and Add Custom Activities (``activities.md``, ``error-codes.md``).

Endpoints::

    GET  /rest/v1/activities/external/types.json                 Get Custom Activity Types
    GET  /rest/v1/activities/external/type/{apiName}/describe.json Describe Custom Activity Type
    POST /rest/v1/activities/external.json                       Add Custom Activities

Facts relied on [C] (``AdobeDocs/marketo-developer.en`` ``help/rest-api/activities.md``):

* Add Custom Activities takes ``{"input": [...]}``, at most 300 items; ``leadId``,
  ``activityDate``, ``activityTypeId``, ``primaryAttributeValue`` and ``attributes`` are
  required; an attribute is named by ``name`` (display name) or ``apiName``;
* each item answers ``{"id", "marketoGUID", "status": "added"}`` or ``{"status": "skipped",
  "errors": [{"code", "message"}]}`` (this endpoint's example says ``errors``, where Sync
  Leads says ``reasons``), in input order; ``1004`` "Lead not found" is the documented skip;
* a type is created as a draft and must be approved before activities of that type can be
  added; statuses ``draft``, ``approved``, ``approved with draft``;
* Get Custom Activity Types lists ``id, apiName, name, description, triggerName,
  filterName, createdAt, updatedAt, status``; Describe adds ``primaryAttribute`` and
  ``attributes`` (``apiName, name, description, dataType``); Get Activity Types
  (``types.json``) lists custom types too, without saying which are custom;
* data types string, boolean, integer, float, link, email, currency, date, datetime, phone,
  text; at most 20 attributes per type and 10 custom types per subscription;
* 1001 "Invalid value '%s'. Required of type '%s'", 1002 "Missing value for the required
  parameter '%s'", 1006 "Field '%s' not found", 1049 "Failed to Create Activity" (attributes
  over 65,536 bytes); custom activities are write-once and read back through Get Lead
  Activities with their type id.

Choices where the docs are silent [U]: an unknown ``activityTypeId`` and a type that was
never approved skip the item with 1003; an empty ``attributes`` list is accepted; more than
300 items is the response-level 1003; written activities are logged at the time they are
added (so a paging token from before the call finds them) and read back with the
``activityDate`` that was sent and without ``primaryAttributeValueId``.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from sandbox.core import json_response
from sandbox.marketo.activities import ACTIVITY_TYPES, Activity
from sandbox.marketo.endpoints import batch_input
from sandbox.marketo.protocol import ApiError, ApiRequest, ok
from sandbox.marketo.schema import EMAIL_RE, format_dt, parse_dt
from sandbox.marketo.store import LeadStore

__all__ = [
    "DEFAULT_CUSTOM_TYPES",
    "MAX_INPUT",
    "AttributeDef",
    "CustomActivities",
    "CustomActivityType",
    "WrittenActivity",
    "custom_activity_routes",
]

MAX_INPUT = 300
_MAX_ATTRIBUTE_BYTES = 65_536
_DATA_TYPES = frozenset({"string", "boolean", "integer", "float", "link", "email", "currency",
                         "date", "datetime", "phone", "text"})
_USABLE = frozenset({"approved", "approved with draft"})


@dataclass(frozen=True)
class AttributeDef:
    """One attribute of a custom activity type."""

    api_name: str
    name: str
    data_type: str = "string"
    description: str = ""

    def __post_init__(self) -> None:
        if self.data_type not in _DATA_TYPES:
            raise ValueError(f"attribute {self.api_name!r}: unknown dataType {self.data_type!r}")

    def render(self) -> dict[str, Any]:
        return {"apiName": self.api_name, "name": self.name, "description": self.description,
                "dataType": self.data_type}


@dataclass(frozen=True)
class CustomActivityType:
    """A custom activity type as an admin (or the metadata API) defined it."""

    id: int
    api_name: str
    name: str
    primary: AttributeDef
    attributes: tuple[AttributeDef, ...] = ()
    description: str = ""
    trigger_name: str = ""
    filter_name: str = ""
    status: str = "approved"
    created_at: str = "2026-01-05T01:00:00Z"

    def __post_init__(self) -> None:
        if len(self.attributes) > 20:
            raise ValueError(f"custom activity type {self.api_name!r}: at most 20 attributes")
        if self.status not in _USABLE | {"draft"}:
            raise ValueError(f"custom activity type {self.api_name!r}: bad status {self.status!r}")

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> CustomActivityType:
        """From sandbox YAML: ``primary`` and ``attributes`` as plain mappings."""
        values = dict(data)
        values["primary"] = AttributeDef(**values["primary"])
        values["attributes"] = tuple(AttributeDef(**a) for a in values.get("attributes", ()))
        return cls(**values)

    @property
    def usable(self) -> bool:
        return self.status in _USABLE

    def summary(self) -> dict[str, Any]:
        """The Get Custom Activity Types item."""
        return {"id": self.id, "apiName": self.api_name, "name": self.name,
                "description": self.description,
                "triggerName": self.trigger_name or f"{self.name} occurs",
                "filterName": self.filter_name or f"{self.name} occurred",
                "createdAt": self.created_at, "updatedAt": self.created_at,
                "status": self.status}

    def describe(self) -> dict[str, Any]:
        """The Describe Custom Activity Type item."""
        return {**self.summary(), "primaryAttribute": self.primary.render(),
                "attributes": [a.render() for a in self.attributes]}

    def as_activity_type(self) -> dict[str, Any]:
        """The Get Activity Types item (names and data types only, like the standard types)."""
        return {"id": self.id, "name": self.name, "description": self.description,
                "primaryAttribute": {"name": self.primary.name,
                                     "dataType": self.primary.data_type},
                "attributes": [{"name": a.name, "dataType": a.data_type}
                               for a in self.attributes]}


DEFAULT_CUSTOM_TYPES: tuple[CustomActivityType, ...] = (
    CustomActivityType(
        100001, "renkeiWebinarAttended", "Webinar attended (renkei)",
        AttributeDef("sourceId", "Source ID", "string", "renkei source id of the attendance"),
        (AttributeDef("title", "Webinar Name", "string"),
         AttributeDef("minutes", "Minutes Attended", "float"),
         AttributeDef("webinarId", "Webinar ID", "string")),
        description="Attended a webinar (Zoom), sent by renkei",
        trigger_name="Attends Webinar - renkei", filter_name="Attended Webinar - renkei"),
    CustomActivityType(
        100002, "renkeiVideoViewed", "Video viewed (renkei)",
        AttributeDef("sourceId", "Source ID", "string", "renkei source id of the view"),
        (AttributeDef("title", "Video Name", "string"),
         AttributeDef("percentViewed", "Percent Viewed", "float"),
         AttributeDef("secondsViewed", "Seconds Viewed", "float")),
        description="Viewed an on-demand video (Brightcove), sent by renkei",
        trigger_name="Views Video - renkei", filter_name="Viewed Video - renkei"),
)
"""Two approved types, as the demo subscription's admin set them up: the primary attribute
carries renkei's source id, and the title attribute has one API name in both types."""


@dataclass(frozen=True)
class WrittenActivity:
    """A custom activity as stored (for inspection and for rendering it back)."""

    guid: str
    lead_id: int
    type_id: int
    activity_date: str
    primary: str
    attributes: tuple[tuple[str, Any], ...]


def _skip(code: str, message: str) -> dict[str, Any]:
    return {"status": "skipped", "errors": [{"code": code, "message": message}]}


class _SkipError(Exception):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code, self.message = code, message


def _typed(value: Any, data_type: str, name: str) -> Any:
    """The stored form of an attribute value, or a 1001 skip."""
    def bad() -> _SkipError:
        kind = {"float": "Float", "integer": "Integer", "currency": "Currency",
                "boolean": "Boolean", "date": "Date", "datetime": "Datetime",
                "email": "Email"}.get(data_type, "String")
        return _SkipError("1001", f"Invalid value '{value}'. Required of type '{kind}'")

    if value is None:
        return None
    if isinstance(value, bool) and data_type != "boolean":
        raise bad()
    if data_type == "integer":
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if not isinstance(value, (int, str)):
            raise bad()
        try:
            return int(value)
        except ValueError:
            raise bad() from None
    if data_type in ("float", "currency"):
        try:
            return float(value)
        except (TypeError, ValueError):
            raise bad() from None
    if data_type == "boolean":
        if isinstance(value, bool):
            return value
        if str(value).lower() in ("true", "false"):
            return str(value).lower() == "true"
        raise bad()
    if not isinstance(value, (str, int, float)) or isinstance(value, bool):
        raise bad()
    text = str(value)
    try:
        if data_type == "date":
            date.fromisoformat(text)
        elif data_type == "datetime":
            parse_dt(text)
    except ValueError:
        raise bad() from None
    if data_type == "email" and not EMAIL_RE.match(text):
        raise bad()
    if data_type != "text" and len(text) > 255:
        raise _SkipError("1003", f"Value for '{name}' is longer than 255 characters")
    return text


class CustomActivities:
    """The subscription's custom activity types and the activities added through the API.

    Args:
        types: The configured types.
        store: The lead database (leads are checked there; activities go to its log).
    """

    def __init__(self, types: tuple[CustomActivityType, ...], store: LeadStore):
        ids = [t.id for t in types]
        if len(set(ids)) != len(ids) or len({t.api_name for t in types}) != len(types):
            raise ValueError("custom activity types need distinct ids and apiNames")
        self.types = {t.id: t for t in types}
        self.store = store
        self._lock = threading.Lock()
        self._written: dict[int, WrittenActivity] = {}

    def reset(self) -> None:
        with self._lock:
            self._written = {}

    def written(self) -> list[WrittenActivity]:
        """Every custom activity added, in order (tests and inspection)."""
        with self._lock:
            return [self._written[p] for p in sorted(self._written)]

    def by_api_name(self, api_name: str) -> CustomActivityType:
        found = next((t for t in self.types.values() if t.api_name == api_name), None)
        if found is None:
            raise ApiError("1013", f"Activity type '{api_name}' not found")
        return found

    # -- Add Custom Activities ----------------------------------------------------------------

    def add(self, inputs: list[Any]) -> list[dict[str, Any]]:
        """One result per input, in order."""
        prepared: list[WrittenActivity | dict[str, Any]] = []
        for item in inputs:
            try:
                prepared.append(self._check(item))
            except _SkipError as exc:
                prepared.append(_skip(exc.code, exc.message))
        results: list[dict[str, Any]] = []
        # The lead store's lock orders every append to the activity log, so the positions
        # taken under it are the ones the activity read will show.
        with self.store._lock:
            log = self.store.log
            for value in prepared:
                if not isinstance(value, WrittenActivity):
                    results.append(value)
                    continue
                if self.store.get(value.lead_id) is None:  # deleted since the check
                    results.append(_skip("1004", "Lead not found"))
                    continue
                log.append([Activity(value.lead_id, log.now(), value.type_id,
                                     reason="Web service API", label=value.primary)])
                position = len(log) - 1
                stored = WrittenActivity(str(position + 1), value.lead_id, value.type_id,
                                         value.activity_date, value.primary, value.attributes)
                with self._lock:
                    self._written[position] = stored
                results.append({"id": position + 1, "marketoGUID": stored.guid,
                                "status": "added"})
        return results

    def _check(self, item: Any) -> WrittenActivity:
        if not isinstance(item, dict):
            raise _SkipError("1003", "Invalid data")
        for key in ("leadId", "activityDate", "activityTypeId", "primaryAttributeValue",
                    "attributes"):
            if item.get(key) is None or item.get(key) == "":
                raise _SkipError("1002", f"Missing value for the required parameter '{key}'")
        lead_id, type_id = item["leadId"], item["activityTypeId"]
        if isinstance(lead_id, bool) or not isinstance(lead_id, int):
            raise _SkipError("1001", f"Invalid value '{lead_id}'. Required of type 'Integer'")
        if isinstance(type_id, bool) or not isinstance(type_id, int):
            raise _SkipError("1001", f"Invalid value '{type_id}'. Required of type 'Integer'")
        try:
            when = parse_dt(str(item["activityDate"]))
        except ValueError:
            raise _SkipError("1001", f"Invalid value '{item['activityDate']}'. Required of "
                                     "type 'Datetime'") from None
        kind = self.types.get(type_id)
        if kind is None:
            raise _SkipError("1003", f"Activity type '{type_id}' not found")
        if not kind.usable:
            raise _SkipError("1003", f"Activity type '{kind.api_name}' is not approved")
        primary = _typed(item["primaryAttributeValue"], kind.primary.data_type,
                         kind.primary.api_name)
        attributes = self._attributes(kind, item["attributes"])
        if self.store.get(lead_id) is None:
            raise _SkipError("1004", "Lead not found")
        return WrittenActivity("", lead_id, type_id, format_dt(when), str(primary), attributes)

    @staticmethod
    def _attributes(kind: CustomActivityType, raw: Any) -> tuple[tuple[str, Any], ...]:
        if not isinstance(raw, list):
            raise _SkipError("1003", "attributes must be an array")
        if len(json.dumps(raw, ensure_ascii=False).encode()) > _MAX_ATTRIBUTE_BYTES:
            raise _SkipError("1049", "Failed to Create Activity")
        by_key = {a.api_name: a for a in kind.attributes} | {a.name: a for a in kind.attributes}
        out: dict[str, Any] = {}
        for entry in raw:
            if not isinstance(entry, dict):
                raise _SkipError("1003", "Invalid data")
            key = entry.get("apiName") or entry.get("name")
            definition = by_key.get(key) if isinstance(key, str) else None
            if definition is None:
                raise _SkipError("1006", f"Field '{key}' not found")
            value = _typed(entry.get("value"), definition.data_type, definition.api_name)
            if value is not None:  # an empty attribute is left out of the activity
                out[definition.name] = value
        return tuple(out.items())

    # -- reading back -------------------------------------------------------------------------

    def enrich(self, items: list[dict[str, Any]]) -> None:
        """Give custom activities of a Get Lead Activities page their stored date and attributes."""
        with self._lock:
            for item in items:
                if item.get("activityTypeId") not in self.types:
                    continue
                stored = self._written.get(int(item.get("id", 0)) - 1)
                if stored is None:
                    continue
                item.pop("primaryAttributeValueId", None)
                item["activityDate"] = stored.activity_date
                item["primaryAttributeValue"] = stored.primary
                item["attributes"] = [{"name": k, "value": v} for k, v in stored.attributes]


# -- endpoints --------------------------------------------------------------------------------

def add_activities(custom: CustomActivities, req: ApiRequest) -> Response:
    """``POST /rest/v1/activities/external.json``."""
    _, inputs = batch_input(req, MAX_INPUT, "activities")
    return ok(custom.add(inputs))


def custom_types(custom: CustomActivities, req: ApiRequest) -> Response:
    """``GET /rest/v1/activities/external/types.json``."""
    return ok([t.summary() for t in custom.types.values()])


def describe_type(custom: CustomActivities, req: ApiRequest, api_name: str) -> Response:
    """``GET /rest/v1/activities/external/type/{apiName}/describe.json``."""
    return ok([custom.by_api_name(api_name).describe()])


def activity_types(custom: CustomActivities, req: ApiRequest) -> Response:
    """``GET /rest/v1/activities/types.json``: the standard types and the approved custom ones."""
    return ok([*ACTIVITY_TYPES, *(t.as_activity_type() for t in custom.types.values()
                                  if t.usable)])


def with_custom_attributes(custom: CustomActivities,
                           read: Callable[[ApiRequest], Response]) -> Callable[[ApiRequest], Response]:
    """Wrap Get Lead Activities so custom activities come back as they were added."""
    def handler(req: ApiRequest) -> Response:
        response = read(req)
        data = json.loads(bytes(response.body))
        if isinstance(data, dict) and isinstance(data.get("result"), list):
            custom.enrich(data["result"])
            return json_response(data)
        return response

    return handler


def custom_activity_routes(custom: CustomActivities,
                           rest: Callable[[dict[str, Callable[..., Response]]], Any],
                           ) -> list[BaseRoute]:
    """The custom activity routes, wrapped by the emulator's REST pipeline."""
    return [
        Route("/rest/v1/activities/external.json",
              rest({"POST": lambda r: add_activities(custom, r)}), methods=["GET", "POST"]),
        Route("/rest/v1/activities/external/types.json",
              rest({"GET": lambda r: custom_types(custom, r)}), methods=["GET", "POST"]),
        Route("/rest/v1/activities/external/type/{api_name}/describe.json",
              rest({"GET": lambda r, api_name: describe_type(custom, r, api_name)}),
              methods=["GET", "POST"]),
    ]
