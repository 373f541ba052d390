"""The emulated account's webinars, registrants and attendees, seeded from :mod:`sandbox.seed`.

Five webinars of one host, all a pure function of ``seed``:

* four ended ones (September and October 2026) and one upcoming (December 2026);
* registrants are seed people: most at indices below 100, so every sandbox size holds them
  in Marketo (and the shared ones in Salesforce), a few far beyond any sandbox size, so
  they are unknown to the other systems;
* about two thirds of the registrants attend; some leave and rejoin (two report rows);
* the first webinar has one guest who joined without registering and gave no e-mail;
* the third webinar has attendees whose report rows arrive late (hidden until
  :meth:`ZoomData.release_late`), as Zoom's reports lag behind the webinar.
"""

from __future__ import annotations

import base64
import hashlib
import random
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sandbox.seed import Person, people

__all__ = ["Participant", "Registrant", "Webinar", "ZoomData", "fmt"]

UNKNOWN_OFFSET = 500_000
"""Seed people from here on are in no other sandbox: unknown webinar guests."""

_TOPICS = (
    ("製造業DXセミナー", datetime(2026, 9, 10, 5, 0, tzinfo=UTC), 90, True),
    ("中小企業のためのクラウド会計入門", datetime(2026, 9, 24, 6, 0, tzinfo=UTC), 60, True),
    ("営業DX実践ウェビナー〜SFA活用術〜", datetime(2026, 10, 8, 4, 0, tzinfo=UTC), 60, True),
    ("生成AI活用セミナー", datetime(2026, 10, 22, 5, 0, tzinfo=UTC), 75, True),
    ("2027年 IT投資動向ウェビナー", datetime(2026, 12, 10, 5, 0, tzinfo=UTC), 60, False),
)


