"""Inhibition, as Alertmanager's ``inhibit_rules``: a firing source mutes matching targets.

A target alert is inhibited while some *other* firing alert matches the
rule's source matchers and has the same values for every label in ``equal``
(a label missing on both counts as equal, as in Alertmanager).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Final

from actors.alerting.matcher import Matcher, matches, parse_matchers
from messages.alerting import AlertInstance

__all__ = ["DEFAULT_INHIBIT_RULES", "InhibitRule", "inhibited_by"]


@dataclass(frozen=True)
class InhibitRule:
    """Mute alerts matching ``target`` while an alert matching ``source`` fires."""

    source: tuple[Matcher, ...]
    target: tuple[Matcher, ...]
    equal: tuple[str, ...] = ()

    def mutes(self, source: Mapping[str, str], target: Mapping[str, str]) -> bool:
        """Whether ``source`` (firing) mutes ``target`` under this rule."""
        return (
            matches(self.target, target)
            and matches(self.source, source)
            and all(source.get(n, "") == target.get(n, "") for n in self.equal)
        )


def _rule(source: list[str], target: list[str], equal: tuple[str, ...]) -> InhibitRule:
    return InhibitRule(parse_matchers(source), parse_matchers(target), equal)


DEFAULT_INHIBIT_RULES: Final = (
    # an agent's FAILED mutes its DEGRADED and CRITICAL (and CRITICAL its DEGRADED)
    _rule(["alertname=AgentFailed"], ["alertname=~AgentDegraded|AgentCritical"], ("swarm_id", "agent_id")),
    _rule(["alertname=AgentCritical"], ["alertname=AgentDegraded"], ("swarm_id", "agent_id")),
    # a flapping agent gets one "flapping" notice, not one per transition
    _rule(["alertname=AgentFlapping"], ["alertname=~AgentDegraded|AgentCritical|AgentFailed"],
          ("swarm_id", "agent_id")),
    # a swarm-wide cause mutes the per-agent alerts it causes
    _rule(["alertname=~MonitorStall|StorageOutage"], ["scope=agent"], ("swarm_id",)),
)
"""Rules in force unless the file sets ``default_inhibit_rules = false``."""


def inhibited_by(
    alert: AlertInstance, firing: Iterable[AlertInstance], rules: Iterable[InhibitRule]
) -> AlertInstance | None:
    """The first firing alert that inhibits ``alert``, or None."""
    mine = alert.fingerprint
    for rule in rules:
        if not matches(rule.target, alert.labels):
            continue
        for source in firing:
            if rule.mutes(source.labels, alert.labels) and source.fingerprint != mine:
                return source
    return None
