"""Write endpoints: ops → vendor calls of ``batch_size`` records → one result per op, in order.

An endpoint renders each op through ``item`` (default ``{record}``: the values, with the
stream's ``field_prefix``), puts the items into ``body`` (default ``{items}``), sends one call
per batch, and reads one result per item with ``results.selector``. Each result is mapped
with jmespath: ``id``, ``ok`` (default: no ``error_code`` and no ``error_message``),
``created``, ``error_code``/``error_message`` (mapped to a category by ``record_errors``).
A batch whose answer has not exactly one result per item is a protocol error: results are
never guessed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import jmespath

from connectors.declarative.codecs import encode_body
from connectors.declarative.templates import TemplateError, render, render_tree
from connectors.sdk.errors import ConfigurationError, ProtocolError
from connectors.sdk.types import ErrorCategory, RecordError, WriteMode, WriteOp, WriteResult

__all__ = ["WriteEndpoint"]

def _truthy(value: Any) -> bool:
    return value not in (None, False, "", [], {}, "false", "0", 0)


@dataclass
class WriteEndpoint:
    """One ``write.<mode>`` entry of a stream.

    Attributes:
        mode: Which write mode it serves.
        spec: The entry as written in the file.
        prefix: The stream's ``field_prefix``.
    """

    mode: WriteMode
    spec: Mapping[str, Any]
    prefix: str = ""

    @property
    def batch_size(self) -> int:
        return int(self.spec.get("batch_size", 1))

    def _op_scope(self, op: WriteOp, config: Mapping[str, Any]) -> dict[str, Any]:
        record = {f"{self.prefix}{k}": v for k, v in op.values.items()}
        return {"config": config, "record": record,
                "op": {"id": op.id, "ref": op.ref, "mode": op.mode.value, "version": op.version}}

    def request(self, ops: Sequence[WriteOp], config: Mapping[str, Any]) -> tuple[
            str, dict[str, Any], dict[str, Any]]:
        """``(path, params, httpx kwargs)`` of the call writing ``ops``.

        Raises:
            ConfigurationError: a template cannot be rendered.
        """
        try:
            scopes = [self._op_scope(op, config) for op in ops]
            items = [render_tree(self.spec.get("item", "{record}"), s) for s in scopes]
            outer: dict[str, Any] = {"config": config, "items": items}
            if self.batch_size == 1:
                outer.update(scopes[0])
            path = str(render(str(self.spec["path"]), outer))
            params = {k: render(str(v), outer) for k, v in (self.spec.get("params") or
                                                            {}).items()}
            # One record per call: the item is the body unless the file wraps it.
            body = (render_tree(self.spec["body"], outer) if "body" in self.spec
                    else items if self.batch_size > 1 else items[0])
            kwargs = encode_body(body, str(self.spec.get("body_format", "json")))
        except (TemplateError, ValueError) as exc:
            raise ConfigurationError(f"write.{self.mode.value}: {exc}") from None
        return path, {k: v for k, v in params.items() if v is not None}, kwargs

    def results(self, ops: Sequence[WriteOp], body: Any) -> list[WriteResult]:
        """One :class:`WriteResult` per op from the decoded answer.

        Raises:
            ProtocolError: not exactly one result per op.
        """
        spec = self.spec.get("results") or {}
        selector = spec.get("selector")
        found = jmespath.search(selector, body) if selector else (
            [body] if self.batch_size == 1 else body)
        if isinstance(found, dict) and len(ops) == 1:
            found = [found]
        if not isinstance(found, list) or len(found) != len(ops):
            got = len(found) if isinstance(found, list) else "no list"
            raise ProtocolError(f"write.{self.mode.value}: expected {len(ops)} result(s) in "
                                f"the answer, got {got}")
        return [self._result(op, item, spec) for op, item in zip(ops, found, strict=True)]

    def _result(self, op: WriteOp, item: Any, spec: Mapping[str, Any]) -> WriteResult:
        def get(key: str) -> Any:
            expr = spec.get(key)
            return jmespath.search(expr, item) if expr else None

        code, message = get("error_code"), get("error_message")
        ok = _truthy(get("ok")) if spec.get("ok") else code is None and message is None
        if not ok:
            return WriteResult.failure(self._record_error(code, message))
        ident = get("id") if spec.get("id") else op.id
        if ident in (None, ""):
            return WriteResult.failure(RecordError(ErrorCategory.UNKNOWN,
                                                   "the vendor stored the record but sent no id"))
        created = _truthy(get("created")) if spec.get("created") else op.mode == WriteMode.CREATE
        version = get("version")
        return WriteResult.success(str(ident), created=created,
                                   version=None if version is None else str(version))

    def _record_error(self, code: Any, message: Any) -> RecordError:
        text = str(code) if code is not None else None
        for entry in self.spec.get("record_errors") or []:
            codes = entry["code"] if isinstance(entry["code"], list) else [entry["code"]]
            if text is not None and text in {str(c) for c in codes}:
                return RecordError(ErrorCategory(entry["category"]), str(message or text),
                                   code=text, retriable=bool(entry.get("retriable", False)))
        return RecordError(ErrorCategory.UNKNOWN, str(message or "refused without a reason"),
                           code=text)

