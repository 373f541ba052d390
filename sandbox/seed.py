"""Realistic, deterministic Japanese B2B demo data for the sandbox emulators.

Everything is a pure function of ``seed``: :func:`companies` gives a few hundred fictional
companies; :func:`people` streams leads at that companies, where person ``i`` depends only
on ``(seed, i)``, so a million people never sit in memory and any slice can be rebuilt on
its own (``people(10, offset=5)`` equals items 5..14 of ``people(15)``). Email addresses are
unique by construction (each company has one address convention, and a company's ``k``-th
employee gets a distinct name or a numbered address). :func:`demo_split` shares some
people between Marketo and Salesforce, spelled the way real data is: ``(株)`` against
``株式会社``, half-width katakana, emails in another case or with stray spaces.

Example:
    >>> first = next(people(1))
    >>> first == next(people(1, offset=0)) and first.email.endswith((".jp", ".co.jp"))
    True
"""

from __future__ import annotations

import hashlib
import math
import random
import struct
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from functools import lru_cache

from sandbox.seed_data import (
    DEPARTMENT_TABLE,
    EMAIL_STYLES,
    EXCHANGE_LEAD,
    EXECUTIVES,
    FORMS,
    GIVEN_NAMES,
    HOURS_JST_TABLE,
    MOBILE_TABLE,
    PREFECTURE_DATA,
    PREFECTURE_TABLE,
    PREFECTURES,
    SIZE_BUCKETS,
    SOURCE_TABLE,
    STEMS,
    SUFFIXES,
    SURNAMES,
    TITLE_TABLE,
    Prefecture,
    to_fullwidth_alnum,
    to_halfwidth_kana,
)

__all__ = [
    "ANCHOR",
    "GIVEN_NAMES",
    "PREFECTURES",
    "SURNAMES",
    "Company",
    "Person",
    "companies",
    "demo_split",
    "people",
    "to_fullwidth_alnum",
    "to_halfwidth_kana",
]

#: ``created_at`` dates fall in the year before this instant (fixed, for determinism).
ANCHOR = datetime(2026, 11, 1, tzinfo=UTC)
COMPANY_COUNT = 300

# -- companies ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Company:
    """A fictional Japanese company.

    Attributes:
        name: Canonical registered name, e.g. ``株式会社サクラ精機``.
        name_variants: Other spellings met in real data: ``(株)サクラ精機``, ``㈱サクラ精機``,
            ``サクラ精機株式会社``, ``ｻｸﾗ精機``, ``ＡＢＣ商事``, the bare ``サクラ精機``.
        domain: Email/web domain, ASCII, e.g. ``sakura-seiki.co.jp``.
        industry: Japanese industry class, e.g. ``製造業``.
        employees: Head count.
        prefecture: Head-office prefecture.
        annual_revenue: Yearly revenue in yen.
    """

    name: str
    name_variants: tuple[str, ...]
    domain: str
    industry: str
    employees: int
    prefecture: str
    annual_revenue: int


def _variants(stem: str, form: str, prefix: bool) -> tuple[str, ...]:
    def legal(body: str, f: str, front: bool) -> str:
        return f + body if front else body + f

    canonical = legal(stem, form, prefix)
    spellings = [legal(stem, abbr, prefix) for abbr in FORMS[form]]
    spellings += [
        legal(stem, form, not prefix),
        f"{form} {stem}" if prefix else f"{stem} {form}",
        stem,
    ]
    for other in (to_halfwidth_kana(stem), to_fullwidth_alnum(stem)):
        if other != stem:
            spellings += [legal(other, form, prefix), legal(other, FORMS[form][0], prefix), other]
    seen = {canonical}
    unique: list[str] = []
    for spelling in spellings:
        if spelling not in seen:
            seen.add(spelling)
            unique.append(spelling)
    return tuple(unique)


@lru_cache(maxsize=8)
def _companies(seed: int) -> tuple[Company, ...]:
    rng = random.Random(f"renkei-companies:{seed}")
    combos = [(s, x) for s in STEMS for x in SUFFIXES]
    rng.shuffle(combos)
    out = []
    for (stem, stem_r), (suffix, suffix_r, industry) in combos[:COMPANY_COUNT]:
        low, high, _ = rng.choices(SIZE_BUCKETS, weights=[b[2] for b in SIZE_BUCKETS])[0]
        employees = rng.randint(low, high)
        roll = rng.random()
        form = (
            "有限会社"
            if roll < 0.05 and employees < 100
            else "合同会社"
            if roll > 0.93
            else "株式会社"
        )
        prefix = rng.random() < 0.65
        hq = rng.choice(PREFECTURE_TABLE)
        body = stem + suffix
        out.append(
            Company(
                name=(form + body) if prefix else (body + form),
                name_variants=_variants(body, form, prefix),
                domain=f"{stem_r}-{suffix_r}." + ("jp" if form == "合同会社" else "co.jp"),
                industry=industry,
                employees=employees,
                prefecture=hq.name,
                annual_revenue=employees * rng.randint(12, 60) * 1_000_000,
            )
        )
    return tuple(out)


