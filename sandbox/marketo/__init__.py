"""A faithful local emulator of the Adobe Marketo Engage REST API (lead database).

Serves the vendor's real paths on one loopback port (default 18081, plain HTTP): a client
points at it by host alone, e.g. ``mc.host = "http://127.0.0.1:18081"`` for
marketorestpython (REFERENCE.md section 0).

Endpoints::

    GET|POST /identity/oauth/token                 client credentials (query or form)
    GET      /rest/v1/leads/describe.json          Describe Leads
    GET      /rest/v1/leads/describe2.json         Describe Leads 2 (searchable fields)
    GET      /rest/v1/leads.json                   Get Leads by Filter Type
    POST     /rest/v1/leads.json                   Sync Leads (JSON), or a query with _method=GET
    POST     /rest/v1/leads/delete.json            Delete Leads
    GET      /rest/v1/lead/{id}.json               Get Lead by Id
    GET      /rest/v1/activities/types.json        Activity types (12, 13, 37)
    GET      /rest/v1/activities/pagingtoken.json  Date-based paging token
    GET      /rest/v1/activities/leadchanges.json  Get Lead Changes
    GET      /rest/v1/activities/deletedleads.json Get Deleted Leads
    GET      /rest/v1/activities.json              Get Lead Activities

Every GET also answers ``POST`` with ``_method=GET`` in the query string or the form body.

What it relies on, with sources. Primary source: ``AdobeDocs/marketo-developer.en``
``help/rest-api/*.md`` (= experienceleague.adobe.com/en/docs/marketo-developer/marketo/rest).
Tags: [C] confirmed in that source or in official client code, [S] secondary sources only,
[U] the docs are silent and this is a choice.

Auth (``authentication.md``, ``error-codes.md``):
    * token by GET or POST with ``grant_type=client_credentials``; 3600 s lifetime; asking
      again before expiry returns the same token with its remaining lifespan; 401 on bad
      credentials [C]; 401 body ``{"error": "invalid_client", ...}`` [S];
    * ``Authorization: Bearer`` header, and the ``access_token`` parameter (being removed in
      2026) [C]; 601 invalid token, 602 expired token [C]; a missing token answers 601 [U]
      (one integrator lists a "600 Empty access token" [S]).
Envelope (``error-codes.md``):
    * HTTP 200, ``success`` always present, ``errors: [{"code": "606", "message": ...}]``
      with quoted codes; ``requestId`` ``hex#hex`` [C];
    * HTTP 413 over 1 MB of payload, 414 over 8 KB of URI [C]; 610 unknown resource, 605
      method not supported, 609 invalid JSON, 612 invalid content type [C];
    * 701 "%s cannot be blank" for a missing required parameter, 704 invalid date [C: codes;
      U: which parameter errors use them].
Limits (``rest-api.md``, ``marketo-integration-best-practices.md``, ``error-codes.md``):
    * 100 calls / 20 s → 606; 10 concurrent → 615; daily quota (50,000 usual) → 607,
      reset 12:00 AM CST; calls failing with 601/602/604/605/608/611 do not count [C];
    * refused calls still count against the quota, not against the rate window [U].
Leads (``leads.md``, ``lead-database.md``, ``list-of-standard-fields.md``):
    * standard REST field names and labels [C]; text length 255 [C: field examples];
      custom fields (kana, lifecycle, hub id, opt-in) are this subscription's own;
    * default fields id, email, updatedAt, createdAt, firstName, lastName; a requested
      field left out of a record means null, so nulls are not sent [C];
    * ``filterValues`` up to 300; batch size 300 default and maximum; ``moreResult`` and
      ``nextPageToken`` when more remain; more than 1,000 matches → 1003 "Too many results
      match the filter" [C]; unsupported ``filterType`` / ``lookupField`` → 1011 [C];
    * Sync Leads: actions createOnly / updateOnly / createOrUpdate (default) /
      createDuplicate, ``lookupField`` default email, ``id`` only with updateOnly, 300
      records, results in input order with created / updated / skipped and reasons 1004,
      1005, 1006, 1007 [C]; unknown keys (marketorestpython's ``'asyncProcessing '``) are
      ignored [C: REFERENCE.md];
    * null and "" both store null [C]; email must be ASCII [C], an invalid address →
      1003 "Invalid email address" [U]; too-long text → 1003, wrong type → 1001 [U];
    * a write that changes nothing answers ``updated`` but leaves ``updatedAt`` and the
      activity log alone [U].
Activities (``activities.md``, ``paging-tokens.md``):
    * types 12 New Lead, 13 Change Data Value, 37 Delete Lead [C]; ``sinceDatetime`` in
      ISO-8601 with ``Z`` or an offset [C]; list endpoints always return ``nextPageToken``
      and ``moreResult``; a page may be short or empty while more remain [C];
    * Get Lead Changes: only New Lead and Data Value Change activities, ``fields``
      required, items carry ``fields: [{id, name, newValue, oldValue}]`` [C]; ``result``
      is left out of an empty page [S: marketorestpython tests ``'result' in result``];
    * dates ``2024-01-01T00:00:00Z`` without milliseconds [C: marketorestpython parses
      ``%Y-%m-%dT%H:%M:%SZ``]; New Lead attribute ``Source Type`` [S].

Sandbox behaviour (not the vendor's):
    * leads are seeded from :func:`sandbox.seed.people` (lead ``i`` = person ``i - 1``),
      built on demand; every seeded lead has a New Lead activity at its ``createdAt``;
    * every API write and every :meth:`MarketoEmulator.edit_record` (an edit "in the UI")
      moves ``updatedAt`` and logs one Change Data Value activity per changed field;
    * emails matching a configured rule are skipped with its code (default:
      ``@reject.invalid`` → 1003);
    * faults: ``rate_limit`` → 606, ``quota`` → 607, ``concurrency`` → 615,
      ``token_expired`` → 602, ``server_error`` → HTTP 503 (or ``rule.status``), or HTTP 200
      with ``server_error_code`` (604/608/611/713) when configured or ``rule.status == 200``.

Example:
    >>> from sandbox.marketo import MarketoConfig, MarketoEmulator
    >>> emulator = MarketoEmulator(MarketoConfig(size=100, token_lifetime_s=5))
    >>> emulator.store.count
    100
"""

from __future__ import annotations

from sandbox.launcher import register_emulator
from sandbox.marketo.app import MarketoEmulator
from sandbox.marketo.config import MarketoConfig
from sandbox.marketo.limits import LimitConfig
from sandbox.marketo.store import RecordRule

__all__ = ["DEFAULT_PORT", "LimitConfig", "MarketoConfig", "MarketoEmulator", "RecordRule"]

DEFAULT_PORT = 18081

register_emulator("marketo", MarketoEmulator.from_options, tls=False, default_port=DEFAULT_PORT)
