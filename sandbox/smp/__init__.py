"""An emulator of the Shanon Marketing Platform (SMP) REST API, as far as it is documented.

Serves ``/services/rest/...`` on one loopback port (default 18091, plain HTTP). Source:
the "SHANON MARKETING PLATFORM API GUIDE", https://apidoc.shanon.co.jp/ja/api/ (usage
pages 000-040, visitor.put, staticlist.getVisitor, bulkapi). Tags: [D] documented there,
[A] assumed (the guide is silent or was not readable; a choice made here).

Auth:
    * an API key, a password and a secret key give an authentication token valid 1 hour
      [D]; the token call is ``GET /services/rest/authentication`` with ``api_key`` and an
      ``api_sig`` over ``api_key`` and ``password`` (the password signed, not sent) [A: path
      and parameters], answering ``<Authentication><Token>`` [A];
    * every call carries ``api_key``, ``token`` and ``api_sig``: HMAC-SHA1 with the secret
      key over the ``name+value`` strings of every parameter, sorted ascending [D]; hex [D:
      the samples are 40 hex digits];
    * a bad key, signature or token answers 401 with ``<Error><Code>`` (INVALID_API_KEY,
      INVALID_SIGNATURE, INVALID_TOKEN, TOKEN_EXPIRED) [A: status, shape and codes].
Visitors (リード):
    * ``GET /services/rest/visitor`` searches with ``search_key{n}``/``search_operator{n}``
      (eq, ne, ge, gt, le, lt, like)/``search_value{n}``, ``order``, ``direction``,
      ``limit`` (max 1000) and ``offset``; ``count=1`` adds ``count``/``countAll`` [D];
      ``DateUpdate`` is searchable and shown in JST with ``+09:00`` [D: REFERENCE.md §7];
    * the answer is XML [D]: ``<VisitorList><VisitorData>`` with one element per column
      [A: element names]; columns Id, Name1, Name2, Name1Ka, Name2Ka, CompanyName,
      PrefectureName [D]; Mail, Department, Position, Tel, Zip, DateCreate [A];
    * ``PUT /services/rest/visitor`` (or POST with ``X-HTTP-Method-Override: PUT``) updates
      by ``Id``, or with ``upsert=1`` by ``update_key`` [D]; the body is XML ``VisitorData``
      [D]; several ``VisitorData`` in one ``VisitorDataList`` (at most 100) and the per-record
      ``<Result><VisitorResult>`` answer (Id + Status, or Error Code/Message) are [A];
    * ``POST /services/rest/visitor`` creates (a duplicate Mail is refused) [A: rules].
Limits: none documented; the emulator enforces none unless a fault is injected
(``rate_limit`` → 429 TOO_MANY_REQUESTS with ``Retry-After``, ``token_expired`` → 401
TOKEN_EXPIRED, ``server_error`` → 503) [A].

Sandbox behaviour: visitors are seeded from :func:`sandbox.seed.people` (visitor ``i`` =
person ``i - 1``), all held in memory; every write and every ``edit_record`` moves
``DateUpdate`` when a value changes.

Example:
    >>> emulator = SmpEmulator(SmpConfig(size=100))
    >>> len(emulator.store.visitors)
    100
"""

from __future__ import annotations

from sandbox.launcher import register_emulator
from sandbox.smp.app import SmpConfig, SmpEmulator, sign

__all__ = ["DEFAULT_PORT", "SmpConfig", "SmpEmulator", "sign"]

DEFAULT_PORT = 18091

register_emulator("smp", SmpEmulator.from_options, tls=False, default_port=DEFAULT_PORT)
