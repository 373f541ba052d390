"""Marketo Engage connector: the ``leads`` stream over the REST API.

Public API::

    MarketoConnector     the connector (entry point ``marketo``)
    MarketoClassifier    how Marketo's answers map onto the SDK's errors

Config keys: ``base_url``, ``client_id``, ``client_secret`` (secret), and optionally
``munchkin_id``, ``daily_quota``, ``rate_limit_calls``, ``rate_limit_window_s``,
``concurrency``, ``timeout_s``, ``page_size``, ``retry_attempts``, ``fields``,
``watch_fields``, ``start_datetime``, ``include_deleted``, ``hub_id_field``.

Example:
    >>> from connectors.marketo import MarketoConnector
    >>> MarketoConnector.name
    'marketo'
"""

from connectors.marketo.connector import MarketoConnector
from connectors.marketo.errors import MarketoClassifier

__all__ = ["MarketoClassifier", "MarketoConnector"]
