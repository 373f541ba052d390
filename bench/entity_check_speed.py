"""What the entity fast check costs per valid lead (not a test).

The records are the ones the engine checks: seeded Marketo leads
(:class:`sandbox.marketo.seeding.SeedLeads`) projected through the real mapping
(``mappings/marketo-leads.yaml``), 30 hub fields each. Each case runs ``--repeat`` times; the
table shows the median process (CPU) time per lead, since wall time on a shared machine
measures the others too.

Run: .venv/bin/python -m bench.entity_check_speed [--size 5000] [--repeat 7]
Target (issue #10): validate_entity ≤ 4 µs per valid lead, partial and full.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from bench.common import REPO, median, table
from renkei import entities
from renkei.mapping import load_mapping
from sandbox.marketo.seeding import SeedLeads


def hub_leads(size: int) -> list[dict[str, Any]]:
    """``size`` seeded leads as the engine holds them after ``to_hub``."""
    mapping = load_mapping(REPO / "mappings" / "marketo-leads.yaml")
    out = []
    for raw in SeedLeads(size).iter_leads():
        projection = mapping.to_hub(raw)
        assert not projection.errors, projection.errors
        out.append(dict(projection.values))
    return out


def per_record_us(records: list[dict[str, Any]], partial: bool, repeat: int) -> list[float]:
    """Process time of ``validate_entity`` per record, one figure per run, in µs."""
    validate = entities.validate_entity
    runs = []
    for _ in range(repeat):
        start = time.process_time()
        for record in records:
            validate("lead", record, partial=partial)
        runs.append((time.process_time() - start) / len(records) * 1e6)
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=5000, help="seeded leads (default 5000)")
    parser.add_argument("--repeat", type=int, default=7, help="runs per case (default 7)")
    args = parser.parse_args()
    leads = hub_leads(args.size)
    for partial in (False, True):  # the numbers below are of records the fast path takes
        fast = entities._fast_accept("lead", partial)
        assert fast is not None and all(fast(v) for v in leads)
        assert not any(entities.validate_entity("lead", v, partial=partial) for v in leads)
    singles = [{"email": v["email"]} for v in leads]  # a one-field partial check (conflicts)
    rows = []
    for label, records, partial in (("partial=False", leads, False), ("partial=True", leads, True),
                                    ("one field, partial=True", singles, True)):
        runs = per_record_us(records, partial, args.repeat)
        rows.append([label, round(median(runs), 2), round(min(runs), 2)])
    fields = sum(len(v) for v in leads) / len(leads)
    print(f"{len(leads):,} seeded leads, {fields:.0f} fields each, {args.repeat} runs, CPU time")
    print(table(["validate_entity", "median µs/lead", "best µs/lead"], rows))


if __name__ == "__main__":
    main()
