"""Zoom's webhook events as records of the webhook-fed ``webinar_events`` stream.

Event shapes relied on (REFERENCE.md §4 [S]; Zoom's generated event types, ``@zoom/rivet``
[S]): an envelope ``{event, event_ts (ms), payload: {account_id, object}}`` whose object is
the webinar instance ``{uuid, id, host_id, topic, type, start_time, timezone, duration}``;

* ``webinar.participant_joined``: ``object.participant {id, user_id, user_name, email,
  join_time, participant_uuid, registrant_id, ...}``, the e-mail empty for guests;
* ``webinar.participant_left``: the participant with ``leave_time`` and ``leave_reason``
  instead of ``join_time``;
* ``webinar.registration_created``: ``object.registrant {id, email, first_name, last_name,
  org, job_title, status, join_url, ...}`` with no creation time, and ``object.id`` a number.

What becomes of them:

* a participant who joined becomes the record the report gives that person for that webinar
  (type ``webinar_attended``), under the same source id (:mod:`connectors.zoom.keys`: the
  e-mail, else ``participant:{id}`` like the poll), so the webhook and the poll update one
  hub activity; ``occurred_at`` is the join time. It has **no minutes**: only the report sums
  a person's rejoins, and one session's length must never stand in for the total;
* a left event gives the same record when it carries a join time, and none otherwise (the
  join event and the report bring that attendance; a record without a time is no activity);
* a registration becomes ``webinar_registered`` under the registrant stream's source id,
  at ``event_ts`` (the event has no creation time);
* any other event type gives no record.

A malformed event of these types raises :class:`MalformedEventError` (a :class:`ValueError`)
naming the missing part, never a value from the event (it holds personal data).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from connectors.sdk.types import JSON
from connectors.zoom.keys import attendance_id, person_key, registration_id

__all__ = ["EVENT_FIELDS", "PARTICIPANT_EVENTS", "REGISTRATION_EVENTS", "MalformedEventError",
           "event_records"]

PARTICIPANT_EVENTS = ("webinar.participant_joined", "webinar.participant_left")
REGISTRATION_EVENTS = ("webinar.registration_created",)
EVENT_FIELDS = ("event", "first_name", "last_name", "org", "job_title", "status")
"""String fields of an event record besides the polled streams' common ones."""


class MalformedEventError(ValueError):
    """A participant or registration event lacks a part its record needs."""


def event_records(event: Any) -> list[JSON]:
    """The ``webinar_events`` records of one Zoom event (see the module docstring).

    Raises:
        MalformedEventError: A participant or registration event without the parts it needs.
    """
    kind = event.get("event") if isinstance(event, dict) else None
    if kind not in PARTICIPANT_EVENTS + REGISTRATION_EVENTS:
        return []
    payload = event.get("payload")
    obj = payload.get("object") if isinstance(payload, dict) else None
    if not isinstance(obj, dict):
        raise MalformedEventError(f"{kind}: the event has no payload.object")
    uuid = str(obj.get("uuid") or obj.get("id") or "")
    if not uuid:
        raise MalformedEventError(f"{kind}: payload.object has neither uuid nor id")
    meta = _webinar(obj, uuid)
    meta |= {"event": kind, "event_time": _event_time(event.get("event_ts"))}
    if kind in PARTICIPANT_EVENTS:
        return _attendance(kind, meta, obj.get("participant"))
    return [_registration(kind, meta, obj.get("registrant"))]


def _attendance(kind: str, meta: JSON, person: Any) -> list[JSON]:
    if not isinstance(person, dict):
        raise MalformedEventError(f"{kind}: payload.object has no participant")
    joined = _time(person.get("join_time"))
    if joined is None:
        if kind == "webinar.participant_left":
            return []
        raise MalformedEventError(f"{kind}: participant.join_time is missing or not a time")
    email = str(person.get("email") or "").strip().lower() or None
    return [{
        "source_id": attendance_id(meta["webinar_uuid"], person_key(person)),
        "type": "webinar_attended", **meta, "email": email,
        "name": person.get("user_name") or None,
        "registrant_id": person.get("registrant_id") or None,
        "participant_id": person.get("id") or None, "join_time": joined, "occurred_at": joined}]


def _registration(kind: str, meta: JSON, registrant: Any) -> JSON:
    if not isinstance(registrant, dict):
        raise MalformedEventError(f"{kind}: payload.object has no registrant")
    email = str(registrant.get("email") or "").strip().lower() or None
    if email is None and not registrant.get("id"):
        raise MalformedEventError(f"{kind}: the registrant has neither email nor id")
    if meta["event_time"] is None:
        raise MalformedEventError(f"{kind}: event_ts is missing or not a time in milliseconds")
    first, last = registrant.get("first_name") or None, registrant.get("last_name") or None
    return {
        "source_id": registration_id(meta["webinar_uuid"], email, registrant.get("id")),
        "type": "webinar_registered", **meta, "email": email,
        "name": " ".join(str(p) for p in (last, first) if p) or None,
        "first_name": first, "last_name": last, "org": registrant.get("org") or None,
        "job_title": registrant.get("job_title") or None,
        "registrant_id": registrant.get("id") or None, "status": registrant.get("status"),
        "registered_at": meta["event_time"], "occurred_at": meta["event_time"]}


def _webinar(obj: JSON, uuid: str) -> JSON:
    """The webinar part of a record, as the poll gives it (the end from the duration)."""
    start = _parse(obj.get("start_time"))
    end = None
    if start is not None:
        try:
            end = start + timedelta(minutes=float(obj.get("duration") or 0))
        except (TypeError, ValueError):
            end = None
    return {"webinar_id": str(obj["id"]) if obj.get("id") is not None else None,
            "webinar_uuid": uuid, "topic": obj.get("topic"),
            "webinar_start": _fmt(start) if start else None,
            "webinar_end": _fmt(end) if end else None}


def _parse(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        return None
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def _time(value: Any) -> str | None:
    """A time as Zoom sends it, kept as sent when it parses (the report's own format)."""
    return value if _parse(value) is not None else None


def _event_time(ms: Any) -> str | None:
    if isinstance(ms, bool) or not isinstance(ms, int | float) or ms <= 0:
        return None
    return _fmt(datetime.fromtimestamp(ms / 1000.0, UTC))


def _fmt(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
