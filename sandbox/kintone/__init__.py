"""A faithful local emulator of the kintone REST API: four demo apps on one domain.

Plain HTTP on a loopback port (default 18070). pykintone reaches it with
``Application.API_ROOT = "http://127.0.0.1:18070/k/v1/{1}"``; the js-sdk and httpx clients
with the base URL. The contract (apps, field codes, users, credentials) is
notes/kintone-apps.md.

Endpoints (guest-space paths ``/k/guest/{space}/v1/...`` answer the same)::

    GET                 /k/v1/app.json?id=              app summary
    GET                 /k/v1/app/form/fields.json?app= fields with type, label, options, unique
    GET                 /k/v1/records.json              query, fields[], totalCount
    POST+Override:GET   /k/v1/records.json              the same with a JSON body
    POST|PUT|DELETE     /k/v1/records.json              add ≤100, update/upsert ≤100, delete ≤100
    GET|POST|PUT        /k/v1/record.json               one record
    POST|GET|DELETE     /k/v1/records/cursor.json       cursor API
    POST                /k/v1/bulkRequest.json          ≤20 writes, one transaction

Sandbox API (besides sandbox.core's calls, faults, reset, records): ``/_sandbox/webhooks``
(GET, POST ``{"app", "url"}``, DELETE) and ``/_sandbox/usage`` (daily request counts per app,
concurrency and cursors; POST ``{"app", "count"}`` sets a count for quota tests).

What it relies on, with sources. Tags: [C] a primary source (cybozu.dev / kintone.dev docs,
kintone's own js-sdk and cli-kintone — whose e2e features run against real kintone),
[S] secondary (SonicGarden/kintone-emulator's notes of behaviour observed on kintone, vendor
blogs and support pages), [U] a choice where the sources are silent. Details sit in the
modules:

* :mod:`.auth`: CB_AU01 401 without credentials, GAIA_IA02 **400** for an unknown token,
  CB_WA01 401 for a bad password [C: cli-kintone features]; GAIA_DA03 duplicate token [C];
  another app's token 403 GAIA_AP15 [S; C for the English name of the error].
* :mod:`.errors`: ``{"id", "code", "message", "errors"?}`` [C: js-sdk KintoneRestAPIError];
  GAIA_AP01/GAIA_RE01 404 texts [C: cli-kintone; S: texts].
* :mod:`.query`, :mod:`.query_lexer`, :mod:`.query_eval`: operators per field type
  [C: kintone.dev "Query string"], GAIA_IQ11 [C], GAIA_IQ03, CB_VA01 syntax errors,
  GAIA_QU01/QU02, default order ``$id desc``, escapes [S].
* :mod:`.records`: ≤100 per write, all-or-nothing, ``revision`` -1 skips the check, 409
  GAIA_CO02, updateKey/upsert with ``operation`` [C: docs, js-sdk; S: GAIA_CO02 text]; unknown
  field codes ignored [C: cybozu.dev Add Record]; unique/options/number messages [S].
* :mod:`.values`: value shapes per type [C: js-sdk field types]; NUMBER normalisation,
  minute-precision DATETIME, subtable row merge by id [S].
* :mod:`.cursors`: size ≤500 default 100, 10 per domain, 10 minutes idle, freed when read
  [C: cybozu.dev]; GAIA_TM12 429 [S]; GAIA_CU01 [S].
* :mod:`.limits`: 100 concurrent → 429 GAIA_TO04 with X-ConcurrencyLimit-* [S]; 10,000
  requests per app per day, a notice not a cut, reset 09:00 JST [S].
* :mod:`.webhooks`: notification JSON, one per record, no signature [S].
* :mod:`.app`: ``X-HTTP-Method-Override: GET`` [C: pykintone, js-sdk]; Host ignored.

Sandbox behaviour (not the vendor's): リードマスタ is seeded with every fifth seed person
(:mod:`.seeding`); the query errors add a position hint; webhook URLs are registered through
``/_sandbox/webhooks``; the concurrency limit is ``KintoneSettings.concurrency_limit``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sandbox.kintone.app import KintoneEmulator, KintoneSettings
from sandbox.kintone.auth import API_TOKENS, LOGIN, PASSWORD
from sandbox.kintone.schema import APPS, USERS

if TYPE_CHECKING:
    from sandbox.launcher import SandboxOptions

__all__ = [
    "API_TOKENS",
    "APPS",
    "DEFAULT_PORT",
    "LOGIN",
    "PASSWORD",
    "USERS",
    "KintoneEmulator",
    "KintoneSettings",
    "from_options",
]

DEFAULT_PORT = 18070


def from_options(options: SandboxOptions) -> KintoneEmulator:
    """The emulator the launcher starts, seeded from ``options.size`` and ``options.seed``."""
    return KintoneEmulator(KintoneSettings(size=options.size, seed=options.seed))


def _register() -> None:
    from sandbox.launcher import register_emulator

    register_emulator("kintone", from_options, tls=False, default_port=DEFAULT_PORT)


_register()