def fmt(when: datetime) -> str:
    """Zoom's timestamp format: ``2026-09-10T05:00:00Z``."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Registrant:
    """One registration (the fields of Zoom's registrant object the emulator keeps)."""

    id: str
    email: str
    first_name: str
    last_name: str
    org: str
    job_title: str
    create_time: datetime
    status: str = "approved"

    def to_api(self, webinar: Webinar) -> dict[str, object]:
        """The registrant as ``GET /webinars/{id}/registrants`` lists it."""
        return {
            "id": self.id, "email": self.email, "first_name": self.first_name,
            "last_name": self.last_name, "address": "", "city": "", "country": "JP", "zip": "",
            "state": "", "phone": "", "industry": "", "org": self.org,
            "job_title": self.job_title, "purchasing_time_frame": "",
            "role_in_purchase_process": "", "no_of_employees": "", "comments": "",
            "custom_questions": [], "status": self.status, "create_time": fmt(self.create_time),
            "join_url": f"https://zoom.us/w/{webinar.id}?tk={self.id}",
        }


@dataclass
class Participant:
    """One report row: a join and its leave. A rejoin is a second row with the same ``id``."""

    id: str
    user_id: str
    name: str
    email: str
    join_time: datetime
    leave_time: datetime
    registrant_id: str = ""

    @property
    def duration(self) -> int:
        """Seconds between join and leave."""
        return int((self.leave_time - self.join_time).total_seconds())

    def to_api(self) -> dict[str, object]:
        """The row as the report and past-webinar participant lists give it."""
        return {
            "id": self.id, "user_id": self.user_id, "name": self.name,
            "user_email": self.email, "join_time": fmt(self.join_time),
            "leave_time": fmt(self.leave_time), "duration": self.duration,
            "registrant_id": self.registrant_id, "status": "in_meeting", "failover": False,
            "customer_key": "", "participant_user_id": "",
        }


@dataclass
class Webinar:
    """One webinar with a single (past or future) instance."""

    id: int
    uuid: str
    topic: str
    start_time: datetime
    duration: int
    ended: bool
    host_id: str
    created_at: datetime
    registrants: list[Registrant] = field(default_factory=list)
    participants: list[Participant] = field(default_factory=list)
    late: list[Participant] = field(default_factory=list)

    @property
    def end_time(self) -> datetime:
        """Scheduled end (start + duration minutes)."""
        return self.start_time + timedelta(minutes=self.duration)

    def to_api(self, *, full: bool = False) -> dict[str, object]:
        """The webinar as listed (``full``: as ``GET /webinars/{id}`` gives it)."""
        data: dict[str, object] = {
            "uuid": self.uuid, "id": self.id, "host_id": self.host_id, "topic": self.topic,
            "type": 5, "start_time": fmt(self.start_time), "duration": self.duration,
            "timezone": "Asia/Tokyo", "created_at": fmt(self.created_at),
            "join_url": f"https://zoom.us/j/{self.id}", "is_simulive": False,
        }
        if full:
            data |= {"agenda": f"{self.topic}（オンライン開催）", "host_email": "seminar@renkei.example",
                     "registration_url": f"https://zoom.us/webinar/register/WN_{self.id}",
                     "settings": {"approval_type": 0, "registration_type": 1,
                                  "audio": "both", "auto_recording": "cloud"}}
        return data


def _uuid(seed: int, n: int) -> str:
    raw = hashlib.sha256(f"zoom-webinar:{seed}:{n}".encode()).digest()[:16]
    text = base64.b64encode(raw).decode()
    # One instance id starts with "/": Zoom then requires it double URL-encoded in paths.
    return "/" + text[1:] if n == 2 else text


def _registrant(rng: random.Random, person: Person, when: datetime) -> Registrant:
    return Registrant(
        id=base64.urlsafe_b64encode(rng.randbytes(12)).decode().rstrip("="),
        email=person.email, first_name=person.first_name, last_name=person.last_name,
        org=person.company.name, job_title=person.title, create_time=when)


def _attend(rng: random.Random, reg: Registrant, webinar: Webinar) -> list[Participant]:
    pid = base64.urlsafe_b64encode(rng.randbytes(16)).decode().rstrip("=")
    start = webinar.start_time + timedelta(minutes=rng.randrange(-5, 20))
    stay = timedelta(minutes=rng.randrange(10, webinar.duration))
    name = f"{reg.last_name} {reg.first_name}"
    first = Participant(pid, str(16_778_240 + rng.randrange(1 << 20)), name, reg.email, start,
                        min(start + stay, webinar.end_time), reg.id)
    if rng.random() >= 0.2:
        return [first]
    back = first.leave_time + timedelta(minutes=rng.randrange(2, 8))
    if back >= webinar.end_time:
        return [first]
    again = Participant(pid, str(16_778_240 + rng.randrange(1 << 20)), name, reg.email, back,
                        webinar.end_time, reg.id)
    return [first, again]


class ZoomData:
    """The account's webinars, in memory, behind one lock.

    Args:
        seed: Seed of :mod:`sandbox.seed`.
        registrants: Registrants per webinar (about 90 % known people).

    Example:
        >>> data = ZoomData(seed=42, registrants=20)
        >>> data.webinars[0].topic, len(data.webinars[0].registrants)
        ('製造業DXセミナー', 20)
    """

    host_id = "z8yCxjabR7qAcd1_renkei"

    def __init__(self, *, seed: int = 42, registrants: int = 40) -> None:
        self.lock = threading.Lock()
        self.webinars: list[Webinar] = []
        for n, (topic, start, minutes, ended) in enumerate(_TOPICS):
            self.webinars.append(self._seed_one(seed, n, topic, start, minutes, ended, registrants))

    def _seed_one(self, seed: int, n: int, topic: str, start: datetime, minutes: int,
                  ended: bool, count: int) -> Webinar:
        rng = random.Random(f"zoom:{seed}:{n}")
        webinar = Webinar(id=81_234_567_000 + 1_001 * (n + 1), uuid=_uuid(seed, n), topic=topic,
                          start_time=start, duration=minutes, ended=ended,
                          host_id=self.host_id, created_at=start - timedelta(days=30))
        unknown = max(1, count // 10)
        known = sorted(rng.sample(range(100), min(count - unknown, 100)))
        pool = [next(people(1, seed=seed, offset=i)) for i in known]
        pool += list(people(unknown, seed=seed, offset=UNKNOWN_OFFSET + n * 100))
        for k, person in enumerate(pool):
            when = webinar.created_at + timedelta(hours=6 * k + rng.randrange(6))
            webinar.registrants.append(_registrant(rng, person, when))
        if not ended:
            return webinar
        for k, reg in enumerate(webinar.registrants):
            if rng.random() < 0.65:
                rows = _attend(rng, reg, webinar)
                (webinar.late if n == 2 and k % 7 == 0 else webinar.participants).extend(rows)
        if n == 0:
            join = start + timedelta(minutes=12)
            webinar.participants.append(Participant(
                "guest-" + webinar.uuid[:8].replace("/", "x"), "16790001", "iPhone (ゲスト)", "",
                join, join + timedelta(minutes=41)))
        webinar.participants.sort(key=lambda p: p.join_time)
        return webinar

    def find(self, ref: str) -> Webinar | None:
        """The webinar with this numeric id or instance UUID."""
        for webinar in self.webinars:
            if ref in (str(webinar.id), webinar.uuid):
                return webinar
        return None

    def release_late(self, ref: str | None = None) -> int:
        """Make late report rows visible (of one webinar, or all); returns how many."""
        moved = 0
        with self.lock:
            for webinar in self.webinars:
                if ref is None or ref in (str(webinar.id), webinar.uuid):
                    moved += len(webinar.late)
                    webinar.participants = sorted(webinar.participants + webinar.late,
                                                  key=lambda p: p.join_time)
                    webinar.late = []
        return moved
