"""A local emulator of Zoom's webinar APIs (Server-to-Server OAuth), for renkei's sandbox.

Serves the vendor's paths on one loopback port (default 18093, plain HTTP); clients take
the API root ``{url}/v2`` and the token URL ``{url}/oauth/token``.

Endpoints::

    POST /oauth/token?grant_type=account_credentials&account_id=...   (Basic id:secret)
    GET  /v2/users/{userId}/webinars
    GET  /v2/webinars/{webinarId}
    GET  /v2/webinars/{webinarId}/registrants            status=approved|pending|denied
    GET  /v2/past_webinars/{webinarId|UUID}/participants
    GET  /v2/report/webinars/{webinarId|UUID}/participants

What it relies on. [C] confirmed in a primary source, [S] secondary sources, [U] a choice
where the sources are silent (REFERENCE.md §4 and §8; the ``zoomus`` 1.2.1 source).

Auth:
    * token request with ``Authorization: Basic b64(client_id:client_secret)`` and
      ``grant_type=account_credentials&account_id=`` in the query or a form body (zoomus
      sends a form) [C: zoomus ``util.generate_token``]; answer ``{access_token,
      token_type: "bearer", expires_in: 3600, scope, api_url}``; no refresh token [C];
      refusals ``{"reason", "error"}`` (``invalid_client`` 401, ``invalid_request`` 400) [S];
    * a missing or unknown bearer token → 401 ``{"code": 124, "message": "Invalid access
      token."}``; an expired one → 401 code 124 "Access token is expired." [S: clients must
      key on the 401, as some sources report 201 for expiry].
Paging: ``page_size`` default 30, at most 300 (larger sizes are capped silently [U]);
    ``next_page_token`` is ``""`` on the last page [C: §8] and expires after 15 min [S]; a
    bad or expired token → 400 code 300 [U: the message]; unknown query params are ignored
    (zoomus sends ``id`` as a query param too) [C: §8].
Webinars and participants:
    * the list of a user's webinars includes ended ones here [U: Zoom lists scheduled ones];
    * numeric ids and instance UUIDs both address a webinar; UUIDs that begin with ``/`` are
      double URL-encoded by clients and decoded twice here [C: zoomus ``encode_uuid``];
    * registrants shape as in the v2 OpenAPI spec [C]; participant rows ``{id, user_id,
      name, user_email, join_time, leave_time, duration (s), registrant_id, status}`` on both
      participant endpoints [C: report; U: past_webinars carrying the times]; a rejoin is a
      second row with the same ``id`` [S]; guests may have ``user_email: ""`` [S];
    * a webinar without report data → 404 code 3001 [U: the code for that case].
Limits: per-second limits per category (Pro: Light 30, Medium 20, Heavy 10 [S]); list
    endpoints are Medium, the report is Heavy [U]; 429 ``{"code": 429, "message": "You have
    reached the maximum per-second rate limit..."}`` with ``X-RateLimit-Category``,
    ``-Type: QPS``, ``-Limit``, ``-Remaining`` [S] and ``Retry-After`` seconds [U]; fault
    ``quota`` → ``Daily-limit`` with an ISO-8601 ``Retry-After`` [S].
Webhooks (:mod:`sandbox.zoom.webhooks`): signed ``v0=hex(HMAC(secret, "v0:ts:body"))`` with
    ``x-zm-request-timestamp`` [C: zoom/webhook-sample]; ``endpoint.url_validation`` checked
    against ``hex(HMAC(secret, plainToken))`` [C]; events ``webinar.registration_created``,
    ``webinar.participant_joined``/``_left``, ``webinar.ended`` [S: envelope; U: ``end_time``];
    a leave carries ``leave_time`` but no ``join_time``, a registration a numeric
    ``object.id`` and no ``create_time`` [S: Zoom's generated event types, ``@zoom/rivet``].

Sandbox behaviour (not the vendor's): seeded data in :mod:`sandbox.zoom.data`; extra
inspection endpoints ``POST /_sandbox/zoom/webhook`` ``{url, secret_token}`` (DELETE
forgets it), ``POST /_sandbox/zoom/webhook/validate``, ``POST /_sandbox/zoom/webhook/send``
``{event, webinar, email?}``, ``POST /_sandbox/zoom/release-late?webinar=`` (late report
rows appear) and ``POST /_sandbox/zoom/expire-tokens``.

Example:
    >>> from sandbox.zoom import ZoomEmulator
    >>> sorted(ZoomEmulator().credentials())
    ['account_id', 'client_id', 'client_secret']
"""

from __future__ import annotations

from sandbox.launcher import register_emulator
from sandbox.zoom.app import ZoomConfig, ZoomEmulator
from sandbox.zoom.webhooks import encrypted_token, signature

__all__ = ["DEFAULT_PORT", "ZoomConfig", "ZoomEmulator", "encrypted_token", "signature"]

DEFAULT_PORT = 18093

register_emulator("zoom", ZoomEmulator.from_options, tls=False, default_port=DEFAULT_PORT)
