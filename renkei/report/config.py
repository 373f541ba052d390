"""Settings of the closed-loop report: score bands, the report's time zone, touch types.

Kept small and explicit so marketing can read what a number means::

    ReportConfig(bands=parse_bands("0-29,30-59,60-89,90+"))
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, tzinfo
from zoneinfo import ZoneInfo


class ReportConfigError(ValueError):
    """A report setting (score bands, a date) is malformed."""


@dataclass(frozen=True)
class ScoreBand:
    """Scores ``low`` to ``high`` inclusive; ``high`` None means no upper bound."""

    low: int
    high: int | None

    @property
    def label(self) -> str:
        """``0-29`` or ``90+``."""
        return f"{self.low}+" if self.high is None else f"{self.low}-{self.high}"

    def contains(self, score: int) -> bool:
        """Whether ``score`` falls in this band."""
        return score >= self.low and (self.high is None or score <= self.high)


_BAND = re.compile(r"^\s*(-?\d+)\s*(?:-\s*(-?\d+)|(\+))\s*$")


def parse_bands(text: str) -> tuple[ScoreBand, ...]:
    """Parse ``"0-29,30-59,60-89,90+"`` into bands, checking they do not overlap.

    Raises:
        ReportConfigError: a band is malformed, empty, or overlaps the one before it.
    """
    bands: list[ScoreBand] = []
    for i, part in enumerate(text.split(","), start=1):
        m = _BAND.match(part)
        if not m:
            raise ReportConfigError(
                f"score band {i} {part.strip()!r}: write LOW-HIGH (30-59) or LOW+ (90+)")
        low = int(m.group(1))
        high = None if m.group(3) else int(m.group(2))
        if high is not None and high < low:
            raise ReportConfigError(f"score band {i} {part.strip()!r}: HIGH is below LOW")
        if bands:
            prev = bands[-1]
            if prev.high is None or low <= prev.high:
                raise ReportConfigError(
                    f"score band {i} {part.strip()!r}: overlaps {prev.label}; "
                    f"list bands in ascending order without overlap")
        bands.append(ScoreBand(low, high))
    return tuple(bands)


DEFAULT_BANDS = parse_bands("0-29,30-59,60-89,90+")

#: Activity types that are marketing touches. E-mail opens are left out (image pre-fetching
#: makes them noise); calls and meetings are sales' own work after the hand-off.
DEFAULT_TOUCH_TYPES = frozenset({
    "web_visit", "email_click", "form_fill", "document_download", "webinar_registered",
    "webinar_attended", "video_viewed", "other",
})


@dataclass(frozen=True)
class ReportConfig:
    """What the report counts and how.

    Attributes:
        bands: Score bands, ascending.
        timezone: Zone in which dates (``--since``, a deal's close date) are read.
        touch_types: Activity types that count as touches for linear attribution.
        since: Only leads captured on or after this date (in ``timezone``); None: all.
    """

    bands: tuple[ScoreBand, ...] = DEFAULT_BANDS
    timezone: str = "Asia/Tokyo"
    touch_types: frozenset[str] = field(default=DEFAULT_TOUCH_TYPES)
    since: date | None = None

    @property
    def tz(self) -> tzinfo:
        """The report's time zone."""
        return ZoneInfo(self.timezone)

    def band_of(self, score: int | None) -> str:
        """Label of the band holding ``score``; ``(none)`` without a score or outside all."""
        if score is None:
            return NONE
        for b in self.bands:
            if b.contains(score):
                return b.label
        return NONE


NONE = "(none)"
"""Label of the row for leads without a value of the dimension."""


def parse_date(text: str) -> date:
    """``2026-04-01`` → a date.

    Raises:
        ReportConfigError: not an ISO date.
    """
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise ReportConfigError(f"--since {text!r}: expected a date as YYYY-MM-DD") from None


def parse_instant(value: object) -> datetime | None:
    """An ISO-8601 timestamp from the store as an aware datetime (naive ones are UTC).

    Returns None for a missing or unreadable value: the report then treats the moment as
    unknown rather than failing on one odd record.
    """
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=ZoneInfo("UTC"))
    return dt
