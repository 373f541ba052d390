"""The account's seed data: on-demand seminar videos and who watched how much of them.

Everything is a pure function of the config's ``seed``, ``size`` and ``today``: the same
inputs give the same videos, viewers and seconds (only the dates follow ``today``).
Viewer ids are what a player integration passes: the person's e-mail for logged-in viewers
(people of :mod:`sandbox.seed`, so the same people Marketo and Salesforce hold), a marketing
automation cookie id for known-but-not-logged-in ones, and an analytics-made id otherwise.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sandbox.seed import people

__all__ = ["DAY_S", "SEMINARS", "Video", "View", "seed_account"]

DAY_S = 86_400

#: (name, minutes, category): the account's on-demand seminars.
SEMINARS: tuple[tuple[str, int, str], ...] = (
    ("オンデマンド: 生産管理入門", 45, "製造業"),
    ("オンデマンド: 原価管理の基礎", 38, "製造業"),
    ("オンデマンド: はじめてのMA活用", 52, "マーケティング"),
    ("オンデマンド: インサイドセールス立ち上げ講座", 41, "営業"),
    ("オンデマンド: 在庫最適化セミナー", 33, "物流"),
    ("オンデマンド: 電子帳簿保存法の実務対応", 57, "経理"),
    ("オンデマンド: 品質管理とトレーサビリティ", 36, "製造業"),
    ("オンデマンド: SFA定着化のポイント", 29, "営業"),
)
WINDOW_DAYS = 21


@dataclass(frozen=True)
class Video:
    """A CMS video object (the fields the emulator serves)."""

    id: str
    name: str
    duration_ms: int
    tags: tuple[str, ...]
    custom_fields: dict[str, str]
    created_at: str
    updated_at: str
    reference_id: str

    def to_cms(self, account_id: str) -> dict[str, object]:
        """The video as the CMS API renders it."""
        return {"id": self.id, "account_id": account_id, "name": self.name,
                "reference_id": self.reference_id, "state": "ACTIVE",
                "duration": self.duration_ms, "tags": list(self.tags),
                "custom_fields": dict(self.custom_fields), "created_at": self.created_at,
                "updated_at": self.updated_at}


@dataclass(frozen=True)
class View:
    """One viewing session: a viewer played a video at ``at_s`` and, once the analytics
    have settled, watched ``seconds`` of it."""

    video_id: str
    viewer: str
    at_s: float
    seconds: float


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _videos(today: date) -> list[Video]:
    start = datetime(today.year, today.month, today.day, tzinfo=UTC) - timedelta(days=60)
    out = []
    for n, (name, minutes, category) in enumerate(SEMINARS):
        created = start + timedelta(days=n, hours=1)
        out.append(Video(
            id=str(6_360_000_000_001 + n * 1_000), name=name, duration_ms=minutes * 60_000,
            tags=("オンデマンド", category), reference_id=f"OD-{n + 1:03d}",
            custom_fields={"seminar_code": f"OD{n + 1:03d}", "category": category},
            created_at=_iso(created), updated_at=_iso(created + timedelta(days=2))))
    return out


def _viewer_id(rng: random.Random, index: int, email: str) -> str:
    roll = rng.random()
    if roll < 0.6:
        return email
    if roll < 0.7:  # somebody no other system knows, logged in with their own address
        return f"ondemand.viewer{index}@example.com"
    if roll < 0.88:  # the Marketo Munchkin cookie the page hands to the player
        return f"id:284-RKB-163&token:_mch-renkei.example-{1_700_000_000_000 + index * 7919}"
    return f"anon-{rng.getrandbits(64):016x}"


def seed_account(size: int, seed: int, today: date) -> tuple[list[Video], list[View]]:
    """The videos and their viewing sessions; about a third of the viewers finish ≥ 80 %."""
    videos = _videos(today)
    rng = random.Random(f"renkei-brightcove:{seed}")
    midnight = datetime(today.year, today.month, today.day, tzinfo=UTC).timestamp()
    pool = min(size, 2000)
    views: list[View] = []
    for n, video in enumerate(videos):
        duration_s = video.duration_ms / 1000
        count = min(pool, 14 + (n * 5) % 11)
        for index in sorted(rng.sample(range(pool), count)):
            person = next(people(1, seed=seed, offset=index))
            viewer = _viewer_id(rng, index, person.email)
            # The share the viewer ends up having watched, in 1-3 sessions on distinct days.
            share = rng.choice((0.12, 0.3, 0.45, 0.6, 0.72, 0.81, 0.9, 0.97, 1.0, 1.35))
            sessions = rng.choice((1, 1, 2, 3))
            days = sorted(rng.sample(range(WINDOW_DAYS), sessions), reverse=True)
            for day in days:
                at = midnight - day * DAY_S + rng.randrange(0, 14 * 3600)  # JST 9:00-23:00
                views.append(View(video.id, viewer, float(at),
                                  round(duration_s * share / sessions, 1)))
    views.sort(key=lambda v: (v.at_s, v.video_id, v.viewer))
    return videos, views
