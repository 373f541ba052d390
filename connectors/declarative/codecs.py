"""Decoders (response body → data) and body encoders (data → request body).

Decoders are components (``decoder: {type: json}``, ``{type: xml, force_list: [...]}`` or a
custom :class:`Decoder`). XML becomes plain data the jmespath selectors can read: an element
with children is an object, repeated children (and those named in ``force_list``) are lists,
attributes are ``@name`` keys, a leaf is its text.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from connectors.declarative.registry import BuildContext, base_class, component

__all__ = ["DecodeError", "Decoder", "JsonDecoder", "XmlDecoder", "encode_body"]


class DecodeError(ValueError):
    """The body is not what the decoder reads (cut off, HTML error page, ...)."""


class Decoder:
    """Base of decoders; custom ones are built as ``Class(options, context)``."""

    media_type = "application/json"

    def __init__(self, options: Mapping[str, Any] | None = None,
                 context: BuildContext | None = None) -> None:
        self.options = dict(options or {})

    def decode(self, content: bytes) -> Any:
        """The body as plain data; ``None`` for an empty body.

        Raises:
            DecodeError: the body cannot be read.
        """
        raise NotImplementedError


base_class("decoder", Decoder)


class JsonDecoder(Decoder):
    """JSON bodies."""

    def decode(self, content: bytes) -> Any:
        if not content.strip():
            return None
        try:
            return json.loads(content)
        except ValueError as exc:
            raise DecodeError(f"not valid JSON ({exc.__class__.__name__})") from None


class XmlDecoder(Decoder):
    """XML bodies (no DTDs or entities: the parser refuses them)."""

    media_type = "application/xml"

    def __init__(self, options: Mapping[str, Any] | None = None,
                 context: BuildContext | None = None) -> None:
        super().__init__(options, context)
        self.force_list = frozenset(self.options.get("force_list", ()))

    def decode(self, content: bytes) -> Any:
        if not content.strip():
            return None
        if b"<!DOCTYPE" in content[:2048] or b"<!ENTITY" in content[:4096]:
            raise DecodeError("XML with a DTD or entities is refused")
        try:
            root = ET.fromstring(content)
        except ET.ParseError as exc:
            raise DecodeError(f"not well-formed XML ({exc})") from None
        return {root.tag: self._element(root)}

    def _element(self, element: ET.Element) -> Any:
        children = list(element)
        if not children and not element.attrib:
            return element.text.strip() if element.text and element.text.strip() else (
                None if element.text is None else element.text)
        out: dict[str, Any] = {f"@{k}": v for k, v in element.attrib.items()}
        lists: set[str] = set()
        for child in children:
            value = self._element(child)
            if child.tag in lists:
                out[child.tag].append(value)
            elif child.tag in out or child.tag in self.force_list:
                out[child.tag] = [out[child.tag], value] if child.tag in out else [value]
                lists.add(child.tag)
            else:
                out[child.tag] = value
        if not children and element.text and element.text.strip():
            out["#text"] = element.text.strip()
        return out


@component("decoder", "json")
def _json(spec: Mapping[str, Any], context: BuildContext) -> Decoder:
    return JsonDecoder()


@component("decoder", "xml")
def _xml(spec: Mapping[str, Any], context: BuildContext) -> Decoder:
    return XmlDecoder({"force_list": spec.get("force_list", [])})


def _xml_text(tag: str, value: Any, out: list[str]) -> None:
    if isinstance(value, list):
        for item in value:
            _xml_text(tag, item, out)
        return
    element = ET.Element(tag)
    _fill(element, value)
    out.append(ET.tostring(element, encoding="unicode"))


def _fill(element: ET.Element, value: Any) -> None:
    if isinstance(value, Mapping):
        for key, child in value.items():
            items = child if isinstance(child, list) else [child]
            for item in items:
                sub = ET.SubElement(element, str(key))
                _fill(sub, item)
    elif value is not None:
        element.text = "true" if value is True else "false" if value is False else str(value)


def encode_body(body: Any, body_format: str) -> dict[str, Any]:
    """httpx keyword arguments sending ``body`` as JSON, XML (one root key) or a form.

    Raises:
        ValueError: an XML body that is not an object with exactly one root key.
    """
    if body is None:
        return {}
    if body_format == "json":
        return {"content": json.dumps(body, ensure_ascii=False).encode(),
                "headers": {"Content-Type": "application/json"}}
    if body_format == "form":
        return {"content": urlencode(body).encode(),
                "headers": {"Content-Type": "application/x-www-form-urlencoded"}}
    if not isinstance(body, Mapping) or len(body) != 1:
        raise ValueError("an XML body must be an object with exactly one root element")
    [(tag, value)] = body.items()
    parts: list[str] = []
    _xml_text(str(tag), value, parts)
    text = '<?xml version="1.0" encoding="UTF-8"?>' + "".join(parts)
    return {"content": text.encode("utf-8"),
            "headers": {"Content-Type": "application/xml; charset=UTF-8"}}
