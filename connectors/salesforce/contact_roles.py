"""The people of an opportunity: its contact roles' e-mails, fetched for a whole page at once.

Marketo's native Salesforce sync ties an opportunity to people the same way: through its
Opportunity Contact Roles. One query per :data:`ROLE_BATCH` opportunities (``OpportunityId
IN (...)``, the contact's e-mail through the ``Contact.Email`` relationship field), never one
per record; the ids stay in the URL of a GET, so a batch is kept well under the length
Salesforce accepts for one.

A role whose contact has no e-mail (or is not visible to the integration user) adds nothing;
the primary contact comes first, then the others in the order they were added.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, MutableMapping, Sequence
from typing import Any

from simple_salesforce.api import Salesforce
from simple_salesforce.format import format_soql

from connectors.salesforce.client import SalesforceClient

__all__ = ["CONTACT_EMAILS", "ROLE_BATCH", "add_contact_emails", "contact_emails_property"]

CONTACT_EMAILS = "contact_emails"
"""The field the connector adds to each Opportunity record."""
ROLE_BATCH = 200
"""Opportunity ids per contact-role query: about 4,500 characters of URL."""
_SOQL = ("SELECT OpportunityId, IsPrimary, CreatedDate, Id, Contact.Email "
         "FROM OpportunityContactRole WHERE OpportunityId IN {}")


def contact_emails_property() -> dict[str, Any]:
    """The JSON Schema of :data:`CONTACT_EMAILS` in the Opportunity stream."""
    return {"title": "Contact role e-mails", "type": ["array", "null"],
            "items": {"type": "string"}, "readOnly": True,
            "description": "E-mails of the opportunity's contact roles, primary first."}


def _query_more(url: str) -> Callable[[Salesforce], Any]:
    return lambda sf: sf.query_more(url, identifier_is_url=True)


def _roles(client: SalesforceClient, ids: list[str]) -> Iterable[dict[str, Any]]:
    soql = format_soql(_SOQL, ids)
    body = client.call(lambda sf: sf.query(soql), method="GET", path="query/", kind="read",
                       idempotent=True)
    while True:
        yield from body.get("records") or ()
        if body.get("done", True):
            return
        next_url = str(body["nextRecordsUrl"])
        body = client.call(_query_more(next_url), method="GET", path=next_url, kind="read",
                           idempotent=True)


def add_contact_emails(client: SalesforceClient,
                       records: Sequence[MutableMapping[str, Any]]) -> None:
    """Set :data:`CONTACT_EMAILS` on every record of a page of opportunities, in place.

    Args:
        client: The connector's client (ledger, retries and limits included).
        records: Opportunity records with their ``Id``.
    """
    ids = [str(r["Id"]) for r in records]
    found: dict[str, list[tuple[bool, str, str, str]]] = {}
    for start in range(0, len(ids), ROLE_BATCH):
        for role in _roles(client, ids[start:start + ROLE_BATCH]):
            contact = role.get("Contact") or {}
            email = contact.get("Email")
            if email:
                found.setdefault(str(role["OpportunityId"]), []).append(
                    (not role.get("IsPrimary"), str(role.get("CreatedDate") or ""),
                     str(role.get("Id") or ""), str(email)))
    for record in records:
        emails: list[str] = []
        for *_, email in sorted(found.get(str(record["Id"]), ())):
            if email.casefold() not in (e.casefold() for e in emails):
                emails.append(email)
        record[CONTACT_EMAILS] = emails
