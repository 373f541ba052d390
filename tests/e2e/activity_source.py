"""An in-memory activity source for the activities-out tests, shaped like the Zoom and
Brightcove streams (one record per activity, keyed by its source id), so a test controls
re-polls and replays; the write side of each test is a real connector over HTTP."""

from __future__ import annotations

import textwrap
import uuid
from pathlib import Path

from connectors.memory import MemoryDataset, MemoryStream

SOURCE_SCHEMA = {"type": "object", "properties": {
    "id": {"type": "string"}, "updated_at": {"type": "string"},
    **{k: {"type": ["string", "null"]} for k in ("source_id", "kind", "channel", "at", "email",
                                                  "title")},
    "minutes": {"type": ["number", "null"]}, "percent": {"type": ["number", "null"]},
    "extra": {"type": ["object", "null"]}}}

SOURCE_MAPPING = textwrap.dedent("""\
    name: events-activities
    connection: events
    stream: activities
    entity: activity
    system_modified: updated_at
    match:
      - {name: source_id, fields: [source_id], normalize: none}
    conflict:
      default: newest_wins
    fields:
      source_id: {system: source_id, direction: in}
      type: {system: kind, direction: in}
      channel: {system: channel, direction: in}
      occurred_at: {system: at, direction: in, transform: [datetime]}
      email: {system: email, direction: in, transform: [trim, lower]}
      subject: {system: title, direction: in}
      minutes: {system: minutes, direction: in}
      percent: {system: percent, direction: in}
      details: {system: extra, direction: in}
    """)


def activity_source(maps: Path) -> tuple[str, MemoryStream]:
    """A fresh memory dataset with the ``activities`` stream, and its mapping
    (``events-activities``, connection ``events``) written into the ``maps`` directory.

    Returns:
        The dataset's name (the ``events`` connection's ``dataset``) and the stream.
    """
    name = f"events-{uuid.uuid4().hex[:8]}"
    source = MemoryDataset.create(name).add_stream("activities", SOURCE_SCHEMA, page_size=500)
    maps.mkdir(exist_ok=True)
    (maps / "events-activities.yaml").write_text(SOURCE_MAPPING, encoding="utf-8")
    return name, source
