"""How fast a compiled mapping projects records (not a test).

Run: .venv/bin/python bench/mapping_speed.py  (or -m bench.mapping_speed)
Target: to_hub on a typical 20-field mapping ≥ 50,000 records/s on one core.

The second part uses the real ``mappings/marketo-leads.yaml`` on sandbox Marketo leads
(:class:`sandbox.marketo.seeding.SeedLeads`) and compares the generated ``to_hub`` and
``key_values`` (:mod:`renkei.mapping.codegen`) with the interpreted loops they replace
(``Mapping._to_hub_interpreted`` is the loop ``to_hub`` ran before): median of interleaved runs, in CPU time, with the generated code's memos emptied before
every run.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from renkei.mapping import codegen, load_mapping
from renkei.mapping.validate import check_source

MAPPING = """\
connection: marketo
stream: leads
entity: lead
system_modified: updatedAt
match:
  - {name: email, fields: [email], normalize: email}
  - {name: person, fields: [last_name, first_name, company], normalize: [text, text, company]}
fields:
  email: {system: email, transform: [trim, lower]}
  last_name: lastName
  first_name: firstName
  last_name_kana: {system: lastNameKana, transform: [kana]}
  first_name_kana: {system: firstNameKana, transform: [kana]}
  company: {system: company, transform: [company_name]}
  department: department
  title: title
  phone: {system: phone, transform: [{phone: {region: JP}}]}
  prefecture: state
  city: city
  postal_code: postalCode
  industry: industry
  employees: numberOfEmployees
  lead_source:
    system: leadSource
    values: {セミナー: seminar, 展示会: exhibition, 資料請求: document_request}
    values_default: other
  lifecycle_stage: {system: stage, default: lead}
  score: {system: leadScore, direction: in}
  email_opt_in: {system: optIn, transform: [boolean]}
  owner: {system: owner.email, direction: in}
  created_at: {system: createdAt, direction: in}
"""


def record(i: int) -> dict[str, Any]:
    return {
        "id": i, "email": f" User{i}@Example.co.jp ", "lastName": "山田", "firstName": "太郎",
        "lastNameKana": "ﾔﾏﾀﾞ", "firstNameKana": "たろう", "company": f"(株)サクラ精機{i % 50}",
        "department": "情報システム部", "title": "部長", "phone": f"03-{i // 10000 + 1000}-{i % 10000:04d}",
        "state": "東京都", "city": "千代田区", "postalCode": "100-0001", "industry": "製造業",
        "numberOfEmployees": 1200, "leadSource": "セミナー", "stage": None,
        "leadScore": "42", "optIn": "true", "owner": {"email": "sato@example.co.jp"},
        "createdAt": "2024-01-02T01:00:00Z", "updatedAt": "2024-01-02T10:00:00+09:00",
    }


def rate(label: str, count: int, run: Any, repeat: int = 5) -> None:
    """Best of ``repeat`` runs in CPU time: on a shared machine wall time measures the others."""
    best = float("inf")
    for _ in range(repeat):
        start = time.process_time()
        run()
        best = min(best, time.process_time() - start)
    print(f"{label:<44} {count / best:>10,.0f} records/s (best of {repeat})")


def _cpu_per_item(fn: Callable[[Any], Any], items: Sequence[Any]) -> float:
    """CPU seconds per item of one pass, memos emptied first (no hits carried over)."""
    codegen.clear_memos()
    start = time.process_time()
    for item in items:
        fn(item)
    return (time.process_time() - start) / len(items)


def marketo_leads(size: int, runs: int) -> None:
    """Generated vs interpreted to_hub/key_values on the Marketo lead mapping."""
    from sandbox.marketo.seeding import SeedLeads

    mapping = load_mapping(Path(__file__).resolve().parents[1] / "mappings/marketo-leads.yaml")
    seed = SeedLeads(size)
    records = [lead for i in range(1, size + 1) if (lead := seed.lead(i)) is not None]
    hub = [mapping.to_hub(r).values for r in records]
    assert all(mapping.to_hub(r) == mapping._to_hub_interpreted(r) for r in records)
    assert all(mapping.key_values(v) == mapping._key_values_interpreted(v) for v in hub)
    pairs = {
        "to_hub": (mapping._to_hub_interpreted, mapping.to_hub, records),
        "key_values": (mapping._key_values_interpreted, mapping.key_values, hub),
    }
    print(f"\nmarketo-leads.yaml ({len(mapping.inbound_fields)} inbound fields), "
          f"{len(records):,} sandbox leads, median of {runs} interleaved runs, CPU time")
    for label, (interpreted, generated, items) in pairs.items():
        before: list[float] = []
        after: list[float] = []
        for _ in range(runs):
            before.append(_cpu_per_item(interpreted, items))
            after.append(_cpu_per_item(generated, items))
        b, a = statistics.median(before), statistics.median(after)
        print(f"{label:<11} interpreted {b * 1e6:6.2f} µs ({1 / b:>9,.0f}/CPU s)   "
              f"generated {a * 1e6:6.2f} µs ({1 / a:>9,.0f}/CPU s)   × {b / a:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=10_000, help="sandbox leads (Marketo part)")
    parser.add_argument("--runs", type=int, default=7, help="runs per variant (Marketo part)")
    args = parser.parse_args()
    mapping, _, problems = check_source(MAPPING, "bench.yaml")
    assert mapping is not None, [d.format() for d in problems]
    records = [record(i) for i in range(20_000)]
    no_phone = [{**r, "phone": None} for r in records]
    hub = [mapping.to_hub(r).values for r in records]
    assert not mapping.to_hub(records[0]).errors
    print(f"{len(mapping.fields)}-field mapping, {len(records):,} records, one core")
    rate("to_hub", len(records), lambda: [mapping.to_hub(r) for r in records])
    rate("to_hub (phone blank)", len(records),
         lambda: [mapping.to_hub(r) for r in no_phone])
    rate("to_system", len(hub), lambda: [mapping.to_system(v) for v in hub])
    rate("key_values", len(hub), lambda: [mapping.key_values(v) for v in hub])
    rate("passes_outbound_filter (none)", len(hub),
         lambda: [mapping.passes_outbound_filter(v) for v in hub])
    rate("system_modified_at", len(records),
         lambda: [mapping.system_modified_at(r) for r in records])
    marketo_leads(args.size, args.runs)


if __name__ == "__main__":
    main()
