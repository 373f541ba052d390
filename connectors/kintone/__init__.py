"""kintone (Cybozu): every configured app is a stream, over the REST API with httpx.

Modules: :mod:`.api` (the REST calls, auth header, per-app budget inside the domain's shared
limiter), :mod:`.errors` (kintone's codes in renkei's error vocabulary), :mod:`.schema`
(form fields → record schema; records flattened for mappings), :mod:`.encode` (values →
kintone's write format, checked first), :mod:`.reading` (incremental by 更新日時: cursor for
a full read, seek pages after), :mod:`.writing` (bulk writes of 100, all-or-nothing calls
split per record on CB_VA01 / GAIA_CO02), :mod:`.connector`.

Config keys: ``base_url``, ``apps`` (stream → app id), ``api_token`` (secret; several
comma-joined) or ``login`` + ``password`` (secret), and optionally ``update_keys``,
``cursor_fields``, ``daily_quota``, ``concurrency``, ``timeout_s``, ``retry_attempts``,
``retry_base_delay_s``, ``concurrency_wait_s``, ``page_size``, ``overlap_s``,
``cursor_for_full_read``.

Register it with the entry point ``kintone = "connectors.kintone:KintoneConnector"``.

Example:
    >>> from connectors.kintone import KintoneConnector
    >>> KintoneConnector.name
    'kintone'
"""

from connectors.kintone.connector import KintoneConnector
from connectors.kintone.errors import KintoneApiError, KintoneClassifier

__all__ = ["KintoneApiError", "KintoneClassifier", "KintoneConnector"]
