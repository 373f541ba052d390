"""The closed-loop numbers: funnel and won amount per channel, campaign, score band, owner.

Definitions (what every number in the report means):

* **Funnel.** The unit is the lead (a hub ``lead`` record). A lead has reached *MQL* if it has
  ``mql_at`` or ``sql_at``, a lifecycle stage of mql/sql/opportunity/customer, or is won; *SQL*
  if it has ``sql_at``, a stage of sql/opportunity/customer, or is won; it is *won* if its
  e-mail is among the ``contact_emails`` of a won deal (``is_won``). A lead that skipped a
  stage is counted at every stage it passed, so each stage is a subset of the one before.
* **Won amount.** Each won deal's amount, in whole yen. A deal's credit (1 deal, its amount)
  is shared **equally among its contacts that are hub leads**; each contact's share goes to
  that contact's value of the table's dimension. A deal none of whose contacts is a hub lead
  is credited whole to the deal's own field (``lead_source``, ``campaign``, ``owner``) or to
  ``(none)``. Won counts count leads, so such a deal adds amount but no won lead.
* **First touch**: the lead's ``lead_source``. **Last touch**: the lead's
  ``last_touch_channel`` (the channel that handed it to sales).
* **Linear multi-touch.** A *touch* is an activity whose type is one of
  :data:`~renkei.report.config.DEFAULT_TOUCH_TYPES` (not e-mail opens, calls or meetings),
  that has a channel, an ``occurred_at``, and belongs to the lead (``lead_id``, else the same
  e-mail). Touches are distinct by ``source_id``. Each conversion of a lead is split equally
  across its touches up to the moment of that conversion: the *lead* count up to
  ``created_at``, *MQL* up to ``mql_at`` (else ``sql_at``), *SQL* up to ``sql_at``, *won* up
  to the close date of its first won deal (a touch counts if its date, in the report's time
  zone, is on or before the close date); when the moment is not recorded, all its touches
  count. A won deal's credit is split equally across the distinct touches of all its contacts
  (pooled, so a contact with more touches carries more of it) up to its close date. With no
  touches, the credit falls back to first touch.
* **Score band at hand-off**: the lead's *current* score. The hub keeps no score history (the
  qualification rule records ``mql_at`` and its reason, not the score), so the score at the
  time it became MQL cannot be recovered.
* **Since**: only leads captured (``created_at``, else when the hub first stored them) on or
  after the date, and the won and lost deals closed on or after it (or undated) that have a
  contact among those leads or no contact in the hub at all.

Counts under linear attribution are fractional and shown in hundredths; money is whole yen.
Both are rounded per column by the largest-remainder method, so rows sum to the total.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

from renkei.report.alloc import largest_remainder
from renkei.report.config import NONE, ReportConfig
from renkei.report.load import Activity, Dataset, Deal, Lead

COLUMNS = ("leads", "mql", "sql", "won", "won_amount")
_MQL_STAGES = frozenset({"mql", "sql", "opportunity", "customer"})
_SQL_STAGES = frozenset({"sql", "opportunity", "customer"})

Credit = dict[str, Fraction]


@dataclass(frozen=True)
class Row:
    """One shown row: counts in units (hundredths when the table is fractional), yen."""

    label: str
    leads: int
    mql: int
    sql: int
    won: int
    won_amount: int
    rates: tuple[str, str, str]
    """Conversion lead→MQL, MQL→SQL, SQL→won in percent (one decimal), blank if undefined."""


@dataclass(frozen=True)
class Table:
    """A report table: rows in a fixed order, then the total."""

    key: str
    title: str
    dimension: str
    fractional: bool
    rows: tuple[Row, ...]
    total: Row

    def count(self, units: int) -> str:
        """A count as shown: ``3`` or, for fractional tables, ``1.33``."""
        if not self.fractional:
            return str(units)
        return str((Decimal(units) / 100).quantize(Decimal("0.01")))


@dataclass
class Summary:
    """Whole-report totals (no personal data)."""

    leads: int = 0
    mql: int = 0
    sql: int = 0
    won_leads: int = 0
    won_deals: int = 0
    lost_deals: int = 0
    won_amount: int = 0
    won_deals_without_amount: int = 0
    touches: int = 0
    queries: int = 0
    since: date | None = None
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Report:
    """The computed report."""

    tables: tuple[Table, ...]
    summary: Summary
    generated_at: datetime


def _pct(num: Fraction, den: Fraction) -> str:
    if den == 0:
        return ""
    return str((Decimal(num.numerator * 100) / Decimal(num.denominator)
                / (Decimal(den.numerator) / Decimal(den.denominator)))
               .quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


class _Model:
    """Accumulates exact credits of one table."""

    def __init__(self) -> None:
        self.cells: dict[str, dict[str, Fraction]] = defaultdict(
            lambda: dict.fromkeys(COLUMNS, Fraction(0)))

    def add(self, column: str, credit: Credit, weight: Fraction = Fraction(1)) -> None:
        for label, share in credit.items():
            self.cells[label][column] += share * weight

    def table(self, key: str, title: str, dimension: str, *, fractional: bool,
              order: Callable[[str, dict[str, Fraction]], tuple[object, ...]]) -> Table:
        labels = sorted(self.cells, key=lambda lb: order(lb, self.cells[lb]))
        rank = {lb: i for i, lb in enumerate(labels)}
        shown: dict[str, dict[str, int]] = {lb: {} for lb in labels}
        for col in COLUMNS:
            scale = 100 if fractional and col != "won_amount" else 1
            rounded = largest_remainder({lb: self.cells[lb][col] for lb in labels},
                                        order=rank, scale=scale)
            for lb in labels:
                shown[lb][col] = rounded[lb]

        def row(label: str, units: dict[str, int], exact: dict[str, Fraction]) -> Row:
            rates = (_pct(exact["mql"], exact["leads"]), _pct(exact["sql"], exact["mql"]),
                     _pct(exact["won"], exact["sql"]))
            return Row(label, units["leads"], units["mql"], units["sql"], units["won"],
                       units["won_amount"], rates)

        rows = tuple(row(lb, shown[lb], self.cells[lb]) for lb in labels)
        exact_total = {c: sum((self.cells[lb][c] for lb in labels), Fraction(0)) for c in COLUMNS}
        total_units = {c: sum(shown[lb][c] for lb in labels) for c in COLUMNS}
        return Table(key, title, dimension, fractional, rows,
                     row("(total)", total_units, exact_total))


def _by_amount(label: str, cells: dict[str, Fraction]) -> tuple[object, ...]:
    return (label == NONE, -cells["won_amount"], -cells["leads"], label)


def _split(values: Iterable[str]) -> Credit:
    vals = list(values)
    credit: Credit = defaultdict(Fraction)
    for v in vals:
        credit[v] += Fraction(1, len(vals))
    return dict(credit)


class _Attribution:
    """Touches per lead, deals per lead, and the credit of each model."""

    def __init__(self, data: Dataset, config: ReportConfig, cohort: list[Lead],
                 deals: list[Deal]):
        self.config = config
        self.tz = config.tz
        self.by_email: dict[str, Lead] = {}
        for lead in sorted(cohort, key=lambda x: x.id):
            if lead.email:
                self.by_email.setdefault(lead.email, lead)
        ids = {lead.id for lead in cohort}
        self.touches: dict[int, list[Activity]] = defaultdict(list)
        seen: set[tuple[int, str]] = set()
        for a in data.activities:
            if a.type not in config.touch_types or not a.channel or a.occurred_at is None:
                continue
            lead_id = a.lead_id if a.lead_id in ids else None
            if lead_id is None and a.email in self.by_email:
                lead_id = self.by_email[a.email].id
            if lead_id is None or (lead_id, a.key) in seen:
                continue
            seen.add((lead_id, a.key))
            self.touches[lead_id].append(a)
        for ts in self.touches.values():
            ts.sort(key=lambda a: (a.occurred_at or datetime.min, a.key))
        self.contacts = {d.id: [self.by_email[e] for e in d.contact_emails if e in self.by_email]
                         for d in deals}

    def touches_until(self, leads: Iterable[Lead], moment: datetime | date | None
                      ) -> list[Activity]:
        pooled: dict[str, Activity] = {}
        for lead in leads:
            for a in self.touches.get(lead.id, []):
                assert a.occurred_at is not None
                if isinstance(moment, datetime) and a.occurred_at > moment:
                    continue
                if (isinstance(moment, date) and not isinstance(moment, datetime)
                        and a.occurred_at.astimezone(self.tz).date() > moment):
                    continue
                pooled.setdefault(a.key, a)
        return list(pooled.values())

    def linear_lead(self, lead: Lead, moment: datetime | date | None) -> Credit:
        touches = self.touches_until([lead], moment)
        if not touches:
            return {lead.lead_source or NONE: Fraction(1)}
        return _split(a.channel or NONE for a in touches)

    def deal_credit(self, deal: Deal, value: Callable[[Lead], str | None],
                    fallback: str | None) -> Credit:
        contacts = self.contacts[deal.id]
        if not contacts:
            return {fallback or NONE: Fraction(1)}
        return _split(value(c) or NONE for c in contacts)

    def linear_deal(self, deal: Deal) -> Credit:
        touches = self.touches_until(self.contacts[deal.id], deal.close_date)
        if not touches:
            return self.deal_credit(deal, lambda c: c.lead_source, deal.lead_source)
        return _split(a.channel or NONE for a in touches)


def _reached(lead: Lead, won: bool) -> tuple[bool, bool]:
    stage = (lead.lifecycle_stage or "").lower()
    sql = won or lead.sql_at is not None or stage in _SQL_STAGES
    mql = sql or lead.mql_at is not None or stage in _MQL_STAGES
    return mql, sql


def compute(data: Dataset, config: ReportConfig, *, now: datetime) -> Report:
    """Compute every table of the report from what the store holds."""
    tz = config.tz
    since = config.since
    cohort = [lead for lead in data.leads if since is None or (
        lead.created_at is not None and lead.created_at.astimezone(tz).date() >= since)]
    all_emails = {lead.email for lead in data.leads if lead.email}
    cohort_emails = {lead.email for lead in cohort if lead.email}

    def in_scope(d: Deal) -> bool:
        if since is not None and d.close_date is not None and d.close_date < since:
            return False
        emails = set(d.contact_emails)
        return bool(emails & cohort_emails) or not emails & all_emails

    deals = sorted((d for d in data.deals if d.is_closed and in_scope(d)), key=lambda d: d.id)
    won_deals = [d for d in deals if d.is_won]
    att = _Attribution(data, config, cohort, won_deals)

    closes: dict[int, list[date]] = defaultdict(list)
    for d in won_deals:
        for c in att.contacts[d.id]:
            closes[c.id].extend([d.close_date] if d.close_date else [])
    # A lead's won moment: its first won deal's close date (None: no dated one).
    first_won = {lid: min(ds) if ds else None for lid, ds in closes.items()}

    dims: dict[str, tuple[Callable[[Lead], str | None], Callable[[Deal], str | None]]] = {
        "first-touch": (lambda x: x.lead_source, lambda d: d.lead_source),
        "last-touch": (lambda x: x.last_touch_channel, lambda d: None),
        "campaign": (lambda x: x.campaign, lambda d: d.campaign),
        "score-band": (lambda x: config.band_of(x.score), lambda d: None),
        "owner": (lambda x: x.owner, lambda d: d.owner),
    }
    models = {k: _Model() for k in (*dims, "linear")}
    summary = Summary(since=since, queries=data.queries, touches=sum(map(len, att.touches.values())))
    for lead in cohort:
        won = lead.id in first_won
        mql, sql = _reached(lead, won)
        stages = [("leads", True, lead.created_at), ("mql", mql, lead.mql_at or lead.sql_at),
                  ("sql", sql, lead.sql_at), ("won", won, first_won.get(lead.id))]
        for key, (value, _) in dims.items():
            credit = {value(lead) or NONE: Fraction(1)}
            for col, hit, _moment in stages:
                if hit:
                    models[key].add(col, credit)
        for col, hit, moment in stages:
            if hit:
                models["linear"].add(col, att.linear_lead(lead, moment))
        summary.leads += 1
        summary.mql += mql
        summary.sql += sql
        summary.won_leads += won
    for d in won_deals:
        amount = Fraction(d.amount or 0)
        summary.won_deals += 1
        summary.won_amount += d.amount or 0
        summary.won_deals_without_amount += d.amount is None
        for key, (value, fallback) in dims.items():
            models[key].add("won_amount", att.deal_credit(d, value, fallback(d)), amount)
        models["linear"].add("won_amount", att.linear_deal(d), amount)
    summary.lost_deals = sum(1 for d in deals if not d.is_won)
    if summary.won_deals_without_amount:
        summary.notes.append(f"{summary.won_deals_without_amount} won deal(s) have no amount "
                             f"and count as ¥0")

    band_rank = {b.label: i for i, b in enumerate(config.bands)}
    tables = (
        models["first-touch"].table("first-touch", "By first-touch channel (lead source)",
                                    "channel", fractional=False, order=_by_amount),
        models["last-touch"].table("last-touch", "By last-touch channel (hand-off to sales)",
                                   "channel", fractional=False, order=_by_amount),
        models["linear"].table("linear", "By channel, linear multi-touch attribution",
                               "channel", fractional=True, order=_by_amount),
        models["campaign"].table("campaign", "By campaign", "campaign", fractional=False,
                                 order=_by_amount),
        models["score-band"].table(
            "score-band", "By score band at hand-off (current score)", "score_band",
            fractional=False, order=lambda lb, _c: (band_rank.get(lb, len(band_rank)), lb)),
        models["owner"].table("owner", "By owner (sales rep)", "owner", fractional=False,
                              order=_by_amount),
    )
    return Report(tables, summary, now)
