"""The compiled rule set: owners and teams, qualification, routing and alert rules.

Lifecycle stages, in funnel order (DOMAIN.md "Objects")::

    subscriber < lead < mql < sql < opportunity < customer

``recycled`` (sales handed the lead back to marketing) and ``disqualified`` are off the
funnel. Qualification only ever promotes a lead to ``mql`` from a blank stage or one of
``qualify_from`` (default subscriber, lead, recycled: a nurtured lead may qualify again); it
never touches a lead sales already moved to sql, opportunity or customer, nor a disqualified
one. Nothing in the rules ever moves a stage backwards.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from renkei.rules.conditions import Condition
from renkei.rules.templates import Template

if TYPE_CHECKING:
    from renkei.rules.engine import Changes, RulesOutcome
    from renkei.store import Tx

FUNNEL = ("subscriber", "lead", "mql", "sql", "opportunity", "customer")
"""Lifecycle stages in funnel order."""
QUALIFY_FROM_DEFAULT = frozenset({"subscriber", "lead", "recycled"})
ACCOUNT_OWNER = "account_owner"
"""The assignment owner that means "the owner of the lead's account"."""


@dataclass(frozen=True)
class Owner:
    """A person who can own leads and receive alerts."""

    code: str
    name: str
    alerts: frozenset[str] | None = None
    quiet: bool = False


@dataclass
class Owners:
    """Teams (members in round-robin order), owners and their alert preferences."""

    teams: dict[str, tuple[str, ...]] = field(default_factory=dict)
    owners: dict[str, Owner] = field(default_factory=dict)
    default_alerts: frozenset[str] | None = None

    def team_of(self, code: str) -> str | None:
        """The first team listing ``code``, or None."""
        return next((t for t, members in self.teams.items() if code in members), None)

    def receives(self, code: str, alert_type: str) -> bool:
        """Whether ``code`` wants alerts of ``alert_type`` (an unknown owner gets the
        defaults: an alert nobody reads is better than a lead nobody hears about)."""
        owner = self.owners.get(code)
        if owner is not None and owner.quiet:
            return False
        wanted = owner.alerts if owner is not None and owner.alerts is not None \
            else self.default_alerts
        return wanted is None or alert_type in wanted


@dataclass(frozen=True)
class QualificationRule:
    """A per-channel MQL threshold."""

    name: str
    channels: frozenset[str] | None
    when: Condition
    activity: Condition | None = None


@dataclass
class Qualification:
    rules: tuple[QualificationRule, ...]
    qualify_from: frozenset[str] = QUALIFY_FROM_DEFAULT


@dataclass(frozen=True)
class Assignment:
    """A team and an owner; owner None means round-robin over the team's members."""

    team: str | None
    owner: str | None


@dataclass(frozen=True)
class RoutingRule:
    name: str
    when: Condition
    assign: Assignment


@dataclass(frozen=True)
class NamedAccount:
    name: str
    owner: str
    team: str | None = None


@dataclass
class Routing:
    """Ordered routing rules (first match wins) and the tables they use."""

    rules: tuple[RoutingRule, ...]
    default: Assignment
    regions: dict[str, str] = field(default_factory=dict)
    """Prefecture → region."""
    named_accounts: dict[str, NamedAccount] = field(default_factory=dict)
    """Normalised company key → named account."""
    route_stages: frozenset[str] = frozenset({"mql"})


@dataclass(frozen=True)
class AlertRule:
    """Raises an alert for the lead's owner on an activity, a change, or idleness."""

    name: str
    on: str
    when: Condition
    type: str
    title: Template
    priority: str = "normal"
    message: Template | None = None
    next_action: Template | None = None
    due_in_days: int | None = None
    days: int | None = None


@dataclass(frozen=True)
class ListSync:
    """A Marketo static list kept in step with recycled people (``marketo_list``)."""

    mapping: str
    list_id: int


@dataclass
class OutcomeRules:
    """Deal outcomes back to people (``kind: outcomes``); see :mod:`renkei.rules.outcomes`."""

    hold_stages: frozenset[str] = frozenset()
    hold_reason: Template | None = None
    marketo_list: ListSync | None = None


@dataclass(frozen=True)
class DealAlertRule:
    """A stale-deal rule (``kind: deal_alerts``); see :mod:`renkei.rules.deal_alerts`."""

    name: str
    on: str
    days: int
    type: str
    title: Template
    stages: frozenset[str] | None = None
    activity_types: frozenset[str] | None = None
    owner: str | None = None
    priority: str = "normal"
    message: Template | None = None
    next_action: Template | None = None
    due_in_days: int | None = None


@dataclass
class RuleSet:
    """Every rule of one rules directory.

    Example:
        >>> rules = RuleSet.load(Path("mappings/rules"))  # doctest: +SKIP
        >>> with store.transaction() as tx:                # doctest: +SKIP
        ...     outcome = rules.apply(tx, changes, now=utcnow())
    """

    qualification: Qualification | None = None
    routing: Routing | None = None
    alerts: tuple[AlertRule, ...] = ()
    owners: Owners = field(default_factory=Owners)
    outcomes: OutcomeRules | None = None
    deal_alerts: tuple[DealAlertRule, ...] = ()
    source: Path | None = None
    email_keys: tuple[str, ...] = ("email",)
    """Names of the lead match keys that hold the normalised e-mail (set by the project)."""

    @classmethod
    def load(cls, directory: Path) -> RuleSet:
        """Load and check every rule file of ``directory``.

        Raises:
            renkei.mapping.MappingError: with every diagnostic, when any file has an error.
        """
        from renkei.rules.load import load_rules

        return load_rules(directory)

    def apply(self, tx: Tx, changes: Changes, now: str, *,
              run_id: str | None = None) -> RulesOutcome:
        """Run qualification, routing and alerts for the changed records, in ``tx``.

        Args:
            tx: A store transaction; every change is written through it.
            changes: Entity → hub record id → changed fields (lead, activity).
            now: The current time, canonical UTC.
            run_id: Written to the journal.
        """
        from renkei.rules.engine import apply_rules

        return apply_rules(self, tx, changes, now, run_id=run_id)


__all__ = [
    "ACCOUNT_OWNER",
    "FUNNEL",
    "QUALIFY_FROM_DEFAULT",
    "AlertRule",
    "Assignment",
    "DealAlertRule",
    "ListSync",
    "NamedAccount",
    "OutcomeRules",
    "Owner",
    "Owners",
    "Qualification",
    "QualificationRule",
    "Routing",
    "RoutingRule",
    "RuleSet",
]
