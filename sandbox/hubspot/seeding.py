"""The portal's seed data, from :mod:`sandbox.seed`: contacts, their companies, deals, engagements.

Contact ``i`` is seed person ``i``; seeded records were created and last modified at the
person's ``created_at`` (so several may share one timestamp, as imports do). Every tenth
contact has a deal and an engagement (cycling through calls, meetings, notes and emails),
associated with it.
"""

from __future__ import annotations

from sandbox.hubspot.objects import ASSOCIATION_TYPES, DEAL_STAGES, ENGAGEMENT_TYPES
from sandbox.hubspot.store import CrmStore, format_ms, parse_ms
from sandbox.seed import Person, people

__all__ = ["seed_portal"]

_STAGES = ((80, "salesqualifiedlead"), (60, "marketingqualifiedlead"), (30, "lead"),
           (0, "subscriber"))


def _contact(person: Person) -> dict[str, str | None]:
    company = person.company
    stage = next(name for floor, name in _STAGES if person.lead_score >= floor)
    return {
        "email": person.email, "firstname": person.first_name, "lastname": person.last_name,
        "firstname_kana": person.first_name_kana, "lastname_kana": person.last_name_kana,
        "company": company.name, "department": person.department, "jobtitle": person.title,
        "phone": person.phone, "mobilephone": person.mobile, "country": "Japan",
        "state": person.prefecture, "city": person.city, "zip": person.postal_code,
        "website": f"https://www.{company.domain}", "industry": company.industry,
        "numemployees": str(company.employees), "annualrevenue": str(company.annual_revenue),
        "lead_source": person.lead_source, "lifecyclestage": stage,
        "hs_email_optout": "false" if person.consent else "true",
    }


def _link(store: CrmStore, a: str, a_id: int, b: str, b_id: int) -> None:
    store.associate(a, a_id, b, b_id, ASSOCIATION_TYPES[(a, b)], ASSOCIATION_TYPES[(b, a)])


def seed_portal(store: CrmStore, size: int, seed: int) -> None:
    """Fill an empty store with ``size`` contacts and what hangs off them."""
    companies: dict[str, int] = {}
    for person in people(size, seed=seed):
        at = parse_ms(person.created_at)
        contact = store.load("contacts", _contact(person), at, at)
        company = person.company
        if company.domain not in companies:
            companies[company.domain] = store.load("companies", {
                "name": company.name, "domain": company.domain, "industry": company.industry,
                "state": company.prefecture, "website": f"https://www.{company.domain}",
                "numberofemployees": str(company.employees),
                "annualrevenue": str(company.annual_revenue)}, at, at).id
        _link(store, "contacts", contact.id, "companies", companies[company.domain])
        if person.index % 10:
            continue
        n = person.index // 10
        stage = DEAL_STAGES[n % len(DEAL_STAGES)]
        deal = store.load("deals", {
            "dealname": f"{company.name} 導入案件", "pipeline": "default", "dealstage": stage,
            "amount": str((n % 9 + 1) * 500_000), "closedate": format_ms(at + 60 * 86_400_000),
            "hs_is_closed": "true" if stage.startswith("closed") else "false",
            "hs_is_closed_won": "true" if stage == "closedwon" else "false"}, at, at)
        _link(store, "deals", deal.id, "contacts", contact.id)
        kind = ENGAGEMENT_TYPES[n % len(ENGAGEMENT_TYPES)]
        body = {"calls": {"hs_call_title": "初回ヒアリング", "hs_call_duration": "900000"},
                "meetings": {"hs_meeting_title": "製品デモ", "hs_meeting_outcome": "COMPLETED"},
                "notes": {"hs_note_body": f"{person.last_name}様より資料請求"},
                "emails": {"hs_email_subject": "ご挨拶", "hs_email_direction": "EMAIL"}}[kind]
        engagement = store.load(kind, {"hs_timestamp": format_ms(at), **body}, at, at)
        _link(store, kind, engagement.id, "contacts", contact.id)