def companies(seed: int = 42) -> list[Company]:
    """The fictional companies of this seed (a few hundred, unique names and domains)."""
    return list(_companies(seed))


# -- people ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Person:
    """A lead: a person at a :class:`Company`, as a marketing system would hold them.

    Attributes:
        last_name: Family name in kanji (``佐藤``).
        first_name: Given name in kanji (``太郎``).
        last_name_kana: Family name reading in full-width katakana (``サトウ``).
        first_name_kana: Given name reading in full-width katakana (``タロウ``).
        email: Unique, lower-case ASCII address at the company's domain.
        company: The employer.
        department: E.g. ``営業部``.
        title: E.g. ``課長``.
        phone: Office line in Japanese format (``03-1234-5678``, ``052-234-5678``).
        mobile: Mobile number (``090-1234-5678``).
        prefecture: Office prefecture.
        city: Office city or ward.
        postal_code: ``NNN-NNNN``.
        lead_source: First touch (``展示会``, ``資料請求``, ...).
        lead_score: Behaviour score, 0 and up (mean about 30).
        created_at: ISO 8601 UTC (``2026-03-14T05:22:31Z``), within the year before
            :data:`ANCHOR`, mostly in Japanese business hours.
        consent: Whether the person agreed to marketing email.
        index: The person's position ``i`` in :func:`people`.
    """

    last_name: str
    first_name: str
    last_name_kana: str
    first_name_kana: str
    email: str
    company: Company
    department: str
    title: str
    phone: str
    mobile: str
    prefecture: str
    city: str
    postal_code: str
    lead_source: str
    lead_score: int
    created_at: str
    consent: bool
    index: int = 0


@dataclass(frozen=True)
class _Plan:
    """Per-seed tables that make person ``i`` cheap to build and its email unique."""

    companies: tuple[Company, ...]
    hq: tuple[Prefecture, ...]
    slot_company: tuple[int, ...]  # slot -> company index (slots weighted by company size)
    slot_rank: tuple[int, ...]  # slot -> its rank among the company's slots
    company_slots: tuple[int, ...]  # company -> number of slots
    mult: tuple[int, ...]  # company -> multiplier of its name permutation
    shift: tuple[int, ...]
    digest_key: bytes


_NAME_SPACE = len(SURNAMES) * len(GIVEN_NAMES)
_WORDS = struct.Struct("<4Q")
_DAYS = tuple((ANCHOR - timedelta(days=d)).strftime("%Y-%m-%d") for d in range(367))


