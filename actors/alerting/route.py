"""The routing tree, as Alertmanager's ``route``: matchers pick receivers.

An alert enters at the root (which matches everything) and descends: each
child route whose matchers hold is entered in order; after a match, the
siblings after it are tried only if that child has ``continue``. A route none
of whose children matched takes the alert itself. A child inherits every
setting it leaves out (receiver, ``group_by``, the three timings, our
``resolve_immediately`` and ``send_resolved`` defaults) from its parent.
``group_by = ["..."]`` groups by every label (each alert alone).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

from actors.alerting.matcher import Matcher, matches

__all__ = ["DEFAULT_GROUP_BY", "Route", "group_key", "group_labels", "match_routes"]

DEFAULT_GROUP_BY: Final = ("alertname",)
"""Our root's grouping when the file names none (Alertmanager's root default is no labels)."""


@dataclass(frozen=True)
class Route:
    """One node of the tree with its settings resolved (inherited ones filled in).

    Attributes:
        id: the node's path, ``"0"`` for the root, ``"0.1.0"`` for a grandchild.
        receiver: the receiver's name.
        matchers: conditions an alert must meet to enter this node.
        group_by: label names grouping alerts; None means every label (``...``).
        group_wait: seconds a new group waits before its first notice.
        group_interval: least seconds between notices of a changed group.
        repeat_interval: seconds after which an unchanged firing group is re-sent.
        continue_: whether siblings after this node are tried after it matched.
        resolve_immediately: send a resolved notice at once, not at the next interval.
        routes: the children, in order.
    """

    id: str
    receiver: str
    matchers: tuple[Matcher, ...] = ()
    group_by: tuple[str, ...] | None = DEFAULT_GROUP_BY
    group_wait: float = 30.0
    group_interval: float = 300.0
    repeat_interval: float = 14400.0
    continue_: bool = False
    resolve_immediately: bool = False
    routes: tuple[Route, ...] = field(default=())


def match_routes(route: Route, labels: Mapping[str, str]) -> list[Route]:
    """The nodes that take an alert with ``labels``, in tree order (Alertmanager's ``Match``)."""
    if not matches(route.matchers, labels):
        return []
    found: list[Route] = []
    for child in route.routes:
        taken = match_routes(child, labels)
        if taken:
            found.extend(taken)
            if not child.continue_:
                break
    return found or [route]


def group_labels(route: Route, labels: Mapping[str, str]) -> dict[str, str]:
    """The labels that name an alert's group in ``route`` (present ones only)."""
    if route.group_by is None:
        return dict(labels)
    return {name: labels[name] for name in route.group_by if name in labels}


def group_key(route: Route, labels: Mapping[str, str]) -> str:
    """Alertmanager-style group key: the route's id, then the group's labels sorted."""
    shown = ",".join(f'{k}="{v}"' for k, v in sorted(group_labels(route, labels).items()))
    return f"{route.id}:{{{shown}}}"
