"""The alerting endpoints: Alertmanager's v2 silence body, listing, expiry, acknowledgement."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx
import pytest

from actors import ManualClock, SwarmSystem
from server import serve
from tests.alerting.conftest import Receiver, alert, delivered, settle, webhook_config


@pytest.fixture
def served(make_system: Callable[..., SwarmSystem], receiver: Receiver) -> Iterator[tuple[SwarmSystem, httpx.Client]]:
    """A system with alerting, served on loopback."""
    swarm = make_system(webhook_config(receiver.url, group_wait="30s", group_interval="1m",
                                       group_by=["alertname", "agent_id"]))
    handle = serve(swarm)
    with httpx.Client(base_url=handle.url, timeout=10) as client:
        yield swarm, client
    handle.stop()


def test_a_silence_posted_as_alertmanager_does_mutes_and_is_listed_and_expired(
    served: tuple[SwarmSystem, httpx.Client], clock: ManualClock, receiver: Receiver
) -> None:
    """POST the v2 body, get {"silenceID"}, list it active, DELETE it, and the alert goes out."""
    swarm, http = served
    body = {"matchers": [{"name": "agent_id", "value": "db", "isRegex": False, "isEqual": True}],
            "startsAt": "2023-11-14T22:13:20Z", "endsAt": "2023-11-15T22:13:20Z",
            "createdBy": "ops", "comment": "migration"}
    answer = http.post("/v1/silences", json=body)
    assert answer.status_code == 200
    silence_id = answer.json()["silenceID"]
    swarm.send_alert(alert("Down", "db", at=clock.time()))
    clock.advance(90)
    assert settle(swarm)["notices_decided"] == 0
    [listed] = http.get("/v1/silences").json()
    assert (listed["id"], listed["status"]["state"], listed["createdBy"]) == (silence_id, "active", "ops")
    assert listed["matchers"] == body["matchers"]
    assert http.delete(f"/v1/silences/{silence_id}").status_code == 200
    assert http.delete("/v1/silences/nope").status_code == 404
    clock.advance(60)
    delivered(swarm, receiver, 1)


def test_bad_silences_and_acks_are_refused_naming_the_field(
    served: tuple[SwarmSystem, httpx.Client], clock: ManualClock
) -> None:
    """A silence ending before it starts, a bad regex, a bad time; an ack of an unknown alert."""
    _, http = served
    base = {"matchers": [{"name": "a", "value": "b"}], "startsAt": 1.7e9, "endsAt": 1.8e9,
            "createdBy": "ops", "comment": "x"}
    cases = [({**base, "endsAt": 1.6e9}, "ends_at"),
             ({**base, "matchers": [{"name": "a", "value": "(", "isRegex": True}]}, "matchers[0].value"),
             ({**base, "startsAt": "yesterday"}, "startsAt"),
             ({**base, "colour": "red"}, "body")]
    for body, field in cases:
        answer = http.post("/v1/silences", json=body)
        assert answer.status_code == 400 and answer.json()["field"] == field, answer.text
    assert http.post(f"/v1/alerts/{'0' * 16}/ack", json={"by": "alice"}).status_code == 404
    assert http.post("/v1/alerts/xyz/ack", json={"by": "alice"}).json()["field"] == "fingerprint"


def test_an_ack_through_http_holds_the_escalation(
    make_system: Callable[..., SwarmSystem], clock: ManualClock, receiver: Receiver
) -> None:
    """POST /v1/alerts/{fingerprint}/ack: the next level is not paged within the ack timeout."""
    from tests.alerting.test_escalation import _config, _paths

    swarm = make_system(_config(receiver.url))
    handle = serve(swarm)
    try:
        page = alert("Down", "db", at=clock.time(), severity="critical")
        swarm.send_alert(page)
        delivered(swarm, receiver, 1)
        with httpx.Client(base_url=handle.url, timeout=10) as http:
            answer = http.post(f"/v1/alerts/{page.fingerprint}/ack",
                               json={"by": "alice", "comment": "on it"})
        assert answer.status_code == 200 and answer.json()["acknowledged"]
        clock.advance(600)
        settle(swarm)
        assert _paths(receiver) == ["/oncall"]
    finally:
        handle.stop()


def test_a_refused_client_is_an_alert_of_its_own_once_a_minute(
    make_system: Callable[..., SwarmSystem], clock: ManualClock, receiver: Receiver
) -> None:
    """A wrong token (401) twice and a body past max_body_bytes (413): one ClientRefused per
    (client, status) within a minute, labelled with the client and the status."""
    from server import Limits

    swarm = make_system(webhook_config(receiver.url, group_wait="0s",
                                       group_by=["alertname", "status"]))
    handle = serve(swarm, token="s3cret", limits=Limits(max_body_bytes=1024))
    try:
        with httpx.Client(base_url=handle.url, timeout=10) as client:
            assert client.get("/v1/agents").status_code == 401
            assert client.get("/v1/agents", headers={"Authorization": "Bearer guess"}).status_code == 401
            big = client.post("/v1/metrics", content=b"[" + b" " * 2048 + b"]",
                              headers={"Authorization": "Bearer s3cret",
                                       "Content-Type": "application/json"})
            assert big.status_code == 413
        bodies = [r.body for r in delivered(swarm, receiver, 2)]
        assert settle(swarm)["alerts_received"] == 2
    finally:
        handle.stop()
    labels = sorted((b["alerts"][0]["labels"] for b in bodies), key=lambda la: la["status"])
    assert [(la["alertname"], la["status"], la["client"]) for la in labels] == [
        ("ClientRefused", "401", "127.0.0.1"), ("ClientRefused", "413", "127.0.0.1")]
