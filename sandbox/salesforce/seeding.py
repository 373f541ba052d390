"""Seeded Leads, Contacts, Accounts and Opportunities, built on demand from :mod:`sandbox.seed`.

* Accounts: the seed's companies (a few hundred), one Account each.
* Leads: ``size`` people. By default they are people of their own (seed indices from
  :data:`LEAD_BASE`), so the org shares nobody with the Marketo sandbox; with
  ``marketo_size`` they come from :func:`sandbox.seed.demo_split`, which puts some of
  Marketo's people into Salesforce spelled differently (``(株)``, half-width kana, email
  case) — the identity-resolution case of the demo.
* Contacts: ``size // 4`` more people (from :data:`CONTACT_BASE`), each linked to the
  Account of their company.
* Opportunities and their contact roles: ``size // 8`` deals of the Contacts' people
  (:mod:`sandbox.salesforce.opportunities`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sandbox.salesforce.auth import USER_ID
from sandbox.salesforce.ids import make_id
from sandbox.salesforce.opportunities import OpportunitySeed, RoleSeed
from sandbox.salesforce.schema import LEAD_STATUSES
from sandbox.salesforce.store import SeedSource
from sandbox.seed import Company, Person, companies, demo_split, people

__all__ = ["CONTACT_BASE", "DEMO_SPLIT_MAX", "LEAD_BASE", "OWNER_IDS", "default_seeds"]

Record = dict[str, Any]
LEAD_BASE = 100_000_000
CONTACT_BASE = 200_000_000
DEMO_SPLIT_MAX = 200_000
"""demo_split materialises its lists; beyond this many leads the seed stays lazy."""
OWNER_IDS = tuple(make_id("005", n) for n in range(2, 7))
"""Five sales reps who own the seeded records (the API user owns what the API creates)."""


def _sf_datetime(iso_z: str) -> str:
    # Person.created_at is "2026-03-14T05:22:31Z"; Salesforce writes ".000+0000".
    return iso_z.replace("Z", ".000+0000")


@dataclass
class _PeopleSeed:
    count: int
    person: Callable[[int, int], list[Person]]  # (start, stop) -> people
    to_row: Callable[[Person, int], Record]

    def rows(self, start: int, stop: int) -> list[Record]:
        return [self.to_row(p, start + i) for i, p in enumerate(self.person(start, stop))]


@dataclass
class _AccountSeed:
    companies: Sequence[Company]

    @property
    def count(self) -> int:
        return len(self.companies)

    def rows(self, start: int, stop: int) -> list[Record]:
        return [_account_row(c, i) for i, c in enumerate(self.companies[start:stop], start)]


def _account_row(c: Company, index: int) -> Record:
    return {"Name": c.name, "Website": f"https://www.{c.domain}", "Industry": c.industry,
            "NumberOfEmployees": c.employees, "AnnualRevenue": float(c.annual_revenue),
            "BillingState": c.prefecture, "BillingCountry": "日本",
            "OwnerId": OWNER_IDS[index % len(OWNER_IDS)], "CreatedById": USER_ID,
            "LastModifiedById": USER_ID}


def _person_common(p: Person, index: int) -> Record:
    return {
        "LastName": p.last_name, "FirstName": p.first_name, "Name": f"{p.last_name} {p.first_name}",
        "LastNameKana__c": p.last_name_kana, "FirstNameKana__c": p.first_name_kana,
        "Email": p.email, "Phone": p.phone, "MobilePhone": p.mobile, "Title": p.title,
        "LeadSource": p.lead_source, "HasOptedOutOfEmail": not p.consent,
        "OwnerId": OWNER_IDS[index % len(OWNER_IDS)], "CreatedDate": _sf_datetime(p.created_at),
        "CreatedById": USER_ID, "LastModifiedById": USER_ID,
    }


def _lead_row(p: Person, index: int) -> Record:
    # A deterministic funnel: most leads open, some worked, a few closed.
    bucket = index % 20
    status = LEAD_STATUSES[0 if bucket < 13 else 1 if bucket < 17 else 3 if bucket < 19 else 2]
    return {
        **_person_common(p, index),
        "Company": p.company.name, "Department__c": p.department, "State": p.prefecture,
        "City": p.city, "PostalCode": p.postal_code, "Country": "日本",
        "Website": f"https://www.{p.company.domain}", "Industry": p.company.industry,
        "NumberOfEmployees": p.company.employees, "AnnualRevenue": float(p.company.annual_revenue),
        "Lead_Score__c": float(p.lead_score), "Status": status, "IsConverted": bucket == 19,
        "Rating": "Hot" if p.lead_score >= 80 else "Warm" if p.lead_score >= 40 else "Cold",
    }


def default_seeds(size: int, seed: int = 42, *,
                  marketo_size: int | None = None) -> dict[str, SeedSource | None]:
    """The seed sources of an org with ``size`` leads.

    Args:
        size: Seeded leads (100 to 1,000,000 in practice).
        seed: Seed of :mod:`sandbox.seed`.
        marketo_size: When set, leads come from ``demo_split(marketo_size, size, ...)`` so
            that 40% of them are also in a Marketo sandbox seeded with ``marketo_size``.
    """
    comps = companies(seed)
    account_of = {c.domain: make_id("001", i + 1) for i, c in enumerate(comps)}

    def contact_row(p: Person, index: int) -> Record:
        return {**_person_common(p, index), "AccountId": account_of.get(p.company.domain),
                "Department": p.department, "MailingState": p.prefecture,
                "MailingCity": p.city, "MailingPostalCode": p.postal_code,
                "MailingCountry": "日本"}

    def lazy(base: int) -> Callable[[int, int], list[Person]]:
        return lambda start, stop: list(people(stop - start, seed=seed, offset=base + start))

    if marketo_size and size <= DEMO_SPLIT_MAX:
        shared = min(size * 2 // 5, marketo_size)
        _, split = demo_split(marketo_size, size, shared, seed=seed)
        lead_people: Callable[[int, int], list[Person]] = lambda a, b: split[a:b]
    else:
        lead_people = lazy(LEAD_BASE)
    contacts = size // 4
    deals = contacts // 2
    return {
        "Lead": _PeopleSeed(size, lead_people, _lead_row),
        "Contact": _PeopleSeed(contacts, lazy(CONTACT_BASE), contact_row),
        "Account": _AccountSeed(comps),
        "Opportunity": OpportunitySeed(deals, lazy(CONTACT_BASE), account_of, OWNER_IDS),
        "OpportunityContactRole": RoleSeed(deals, contacts),
        "Task": None,  # the org starts with no activities; renkei writes them
    }
