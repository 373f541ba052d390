"""A fixed stream catalogue for the mapping tests (what a connector registry would say)."""

from __future__ import annotations

from connectors.sdk.types import StreamSpec

_STRING = {"type": ["string", "null"]}

MARKETO_LEADS = StreamSpec(
    name="leads",
    schema={
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            "email": _STRING,
            "firstName": _STRING,
            "lastName": _STRING,
            "lastNameKana": _STRING,
            "company": _STRING,
            "phone": _STRING,
            "mobile": _STRING,
            "title": _STRING,
            "state": _STRING,
            "tags": _STRING,
            "unsub": {"type": ["boolean", "null"]},
            "numberOfEmployees": {"type": ["integer", "null"]},
            "leadSource": {"type": ["string", "null"], "enum": ["セミナー", "展示会", "資料請求"]},
            "renkeiLifecycleStage": _STRING,
            "leadScore": {"type": ["integer", "null"]},
            "optIn": _STRING,
            "owner": {"type": ["object", "null"]},
            "createdAt": _STRING,
            "updatedAt": _STRING,
        },
    },
    cursor_field="updatedAt",
    writable_fields=frozenset({
        "email", "firstName", "lastName", "lastNameKana", "company", "phone", "mobile",
        "title", "state", "tags", "unsub", "numberOfEmployees", "leadSource",
        "renkeiLifecycleStage", "optIn",
    }),
)

CATALOGUE = {("marketo", "leads"): MARKETO_LEADS}


def streams(connection: str, stream: str) -> StreamSpec | None:
    """The StreamLookup the tests pass to the validator."""
    return CATALOGUE.get((connection, stream))
