"""Zoom connector: webinar registrations and attendance as activities on the person.

Public API::

    ZoomConnector    the connector (entry point ``zoom``), read-only; its webhook-fed
                     ``webinar_events`` stream takes Zoom's events (``webhook_records``)
    ZoomApi          the paged Zoom calls it makes

Config keys: ``account_id``, ``client_id``, ``client_secret`` (secret), and optionally
``base_url``, ``oauth_url``, ``user_id`` (``me``), ``lookback_days``, ``page_size``,
``timeout_s``, ``retry_attempts``, ``calls_per_second``.

Example:
    >>> from connectors.zoom import ZoomConnector
    >>> ZoomConnector.name
    'zoom'
"""

from connectors.zoom.api import ZoomApi
from connectors.zoom.connector import ZoomConnector

__all__ = ["ZoomApi", "ZoomConnector"]
