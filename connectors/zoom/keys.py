"""Source ids of Zoom activities: one place, so the poll and the webhooks agree on them.

An attendance is ``zoom:{webinar uuid}:{who}`` and a registration
``zoom:{webinar uuid}:registered:{who}``, where *who* is the lower-cased e-mail, else the
participant (or registrant) id: guests may join without an e-mail.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["attendance_id", "person_key", "registration_id"]


def person_key(row: Mapping[str, Any]) -> str:
    """The person part of an attendance id: the e-mail, else the participant id (guests).

    Works on a report row (``user_email``) and on a webhook's participant (``email``), whose
    ids carry the same meaning.

    Example:
        >>> person_key({"user_email": " Tanaka@Example.JP "}), person_key({"id": "p1"})
        ('tanaka@example.jp', 'participant:p1')
    """
    email = str(row.get("user_email") or row.get("email") or "").strip().lower()
    if email:
        return email
    for key in ("id", "participant_user_id", "user_id"):
        if row.get(key):
            return f"participant:{row[key]}"
    return f"name:{row.get('name') or row.get('user_name') or 'unknown'}"


def attendance_id(webinar_uuid: str, who: str) -> str:
    """The source id of one person's attendance of one webinar instance."""
    return f"zoom:{webinar_uuid}:{who}"


def registration_id(webinar_uuid: str, email: str | None, registrant_id: object) -> str:
    """The source id of one registration (by e-mail, else the registrant id)."""
    who = (email or "").strip().lower() or f"registrant:{registrant_id}"
    return f"zoom:{webinar_uuid}:registered:{who}"
