"""The Brightcove connector: on-demand video views per (video, viewer), read-only.

Reading, in two steps so that numbers are totals and calls stay batched:

1. which (video, viewer) pairs were active: one Analytics report per day
   (``dimensions=video,viewer``) from the last read day minus ``lookback_days`` to today;
2. their totals: one report per active video (``where=video==ID``) from ``start_date``
   (default ``alltime``) to now, paged by ``limit``/``offset``.

The lookback re-reads days whose analytics were still settling, so a view whose seconds
grew later updates the same record (``brightcove:{video}:{viewer}``) instead of adding one.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any, ClassVar

from connectors.brightcove.api import BrightcoveApi
from connectors.sdk import (
    ConfigurationError,
    Connector,
    ConnectorContext,
    Page,
    RetryPolicy,
    StreamSpec,
    WriteOp,
    WriteResult,
)
from connectors.sdk.config import http_options
from connectors.sdk.types import JSON

__all__ = ["BrightcoveConnector", "view_record"]

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_DAY_MS = 86_400_000
_TOTAL_FIELDS = "video,video_name,viewer,video_view,video_percent_viewed,video_seconds_viewed"
_NULLABLE_STRING = {"type": ["string", "null"]}
SCHEMA: Mapping[str, Any] = {
    "type": "object",
    "properties": {
        "id": {"type": "string", "description": "brightcove:{video}:{viewer}"},
        "video_id": {"type": "string"},
        "video_name": _NULLABLE_STRING,
        "viewer": {"type": "string", "description": "The viewer id the player sent."},
        "email": {**_NULLABLE_STRING, "format": "email",
                  "description": "The viewer id when it is an e-mail address, else null."},
        "views": {"type": "integer", "minimum": 0},
        "seconds_viewed": {"type": "number", "minimum": 0},
        "percent_viewed": {"type": "number", "minimum": 0, "maximum": 100,
                           "description": "Share of the video watched, capped at 100."},
        "percent_viewed_raw": {"type": "number", "minimum": 0,
                               "description": "Brightcove's sum over views (rewatches > 100)."},
        "report_day": {"type": "string", "format": "date",
                       "description": "Last day (UTC) the viewer watched, within the read."},
        "viewed_at": {"type": "string", "format": "date-time"},
    },
}


def _ms(day: date) -> str:
    return str(int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp() * 1000))


def view_record(item: Mapping[str, Any], day: date) -> JSON:
    """A stream record from one ``video,viewer`` report item.

    Example:
        >>> r = view_record({"video": "1", "viewer": "A@x.jp", "video_view": 2,
        ...                  "video_seconds_viewed": 30, "video_percent_viewed": 120.5},
        ...                 date(2026, 11, 3))
        >>> r["id"], r["email"], r["percent_viewed"], r["viewed_at"]
        ('brightcove:1:A@x.jp', 'a@x.jp', 100.0, '2026-11-03T00:00:00Z')
    """
    viewer = str(item["viewer"])
    raw = float(item.get("video_percent_viewed") or 0.0)
    candidate = viewer.strip().lower()
    return {
        "id": f"brightcove:{item['video']}:{viewer}",
        "video_id": str(item["video"]),
        "video_name": item.get("video_name"),
        "viewer": viewer,
        "email": candidate if _EMAIL.match(candidate) else None,
        "views": int(item.get("video_view") or 0),
        "seconds_viewed": float(item.get("video_seconds_viewed") or 0.0),
        "percent_viewed": round(min(raw, 100.0), 2),
        "percent_viewed_raw": raw,
        "report_day": day.isoformat(),
        "viewed_at": f"{day.isoformat()}T00:00:00Z",
    }


class BrightcoveConnector(Connector):
    """Brightcove Video Cloud through OAuth client credentials (read-only).

    Stream ``video_views``: one record per (video, viewer) with the viewer's totals;
    primary key ``id``; cursor ``report_day``.

    Args:
        config: The connection config (see :attr:`spec`).
        context: Runtime context.
        clock: Epoch seconds (default :func:`time.time`); decides "today". Tests pass the
            emulator's clock.

    Example:
        >>> c = BrightcoveConnector({"account_id": "1", "client_id": "id",
        ...                          "client_secret": "s3cret"})
        >>> "s3cret" in repr(c) + repr(c.config)
        False
    """

    name = "brightcove"
    version = "0.1.0"
    stream_names: ClassVar[tuple[str, ...]] = ("video_views",)
    spec: ClassVar[Mapping[str, Any]] = {
        "type": "object",
        "additionalProperties": False,
        "required": ["account_id", "client_id", "client_secret"],
        "properties": {
            "account_id": {"type": "string", "pattern": "^[0-9]+$",
                           "description": "The Video Cloud account id."},
            "client_id": {"type": "string", "minLength": 1},
            "client_secret": {"type": "string", "minLength": 1, "x-secret": True},
            "oauth_url": {"type": "string", "pattern": "^https?://",
                          "default": "https://oauth.brightcove.com"},
            "cms_url": {"type": "string", "pattern": "^https?://",
                        "default": "https://cms.api.brightcove.com"},
            "analytics_url": {"type": "string", "pattern": "^https?://",
                              "default": "https://analytics.api.brightcove.com"},
            "lookback_days": {"type": "integer", "minimum": 0, "maximum": 31, "default": 3,
                              "description": "Days re-read on each run: analytics settle "
                                             "late and views keep growing."},
            "initial_days": {"type": "integer", "minimum": 1, "maximum": 366, "default": 30,
                             "description": "Days of views the first read covers."},
            "start_date": {"type": "string", "default": "alltime",
                           "description": "Totals count views from this day "
                                          "(yyyy-mm-dd or alltime)."},
            "page_size": {"type": "integer", "minimum": 1, "maximum": 10_000,
                          "default": 1000},
            **http_options(timeout_s=60),
        },
    }

    def __init__(self, config: Mapping[str, Any], *, context: ConnectorContext | None = None,
                 clock: Callable[[], float] | None = None) -> None:
        super().__init__(config, context=context)
        defaults = {k: v["default"] for k, v in self.spec["properties"].items() if "default" in v}
        self._options: dict[str, Any] = {**defaults, **self.config}
        start = str(self._options["start_date"])
        if start != "alltime":
            try:
                date.fromisoformat(start)
            except ValueError:
                raise ConfigurationError(f"connection {self.context.connection!r}: start_date "
                                         f"must be yyyy-mm-dd or alltime, got {start!r}") from None
        self._clock = clock or time.time
        self._api = BrightcoveApi(
            account_id=str(self.config["account_id"]), client_id=str(self.config["client_id"]),
            client_secret=self.config["client_secret"], oauth_url=self._options["oauth_url"],
            cms_url=self._options["cms_url"], analytics_url=self._options["analytics_url"],
            connection=self.context.connection, ledger=self.context.ledger,
            timeout_s=float(self._options["timeout_s"]),
            retry=RetryPolicy(attempts=int(self._options["retry_attempts"])),
            verify=self.context.ca_bundle or True)

    @property
    def api(self) -> BrightcoveApi:
        """The underlying calls (for diagnostics and tests)."""
        return self._api

    def streams(self) -> Sequence[StreamSpec]:
        return [StreamSpec(
            name="video_views", schema=SCHEMA, primary_key=("id",), cursor_field="report_day",
            page_size=int(self._options["page_size"]), write_modes=frozenset(),
            writable_fields=frozenset(),
            description="On-demand video views: one record per (video, viewer), totals.")]

    def check(self) -> None:
        """Fetch a token and read one CMS video: proves the credentials and the account."""
        self._api.videos(limit=1)

    def _today(self) -> date:
        return datetime.fromtimestamp(self._clock(), UTC).date()

    def _first_day(self, state: Mapping[str, Any] | None, today: date) -> date:
        last = (state or {}).get("day")
        if not last:
            return today - timedelta(days=int(self._options["initial_days"]))
        try:
            day = date.fromisoformat(str(last))
        except ValueError:
            raise ConfigurationError(f"connection {self.context.connection!r}: the saved "
                                     f"read state day {last!r} is not yyyy-mm-dd; reset the "
                                     "video_views cursor") from None
        return min(day - timedelta(days=int(self._options["lookback_days"])), today)

    def read(self, stream: str, state: Mapping[str, Any] | None) -> Iterator[Page]:
        """Views active from the last read day (minus the lookback) to today, with totals."""
        self.stream(stream)
        today = self._today()
        day = self._first_day(state, today)
        size = int(self._options["page_size"])
        active: dict[tuple[str, str], date] = {}
        while day <= today:
            for items in self._api.report({
                    "dimensions": "video,viewer", "fields": "video,viewer,video_view",
                    "from": _ms(day), "to": _ms(day + timedelta(days=1)), "sort": "video"},
                    page_size=size):
                for item in items:
                    active[(str(item["video"]), str(item["viewer"]))] = day
            day += timedelta(days=1)
        resume: JSON = dict(state or {})
        done: JSON = {"day": today.isoformat()}
        videos = sorted({v for v, _ in active})
        if not videos:
            yield Page(records=[], state=done)
            return
        for n, video in enumerate(videos):
            pages = list(self._api.report({
                "dimensions": "video,viewer", "fields": _TOTAL_FIELDS,
                "from": str(self._options["start_date"]), "to": "now",
                "where": f"video=={video}", "sort": "viewer"}, page_size=size))
            records = [view_record(i, active[(video, str(i["viewer"]))])
                       for items in pages for i in items
                       if (video, str(i.get("viewer"))) in active]
            # Only the last video's page moves the cursor: a run cut short resumes the window.
            yield Page(records=records, state=done if n == len(videos) - 1 else resume)

    def write(self, stream: str, ops: Sequence[WriteOp]) -> list[WriteResult]:
        """Brightcove analytics are read-only."""
        raise ConfigurationError("brightcove video_views is read-only; map it direction: in")

    def close(self) -> None:
        self._api.close()