@lru_cache(maxsize=8)
def _plan(seed: int) -> _Plan:
    rng = random.Random(f"renkei-people:{seed}")
    comps = _companies(seed)
    weights = [max(1, round(math.sqrt(c.employees) / 2)) for c in comps]
    slots = [(c, rank) for c, w in enumerate(weights) for rank in range(w)]
    rng.shuffle(slots)
    coprime = [
        a for a in range(_NAME_SPACE // 3, 2 * _NAME_SPACE // 3) if math.gcd(a, _NAME_SPACE) == 1
    ]
    by_name = {p.name: p for p in PREFECTURE_DATA}
    return _Plan(
        companies=comps,
        hq=tuple(by_name[c.prefecture] for c in comps),
        slot_company=tuple(c for c, _ in slots),
        slot_rank=tuple(r for _, r in slots),
        company_slots=tuple(weights),
        mult=tuple(rng.choice(coprime) for _ in comps),
        shift=tuple(rng.randrange(_NAME_SPACE) for _ in comps),
        digest_key=f"renkei-person:{seed}".encode(),
    )


def _phone(area: str, n: int) -> str:
    """A ten-digit fixed-line number in the area, hyphenated the Japanese way."""
    lead = EXCHANGE_LEAD.get(area, "23456789")
    exchange = 10 - len(area) - 4
    head = lead[n % len(lead)] + str(n // 10 % 10 ** (exchange - 1)).zfill(exchange - 1)
    return f"{area}-{head}-{n // 100_000 % 10_000:04d}"


def _person(plan: _Plan, i: int) -> Person:
    # Who: slot i mod W of a size-weighted company table; k-th person of that company gets
    # the name at position k of the company's permutation of all (surname, given) pairs.
    slots = len(plan.slot_company)
    cycle, slot = divmod(i, slots)
    c = plan.slot_company[slot]
    k = cycle * plan.company_slots[c] + plan.slot_rank[slot]
    repeat, kk = divmod(k, _NAME_SPACE)
    j = (plan.mult[c] * kk + plan.shift[c]) % _NAME_SPACE
    surname, given = SURNAMES[j // len(GIVEN_NAMES)], GIVEN_NAMES[j % len(GIVEN_NAMES)]
    company = plan.companies[c]
    local = EMAIL_STYLES[c % len(EMAIL_STYLES)].format(g=given[2], f=surname[2])
    if repeat:
        local += str(repeat + 1)

    # What: every other attribute from a 256-bit digest of (seed, i), read as three 64-bit
    # words of mixed-radix digits (small ints keep this fast: a million people in seconds).
    digest = hashlib.blake2b(i.to_bytes(8, "little"), key=plan.digest_key, digest_size=32).digest()
    w0, w1, w2, _ = _WORDS.unpack(digest)
    w0, r = divmod(w0, 100)
    pref: Prefecture = plan.hq[c] if r < 60 else PREFECTURE_TABLE[w0 % len(PREFECTURE_TABLE)]
    w0 //= len(PREFECTURE_TABLE)
    w0, r = divmod(w0, len(pref.cities))
    city, area = pref.cities[r]
    w0, r = divmod(w0, pref.postal[1] - pref.postal[0] + 1)
    w0, r4 = divmod(w0, 10_000)
    postal = f"{pref.postal[0] + r:03d}-{r4:04d}"
    w0, r = divmod(w0, len(TITLE_TABLE))
    title: str = TITLE_TABLE[r]
    w0, r = divmod(w0, len(DEPARTMENT_TABLE))
    department: str = "経営企画部" if title in EXECUTIVES else DEPARTMENT_TABLE[r]
    source: str = SOURCE_TABLE[w0 % len(SOURCE_TABLE)]
    w1, r = divmod(w1, 10**9)
    phone = _phone(area, r)
    mobile = f"{MOBILE_TABLE[w1 % 10]}-{1000 + w1 // 10 % 9000:04d}-{w1 // 100_000 % 10_000:04d}"
    w2, r = divmod(w2, 1 << 24)
    score = min(200, int(-30.0 * math.log1p(-r / (1 << 24))))
    w2, day = divmod(w2, 365)
    w2, r = divmod(w2, len(HOURS_JST_TABLE))
    hour_utc = HOURS_JST_TABLE[r] - 9
    day = day + 1 if hour_utc < 0 else day
    w2, r = divmod(w2, 3600)
    created = f"{_DAYS[day + 1]}T{hour_utc % 24:02d}:{r // 60:02d}:{r % 60:02d}Z"
    return Person(
        last_name=surname[0],
        first_name=given[0],
        last_name_kana=surname[1],
        first_name_kana=given[1],
        email=f"{local}@{company.domain}",
        company=company,
        department=department,
        title=title,
        phone=phone,
        mobile=mobile,
        prefecture=pref.name,
        city=city,
        postal_code=postal,
        lead_source=source,
        lead_score=score,
        created_at=created,
        consent=w2 % 100 < 85,
        index=i,
    )


def people(n: int, *, seed: int = 42, offset: int = 0) -> Iterator[Person]:
    """Stream ``n`` people, ``offset`` to ``offset + n - 1``; person ``i`` depends only on ``(seed, i)``.

    Example:
        >>> list(people(3, offset=2)) == list(people(5))[2:]
        True
    """
    if n < 0 or offset < 0:
        raise ValueError("n and offset must be >= 0")
    plan = _plan(seed)
    for i in range(offset, offset + n):
        yield _person(plan, i)


def demo_split(
    marketo: int = 2000, salesforce: int = 500, shared: int = 200, *, seed: int = 42
) -> tuple[list[Person], list[Person]]:
    """People for a Marketo and a Salesforce sandbox, ``shared`` of them in both.

    Marketo gets people ``0..marketo-1``. Salesforce gets ``shared`` of those (a
    deterministic sample) plus ``salesforce - shared`` people of its own, shuffled. Every
    third shared copy spells the company another way (``(株)サクラ精機``, ``ｻｸﾗ精機``,
    ``ＡＢＣ商事``); every tenth has its email in another case or padded with spaces. A
    shared copy keeps its ``index``, which is how tests know the right match.

    Raises:
        ValueError: ``shared`` exceeds either side.
    """
    if not 0 <= shared <= min(marketo, salesforce):
        raise ValueError(f"shared ({shared}) must be between 0 and min(marketo, salesforce)")
    ma = list(people(marketo, seed=seed))
    rng = random.Random(f"renkei-demo-split:{seed}")
    picked = sorted(rng.sample(range(marketo), shared))
    copies = [_salesforce_copy(ma[i], n) for n, i in enumerate(picked)]
    sf = copies + list(people(salesforce - shared, seed=seed, offset=marketo))
    rng.shuffle(sf)
    return ma, sf


def _salesforce_copy(person: Person, n: int) -> Person:
    copy = person
    if n % 3 == 0:
        company = person.company
        spelling = company.name_variants[(n // 3) % len(company.name_variants)]
        others = tuple(v for v in (company.name, *company.name_variants) if v != spelling)
        copy = replace(copy, company=replace(company, name=spelling, name_variants=others))
    if n % 10 == 1:
        local, domain = person.email.split("@")
        style = (n // 10) % 3
        email = (
            f"{local.title()}@{domain.title()}"
            if style == 0
            else person.email.upper()
            if style == 1
            else f"  {person.email} "
        )
        copy = replace(copy, email=email)
    return copy
