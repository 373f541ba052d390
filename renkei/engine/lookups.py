"""Outbound field lookups: a hub value that names another record, written as its system id.

A Salesforce Task needs ``WhoId`` (the Lead's Salesforce id), a Marketo activity ``leadId``;
the hub activity only knows the person's e-mail. A mapping says so per field::

    email: {system: WhoId, direction: out,
            lookup: {entity: lead, by: email, mapping: salesforce-leads}}

For one outbound window the values are normalised like the target mapping's match key, the
hub leads found through the match-key table, and their system ids read from the named
mapping's links: two queries per chunk of values, never one per record. A record whose
target is not in the system yet is held back as a retriable dead letter, so the run after
the lead reaches the system writes it; its baseline then holds the resolved id, so a re-sync
compares equal and writes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

from renkei.mapping import Mapping as CompiledMapping
from renkei.mapping import normalize_key
from renkei.mapping.model import Lookup
from renkei.store import Failure, HubRecord, Store

WAITING = "waiting_for_target"
"""Dead-letter code of a record held back until the record it names is in the system."""


class UnboundLookupError(Exception):
    """A lookup was never bound to its target mapping (the mapping was compiled alone)."""


def lookup_fields(mapping: CompiledMapping) -> dict[str, Lookup]:
    """The mapping's outbound fields that carry a resolved lookup."""
    out: dict[str, Lookup] = {}
    for name in mapping.outbound_fields:
        lookup = mapping.fields[name].lookup
        if lookup is not None:
            if lookup.key_name is None or lookup.normalizer is None:
                # Compiled alone (not through load_mappings): nothing to resolve against.
                raise UnboundLookupError(f"mapping {mapping.name}: the lookup of {name} is not bound "
                                  f"to mapping {lookup.mapping}; load the mappings together")
            out[name] = lookup
    return out


def resolve_lookups(store: Store, mapping: CompiledMapping,
                    records: Mapping[int, HubRecord]) -> tuple[dict[int, HubRecord],
                                                              list[Failure]]:
    """Replace each lookup field's hub value by the target's system id.

    Args:
        store: The state store.
        mapping: The outbound mapping.
        records: Hub records of one window by id.

    Returns:
        The records to plan (lookup values replaced; a blank value stays blank) and one
        retriable failure per record whose target is not linked in the system yet (those
        records are left out). Records the mapping's outbound filter drops are not looked up.
    """
    lookups = lookup_fields(mapping)
    if not lookups:
        return dict(records), []
    resolved: dict[int, dict[str, object]] = {rid: {} for rid in records}
    waiting: dict[int, list[str]] = {}
    with store.transaction() as tx:
        for name, lookup in lookups.items():
            assert lookup.key_name is not None and lookup.normalizer is not None
            keys: dict[int, str] = {}
            for rid, rec in records.items():
                if rec.entity != mapping.entity or not mapping.passes_outbound_filter(rec.data):
                    continue  # not written anyway: nothing to wait for
                key = normalize_key(lookup.normalizer, rec.data.get(name))
                if key is not None:
                    keys[rid] = key
            found = tx.match_keys.find(lookup.entity, ((lookup.key_name, k)
                                                       for k in set(keys.values())))
            # Two hub records with one key (a duplicate held for a person): the oldest.
            target = {k: ids[0] for (_, k), ids in found.items() if ids}
            links = tx.links.by_record_ids(lookup.mapping, set(target.values()))
            for rid, key in keys.items():
                link = links.get(target.get(key, -1))
                if link is None:
                    waiting.setdefault(rid, []).append(name)
                else:
                    resolved[rid][name] = link.system_id
    failures = [_waiting(mapping, rid, names, lookups) for rid, names in waiting.items()]
    out = {rid: replace(rec, data={**rec.data, **resolved[rid]})
           for rid, rec in records.items() if rid not in waiting}
    return out, failures


def _waiting(mapping: CompiledMapping, rid: int, names: Sequence[str],
             lookups: Mapping[str, Lookup]) -> Failure:
    # Names the field, never its value: the value is personal data (an e-mail address).
    what = "; ".join(f"{lookups[n].entity} by {n} not yet in {mapping.connection} "
                     f"(mapping {lookups[n].mapping})" for n in names)
    return Failure(item_key=str(rid), record_id=rid, category="not_found",
                   message=f"waiting for {what}; written on a later run once it is there",
                   code=WAITING, retriable=True)


__all__ = ["WAITING", "UnboundLookupError", "lookup_fields", "resolve_lookups"]
