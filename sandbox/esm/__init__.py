"""An emulator of Softbrain eセールスマネージャー's esm API, as far as it is documented.

Serves ``/esm-api/{tenant}/pub/esms/v1/...`` and ``/sheet-fs/{tenant}/pub/esms/v1/...`` on
one loopback port (default 18092, plain HTTP). Source: "esm API",
https://esm-developers.softbrain.com/esm-api/ (common_spec, sheet/customer, sheet/product,
sheet/appextender, other/list). Tags: [D] documented there, [A] assumed.

Common:
    * JSON over HTTPS, UTF-8 [D] (the sandbox serves plain HTTP);
    * ``Authorization: Bearer <API token or access token>`` and a required
      ``X-ESM-TIMEZONE`` header [D]; a bad token answers 401 ``{"error": {"code":
      "UNAUTHORIZED"}}`` and a missing zone 400 MISSING_TIMEZONE [A: statuses and shape];
      zones Asia/Tokyo and UTC only [A];
    * dates ``yyyy/mm/dd``, datetimes ``yyyy/mm/dd hh:MM[:ss]`` [D], in the caller's zone [A].
Sheets:
    * ``GET /sheet/{sheet}/{id}``, ``POST /sheet/{sheet}``, ``PUT /sheet/{sheet}/{id}`` [D];
      one record per call (no batch endpoint is documented) [D];
    * bodies use dotted item keys ``customers.customer.customer_name`` [D]; the businesscard
      keys ``business_cards.business_card.<item>`` and the item names (last_name, email,
      customer_name, ...) are [A]; ``updated_at``/``created_at`` items are [A];
    * POST answers 201 ``{"id": "..."}``, PUT 200 ``{"id": "..."}`` [A]; a bad item 400
      ``{"error": {"code", "message", "item"}}`` [A].
Search:
    * a Search API returns record ids [D]; its path ``POST /search/{sheet}``, the body
      ``{"conditions": [{"item", "operator", "value"}], "page", "page_size" (max 100),
      "with_items"}``, the answer ``{"total", "page", "page_size", "ids", "records"}`` and
      the order (oldest ``updated_at`` first) are all [A]. ``with_items`` (records with their
      values, so a read is not one GET per id) is the largest assumption here.
Limits: none documented; faults give 429 TOO_MANY_REQUESTS with ``Retry-After`` [A].

Sandbox behaviour: a tenth as many customers as people (from :func:`sandbox.seed.companies`)
and every fourth seeded person as a business card (sales know some of marketing's leads);
activities start empty.

Example:
    >>> emulator = EsmEmulator(EsmConfig(size=100))
    >>> len(emulator.store.rows["businesscard"])
    25
"""

from __future__ import annotations

from sandbox.esm.app import EsmConfig, EsmEmulator
from sandbox.launcher import register_emulator

__all__ = ["DEFAULT_PORT", "EsmConfig", "EsmEmulator"]

DEFAULT_PORT = 18092

register_emulator("esm", EsmEmulator.from_options, tls=False, default_port=DEFAULT_PORT)
