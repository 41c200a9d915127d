"""The alerting configuration: Alertmanager's structure, in TOML, checked with msgspec.

Read with :func:`load_config` (a path, TOML text, or a dict already parsed):
every mistake is ONE :class:`~messages.InvalidMessage` whose ``field`` is the
key path (``route.routes[0].group_wait``), with the value and what was
expected. Secrets come from environment variables named in the file
(``url_env``, ``api_url_env``, ``auth_password_env``): a variable that is not
set is a mistake of the file too.
"""

from __future__ import annotations

import math
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal

import msgspec

from actors.alerting.duration import parse_duration
from actors.alerting.escalation import EscalationLevel, EscalationPolicy
from actors.alerting.flap import FlapSettings
from actors.alerting.inhibit import DEFAULT_INHIBIT_RULES, InhibitRule
from actors.alerting.matcher import parse_matchers
from actors.alerting.route import DEFAULT_GROUP_BY, Route
from messages import InvalidMessage

__all__ = ["AlertingSettings", "Integration", "load_config"]


class _Table(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """A TOML table: unknown keys are mistakes."""


class WebhookConfig(_Table):
    url: str | None = None
    url_env: str | None = None
    send_resolved: bool = True
    max_alerts: int = 0
    timeout: str = "10s"


class SlackConfig(_Table):
    api_url: str | None = None
    api_url_env: str | None = None
    channel: str = ""
    send_resolved: bool = False
    timeout: str = "10s"


class EmailConfig(_Table):
    to: str
    from_: str = msgspec.field(name="from")
    smarthost: str
    auth_username: str = ""
    auth_password: str = ""
    auth_password_env: str | None = None
    require_tls: bool = True
    ca_file: str = ""
    send_resolved: bool = False
    timeout: str = "10s"


class AlertmanagerConfig(_Table):
    url: str
    send_resolved: bool = True
    timeout: str = "10s"


class ReceiverConfig(_Table):
    name: str
    webhook_configs: list[WebhookConfig] = []
    slack_configs: list[SlackConfig] = []
    email_configs: list[EmailConfig] = []
    alertmanager_configs: list[AlertmanagerConfig] = []


class RouteConfig(_Table):
    receiver: str | None = None
    group_by: list[str] | None = None
    group_wait: str | None = None
    group_interval: str | None = None
    repeat_interval: str | None = None
    matchers: list[str] = []
    continue_: bool = msgspec.field(default=False, name="continue")
    resolve_immediately: bool | None = None
    routes: list[RouteConfig] = []


class InhibitRuleConfig(_Table):
    source_matchers: list[str]
    target_matchers: list[str]
    equal: list[str] = []


class LevelConfig(_Table):
    delay: str
    receivers: list[str]


class EscalationPolicyConfig(_Table):
    name: str
    levels: list[LevelConfig]
    matchers: list[str] = []
    loops: int = 0
    ack_timeout: str = "30m"


class FlappingConfig(_Table):
    enabled: bool = True
    history: int = 21
    high_threshold: float = 30.0
    low_threshold: float = 20.0
    sample_interval: str = "10s"


class FailureRateConfig(_Table):
    enabled: bool = True
    window: str = "5m"
    threshold: float = 0.5
    min_tasks: int = 10
    severity: str = "warning"


class DurationP95Config(_Table):
    """``[rules.duration_p95]``: the p95 task duration rule, off unless the table is there."""

    threshold: str
    enabled: bool = True
    window: str = "5m"
    min_tasks: int = 20
    per_kind: bool = False
    severity: str = "warning"


class CostBudgetConfig(_Table):
    """``[rules.cost_budget]``: spend over a window against a budget per hour, off unless there."""

    per_hour: float
    enabled: bool = True
    window: str = "1h"
    per_agent: bool = False
    severity: str = "warning"


class RulesConfig(_Table):
    failure_rate: FailureRateConfig = msgspec.field(default_factory=FailureRateConfig)
    duration_p95: DurationP95Config | None = None
    cost_budget: CostBudgetConfig | None = None


class NotifyConfig(_Table):
    initial_backoff: str = "1s"
    max_backoff: str = "1m"
    failures_before_alert: int = 3


class FileConfig(_Table):
    route: RouteConfig = msgspec.field(default_factory=RouteConfig)
    receivers: list[ReceiverConfig] = []
    inhibit_rules: list[InhibitRuleConfig] = []
    default_inhibit_rules: bool = True
    escalation_policies: list[EscalationPolicyConfig] = []
    flapping: FlappingConfig = msgspec.field(default_factory=FlappingConfig)
    rules: RulesConfig = msgspec.field(default_factory=RulesConfig)
    notify: NotifyConfig = msgspec.field(default_factory=NotifyConfig)
    external_url: str = "http://localhost"


Kind = Literal["webhook", "slack", "email", "alertmanager"]


@dataclass(frozen=True)
class Integration:
    """One delivery target of a receiver (a receiver may have several).

    Attributes:
        id: ``"<receiver>/<kind>/<index>"``, the notification log's key.
        receiver: the receiver's name.
        kind: webhook, slack, email or alertmanager.
        send_resolved: whether resolved alerts are sent.
        timeout: seconds one attempt may take.
        settings: the rest (``url``, SMTP settings), secrets resolved.
    """

    id: str
    receiver: str
    kind: Kind
    send_resolved: bool
    timeout: float
    settings: Mapping[str, Any]


@dataclass(frozen=True)
class AlertingSettings:
    """A checked configuration, ready for the router (built by :func:`load_config`)."""

    route: Route = field(default_factory=lambda: Route(id="0", receiver="default"))
    receivers: Mapping[str, tuple[Integration, ...]] = field(default_factory=lambda: {"default": ()})
    inhibit_rules: tuple[InhibitRule, ...] = DEFAULT_INHIBIT_RULES
    escalation_policies: tuple[EscalationPolicy, ...] = ()
    flapping: FlapSettings = field(default_factory=FlapSettings)
    flap_sample_interval: float = 10.0
    failure_rate: FailureRateConfig = field(default_factory=FailureRateConfig)
    initial_backoff: float = 1.0
    max_backoff: float = 60.0
    failures_before_alert: int = 3
    external_url: str = "http://localhost"
    duration_p95: DurationP95Config | None = None
    """The p95 rule's table as written (None: off); its durations are checked."""
    cost_budget: CostBudgetConfig | None = None
    """The cost budget's table as written (None: off); checked."""


_PATH: Final = re.compile(r"at `\$(.*)`")


def load_config(source: str | os.PathLike[str] | Mapping[str, Any], *,
                environ: Mapping[str, str] | None = None) -> AlertingSettings:
    """Read, check and compile an alerting configuration.

    Args:
        source: a path to a TOML file, or TOML text (a string holding a newline
            or a ``=``), or a parsed mapping.
        environ: where ``*_env`` secrets are looked up; ``os.environ`` when None.

    Raises:
        InvalidMessage: the one mistake found, by key path.
    """
    raw = _read(source)
    try:
        parsed = msgspec.convert(raw, FileConfig)
    except msgspec.ValidationError as exc:
        text = str(exc)
        found = _PATH.search(text)
        path = found.group(1).lstrip(".") if found else ""
        reason = _PATH.sub("", text).strip().rstrip("-").strip()
        unknown = re.match(r"Object contains unknown field `([^`]*)`", reason)
        missing = re.match(r"Object missing required field `([^`]*)`", reason)
        if missing:
            path = f"{path}.{missing.group(1)}".lstrip(".")
            return _fail(path, None, "required")
        if unknown:
            path = f"{path}.{unknown.group(1)}".lstrip(".")
            return _fail(path, _lookup(raw, path), "unknown key")
        return _fail(path or "(file)", _lookup(raw, path), reason)
    return _compile(parsed, os.environ if environ is None else environ)


def _fail(path: str, value: object, reason: str) -> AlertingSettings:
    raise InvalidMessage(path, value, reason)


def _read(source: str | os.PathLike[str] | Mapping[str, Any]) -> Any:
    if isinstance(source, Mapping):
        return dict(source)
    text = os.fspath(source)
    where = "(text)"
    if "\n" not in text and "=" not in text:
        where = text
        try:
            text = Path(text).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise InvalidMessage("file", where, f"cannot be read: {exc}") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InvalidMessage(where, None, f"not valid TOML: {exc}") from None


def _lookup(raw: Any, path: str) -> Any:
    """The value at a msgspec path such as ``route.routes[0].group_wait``."""
    value = raw
    for part in re.findall(r"[^.\[\]]+|\[\d+\]", path):
        try:
            value = value[int(part[1:-1])] if part.startswith("[") else value[part]
        except (KeyError, IndexError, TypeError, ValueError):
            return None
    return value


def _compile(cfg: FileConfig, environ: Mapping[str, str]) -> AlertingSettings:
    receivers: dict[str, tuple[Integration, ...]] = {}
    for i, rc in enumerate(cfg.receivers):
        where = f"receivers[{i}]"
        if not rc.name:
            _fail(f"{where}.name", rc.name, "a receiver needs a name")
        if rc.name in receivers:
            _fail(f"{where}.name", rc.name, "another receiver has this name")
        receivers[rc.name] = _integrations(rc, where, environ)
    if cfg.route.receiver is None:
        _fail("route.receiver", None, "the root route needs a receiver")
    route = _route(cfg.route, "route", "0", None, set(receivers))
    rules = tuple(
        InhibitRule(
            parse_matchers(r.source_matchers, f"inhibit_rules[{i}].source_matchers"),
            parse_matchers(r.target_matchers, f"inhibit_rules[{i}].target_matchers"),
            tuple(r.equal),
        )
        for i, r in enumerate(cfg.inhibit_rules)
    )
    if cfg.default_inhibit_rules:
        rules = DEFAULT_INHIBIT_RULES + rules
    policies = []
    for i, p in enumerate(cfg.escalation_policies):
        where = f"escalation_policies[{i}]"
        if not p.levels:
            _fail(f"{where}.levels", p.levels, "a policy needs at least one level")
        if p.loops < 0:
            _fail(f"{where}.loops", p.loops, "must be 0 or more")
        levels = []
        for j, level in enumerate(p.levels):
            for k, name in enumerate(level.receivers):
                if name not in receivers:
                    _fail(f"{where}.levels[{j}].receivers[{k}]", name, "no receiver has this name")
            delay = parse_duration(level.delay, f"{where}.levels[{j}].delay")
            levels.append(EscalationLevel(delay, tuple(level.receivers)))
        policies.append(EscalationPolicy(
            name=p.name, matchers=parse_matchers(p.matchers, f"{where}.matchers"),
            levels=tuple(levels), loops=p.loops,
            ack_timeout=parse_duration(p.ack_timeout, f"{where}.ack_timeout"),
        ))
    f = cfg.flapping
    if not 2 <= f.history <= 1000:
        _fail("flapping.history", f.history, "must be between 2 and 1000")
    if not 0 <= f.low_threshold <= f.high_threshold <= 100:
        _fail("flapping.low_threshold", f.low_threshold, "need 0 <= low_threshold <= high_threshold <= 100")
    sample = parse_duration(f.sample_interval, "flapping.sample_interval")
    if sample <= 0:
        _fail("flapping.sample_interval", f.sample_interval, "must be positive")
    fr = cfg.rules.failure_rate
    parse_duration(fr.window, "rules.failure_rate.window")
    if not 0 < fr.threshold <= 1:
        _fail("rules.failure_rate.threshold", fr.threshold, "a fraction in (0, 1]")
    if fr.severity not in ("info", "warning", "critical"):
        _fail("rules.failure_rate.severity", fr.severity, "one of info, warning, critical")
    p95 = cfg.rules.duration_p95
    if p95 is not None:
        if parse_duration(p95.window, "rules.duration_p95.window") < 60:
            _fail("rules.duration_p95.window", p95.window, "at least 1m (figures are kept per minute)")
        if parse_duration(p95.threshold, "rules.duration_p95.threshold") <= 0:
            _fail("rules.duration_p95.threshold", p95.threshold, "must be positive")
        if p95.min_tasks < 1:
            _fail("rules.duration_p95.min_tasks", p95.min_tasks, "must be 1 or more")
        if p95.severity not in ("info", "warning", "critical"):
            _fail("rules.duration_p95.severity", p95.severity, "one of info, warning, critical")
    budget = cfg.rules.cost_budget
    if budget is not None:
        if not (math.isfinite(budget.per_hour) and budget.per_hour > 0):
            _fail("rules.cost_budget.per_hour", budget.per_hour,
                  "a positive amount per hour, in the prices' currency")
        if parse_duration(budget.window, "rules.cost_budget.window") < 60:
            _fail("rules.cost_budget.window", budget.window, "at least 1m (figures are kept per minute)")
        if budget.severity not in ("info", "warning", "critical"):
            _fail("rules.cost_budget.severity", budget.severity, "one of info, warning, critical")
    n = cfg.notify
    if n.failures_before_alert < 1:
        _fail("notify.failures_before_alert", n.failures_before_alert, "must be 1 or more")
    return AlertingSettings(
        route=route, receivers=receivers, inhibit_rules=rules, escalation_policies=tuple(policies),
        flapping=FlapSettings(f.enabled, f.history, f.high_threshold, f.low_threshold),
        flap_sample_interval=sample, failure_rate=fr,
        initial_backoff=parse_duration(n.initial_backoff, "notify.initial_backoff"),
        max_backoff=parse_duration(n.max_backoff, "notify.max_backoff"),
        failures_before_alert=n.failures_before_alert, external_url=cfg.external_url,
        duration_p95=p95, cost_budget=budget,
    )


def _secret(value: str | None, env: str | None, where: str, key: str,
            environ: Mapping[str, str], required: bool = True) -> str:
    if env is not None:
        if value:
            _fail(f"{where}.{key}_env", env, f"give {key} or {key}_env, not both")
        if env not in environ:
            _fail(f"{where}.{key}_env", env, "this environment variable is not set")
        return environ[env]
    if not value and required:
        _fail(f"{where}.{key}", value, f"required (or {key}_env naming an environment variable)")
    return value or ""


def _url(url: str, where: str) -> str:
    if not re.match(r"^https?://[^/\s]+", url):
        _fail(where, url, "expected an http:// or https:// URL")
    return url


def _integrations(rc: ReceiverConfig, where: str, environ: Mapping[str, str]) -> tuple[Integration, ...]:
    out: list[Integration] = []

    def add(kind: Kind, i: int, send_resolved: bool, timeout: str, **settings: Any) -> None:
        seconds = parse_duration(timeout, f"{where}.{kind}_configs[{i}].timeout")
        if seconds <= 0:
            _fail(f"{where}.{kind}_configs[{i}].timeout", timeout, "must be positive")
        out.append(Integration(f"{rc.name}/{kind}/{i}", rc.name, kind, send_resolved, seconds, settings))

    for i, w in enumerate(rc.webhook_configs):
        at = f"{where}.webhook_configs[{i}]"
        url = _url(_secret(w.url, w.url_env, at, "url", environ), f"{at}.url")
        add("webhook", i, w.send_resolved, w.timeout, url=url, max_alerts=w.max_alerts)
    for i, s in enumerate(rc.slack_configs):
        at = f"{where}.slack_configs[{i}]"
        url = _url(_secret(s.api_url, s.api_url_env, at, "api_url", environ), f"{at}.api_url")
        add("slack", i, s.send_resolved, s.timeout, url=url, channel=s.channel)
    for i, e in enumerate(rc.email_configs):
        at = f"{where}.email_configs[{i}]"
        host, _, port = e.smarthost.rpartition(":")
        if not host or not port.isdigit():
            _fail(f"{at}.smarthost", e.smarthost, 'expected "host:port"')
        password = _secret(e.auth_password, e.auth_password_env, at, "auth_password", environ,
                           required=False)
        add("email", i, e.send_resolved, e.timeout, to=e.to, sender=e.from_, host=host,
            port=int(port), username=e.auth_username, password=password, require_tls=e.require_tls,
            ca_file=e.ca_file)
    for i, a in enumerate(rc.alertmanager_configs):
        at = f"{where}.alertmanager_configs[{i}]"
        add("alertmanager", i, a.send_resolved, a.timeout, url=_url(a.url, f"{at}.url"))
    return tuple(out)


def _route(rc: RouteConfig, where: str, id: str, parent: Route | None, names: set[str]) -> Route:
    receiver = rc.receiver if rc.receiver is not None else parent.receiver if parent else ""
    if receiver not in names:
        _fail(f"{where}.receiver", receiver, "no receiver has this name")
    if rc.group_by is not None:
        if "..." in rc.group_by and rc.group_by != ["..."]:
            _fail(f"{where}.group_by", rc.group_by, '"..." must be alone')
        group_by: tuple[str, ...] | None = None if rc.group_by == ["..."] else tuple(rc.group_by)
    else:
        group_by = parent.group_by if parent else DEFAULT_GROUP_BY

    def timing(value: str | None, key: str, inherited: float) -> float:
        if value is None:
            return inherited
        seconds = parse_duration(value, f"{where}.{key}")
        if key != "group_wait" and seconds <= 0:
            _fail(f"{where}.{key}", value, "must be positive")
        return seconds

    base = parent or Route(id="0", receiver=receiver)
    node = Route(
        id=id, receiver=receiver,
        matchers=parse_matchers(rc.matchers, f"{where}.matchers"),
        group_by=group_by,
        group_wait=timing(rc.group_wait, "group_wait", base.group_wait),
        group_interval=timing(rc.group_interval, "group_interval", base.group_interval),
        repeat_interval=timing(rc.repeat_interval, "repeat_interval", base.repeat_interval),
        continue_=rc.continue_,
        resolve_immediately=(
            base.resolve_immediately if rc.resolve_immediately is None else rc.resolve_immediately
        ),
    )
    if parent is None and node.matchers:
        _fail(f"{where}.matchers", rc.matchers, "the root route matches every alert: no matchers")
    children = tuple(
        _route(child, f"{where}.routes[{i}]", f"{id}.{i}", node, names)
        for i, child in enumerate(rc.routes)
    )
    return Route(**{**node.__dict__, "routes": children})
