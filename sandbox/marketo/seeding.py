"""Seeded leads, computed from :mod:`sandbox.seed` on demand instead of stored.

Lead ``i`` (1-based) is seed person ``i - 1``. A lead is built when asked for (and kept in a
small cache), so a sandbox of a million leads starts at once. Two compact indexes are built
on first need, in one pass over the seed, and kept as flat arrays (about 20 bytes a lead):

* creation order: lead ids sorted by ``createdAt``, with their dates (the New Lead activity
  of each seeded lead sits at its ``createdAt``);
* email: 64-bit hashes of lower-cased addresses, sorted, with their lead ids; a hash hit is
  confirmed against the built lead, so collisions cannot return a wrong lead.
"""

from __future__ import annotations

import hashlib
import threading
from array import array
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, date, datetime
from typing import Any

from sandbox.marketo.schema import format_dt

__all__ = ["SeedLeads", "email_hash", "person_to_lead"]

PeopleFn = Callable[..., Iterator[Any]]

_STAGES = ((80, "sql"), (60, "mql"), (30, "lead"), (0, "subscriber"))
_STATUSES = ("New", "Contacted", "Nurturing", "Qualified", "Disqualified")


def email_hash(email: str) -> int:
    """A stable 64-bit hash of an address, case-insensitive."""
    digest = hashlib.blake2b(email.strip().lower().encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def _epoch(value: Any) -> float:
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC).timestamp()
    if isinstance(value, (int, float)):
        return float(value)
    parsed = datetime.fromisoformat(str(value))  # Python 3.11 reads the trailing "Z"
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp()


def _get(obj: Any, name: str, default: Any = None) -> Any:
    return getattr(obj, name, default)


def person_to_lead(person: Any, lead_id: int) -> dict[str, Any]:
    """A seed person as this subscription's lead record (every field, nulls included)."""
    company = _get(person, "company")
    created = format_dt(int(_epoch(_get(person, "created_at"))))
    score = _get(person, "lead_score")
    stage = next((name for floor, name in _STAGES if (score or 0) >= floor), "subscriber")
    consent = _get(person, "consent")
    opt_in = bool(consent) if not hasattr(consent, "email") else bool(consent.email)
    domain = _get(company, "domain")
    return {
        "id": lead_id,
        "company": _get(company, "name"),
        "site": None,
        "website": f"https://www.{domain}" if domain else None,
        "annualRevenue": _get(company, "annual_revenue"),
        "numberOfEmployees": _get(company, "employees"),
        "industry": _get(company, "industry"),
        "firstName": _get(person, "first_name"),
        "lastName": _get(person, "last_name"),
        "salutation": None,
        "title": _get(person, "title"),
        "department": _get(person, "department"),
        "email": _get(person, "email"),
        "phone": _get(person, "phone"),
        "mobilePhone": _get(person, "mobile"),
        "fax": None,
        "address": None,
        "city": _get(person, "city"),
        "state": _get(person, "prefecture"),
        "postalCode": _get(person, "postal_code"),
        "country": "Japan",
        "leadSource": _get(person, "lead_source"),
        "leadStatus": _STATUSES[lead_id % len(_STATUSES)],
        "leadScore": score,
        "rating": None,
        "leadRole": None,
        "unsubscribed": not opt_in,
        "unsubscribedReason": None,
        "doNotCall": False,
        "emailInvalid": False,
        "createdAt": created,
        "updatedAt": created,
        "lastNameKana": _get(person, "last_name_kana"),
        "firstNameKana": _get(person, "first_name_kana"),
        "renkeiLifecycleStage": stage,
        "renkeiHubId": None,
        "renkeiEmailOptIn": opt_in,
        "renkeiOptInAt": created if opt_in else None,
        # Many subscriptions split the score into these two custom fields (the cross score).
        "behaviorScore": score,
        "demographicScore": demographic_score(_get(person, "title"), _get(company, "employees")),
    }


def demographic_score(title: str | None, employees: int | None) -> int:
    """Attribute points the way a scoring program gives them: seniority plus company size."""
    t = title or ""
    seniority = 15 if any(k in t for k in ("取締役", "社長", "本部長", "部長", "CIO", "CTO")) \
        else 10 if any(k in t for k in ("課長", "マネージャー", "室長")) else 5
    n = employees or 0
    size = 15 if n >= 1000 else 10 if n >= 300 else 5 if n >= 100 else 0
    return seniority + size


