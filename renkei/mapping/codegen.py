"""Per-mapping generated code for the two per-record hot paths: ``to_hub`` and ``key_values``.

:class:`~renkei.mapping.compiler.Mapping` keeps an interpreted loop for each (the reference);
this module writes, once per mapping, a Python function with that loop unrolled: one block
per field (read, blank test, conversion steps), one block per match key and part.

Built-in converters get fast paths that give the same result with fewer calls: ``trim``,
``lower`` and ``upper`` of an exact ``str`` are method calls (``v.strip()``); ``to_integer``
of an ``int`` and ``to_boolean`` of a ``bool`` are skipped; a value found in a value map, an
already canonical date-time and a common Japanese phone spelling are read inline (anything
else calls the converter itself); the pure functions of values that repeat across records
(``kana`` and ``company_name`` transforms, the ``text`` match key) go through a bounded memo.
The generated functions keep no state of their own (the memos are thread-safe
``lru_cache``), so a mapping stays immutable and safe to share between threads.

The generated source holds only names made here (``F3``, ``N3``, ``C3_1``) and fixed
snippets; every value from the mapping file (field and system names, defaults, converters,
key names) is bound to those names as a constant, never written into the source.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache
from types import CodeType
from typing import TYPE_CHECKING, Any, cast

from renkei.mapping.canonical import (
    _CANONICAL_UTC,
    FieldValueError,
    canonical_datetime,
    to_boolean,
    to_integer,
    to_number,
    to_text,
)
from renkei.mapping.expressions import Getter
from renkei.mapping.fields import Converter, _in_map
from renkei.mapping.model import KEY_SEPARATOR, FieldError, Projection
from renkei.mapping.normalize import (
    NORMALIZERS,
    company_name,
    normalize_key,
    text_key,
    to_katakana,
)
from renkei.mapping.transforms import _JP_DIGITS, _JP_E164, _JP_NATIONAL, _phone, _text_only

if TYPE_CHECKING:
    from functools import _lru_cache_wrapper

InField = tuple[str, str, Getter | None, tuple[Converter, ...], Any]
"""(entity field, system field, getter or ``None`` for a plain name, inbound steps, default)."""
KeyPlan = tuple[str, tuple[tuple[str, str], ...]]
"""(key name, ((entity field, normaliser name), ...))."""
ToHub = Callable[[Mapping[str, Any]], Projection]
KeyValues = Callable[[Mapping[str, Any]], list[tuple[str, str]]]

# Built-in converters are recognised by their code (a closure made by transforms.py), so a
# partner's transform of the same name is never mistaken for one.
# The text transforms (trim, lower, kana, ...): ``f(v)`` for an exact str, else ``v``.
_TEXT_ONLY_CODE: CodeType | None = getattr(_text_only(str.strip), "__code__", None)
# The phone transform; for region JP its fast path is inlined (~0.5 µs a value less): an
# E.164 number is kept, a national one after deleting separators gets +81, anything else
# calls the transform itself, which takes the same steps and then the full parser.
_PHONE_CODE: CodeType | None = getattr(_phone({}).to_hub, "__code__", None)
_JP_DELETED = "".join(map(chr, _JP_DIGITS)) if not any(_JP_DIGITS.values()) else None
# A value map (``values:``): a str found in the table is its hub value without a call.
_VALUE_MAP_CODE: CodeType | None = getattr(_in_map({}, None), "__code__", None)
_NOT_FOUND = object()
_STR_METHODS: tuple[tuple[Any, str], ...] = (
    (str.strip, "strip"), (str.lower, "lower"), (str.upper, "upper"))
# Pure functions of str worth a memo: kana and company names repeat across records (~1 µs
# a call for the Unicode walk, ~0.1 µs a hit); free text (nfkc of an address) would only
# miss. Bounded; shared by all mappings. company_key and kana_key have their own memo.
_MEMO_SIZE = 4096
_MEMOS: tuple[tuple[Callable[[str], str], _lru_cache_wrapper[str]], ...] = tuple(
    (f, lru_cache(maxsize=_MEMO_SIZE)(f)) for f in (to_katakana, company_name, text_key))
_TEXT_KEY_MEMO = next(memo for f, memo in _MEMOS if f is text_key)


def clear_memos() -> None:
    """Empty the memos (benchmarks measure without hits carried over from a previous run)."""
    for _, memo in _MEMOS:
        memo.cache_clear()


def failure(field: str, exc: Exception) -> FieldError:
    """The error of a value whose conversion raised: a transform's own message when it is a
    :class:`FieldValueError` (it describes the value), else only the exception's type."""
    if isinstance(exc, FieldValueError):
        return FieldError(field, str(exc))
    return FieldError(field, f"conversion failed ({type(exc).__name__})")


