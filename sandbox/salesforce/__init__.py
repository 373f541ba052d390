"""A faithful local emulator of the Salesforce REST API (Lead, Contact, Account, Opportunity,
Task), over TLS.

simple-salesforce builds every URL as ``https://{instance}/services/...``, so the emulator
speaks HTTPS (default port 18443) with the sandbox CA; a client uses it unchanged with
``Salesforce(instance_url="https://127.0.0.1:18443", session_id=..., session=s)`` where
``s.verify`` is the CA file, or logs in through a Session adapter that sends
``https://login.salesforce.com`` to the emulator.

Endpoints::

    POST   /services/oauth2/token                      client_credentials or password grant
    POST   /services/Soap/u/{ver}                      SOAP login (username, password+token)
    GET    /services/data/                             API versions (31.0 .. 62.0)
    GET    /services/data/vXX.X/                       resources
    GET    /services/data/vXX.X/limits/                DailyApiRequests and friends
    GET    .../sobjects/                               describe global
    GET    .../sobjects/{Obj}/ and .../describe/       object summary and describe
    POST   .../sobjects/{Obj}/                         create
    GET|PATCH|DELETE .../sobjects/{Obj}/{Id}           read, update, delete
    GET|PATCH|DELETE .../sobjects/{Obj}/{Ext}/{value}  by external id, upsert
    GET    .../sobjects/{Obj}/updated/ and deleted/    ids changed in a window
    GET    .../query[/]?q= and .../queryAll[/]?q=      SOQL subset, paged
    GET    .../query/{locator}-{n}                     the next page (nextRecordsUrl)
    POST|PATCH|DELETE .../composite/sobjects           sObject Collections create/update/delete
    PATCH  .../composite/sobjects/{Obj}/{Ext}          sObject Collections upsert
    GET    .../composite/sobjects/{Obj}?ids=&fields=   sObject Collections retrieve

What it relies on, with sources. Tags: [C] confirmed in a primary source (Salesforce REST
API Developer Guide, SOQL and SOSL Reference, or simple-salesforce 1.12.10's source and
tests), [S] secondary sources only (issue threads, logs, third-party write-ups), [U] a
choice where the sources are silent. Details sit in each module's docstring:

* :mod:`.auth`: OAuth token endpoint shapes and errors [C/S], no ``expires_in`` [C], SOAP
  login as simple-salesforce parses it (``sessionId``, ``serverUrl``, ``sf:exceptionCode``)
  [C], INVALID_LOGIN message [S], 2-hour default session [C].
* :mod:`.app`: ``Authorization: Bearer``; 401 INVALID_SESSION_ID body as a JSON array —
  simple-salesforce reads ``result.json()[0]['errorCode']`` on a 401 [C];
  ``Sforce-Limit-Info: api-usage=N/M`` on every REST response but ``/services/data/`` [C];
  403 REQUEST_LIMIT_EXCEEDED "TotalRequests Limit exceeded." [C: code; S: message];
  "ConcurrentPerOrgLongTxn Limit exceeded." [S: mautic/mautic#5006].
* :mod:`.query`, :mod:`.binding`, :mod:`.soql` and :mod:`.soql_lexer`: batch size default/maximum 2000, minimum 200, set by
  ``Sforce-Query-Options: batchSize=`` [C: REST guide "Query Options Header"];
  ``nextRecordsUrl`` root-relative [C: simple-salesforce ``query_more``]; INVALID_FIELD
  "No such column 'X' on entity 'Lead'..." with the ``ERROR at Row:1:Column:N`` prefix
  [S: error texts quoted in public repositories]; MALFORMED_QUERY "unexpected token" [S];
  case-insensitive text comparison [C]; ``!=`` matching nulls [S]; OFFSET ≤ 2000 [S];
  locators expiring after 15 minutes unused [S]; ``queryAll`` returning deleted rows [C].
* :mod:`.rest` and :mod:`.composite`: sObject and sObject Collections shapes [C]; 200
  records per collection call [C]; EXCEEDED_ID_LIMIT text [S]; upsert answering 200 with
  ``created: false`` for an update from API 46.0 [S], 201 with ``created: true`` [C].
* :mod:`.validation`, :mod:`.org` and :mod:`.duplicates`: REQUIRED_FIELD_MISSING, STRING_TOO_LONG,
  INVALID_EMAIL_ADDRESS, INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST, DUPLICATE_VALUE,
  ENTITY_IS_DELETED, INVALID_CROSS_REFERENCE_KEY [S: messages seen in logs and issue
  threads]; the duplicate rule answering DUPLICATES_DETECTED "Use one of these records?"
  with a ``duplicateResult`` [S]; records of one request not compared with each other [U].
* :mod:`.ids`: 15 + 3 character ids, key prefixes 00Q Lead, 003 Contact, 001 Account [C],
  checksum suffix [S: widely reimplemented; checked against a published example].
* :mod:`.schema`: standard field names, types and lengths [S: Object Reference field
  lists]; Status default "Open - Not Contacted" [S]; localised picklist values and the
  ``__c`` fields are this org's own [U].
* :mod:`.tasks`: Task's IsClosed from Status [S]; WhoId/WhatId refused as
  FIELD_INTEGRITY_EXCEPTION (another object's id) [S: jsforce/jsforce#1006],
  INVALID_CROSS_REFERENCE_KEY (no such record) [S] or CANNOT_UPDATE_CONVERTED_LEAD (a
  converted lead) [S].

Knobs (:class:`SalesforceSettings`): ``size``, ``seed``, ``daily_api_limit`` (100,000),
``session_lifetime_s`` (7200), ``duplicate_rule`` (on), ``failures`` (a list of
:class:`FailurePattern`: reject writes whose field matches a pattern with a chosen code, e.g.
UNABLE_TO_LOCK_ROW for the first 2 matching records), ``credentials``, ``marketo_size``
(seed leads with :func:`sandbox.seed.demo_split` so some are Marketo's people too).
Faults come from :mod:`sandbox.core.faults`; ``token_expired`` really ends every session.

Sandbox behaviour (not the vendor's): seeded records are regenerated on demand (a million
leads start at once); seeded ``SystemModstamp`` values spread over the year before
2026-11-01 and every later write stamps "now", strictly increasing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sandbox.salesforce.app import SalesforceEmulator, SalesforceSettings
from sandbox.salesforce.auth import Credentials
from sandbox.salesforce.org import FailurePattern

if TYPE_CHECKING:
    from sandbox.launcher import SandboxOptions

__all__ = [
    "DEFAULT_PORT",
    "Credentials",
    "FailurePattern",
    "SalesforceEmulator",
    "SalesforceSettings",
    "from_options",
]

DEFAULT_PORT = 18443


def from_options(options: SandboxOptions) -> SalesforceEmulator:
    """The emulator the launcher starts: ``options.size`` leads, 40% of them shared with the
    Marketo sandbox of the same size and seed (while that stays under 200,000 leads)."""
    return SalesforceEmulator(SalesforceSettings(size=options.size, seed=options.seed,
                                                 marketo_size=options.size))


def _register() -> None:
    from sandbox.launcher import register_emulator

    register_emulator("salesforce", from_options, tls=True, default_port=DEFAULT_PORT)


_register()
