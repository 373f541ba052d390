"""Incoming webhooks: verification per vendor, the receiver, and the inbox processor.

Prefect OSS has no webhook endpoint, so renkei brings its own (``renkei serve``). See
:mod:`renkei.webhooks.receiver` for what is promised to a sender and
:mod:`renkei.webhooks.process` for how the inbox reaches the hub.
"""

from renkei.webhooks.process import InboxReport, process_inbox, routes
from renkei.webhooks.receiver import MAX_BODY, create_receiver
from renkei.webhooks.sources import (
    IncomingRequest,
    Refusal,
    WebhookConfigError,
    WebhookSource,
    make_source,
)

__all__ = ["MAX_BODY", "InboxReport", "IncomingRequest", "Refusal", "WebhookConfigError",
           "WebhookSource", "create_receiver", "make_source", "process_inbox", "routes"]