def _captured(convert: Converter, code: CodeType | None, name: str) -> Any:
    """The variable ``name`` captured by ``convert`` when its code is ``code``, else None."""
    if code is None:
        return None
    names = code.co_freevars
    if getattr(convert, "__code__", None) is not code:
        return None
    cells = getattr(convert, "__closure__", None) or ()
    return cells[names.index(name)].cell_contents if len(cells) == len(names) else None


class _Source:
    """Generated lines and the constants they name."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.consts: dict[str, Any] = {}

    def const(self, name: str, value: Any) -> str:
        self.consts[name] = value
        return name

    def add(self, indent: int, *lines: str) -> None:
        self.lines.extend(" " * indent + line for line in lines)

    def build(self, name: str, fixed: dict[str, Any]) -> Any:
        """Exec ``def _make(<constants>): <lines>; return <name>`` and call it: the
        constants become the generated function's closure cells."""
        params = ", ".join([*fixed, *self.consts])
        text = "\n".join([f"def _make({params}):", *self.lines, f"    return {name}"])
        namespace: dict[str, Any] = {}
        exec(_compiled(text, name), namespace)  # noqa: S102 - no mapping text in it
        return namespace["_make"](**fixed, **self.consts)


# The source depends only on the mapping's shape (its values are constants), so mappings
# loaded again (examples, validation, tests) reuse the code object: compile is ~4 ms.
@lru_cache(maxsize=64)
def _compiled(text: str, name: str) -> CodeType:
    return compile(text, f"<renkei mapping {name}>", "exec")


# Type states of ``v`` while a field's steps run: what the generated code knows about it.
_STR, _INT, _BOOL, _NOT_STR, _ANY = "str", "int", "bool", "not str", "any"


def _step(src: _Source, indent: int, name: str, convert: Converter, state: str) -> str:
    """Emit one conversion step on ``v``; return the type state after it."""
    function = _captured(convert, _TEXT_ONLY_CODE, "function")
    if function is not None:
        if state in (_NOT_STR, _INT, _BOOL):
            return state  # the transform leaves anything but an exact str as it is
        method = next((m for f, m in _STR_METHODS if f is function), None)
        memo = next((memo for f, memo in _MEMOS if f is function), None)
        call = f"v.{method}()" if method else f"{src.const(name, memo or function)}(v)"
        if state == _STR:
            src.add(indent, f"v = {call}")
            # the str methods and the memoised functions give an exact str for one
            return _STR if method or memo else _ANY
        src.add(indent, "if v.__class__ is str:", f"    v = {call}")
        return _ANY
    # int(v) of an int, and a bool, are the value itself: the call can be skipped
    for known, kind in ((to_integer, _INT), (to_boolean, _BOOL), (to_number, _INT)):
        if convert is known:
            if state == kind:
                return state
            call = f"v = {src.const(name, convert)}(v)"
            if state == _STR:
                src.add(indent, call)
            else:
                src.add(indent, f"if v.__class__ is not {kind}:", f"    {call}")
            return kind if known is not to_number else _ANY
    if state == _STR and _JP_DELETED is not None and _captured(
            convert, _PHONE_CODE, "region") == "JP":
        digits = "v" + "".join(f".replace({src.const(f'PD{k}', ch)}, '')"
                               for k, ch in enumerate(_JP_DELETED))
        src.add(indent, "if not PHONE_E164(v):", f"    d = {digits}",
                f"    v = '+81' + d[1:] if PHONE_NATIONAL(d) else {src.const(name, convert)}(v)")
        return _ANY
    table = _captured(convert, _VALUE_MAP_CODE, "table")
    if state == _STR and table.__class__ is dict:
        src.add(indent, f"h = {src.const(name + 't', table)}.get(v, NOT_FOUND)",
                f"v = h if h is not NOT_FOUND else {src.const(name, convert)}(v)")
        return _ANY
    if state == _STR and convert is canonical_datetime:  # a canonical one is kept as it is
        src.add(indent, "if not CANONICAL_UTC(v):", f"    v = {src.const(name, convert)}(v)")
        return _ANY
    src.add(indent, f"v = {src.const(name, convert)}(v)")
    return _ANY


def _convert(src: _Source, indent: int, i: int, steps: tuple[Converter, ...], state: str
             ) -> None:
    """Emit the conversion of a non-blank ``v`` into ``values`` (an error into ``errors``),
    the same as ``compiler._chain(steps)`` applied to it."""
    src.add(indent, "try:")
    text = steps[-1] is to_text
    for j, convert in enumerate(steps[:-1] if text else steps):
        state = _step(src, indent + 4, f"C{i}_{j}", convert, state)
    if text and state == _STR:
        src.add(indent + 4, f"values[F{i}] = v if v and not v.isspace() else None")
    elif text and state != _ANY:  # not a str, not None: every step was skipped or typed it
        src.add(indent + 4, "v = to_text(v)")
    elif text:
        src.add(indent + 4, "if v.__class__ is str:",
                "    v = v if v and not v.isspace() else None",
                "elif v is not None:",
                "    v = to_text(v)")
    if not text or state != _STR:
        src.add(indent + 4, f"values[F{i}] = v")
    src.add(indent, "except Exception as e:", f"    errors.append(failure(F{i}, e))")


