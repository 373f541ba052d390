"""The Analytics API ``/v1/data`` report: parameters, settling numbers, the envelope.

A session's ``video_view`` counts as soon as it happens; its seconds arrive late, a share
more each day until ``settle_days`` have passed (the documented lag between realtime and
reconciled data), so the same (video, viewer) row grows on later days.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sandbox.brightcove.errors import ApiError
from sandbox.brightcove.seeding import DAY_S, Video, View

__all__ = ["Report", "parse_report", "run_report"]

DIMENSIONS = ("video", "viewer", "date")
METRICS = ("video_view", "video_seconds_viewed", "video_percent_viewed")
_EXTRA = {"video_name": "video"}  # field -> the dimension it needs
_RELATIVE = re.compile(r"^([+-])(\d+)([dwmy])$")
_UNIT_DAYS = {"d": 1, "w": 7, "m": 30, "y": 365}


@dataclass(frozen=True)
class Report:
    """A parsed ``/v1/data`` request."""

    dimensions: tuple[str, ...]
    fields: tuple[str, ...]
    start_s: float
    end_s: float
    limit: int | None
    offset: int
    sort: str
    descending: bool
    where: Mapping[str, frozenset[str]]


def _bad(message: str) -> ApiError:
    return ApiError(400, "BAD_REQUEST", message)


def _moment(name: str, value: str, now: float, *, end: bool) -> float:
    """``yyyy-mm-dd`` (a ``to`` date means the end of that day), epoch ms, ``alltime``,
    ``now`` or a relative ``-7d``/``+1m``."""
    if value == "alltime" and not end:
        return 0.0
    if value == "now":
        return now
    if value.isdigit():
        return int(value) / 1000
    match = _RELATIVE.match(value)
    if match:
        sign = -1 if match.group(1) == "-" else 1
        return now + sign * int(match.group(2)) * _UNIT_DAYS[match.group(3)] * DAY_S
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise _bad(f"invalid '{name}' value {value!r}: use yyyy-mm-dd, epoch milliseconds, "
                   f"{'now' if end else 'alltime'} or a relative date like -30d") from None
    start = datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()
    return start + DAY_S if end else start


def _int(params: Mapping[str, str], name: str, default: int) -> int:
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    if not raw.isdigit():
        raise _bad(f"'{name}' must be a non-negative integer, got {raw!r}")
    return int(raw)


def parse_report(params: Mapping[str, str], account_id: str, now: float) -> Report:
    """Check and parse the query string.

    Raises:
        ApiError: 400 ``BAD_REQUEST`` / ``UNSUPPORTED_FIELD_COMBINATION_ERROR``, 403 for an
            account these credentials cannot read.
    """
    accounts = [a for a in (params.get("accounts") or params.get("account") or "").split(",")
                if a]
    if not accounts:
        raise _bad("the 'accounts' parameter is required")
    if accounts != [account_id]:
        raise ApiError(403, "NOT_AVAILABLE", f"account(s) {','.join(accounts)} are not "
                       "available to these client credentials")
    dims = tuple(d for d in (params.get("dimensions") or "").split(",") if d)
    if not dims:
        raise _bad("the 'dimensions' parameter is required")
    unknown = [d for d in dims if d not in DIMENSIONS]
    if unknown or len(set(dims)) != len(dims):
        raise _bad(f"unsupported dimension(s) {','.join(unknown or dims)}; "
                   f"this account reports on {','.join(DIMENSIONS)}")
    fields = tuple(f for f in (params.get("fields") or "video_view").split(",") if f)
    for name in fields:
        needs = name if name in DIMENSIONS else _EXTRA.get(name)
        if name not in METRICS and (needs is None or needs not in dims):
            raise ApiError(400, "UNSUPPORTED_FIELD_COMBINATION_ERROR",
                           f"field {name!r} is not supported for dimensions {','.join(dims)}")
    if (params.get("format") or "json") != "json":
        raise _bad("this sandbox only answers format=json")
    raw_limit = params.get("limit") or "10"
    limit = None if raw_limit == "all" else _int(params, "limit", 10)
    if limit == 0:
        raise _bad("'limit' must be a positive integer or 'all'")
    sort = params.get("sort") or "-video_view"
    descending = sort.startswith("-")
    key = sort.lstrip("-")
    if key not in fields and key not in dims and key not in METRICS:
        raise _bad(f"cannot sort on {key!r}: it is not a field of this report")
    where: dict[str, frozenset[str]] = {}
    for clause in filter(None, (params.get("where") or "").split(";")):
        name, sep, values = clause.partition("==")
        if not sep or name not in ("video", "viewer") or not values:
            raise _bad(f"invalid 'where' clause {clause!r}: use video==id[,id] or viewer==id")
        where[name] = frozenset(values.split(","))
    start = _moment("from", params.get("from") or "-30d", now, end=False)
    end = min(_moment("to", params.get("to") or "now", now, end=True), now)
    if start > end:
        raise _bad("'from' is after 'to'")
    return Report(dims, fields, start, end, limit, _int(params, "offset", 0), key,
                  descending, where)


def visible_seconds(view: View, now: float, settle_days: int) -> float:
    """The seconds of a session the analytics know about at ``now``."""
    elapsed_days = int((now - view.at_s) // DAY_S)
    share = min(1.0, (elapsed_days + 1) / (settle_days + 1))
    return round(view.seconds * share, 1)


def _value(view: View, dimension: str) -> str:
    if dimension == "date":
        return datetime.fromtimestamp(view.at_s, UTC).date().isoformat()
    return view.video_id if dimension == "video" else view.viewer


def run_report(report: Report, videos: Mapping[str, Video], views: list[View], now: float,
               settle_days: int, account_id: str) -> dict[str, Any]:
    """The ``{account, item_count, items, summary}`` answer of a parsed report."""
    groups: dict[tuple[str, ...], list[float]] = {}
    for view in views:
        if not report.start_s <= view.at_s < report.end_s:
            continue
        if any(_value(view, k) not in v for k, v in report.where.items()):
            continue
        key = tuple(_value(view, d) for d in report.dimensions)
        duration_s = videos[view.video_id].duration_ms / 1000
        seconds = visible_seconds(view, now, settle_days)
        totals = groups.setdefault(key, [0, 0.0, 0.0])
        totals[0] += 1
        totals[1] += seconds
        totals[2] += seconds / duration_s * 100
    rows = []
    for key, (count, seconds, percent) in groups.items():
        row: dict[str, Any] = dict(zip(report.dimensions, key, strict=True))
        row.update(video_view=int(count), video_seconds_viewed=round(seconds, 1),
                   video_percent_viewed=round(percent, 3))
        if "video" in row:
            row["video_name"] = videos[row["video"]].name
        rows.append(row)
    rows.sort(key=lambda r: tuple(r[d] for d in report.dimensions))  # ties: stable by key
    rows.sort(key=lambda r: r[report.sort], reverse=report.descending)
    summary = {m: round(sum(r[m] for r in rows), 3) for m in METRICS}
    summary["video_view"] = int(summary["video_view"])
    end = None if report.limit is None else report.offset + report.limit
    keep = set(report.dimensions) | set(report.fields)
    items = [{k: v for k, v in r.items() if k in keep} for r in rows[report.offset:end]]
    return {"account": account_id, "item_count": len(rows), "items": items,
            "summary": summary}
