"""The TOML configuration: Alertmanager's structure, one error per mistake, by key path."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from actors.alerting import load_config, parse_duration, parse_matcher
from actors.alerting.route import group_key, match_routes
from demo.cli import main
from messages import InvalidMessage

README = Path(__file__).resolve().parents[2] / "README.md"
ENV = {"SLACK_WEBHOOK_URL": "https://hooks.slack.example/T0/B0/x", "SMTP_PASSWORD": "pw"}


def _readme_config() -> str:
    section = README.read_text(encoding="utf-8").split("## Alerting", 1)[1]
    return re.findall(r"```toml\n(.*?)```", section, re.S)[0]


def test_the_readmes_example_config_loads_with_every_part() -> None:
    """The README's example: routes inherit, receivers resolve secrets, policies compile."""
    settings = load_config(_readme_config(), environ=ENV)
    root = settings.route
    assert (root.group_wait, root.group_interval, root.repeat_interval) == (30, 300, 14400)
    pager, chat = root.routes
    assert pager.continue_ and pager.group_by == ("alertname", "agent_id")
    assert chat.group_interval == 600 and chat.group_wait == 30 and chat.resolve_immediately
    assert settings.receivers["chat"][0].settings["url"] == ENV["SLACK_WEBHOOK_URL"]
    assert [i.kind for i in settings.receivers["pager"]] == ["email", "alertmanager"]
    assert settings.escalation_policies[0].levels[1].receivers == ("manager",)
    p95 = settings.duration_p95
    assert p95 is not None and (p95.threshold, p95.window, p95.per_kind) == ("2m", "10m", True)
    labels = {"alertname": "AgentFailed", "agent_id": "a1", "swarm_id": "s", "severity": "critical",
              "scope": "agent"}
    assert [r.receiver for r in match_routes(root, labels)] == ["pager", "chat"]
    assert group_key(pager, labels) == '0.0:{agent_id="a1",alertname="AgentFailed"}'


