"""Rules between inbound and outbound: qualification (MQL), routing and alerts.

Rule files live in ``mappings/rules/*.yaml`` (``rules:`` in renkei.yaml), one file per
``kind:`` — qualification, routing, alerts, owners — checked by ``renkei validate`` against
``schemas/rules.schema.json`` and semantically, with ``file:line:col`` diagnostics.

Public API::

    RuleSet.load(directory) -> RuleSet                MappingError on any error
    RuleSet.apply(tx, changes, now) -> RulesOutcome    one pass over given changes
    run_rules(rules, tx, now, run_id=None)             the sync runner's phase (own cursor)
    validate_rule_paths(paths) -> [Diagnostic]         never raises
    is_rules_path(path) -> bool                        validate's dispatch
    explain_route(rules, tx, email), reroute(...)      renkei route
"""

from renkei.rules.engine import Changes, RulesOutcome, apply_rules, run_rules
from renkei.rules.explain import Explanation, LeadNotFoundError, explain_route, reroute
from renkei.rules.load import check_rule_files, is_rules_path, load_rules, validate_rule_paths
from renkei.rules.model import FUNNEL, RuleSet

__all__ = [
    "FUNNEL",
    "Changes",
    "Explanation",
    "LeadNotFoundError",
    "RuleSet",
    "RulesOutcome",
    "apply_rules",
    "check_rule_files",
    "explain_route",
    "is_rules_path",
    "load_rules",
    "reroute",
    "run_rules",
    "validate_rule_paths",
]