def _field(src: _Source, i: int, field: InField) -> None:
    entity_field, system_field, getter, steps, default = field
    src.const(f"F{i}", entity_field)
    if getter is None:
        src.add(8, f"v = get({src.const(f'N{i}', system_field)})")
    else:
        src.add(8, f"v = {src.const(f'G{i}', getter)}(record)")
    blank = "None" if default is None else src.const(f"D{i}", default)
    if not steps or steps == (to_text,):  # a text field: a non-blank str is kept as it is
        src.add(8, "if v.__class__ is str:",
                f"    values[F{i}] = v if v and not v.isspace() else {blank}",
                "elif v is None or (v.__class__ is list and not v):",
                f"    values[F{i}] = {blank}",
                "else:")
        _convert(src, 12, i, (to_text,), _NOT_STR)
        return
    src.add(8, "if v.__class__ is str:",
            "    if not v or v.isspace():",
            f"        values[F{i}] = {blank}",
            "    else:")
    _convert(src, 16, i, steps, _STR)
    src.add(8, "elif v is None or (v.__class__ is list and not v):",
            f"    values[F{i}] = {blank}",
            "else:")
    _convert(src, 12, i, steps, _NOT_STR)


def compile_to_hub(fields: Sequence[InField]) -> ToHub:
    """``Mapping.to_hub`` for these inbound fields, generated (see the module docstring)."""
    src = _Source()
    src.add(4, "def to_hub(record):", "    get = record.get", "    values = {}",
            "    errors = []")
    for i, field in enumerate(fields):
        _field(src, i, field)
    src.add(8, "return Projection(values, errors)")
    fixed = {"to_text": to_text, "failure": failure, "Projection": Projection,
             "PHONE_E164": _JP_E164.fullmatch, "PHONE_NATIONAL": _JP_NATIONAL.fullmatch,
             "NOT_FOUND": _NOT_FOUND, "CANONICAL_UTC": _CANONICAL_UTC.fullmatch}
    return cast(ToHub, src.build("to_hub", fixed))


def _part(src: _Source, i: int, j: int, field: str, normalizer: str) -> None:
    """Emit ``k<j> = normalize_key(normalizer, entity.get(field))``, leaving the key's
    ``while`` block when that is ``None`` or raises."""
    k, n = f"k{j}", src.const(f"M{i}_{j}", normalizer)
    src.add(12, "try:",
            f"    v = get({src.const(f'E{i}_{j}', field)})",
            "    if v.__class__ is str:",  # normalize_key's own steps for a str
            f"        f = NORMALIZERS[{n}]",
            f"        {k} = (TEXT_KEY_MEMO if f is TEXT_KEY else f)(v)",
            f"        if not {k} or {k}.isspace():",
            "            break",
            "    else:",
            f"        {k} = normalize_key({n}, v)",
            f"        if {k} is None:",
            "            break",
            "except Exception:",  # an odd value just gives no key
            "    break")


def compile_key_values(keys: Sequence[KeyPlan]) -> KeyValues:
    """``Mapping.key_values`` for these match keys, generated (see the module docstring).

    The normaliser is looked up by name per call, as :func:`normalize_key` does, so one
    registered after the mapping was loaded applies to it too.
    """
    src = _Source()
    src.add(4, "def key_values(entity):", "    out = []")
    if keys:
        # ``entity.get`` is read once; without one, every part raises (no key), as before
        src.add(8, "try:", "    get = entity.get", "except Exception:", "    get = None")
    for i, (name, parts) in enumerate(keys):
        src.const(f"K{i}", name)
        src.add(8, "while True:")
        for j, (field, normalizer) in enumerate(parts):
            _part(src, i, j, field, normalizer)
        if len(parts) == 1:  # join of one str is that str
            src.add(12, f"out.append((K{i}, k0 if k0.__class__ is str else SEP.join((k0,))))")
        else:
            joined = "".join(f"k{j}, " for j in range(len(parts)))
            src.add(12, f"out.append((K{i}, SEP.join(({joined}))))")
        src.add(12, "break")
    src.add(8, "return out")
    fixed = {"NORMALIZERS": NORMALIZERS, "TEXT_KEY": text_key, "TEXT_KEY_MEMO": _TEXT_KEY_MEMO,
             "normalize_key": normalize_key, "SEP": KEY_SEPARATOR}
    return cast(KeyValues, src.build("key_values", fixed))