@pytest.mark.parametrize(("text", "path", "reason"), [
    ('[route]\nreceiver = "nobody"\n', "route.receiver", "no receiver has this name"),
    ('[route]\nreceiver = "t"\ngroup_wait = "5x"\n', "route.group_wait", "expected a duration"),
    ('[route]\nreceiver = "t"\n[[route.routes]]\ngroup_interval = "0s"\n',
     "route.routes[0].group_interval", "must be positive"),
    ('[route]\nreceiver = "t"\ncolour = "red"\n', "route.colour", "unknown key"),
    ('[route]\nreceiver = "t"\n[[route.routes]]\nmatchers = ["a=~("]\n',
     "route.routes[0].matchers[0]", "not a valid regex"),
    ('[route]\nreceiver = "t"\n[[route.routes]]\nmatchers = ["severity"]\n',
     "route.routes[0].matchers[0]", "expected label<op>value"),
    ('[route]\nreceiver = "t"\ngroup_by = ["...", "x"]\n', "route.group_by", '"..." must be alone'),
    ('[route]\nreceiver = "t"\n[[receivers.webhook_configs]]\nurl = "ftp://x"\n',
     "receivers[0].webhook_configs[0].url", "http:// or https://"),
    ('[route]\nreceiver = "t"\n[[receivers.slack_configs]]\napi_url_env = "NOPE_NOT_SET"\n',
     "receivers[0].slack_configs[0].api_url_env", "not set"),
    ('[route]\nreceiver = "t"\n[[receivers.email_configs]]\nto = "a"\nfrom = "b"\nsmarthost = "h"\n',
     "receivers[0].email_configs[0].smarthost", "host:port"),
    ('[route]\nreceiver = "t"\n[[escalation_policies]]\nname = "p"\n[[escalation_policies.levels]]\n'
     'delay = "1m"\nreceivers = ["ghost"]\n', "escalation_policies[0].levels[0].receivers[0]",
     "no receiver"),
    ('[route]\nreceiver = "t"\n[flapping]\nhigh_threshold = 10.0\nlow_threshold = 20.0\n',
     "flapping.low_threshold", "low_threshold <= high_threshold"),
    ('[route]\nreceiver = "t"\n[route.routes]\n', "route.routes", "Expected `array`"),
    ('[route]\nreceiver = "t"\n[rules.duration_p95]\nwindow = "5m"\n',
     "rules.duration_p95.threshold", "required"),
    ('[route]\nreceiver = "t"\n[rules.duration_p95]\nthreshold = "slow"\n',
     "rules.duration_p95.threshold", "expected a duration"),
    ('[route]\nreceiver = "t"\n[rules.duration_p95]\nthreshold = "10s"\nwindow = "30s"\n',
     "rules.duration_p95.window", "at least 1m"),
    ('[route]\nreceiver = "t"\n[rules.duration_p95]\nthreshold = "10s"\nper_kind = "yes"\n',
     "rules.duration_p95.per_kind", "Expected `bool`"),
    ('[route]\nreceiver = "t"\n[rules.cost_budget]\nwindow = "1h"\n',
     "rules.cost_budget.per_hour", "required"),
    ('[route]\nreceiver = "t"\n[rules.cost_budget]\nper_hour = 0\n',
     "rules.cost_budget.per_hour", "a positive amount per hour"),
    ('[route]\nreceiver = "t"\n[rules.cost_budget]\nper_hour = "5 USD"\n',
     "rules.cost_budget.per_hour", "Expected `float`"),
    ('[route]\nreceiver = "t"\n[rules.cost_budget]\nper_hour = 5.0\nwindow = "30s"\n',
     "rules.cost_budget.window", "at least 1m"),
    ('[route]\nreceiver = "t"\n[rules.cost_budget]\nper_hour = 5.0\nwindow = "an hour"\n',
     "rules.cost_budget.window", "expected a duration"),
    ('[route]\nreceiver = "t"\n[rules.cost_budget]\nper_hour = 5.0\nseverity = "page"\n',
     "rules.cost_budget.severity", "one of info, warning, critical"),
    ('[route]\nreceiver = "t"\n[rules.cost_budget]\nper_hour = 5.0\nper_agnet = true\n',
     "rules.cost_budget.per_agnet", "unknown key"),
])
def test_each_mistake_is_one_error_naming_the_key_path_the_value_and_the_expectation(
    text: str, path: str, reason: str
) -> None:
    """A receiver ``t`` exists; the broken key is named, with what was expected."""
    head, _, tail = text.partition("\n[[")
    document = head + '\n[[receivers]]\nname = "t"\n' + ("[[" + tail if tail else "")
    with pytest.raises(InvalidMessage) as info:
        load_config(document, environ={})
    assert info.value.field == path
    assert reason in info.value.reason


def test_durations_and_matchers_read_like_alertmanagers() -> None:
    """"1h30m" is 5400 s; a regex matcher (=~, !~) is anchored; a missing label matches as ""."""
    assert parse_duration("1h30m") == 5400 and parse_duration("250ms") == 0.25
    assert parse_matcher('severity=~"critical|warning"')({"severity": "warning"})
    assert not parse_matcher("severity=~crit")({"severity": "critical"})
    assert parse_matcher('team!=""')({"team": "core"}) and not parse_matcher('team!=""')({})
    assert parse_matcher('severity!~"info|warning"')({"severity": "critical"})
    assert not parse_matcher("severity!~info|warning")({"severity": "info"})


def test_check_config_validates_a_file_without_starting_anything(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Exit 0 and a summary for a good file; exit 2 and the key path for a bad one."""
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    good = tmp_path / "good.toml"
    good.write_text(_readme_config())
    assert main(["check-config", str(good)]) == 0
    assert "ok: 4 receivers (5 integrations), 3 routes" in capsys.readouterr().out
    bad = tmp_path / "bad.toml"
    bad.write_text('[route]\nreceiver = "t"\nrepeat_interval = "often"\n[[receivers]]\nname = "t"\n')
    assert main(["check-config", str(bad)]) == 2
    assert "route.repeat_interval: expected a duration" in capsys.readouterr().err


def test_a_cost_budget_without_prices_is_refused_before_anything_starts() -> None:
    """[rules.cost_budget] with no price table could never fire: start_system says so."""
    from actors import start_system

    config = {"route": {"receiver": "t"}, "receivers": [{"name": "t"}],
              "rules": {"cost_budget": {"per_hour": 5.0}}}
    with pytest.raises(InvalidMessage) as info:
        start_system(None, alerting=config)
    assert info.value.field == "rules.cost_budget" and "needs prices" in info.value.reason
