"""The Zoom connector: webinar registrations and attendance, one record per (webinar, person);
the webhook-fed ``webinar_events`` stream takes its records from Zoom's events
(:mod:`connectors.zoom.webhooks`)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from connectors.sdk import (
    Connector,
    ConnectorContext,
    Page,
    ProtocolError,
    RatePolicy,
    RetryPolicy,
    StreamSpec,
    WriteOp,
    WriteResult,
    limiter_for,
)
from connectors.sdk.config import http_options
from connectors.sdk.errors import ConfigurationError
from connectors.sdk.types import JSON
from connectors.zoom.api import MAX_PAGE_SIZE, ZoomApi
from connectors.zoom.keys import attendance_id, person_key, registration_id
from connectors.zoom.webhooks import EVENT_FIELDS, event_records

__all__ = ["ZoomConnector"]

_DEFAULTS: Mapping[str, Any] = {
    "base_url": "https://api.zoom.us/v2", "oauth_url": "https://zoom.us/oauth/token",
    "user_id": "me", "lookback_days": 7, "page_size": MAX_PAGE_SIZE, "timeout_s": 30.0,
    "retry_attempts": 4, "calls_per_second": 10,
}

_STR = {"type": ["string", "null"]}
_TIME = {"type": ["string", "null"], "format": "date-time"}
_COMMON: dict[str, Any] = {
    "source_id": {"type": "string", "description": "zoom:{webinar uuid}:{who}, stable."},
    "type": _STR, "webinar_id": _STR, "webinar_uuid": _STR, "topic": _STR,
    "webinar_start": _TIME, "webinar_end": _TIME, "email": _STR, "name": _STR,
    "registrant_id": _STR,
}
_ATTENDANCE = {**_COMMON, "participant_id": _STR, "join_time": _TIME, "leave_time": _TIME,
               "minutes": {"type": ["number", "null"]}, "sessions": {"type": "integer"}}
_REGISTRANTS = {**_COMMON, "first_name": _STR, "last_name": _STR, "org": _STR,
                "job_title": _STR, "registered_at": _TIME, "status": _STR}
_EVENTS = {**_COMMON, **{k: _STR for k in EVENT_FIELDS}, "participant_id": _STR,
           "join_time": _TIME, "registered_at": _TIME, "occurred_at": _TIME,
           "event_time": _TIME}


def _schema(props: Mapping[str, Any]) -> dict[str, Any]:
    return {"type": "object", "properties": dict(props), "required": ["source_id"]}


def _parse(value: object, where: str) -> datetime:
    try:
        when = datetime.fromisoformat(str(value))
    except ValueError:
        raise ProtocolError(f"Zoom {where}: {value!r} is not an ISO-8601 time") from None
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def _fmt(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class ZoomConnector(Connector):
    """Zoom webinars through a Server-to-Server OAuth app; read-only.

    Streams ``webinar_registrants`` (cursor: the webinar's start) and ``webinar_attendance``
    (cursor: the webinar's end). Each read re-reads the webinars within ``lookback_days``
    of the cursor, so registrations and report rows that arrive late still land; a re-read
    webinar gives the same ``source_id`` values, so the engine's match on it is idempotent.
    ``webinar_events`` is fed by webhooks only (:meth:`webhook_records`); reading it gives
    nothing.

    Example:
        >>> c = ZoomConnector({"account_id": "a", "client_id": "b", "client_secret": "s3cr3t"})
        >>> "s3cr3t" in repr(c) + repr(c.config)
        False
    """

    name = "zoom"
    version = "0.1.0"
    stream_names: ClassVar[tuple[str, ...]] = ("webinar_registrants", "webinar_attendance",
                                               "webinar_events")
    spec: ClassVar[Mapping[str, Any]] = {
        "type": "object",
        "additionalProperties": False,
        "required": ["account_id", "client_id", "client_secret"],
        "properties": {
            "account_id": {"type": "string", "minLength": 1,
                           "description": "The Zoom account id of the S2S OAuth app."},
            "client_id": {"type": "string", "minLength": 1},
            "client_secret": {"type": "string", "minLength": 1, "x-secret": True},
            "base_url": {"type": "string", "pattern": "^https?://",
                         "default": _DEFAULTS["base_url"], "description": "API root, with /v2."},
            "oauth_url": {"type": "string", "pattern": "^https?://",
                          "default": _DEFAULTS["oauth_url"]},
            "user_id": {"type": "string", "minLength": 1, "default": "me",
                        "description": "Whose webinars to read (user id or e-mail; me)."},
            "lookback_days": {"type": "number", "minimum": 0, "default": 7,
                              "description": "Re-read webinars this many days before the "
                                             "cursor: Zoom's reports fill in late."},
            "page_size": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE,
                          "default": MAX_PAGE_SIZE},
            **http_options(),
            "calls_per_second": {"type": "integer", "minimum": 0, "default": 10,
                                 "description": "Client-side pace (Pro: Heavy 10/s)."},
        },
    }

    def __init__(self, config: Mapping[str, Any], *, context: ConnectorContext | None = None,
                 clock: Callable[[], float] = time.time):
        super().__init__(config, context=context)
        self._options = {**_DEFAULTS, **self.config}
        self._clock = clock
        account = str(self._options["account_id"])
        limiter = limiter_for(f"zoom:{account}", RatePolicy(
            calls=int(self._options["calls_per_second"]), window_s=1.0))
        self._api = ZoomApi(
            base_url=str(self._options["base_url"]), oauth_url=str(self._options["oauth_url"]),
            account_id=account, client_id=str(self._options["client_id"]),
            client_secret=self.config["client_secret"], connection=self.context.connection,
            limiter=limiter, ledger=self.context.ledger,
            timeout_s=float(self._options["timeout_s"]),
            retry=RetryPolicy(attempts=int(self._options["retry_attempts"])),
            verify=self.context.ca_bundle or True)

    @property
    def api(self) -> ZoomApi:
        """The underlying calls (for diagnostics and tests)."""
        return self._api

    def streams(self) -> Sequence[StreamSpec]:
        page = int(self._options["page_size"])
        return [
            StreamSpec(name="webinar_registrants", schema=_schema(_REGISTRANTS),
                       primary_key=("source_id",), cursor_field="webinar_start",
                       page_size=page, write_modes=frozenset(),
                       description="One record per approved registration of a webinar."),
            StreamSpec(name="webinar_attendance", schema=_schema(_ATTENDANCE),
                       primary_key=("source_id",), cursor_field="webinar_end",
                       page_size=page, write_modes=frozenset(),
                       description="One record per person who attended a webinar, rejoins "
                                   "summed."),
            StreamSpec(name="webinar_events", schema=_schema(_EVENTS), primary_key=("source_id",),
                       page_size=page, write_modes=frozenset(),
                       description="Webhook-fed (renkei serve): participant joins and "
                                   "registrations as they happen, under the source ids of the "
                                   "two polled streams, without minutes (only the report sums "
                                   "rejoins). Reading it gives nothing."),
        ]

    def check(self) -> None:
        """Fetch a token and list one page of webinars."""
        next(self._api.pages(f"/users/{self._options['user_id']}/webinars", "webinars",
                             page_size=1))

    def read(self, stream: str, state: Mapping[str, Any] | None) -> Iterator[Page]:
        """One page per webinar in the window, oldest first; see the class docstring."""
        self.stream(stream)
        if stream == "webinar_events":
            return  # webhook-fed: the inbox brings its records
        attendance = stream == "webinar_attendance"
        page_size = int(self._options["page_size"])
        cursor = _parse(state["cursor"], "state") if state and state.get("cursor") else None
        since = cursor - timedelta(days=float(self._options["lookback_days"])) if cursor else None
        now = datetime.fromtimestamp(self._clock(), UTC)
        webinars = []
        for w in self._api.webinars(str(self._options["user_id"]), page_size):
            start = _parse(w.get("start_time"), f"webinar {w.get('id')} start_time")
            webinars.append((start, start + timedelta(minutes=float(w.get("duration") or 0)), w))
        for start, end, w in sorted(webinars, key=lambda t: t[0]):
            mark = end if attendance else start
            if since is not None and mark < since:
                continue
            if attendance and end > now:
                continue  # no report before it has ended
            webinar_id, uuid = str(w.get("id")), str(w.get("uuid") or w.get("id"))
            meta = {"webinar_id": webinar_id, "webinar_uuid": uuid, "topic": w.get("topic"),
                    "webinar_start": _fmt(start), "webinar_end": _fmt(end)}
            if attendance:
                rows = self._api.report_participants(uuid, page_size)
                if rows is None:
                    continue  # report not ready: the lookback brings it in later
                records = _attendance(meta, rows)
            else:
                records = _registrations(meta, self._api.registrants(webinar_id, page_size))
            if mark <= now:  # upcoming webinars stay open: never move the cursor past now
                cursor = mark if cursor is None else max(cursor, mark)
            yield Page(records=records, state={"cursor": _fmt(cursor)} if cursor else {})

    def write(self, stream: str, ops: Sequence[WriteOp]) -> list[WriteResult]:
        """Zoom streams are read-only.

        Raises:
            ConfigurationError: always; no mapping may write to Zoom.
        """
        raise ConfigurationError(f"zoom stream {stream!r} is read-only")

    def webhook_records(self, stream: str, event: Any) -> list[JSON]:
        """Records of ``webinar_events`` in one Zoom event (see :mod:`connectors.zoom.webhooks`).

        Raises:
            NotImplementedError: a polled stream (webhooks feed only ``webinar_events``).
            ValueError: a participant or registration event without the parts it needs.
        """
        if self.stream(stream).name != "webinar_events":
            raise NotImplementedError(f"zoom stream {stream!r} is not webhook-fed")
        return event_records(event)

    def close(self) -> None:
        self._api.close()


def _attendance(meta: Mapping[str, Any], rows: list[JSON]) -> list[JSON]:
    people: dict[str, JSON] = {}
    for row in rows:
        who = person_key(row)
        join, leave = row.get("join_time"), row.get("leave_time")
        seconds = float(row.get("duration") or 0)
        known = people.get(who)
        if known is None:
            email = str(row.get("user_email") or "").strip().lower() or None
            people[who] = {
                "source_id": attendance_id(meta["webinar_uuid"], who), "type": "webinar_attended",
                **meta, "email": email, "name": row.get("name"),
                "registrant_id": row.get("registrant_id") or None,
                "participant_id": row.get("id") or None, "join_time": join,
                "leave_time": leave, "seconds": seconds, "sessions": 1}
            continue
        known["seconds"] += seconds
        known["sessions"] += 1
        if join and (known["join_time"] is None or str(join) < str(known["join_time"])):
            known["join_time"] = join
        if leave and (known["leave_time"] is None or str(leave) > str(known["leave_time"])):
            known["leave_time"] = leave
    for record in people.values():
        record["minutes"] = round(record.pop("seconds") / 60.0, 1)
    return sorted(people.values(), key=lambda r: (str(r["join_time"]), r["source_id"]))


def _registrations(meta: Mapping[str, Any], rows: list[JSON]) -> list[JSON]:
    out: list[JSON] = []
    for row in rows:
        email = str(row.get("email") or "").strip().lower()
        first, last = row.get("first_name"), row.get("last_name")
        out.append({
            "source_id": registration_id(meta["webinar_uuid"], email, row.get("id")),
            "type": "webinar_registered", **meta, "email": email or None,
            "name": " ".join(str(p) for p in (last, first) if p) or None,
            "first_name": first, "last_name": last, "org": row.get("org") or None,
            "job_title": row.get("job_title") or None, "registrant_id": row.get("id"),
            "registered_at": row.get("create_time"), "status": row.get("status")})
    return out
