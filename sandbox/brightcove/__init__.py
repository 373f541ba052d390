"""A local emulator of Brightcove Video Cloud's OAuth, CMS and Analytics APIs, for renkei.

Serves the three vendor hosts' paths on one loopback port (default 18095, plain HTTP);
a client points its OAuth, CMS and Analytics base URLs at it.

Endpoints::

    POST /v4/access_token                       OAuth client credentials
    GET  /v1/accounts/{account_id}/videos       CMS API: limit (1..100, default 20), offset, sort
    GET  /v1/accounts/{account_id}/counts/videos
    GET  /v1/data                               Analytics API report

What it relies on. [C] confirmed in a primary source, [S] secondary, [U] the sources are
silent and this is a choice. Primary sources: apis.support.brightcove.com ("Getting Access
Tokens", the Analytics "Overview: Dimensions, Fields, and Parameters" page and the
``video`` and ``viewer`` dimension guides), and BCL-API-References (``analytics-api/v1``,
``cms-api/v1``) via REFERENCE.md §5. **Caveat:** that reference repository is from 2017;
where it and today's dimension guides differ, the guides win, and anything only in the
2017 text may have changed since.

OAuth:
    * ``POST /v4/access_token``, ``Authorization: Basic b64(client_id:client_secret)``,
      form body (or query) ``grant_type=client_credentials`` [C];
    * answer ``{access_token, token_type: "Bearer", expires_in: 300}``; tokens live five
      minutes [C], the figure 300 [S]; lifetimes run on the emulator clock
      (:class:`EmulatorClock`), so tests expire tokens without waiting;
    * bad credentials → 401, a missing grant type → 400, both as error arrays with codes
      ``invalid_client`` / ``unsupported_grant_type`` [U: shape and codes].
Errors: every API error is a JSON array ``[{"error_code", "message", "request_id"}]`` [C];
    401 ``UNAUTHORIZED`` "Permission denied." for a missing or expired token [C]; 400
    ``BAD_REQUEST`` and ``UNSUPPORTED_FIELD_COMBINATION_ERROR`` [C]; 404
    ``RESOURCE_NOT_FOUND``, 405 ``METHOD_NOT_ALLOWED`` [C]; 403 ``NOT_AVAILABLE`` for an
    account the credentials cannot read [C: code; U: that this is when it is sent];
    faults: 429 ``TOO_MANY_REQUESTS`` [C] and 500 ``SERVER_ERROR`` [C] with
    ``Retry-After`` when the rule sets one [U].
CMS: video objects ``{id, account_id, name, reference_id, state, duration (ms), tags,
    custom_fields, created_at, updated_at}`` [C: names; U: the full list]; ``limit`` default
    20, at most 100 [U]; a plain JSON array [C].
Analytics ``/v1/data`` [C unless marked]:
    * ``accounts`` (required), ``dimensions`` (here ``video``, ``viewer``, ``date`` and their
      combinations [U: that viewer combines with both]), ``fields`` (default
      ``video_view``; a field the dimensions do not support → 400
      ``UNSUPPORTED_FIELD_COMBINATION_ERROR``), ``limit`` (default 10; ``all`` [U]),
      ``offset`` (default 0), ``sort`` (a returned field, ``-`` for descending; default
      ``-video_view`` [U: direction]), ``where=video==ID[,ID];viewer==ID`` (semicolon-
      separated ``dimension==values``), ``from``/``to`` as ``yyyy-mm-dd``, epoch ms,
      ``alltime``/``now`` or relative (``-30d``); defaults 30 days ago and now; a ``to`` date
      covers that whole day [U]; ``format`` json only here;
    * the answer ``{account, item_count, items, summary}``; items carry the dimension keys
      [U] and the requested fields; ``video_percent_viewed`` sums the percent of each view
      (over 100 for rewatches) [C: sample answer 378.88];
    * viewer ids are whatever the player passes (here the person's e-mail, a Marketo
      cookie id or an analytics-made id) [C: viewer dimension guide];
    * late data: a session's view counts at once, its seconds settle over
      ``settle_days`` (default 2) days [C: realtime vs reconciled data; U: the schedule].

Sandbox behaviour (not the vendor's): eight Japanese on-demand seminars
(「オンデマンド: 生産管理入門」...) and ~150 viewing sessions over the 21 days up to
``today``, viewers drawn from :mod:`sandbox.seed` people (so their e-mails match the Marketo
and Salesforce emulators), see :mod:`sandbox.brightcove.seeding`; inspection objects
``videos`` and ``views``; :meth:`BrightcoveEmulator.add_view` adds a session.

Example:
    >>> from datetime import date
    >>> emu = BrightcoveEmulator(BrightcoveConfig(size=100, today=date(2026, 11, 20)))
    >>> emu.credentials()["account_id"]
    '6415818926001'
"""

from __future__ import annotations

from sandbox.brightcove.app import BrightcoveEmulator
from sandbox.brightcove.config import BrightcoveConfig, EmulatorClock
from sandbox.launcher import register_emulator

__all__ = ["DEFAULT_PORT", "BrightcoveConfig", "BrightcoveEmulator", "EmulatorClock"]

DEFAULT_PORT = 18095

register_emulator("brightcove", BrightcoveEmulator.from_options, tls=False,
                  default_port=DEFAULT_PORT)
