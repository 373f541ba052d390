"""Paginators: ``none``, ``offset``, ``page_number``, ``cursor`` and ``link_header``.

A paginator turns the first request into the next one, from the last response, or says
there is none. Every style stops on a short or empty page as well as on its own signal
(a total, a missing token, no ``rel="next"``), so a vendor that repeats its last page
cannot make a read loop forever.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import httpx
import jmespath

from connectors.declarative.registry import BuildContext, base_class, component
from connectors.declarative.templates import render

__all__ = ["PageRequest", "Paginator"]

_LINK = re.compile(r'<([^>]*)>\s*((?:;\s*[^;,]+)*)')
_REL_NEXT = re.compile(r';\s*rel\s*=\s*"?([^";]*)"?')


@dataclass(frozen=True)
class PageRequest:
    """One read request: path (or absolute URL), query, body and extra headers."""

    url: str
    params: dict[str, Any] = field(default_factory=dict)
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


def _put(request: PageRequest, where: str, name: str, value: Any) -> PageRequest:
    if where == "body":
        body = dict(request.body or {})
        body[name] = value
        return replace(request, body=body)
    if where == "header":
        return replace(request, headers={**request.headers, name: str(value)})
    return replace(request, params={**request.params, name: value})


class Paginator:
    """Base class of paginators; custom ones are built as ``Class(options, context)``."""

    page_size: int | None = None

    def __init__(self, options: Mapping[str, Any], context: BuildContext | None = None) -> None:
        self.options = dict(options)

    def first(self, request: PageRequest) -> PageRequest:
        """The first page's request."""
        return request

    def next(self, request: PageRequest, response: httpx.Response, body: Any,
             count: int) -> PageRequest | None:
        """The next page's request, or ``None`` after the last page.

        Args:
            request: The request that was just answered.
            response: Its response (headers).
            body: Its decoded body.
            count: How many records it held.
        """
        return None


base_class("paginator", Paginator)


class _Sized(Paginator):
    def __init__(self, options: Mapping[str, Any], context: BuildContext | None = None) -> None:
        super().__init__(options, context)
        size = self.options.get("page_size")
        if isinstance(size, str) and context is not None:
            size = render(size, {"config": context.config})
        self.page_size = int(size) if size else None
        self.where = str(self.options.get("in", "query"))

    def _short(self, count: int) -> bool:
        return count == 0 or (self.page_size is not None and count < self.page_size)

    def _with_size(self, request: PageRequest) -> PageRequest:
        name = self.options.get("size_param") or self.options.get("limit_param")
        if name and self.page_size:
            return _put(request, self.where if self.where != "header" else "query", name,
                        self.page_size)
        return request


class OffsetPaginator(_Sized):
    """``offset`` + ``limit`` parameters; stops on a short page or at ``total_path``."""

    def first(self, request: PageRequest) -> PageRequest:
        return _put(self._with_size(request), self.where, self.options["offset_param"], 0)

    def next(self, request: PageRequest, response: httpx.Response, body: Any,
             count: int) -> PageRequest | None:
        if self._short(count):
            return None
        offset = int(request.params.get(self.options["offset_param"], 0) if self.where ==
                     "query" else (request.body or {}).get(self.options["offset_param"], 0))
        offset += count
        total_path = self.options.get("total_path")
        if total_path:
            total = jmespath.search(total_path, body)
            if total is not None and offset >= int(total):
                return None
        return _put(request, self.where, self.options["offset_param"], offset)


class PageNumberPaginator(_Sized):
    """``page`` (+ ``size``) parameters; stops on a short page or at ``total_pages_path``."""

    def first(self, request: PageRequest) -> PageRequest:
        return _put(self._with_size(request), self.where, self.options["page_param"],
                    int(self.options.get("start", 1)))

    def next(self, request: PageRequest, response: httpx.Response, body: Any,
             count: int) -> PageRequest | None:
        if self._short(count):
            return None
        source = request.params if self.where == "query" else (request.body or {})
        page = int(source.get(self.options["page_param"], 1)) + 1
        pages_path = self.options.get("total_pages_path")
        if pages_path:
            pages = jmespath.search(pages_path, body)
            start = int(self.options.get("start", 1))
            if pages is not None and page - start >= int(pages):
                return None
        return _put(request, self.where, self.options["page_param"], page)


class CursorPaginator(_Sized):
    """A next-page token from the body or a header, sent back as a parameter."""

    def next(self, request: PageRequest, response: httpx.Response, body: Any,
             count: int) -> PageRequest | None:
        if count == 0:
            return None
        path, header = self.options.get("token_path"), self.options.get("token_header")
        token = jmespath.search(path, body) if path else response.headers.get(str(header))
        if token in (None, "", False):
            return None
        return _put(request, self.where, self.options["param"], token)

    def first(self, request: PageRequest) -> PageRequest:
        return self._with_size(request)


class LinkHeaderPaginator(_Sized):
    """RFC 8288 ``Link: <url>; rel="next"``; the next URL is followed as given."""

    def first(self, request: PageRequest) -> PageRequest:
        return self._with_size(request)

    def next(self, request: PageRequest, response: httpx.Response, body: Any,
             count: int) -> PageRequest | None:
        if count == 0:
            return None
        for match in _LINK.finditer(response.headers.get("link", "")):
            rels = " ".join(r.group(1) for r in _REL_NEXT.finditer(match.group(2))).split()
            if "next" in rels:
                url = str(response.request.url.join(match.group(1)))
                # The link carries every parameter; sending ours as well would repeat them.
                return PageRequest(url=url, params={}, body=request.body,
                                   headers=request.headers)
        return None


@component("paginator", "none")
def _none(spec: Mapping[str, Any], context: BuildContext) -> Paginator:
    return Paginator(spec, context)


component("paginator", "offset")(OffsetPaginator)
component("paginator", "page_number")(PageNumberPaginator)
component("paginator", "cursor")(CursorPaginator)
component("paginator", "link_header")(LinkHeaderPaginator)