class SeedLeads:
    """The seeded part of the lead database.

    Args:
        size: Number of seeded leads (ids 1..size).
        seed: Seed of :func:`sandbox.seed.people`.
        people: The person generator (``people(n, seed=, offset=)``); defaults to the
            sandbox's.
        cache_size: Built leads kept in memory.
    """

    _CHUNK = 5000

    def __init__(self, size: int, seed: int = 42, *, people: PeopleFn | None = None,
                 cache_size: int = 20_000):
        if people is None:
            from sandbox.seed import people as seed_people

            people = seed_people
        self.size = size
        self.seed = seed
        self._people = people
        self._cache: OrderedDict[int, dict[str, Any]] = OrderedDict()
        self._cache_size = cache_size
        self._cache_lock = threading.Lock()
        self._index_lock = threading.Lock()
        self._indexed = False
        self._order = array("I")
        self._times = array("d")
        self._hashes = array("Q")
        self._hash_ids = array("I")

    def lead(self, lead_id: int) -> dict[str, Any] | None:
        """A fresh copy of seeded lead ``lead_id`` (``None`` outside 1..size)."""
        if not 1 <= lead_id <= self.size:
            return None
        with self._cache_lock:
            cached = self._cache.get(lead_id)
            if cached is not None:
                self._cache.move_to_end(lead_id)
                return dict(cached)
        person = next(iter(self._people(1, seed=self.seed, offset=lead_id - 1)))
        record = person_to_lead(person, lead_id)
        with self._cache_lock:
            self._cache[lead_id] = record
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return dict(record)

    def iter_leads(self, start_id: int = 1) -> Iterator[dict[str, Any]]:
        """Every seeded lead from ``start_id`` on, built in chunks (for scans)."""
        lead_id = max(1, start_id)
        while lead_id <= self.size:
            count = min(self._CHUNK, self.size - lead_id + 1)
            for person in self._people(count, seed=self.seed, offset=lead_id - 1):
                yield person_to_lead(person, lead_id)
                lead_id += 1

    def _iter_people(self) -> Iterator[Any]:
        offset = 0
        while offset < self.size:
            count = min(self._CHUNK, self.size - offset)
            yield from self._people(count, seed=self.seed, offset=offset)
            offset += count

    # -- indexes ------------------------------------------------------------------------------

    def ensure_index(self) -> None:
        """Build the creation-order and email indexes (once; callers wait for the builder)."""
        if self._indexed:
            return
        with self._index_lock:
            if self._indexed:
                return
            # Flat arrays and sorted permutations, no per-lead tuples: a million tuples would
            # cost hundreds of MB and keep the cyclic GC busy for the whole pass.
            times = array("d")
            hashes = array("Q")
            for person in self._iter_people():
                times.append(float(int(_epoch(_get(person, "created_at")))))
                email = _get(person, "email")
                hashes.append(email_hash(email) if email else 0)
            order = sorted(range(len(times)), key=times.__getitem__)
            self._order = array("I", (i + 1 for i in order))
            self._times = array("d", (times[i] for i in order))
            del order
            by_hash = sorted(range(len(hashes)), key=hashes.__getitem__)
            self._hashes = array("Q", (hashes[i] for i in by_hash))
            self._hash_ids = array("I", (i + 1 for i in by_hash))
            self._indexed = True

    def created_times(self) -> Sequence[float]:
        """Seeded ``createdAt`` dates in ascending order."""
        self.ensure_index()
        return self._times

    def new_lead_at(self, position: int) -> tuple[int, float, str]:
        """``(lead_id, createdAt, name)`` of the ``position``-th seeded lead by creation."""
        self.ensure_index()
        lead_id = self._order[position]
        record = self.lead(lead_id) or {}
        name = f"{record.get('lastName') or ''} {record.get('firstName') or ''}".strip()
        return lead_id, self._times[position], name

    def ids_for_email(self, email: str) -> list[int]:
        """Seeded lead ids whose (seeded) email is ``email``, case-insensitively."""
        import bisect

        self.ensure_index()
        wanted = email_hash(email)
        lo = bisect.bisect_left(self._hashes, wanted)
        out = []
        while lo < len(self._hashes) and self._hashes[lo] == wanted:
            lead_id = self._hash_ids[lo]
            record = self.lead(lead_id)
            if record and (record.get("email") or "").lower() == email.strip().lower():
                out.append(lead_id)
            lo += 1
        return sorted(out)
