"""A faithful local emulator of HubSpot's CRM v3 API (private app), for renkei's sandbox.

Serves the vendor's real paths on one loopback port (default 18084, plain HTTP: the Python
client takes any ``host``, ``HubSpot(access_token=..., host="http://127.0.0.1:18084")``
[C: REFERENCE.md §0, ``hubspot/discovery/discovery_base.py``]).

Endpoints::

    GET|POST         /crm/v3/objects/{type}                  list (after, limit <= 100) / create
    GET|PATCH|DELETE /crm/v3/objects/{type}/{id}             read (?idProperty=) / update / archive
    POST             /crm/v3/objects/{type}/search           filterGroups, sorts, after, limit <= 200
    POST             /crm/v3/objects/{type}/batch/{op}       read, create, update, upsert, archive
    GET              /crm/v3/properties/{type}               property definitions
    PUT              /crm/v4/objects/{type}/{id}/associations/default/{to}/{toId}
    GET              /crm/v4/objects/{type}/{id}/associations/{to}
    POST             /crm/v4/associations/{type}/{to}/batch/read | batch/associate/default

Object types: contacts, companies, deals and the engagement objects calls, meetings, notes,
emails (the v3 objects of the public spec; engagement ids share one sequence).

What it relies on, with sources. [C] confirmed in a primary source (HubSpot docs or
changelog, the ``hubspot-api-client`` 12.0.0 source, the public spec collection via
REFERENCE.md §6), [S] secondary sources (integrators' code and issue threads), [U] the
sources are silent and this is a choice.

Auth:
    * private-app token as ``Authorization: Bearer pat-...``; it never expires [C: spec
      securitySchemes, client ``Configuration.auth_settings``];
    * missing or wrong token → 401 ``{"status": "error", "message": "Authentication
      credentials not found. This API supports OAuth 2.0 authentication ...",
      "correlationId", "category": "INVALID_AUTHENTICATION"}`` with
      ``X-HubSpot-Auth-Failure`` [S: hubspot-api-python #211, hubspot-api-nodejs #432,
      hubspot-api-python #129 headers]; fault ``token_expired`` → 401
      ``EXPIRED_AUTHENTICATION`` [S].
Objects and paging:
    * ``SimplePublicObject`` = ``{id, properties, createdAt, updatedAt, archived}``; values
      are strings; requested but unset properties are ``null``; default properties per type
      when none are named [C: spec, client models; defaults from the search guide];
    * list: ``properties``/``associations`` as repeated params [C: client
      ``collection_formats['properties'] = 'multi'``], comma lists too [U]; ``limit`` <= 100;
      ``paging.next.after`` absent on the last page [C: spec ``ForwardPaging``];
    * ``createdate``/``hs_createdate`` and ``lastmodifieddate``/``hs_lastmodifieddate`` on
      every type, kept by the portal, read-only [C: property names; U: both on every type].
Search (:mod:`sandbox.hubspot.search`):
    * operators EQ, NEQ, LT, LTE, GT, GTE, BETWEEN, IN, NOT_IN, HAS_PROPERTY,
      NOT_HAS_PROPERTY, CONTAINS_TOKEN, NOT_CONTAINS_TOKEN [C: spec, client ``Filter``];
      5 groups / 10 per group / 25 filters [C: changelog 2024-08]; ``limit`` <= 200 [S];
      datetime values as epoch ms or ISO-8601 [U];
    * at most 10,000 results per query; ``after`` >= 10,000 → 400 [S: activepieces #10160,
      hubspot-api-nodejs #132, estuary/connectors #1906]; ``total`` counts every match [U].
Batch (:mod:`sandbox.hubspot.endpoints`):
    * at most 100 inputs [S]; read/update/upsert answer 200, or 207 with ``errors`` of
      ``{status, category, message, context: {ids}, errors, links}`` and ``numErrors``
      [C: spec ``BatchResponse...WithErrors``, client ``StandardError``];
    * upsert by a unique ``idProperty`` (``email``); results carry ``new``; duplicate ids in
      one batch → 400 [C: spec; S: the 400];
    * create is all or nothing: a bad value → 400 ``VALIDATION_ERROR``; a taken email → 409
      ``CONFLICT`` "Contact already exists. Existing ID: N" [S: REFERENCE.md §6; U: that a
      batch create answers it for the whole batch].
Limits (:mod:`sandbox.hubspot.limits`): 100 calls per rolling 10 s, 250,000 a day
    (Free/Starter private app) [C: changelog]; 429 ``{"status", "message": "You have
    reached your ten_secondly_rolling limit.", "errorType": "RATE_LIMIT", "correlationId",
    "policyName": "TEN_SECONDLY_ROLLING", "requestId"}`` [S: mk-node-hubspot #84/#89 with
    today's policy name] plus ``category`` [U]; ``X-HubSpot-RateLimit-*`` headers [C/S];
    ``Retry-After`` [U].
Associations v4: type ids 3 deal→contact, 4 contact→deal, 194 call→contact, 200
    meeting→contact, 202 note→contact [U: REFERENCE.md §6]; shapes [C: spec].

Sandbox behaviour (not the vendor's): seeded from :mod:`sandbox.seed` (contact ``i`` = person
``i``, companies by domain, a deal and an engagement for every tenth contact); faults from
:mod:`sandbox.core` (``rate_limit``/``concurrency`` → the 429 above, ``quota`` → 429
``DAILY``, ``server_error`` → 502 JSON); :meth:`HubSpotEmulator.touch` gives many records one
modified time, for tests of search windowing.

Example:
    >>> from sandbox.hubspot import HubSpotConfig, HubSpotEmulator
    >>> HubSpotEmulator(HubSpotConfig(size=100)).credentials()["access_token"].startswith("pat-")
    True
"""

from __future__ import annotations

from sandbox.hubspot.app import HubSpotEmulator
from sandbox.hubspot.config import HubSpotConfig
from sandbox.launcher import register_emulator

__all__ = ["DEFAULT_PORT", "HubSpotConfig", "HubSpotEmulator"]

DEFAULT_PORT = 18084

register_emulator("hubspot", HubSpotEmulator.from_options, tls=False, default_port=DEFAULT_PORT)
