"""The little XML the SMP emulator reads and writes (flat records in a list element)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping
from typing import Any

from starlette.responses import Response

__all__ = ["XmlError", "error_response", "list_response", "parse_records"]


class XmlError(ValueError):
    """The request body is not the XML the API takes."""


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def list_response(root: str, item: str, records: Iterable[Mapping[str, Any]],
                  attrs: Mapping[str, Any] | None = None, status: int = 200) -> Response:
    """``<root attrs><item><Field>value</Field>...</item>...</root>``."""
    element = ET.Element(root, {k: _text(v) for k, v in (attrs or {}).items()})
    for record in records:
        child = ET.SubElement(element, item)
        for key, value in record.items():
            if isinstance(value, Mapping):
                sub = ET.SubElement(child, key)
                for k, v in value.items():
                    ET.SubElement(sub, k).text = _text(v)
            else:
                ET.SubElement(child, key).text = _text(value)
    body = b'<?xml version="1.0" encoding="UTF-8"?>' + ET.tostring(element, encoding="utf-8",
                                                                    xml_declaration=False)
    return Response(body, status_code=status, media_type="text/xml; charset=UTF-8")


def error_response(status: int, code: str, message: str,
                   headers: Mapping[str, str] | None = None) -> Response:
    """``<Error><Code>..</Code><Message>..</Message></Error>`` (the shape is assumed)."""
    element = ET.Element("Error")
    ET.SubElement(element, "Code").text = code
    ET.SubElement(element, "Message").text = message
    return Response(b'<?xml version="1.0" encoding="UTF-8"?>' + ET.tostring(element),
                    status_code=status, headers=dict(headers or {}),
                    media_type="text/xml; charset=UTF-8")


def parse_records(body: bytes, item: str) -> list[dict[str, str | None]]:
    """The ``item`` elements of a request body, as flat dicts.

    Raises:
        XmlError: not well-formed, a DTD, or no ``item`` element.
    """
    if b"<!DOCTYPE" in body or b"<!ENTITY" in body:
        raise XmlError("DTDs are not accepted")
    try:
        root = ET.fromstring(body)
    except ET.ParseError as exc:
        raise XmlError(f"malformed XML: {exc}") from None
    items = [root] if root.tag == item else root.findall(item)
    if not items:
        raise XmlError(f"no <{item}> element in the request")
    return [{child.tag: child.text for child in element} for element in items]
