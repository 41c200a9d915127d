"""Alert management: Alertmanager's routing, grouping and muting, plus acks, escalation, durability."""

from actors.alerting.config import AlertingSettings, Integration, load_config
from actors.alerting.duration import format_duration, parse_duration
from actors.alerting.engine import AlertEngine, EngineStats
from actors.alerting.matcher import Matcher, matches, parse_matcher, parse_matchers

__all__ = [
    "AlertEngine",
    "AlertingSettings",
    "EngineStats",
    "Integration",
    "Matcher",
    "format_duration",
    "load_config",
    "matches",
    "parse_duration",
    "parse_matcher",
    "parse_matchers",
]
