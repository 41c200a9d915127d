"""The routing tree: matchers, continue, nested routes, inheritance, group_by "..."."""

from __future__ import annotations

from actors.alerting import load_config
from actors.alerting.route import group_key, match_routes

LABELS = {"alertname": "AgentFailed", "agent_id": "a1", "swarm_id": "s", "severity": "critical",
          "team": "core"}



def test_the_first_matching_child_takes_the_alert_unless_it_continues() -> None:
    """Without continue the first match wins; with it the next matching sibling also takes it."""
    routes = [{"matchers": ["severity=critical"], "receiver": "a"},
              {"matchers": ["team=core"], "receiver": "b"}]
    settings = load_config({"route": {"receiver": "root", "routes": routes},
                            "receivers": [{"name": n} for n in ("root", "a", "b")]})
    assert [r.receiver for r in match_routes(settings.route, LABELS)] == ["a"]
    routes[0]["continue"] = True
    settings = load_config({"route": {"receiver": "root", "routes": routes},
                            "receivers": [{"name": n} for n in ("root", "a", "b")]})
    assert [r.receiver for r in match_routes(settings.route, LABELS)] == ["a", "b"]
    assert [r.receiver for r in match_routes(settings.route, {**LABELS, "severity": "info",
                                                                "team": "x"})] == ["root"]


def test_a_nested_route_inherits_what_it_leaves_out_and_groups_by_everything_with_dots() -> None:
    """A grandchild takes its parent's receiver and timings; group_by ["..."] is all labels."""
    settings = load_config({
        "route": {"receiver": "root", "group_wait": "10s", "routes": [
            {"matchers": ['severity=~"crit.*"'], "receiver": "a", "group_interval": "1m",
             "group_by": ["..."], "routes": [{"matchers": ["team!=ops"]}]}]},
        "receivers": [{"name": "root"}, {"name": "a"}],
    })
    [leaf] = match_routes(settings.route, LABELS)
    assert (leaf.id, leaf.receiver, leaf.group_wait, leaf.group_interval, leaf.group_by) == (
        "0.0.0", "a", 10.0, 60.0, None)
    assert group_key(leaf, LABELS).count("=") == len(LABELS)
