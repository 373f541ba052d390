"""Field-level three-way merge of one system record into one hub record (DESIGN.md, fixed).

For every mapped field the link keeps a *baseline*: the value both sides last agreed on.
A system value that differs from its baseline is a change from that system; if the hub value
also moved away from the baseline, the two changed concurrently: a conflict, settled by the
field's policy. Two policies also guard every write, not only conflicts, because that is what
their names promise: ``fill_if_blank`` only ever writes into an empty target, and
``write_once`` never overwrites a value once set. Under those two the baseline tracks the
system's last seen value, so a difference the policy keeps is not re-examined on every run.

This module is pure (no I/O) so the rules can be tested exhaustively and stay fast.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import repeat
from typing import Any, Protocol

from renkei.store.repos import ALL_FIELDS


class Policy(Protocol):
    @property
    def kind(self) -> str: ...

    @property
    def owner(self) -> str | None: ...


_BLANKS: tuple[Any, ...] = (None, "", [])


def blank(value: Any) -> bool:
    """None, an empty string or an empty list: "no value" in every system."""
    return value in _BLANKS  # ``in`` compares by identity, then ==


def same(a: Any, b: Any) -> bool:
    """Equal meaning: all blanks are one value."""
    if a == b:  # the common case (an unchanged field) first
        return True
    return blank(a) and blank(b)


Equality = Mapping[str, Callable[[Any, Any], bool]]
"""Per-field equivalence where plain equality is too strict (see :func:`field_equality`)."""


def field_equality(match_keys: Sequence[Any], normalize: Callable[[str, Any], Any]) -> dict[str, Callable[[Any, Any], bool]]:
    """Fields compared through their match-key normaliser.

    株式会社サクラ精機 and サクラ精機 are one company to the match key; treating them as
    different values would raise a conflict, or a pointless write, for a mere spelling. Each
    system keeps its own spelling until someone really changes the value. E-mail and phone
    normalisers are left out: their transforms already canonicalise the value.
    """
    out: dict[str, Callable[[Any, Any], bool]] = {}
    for key in match_keys:
        for f, n in zip(key.fields, key.normalizers):
            if n in ("company", "text", "kana") and f not in out:
                def eq(a: Any, b: Any, n: str = n) -> bool:
                    if a == b:
                        return True
                    if blank(a) or blank(b):
                        return blank(a) and blank(b)
                    return bool(normalize(n, a) == normalize(n, b))
                out[f] = eq
    return out


@dataclass
class HeldConflict:
    field: str
    hub_value: Any
    system_value: Any
    baseline_value: Any


@dataclass
class MergeOutcome:
    """What merging one system record decided.

    Attributes:
        hub_changes: Hub fields to set, with their new values.
        baseline: The link's new baseline (all inbound fields).
        held: Conflicts held for a person (policy ``manual``).
        agreed: Fields whose manual conflict is moot now that both sides agree.
        conflicts: Fields that conflicted (held or settled by a policy).
    """

    hub_changes: dict[str, Any] = field(default_factory=dict)
    baseline: dict[str, Any] = field(default_factory=dict)
    held: list[HeldConflict] = field(default_factory=list)
    agreed: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)


_MISSING = object()


def merge_inbound(
    *,
    fields: Sequence[str],
    policy: Callable[[str], Policy],
    connection: str,
    system: Mapping[str, Any],
    system_modified: str | None,
    baseline: Mapping[str, Any] | None,
    hub: Mapping[str, Any] | None,
    hub_meta: Mapping[str, Sequence[Any]],
    equal: Equality | None = None,
) -> MergeOutcome:
    """Merge the projected system values of one record into its hub record.

    Args:
        fields: The mapping's inbound entity fields.
        policy: Conflict policy per field.
        connection: The connection the record came from (``system_wins`` owner check).
        system: Projected system values (hub representation).
        system_modified: The system record's own modification time (canonical UTC) or None.
        baseline: The link's baseline, or None when the record is not linked yet.
        hub: The hub record's data, or None when the hub record is new.
        hub_meta: Per hub field ``[source, source modification time]`` (``ALL_FIELDS``: for
            the fields without an entry of their own).
        equal: Per-field equivalence; plain :func:`same` for the others.
    """
    out = MergeOutcome()
    sget = system.get
    if hub is None:  # a new hub record: everything the system has is accepted
        out.baseline = dict(zip(fields, map(sget, fields)))
        # not blank(s), inlined: this runs for every field of every new record
        out.hub_changes = {f: s for f, s in out.baseline.items() if s not in _BLANKS}
        return out
    eqs = equal or {}
    base_map: Mapping[str, Any] = baseline if baseline is not None else {}
    bget = base_map.get
    # The baseline carries over (None where it had no value); only the fields whose system
    # value differs from it go through the loop: one or two of thirty, usually.
    out.baseline = dict(zip(fields, map(bget, fields)))
    moved = [(f, s, b) for f, s, b in zip(fields, map(sget, fields),
                                          map(bget, fields, repeat(_MISSING))) if s != b]
    for f, s, b in moved:
        eq = eqs.get(f, same)
        # every equivalence holds for equal values, so only the unequal ones get here
        if b is not _MISSING and eq(s, b):
            continue  # the system did not change this field
        h = hub.get(f)
        pol = policy(f)
        if eq(s, h):
            out.baseline[f] = s  # both sides already agree
            out.agreed.append(f)
            continue
        if pol.kind in ("fill_if_blank", "write_once"):
            # Guards: only ever write into an empty hub field.
            if blank(h):
                out.hub_changes[f] = s
            elif b is not _MISSING and not eq(h, b):
                out.conflicts.append(f)
            out.baseline[f] = s
            continue
        hub_moved = b is _MISSING or not eq(h, b)
        if not hub_moved or blank(h):
            out.hub_changes[f] = s  # a change on the system side only (or filling a blank)
            out.baseline[f] = s
            continue
        if b is _MISSING and blank(s):
            out.baseline[f] = s  # first meeting; the system is blank: outbound fills it
            continue
        # Both sides moved away from the baseline, to different values: a conflict.
        out.conflicts.append(f)
        if pol.kind == "system_wins":
            if pol.owner == connection:
                out.hub_changes[f] = s
                out.baseline[f] = s
        elif pol.kind == "newest_wins":
            meta = hub_meta.get(f) or hub_meta.get(ALL_FIELDS)  # h is not blank: in the hub
            hub_time = meta[1] if meta and len(meta) > 1 else None
            if system_modified is not None and (hub_time is None or system_modified > hub_time):
                out.hub_changes[f] = s
                out.baseline[f] = s
        elif pol.kind == "manual":
            out.held.append(HeldConflict(f, h, s, None if b is _MISSING else b))
        # otherwise the hub keeps its value and the unchanged baseline makes outbound push it
    return out


def outbound_changes(
    *,
    fields: Sequence[str],
    policy: Callable[[str], Policy],
    hub: Mapping[str, Any],
    baseline: Mapping[str, Any] | None,
    held: set[str],
    equal: Equality | None = None,
) -> dict[str, Any]:
    """Hub fields to write to a system: those that differ from the link's baseline.

    Args:
        fields: The mapping's outbound entity fields.
        policy: Conflict policy per field (``fill_if_blank``/``write_once`` guard the target).
        hub: The hub record's data.
        baseline: The link's baseline, or None for a record the system does not have yet.
        held: Fields held by an open manual conflict of this mapping: not written.
    """
    get = hub.get
    if baseline is None:
        return {f: h for f, h in zip(fields, map(get, fields)) if h not in _BLANKS}
    changes: dict[str, Any] = {}
    eqs = equal or {}
    # equal values leave first, in one pass (every equivalence agrees with ==)
    moved = [(f, h, b) for f, h, b in zip(fields, map(get, fields),
                                          map(baseline.get, fields, repeat(_MISSING))) if h != b]
    for f, h, b in moved:
        if f in held:
            continue
        if b is _MISSING:
            if not blank(h):
                changes[f] = h
            continue
        if eqs.get(f, same)(h, b):
            continue
        if policy(f).kind in ("fill_if_blank", "write_once") and not blank(b):
            continue
        changes[f] = h
    return changes
