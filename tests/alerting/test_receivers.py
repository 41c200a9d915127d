"""Slack, email and Alertmanager receivers against real peers on loopback."""

from __future__ import annotations

import shutil
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from email import message_from_bytes
from pathlib import Path
from typing import Any

import httpx
import pytest

from actors import ManualClock, SwarmSystem
from tests.alerting.conftest import Receiver, alert, delivered, settle, sync

ALERTMANAGER = "/usr/bin/prometheus-alertmanager"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _route(receiver: str) -> dict[str, Any]:
    return {"receiver": receiver, "group_wait": "30s", "group_interval": "5m",
            "group_by": ["alertname"]}


def test_slack_gets_one_message_per_group_with_blocks_and_a_fallback_text(
    make_system: Callable[..., SwarmSystem], clock: ManualClock, receiver: Receiver
) -> None:
    """Three alerts of one group: one Slack message listing all three."""
    swarm = make_system(_slack_config(receiver.url))
    for agent in ("a1", "a2", "a3"):
        swarm.send_alert(alert("Down", agent, at=clock.time(), severity="critical"))
    clock.advance(30)
    body = delivered(swarm, receiver, 1)[0].body
    assert body["text"] == "[FIRING:3] alertname=Down" and body["channel"] == "#ops"
    assert [b["type"] for b in body["blocks"]] == ["header", "section"]
    assert body["blocks"][1]["text"]["text"].count("[FIRING] Down") == 3


def test_the_webhook_posts_alertmanagers_version_4_payload_field_for_field(
    make_system: Callable[..., SwarmSystem], clock: ManualClock, receiver: Receiver
) -> None:
    """Every key of Alertmanager's webhook body and of each alert, the common labels, the
    Go zero time while firing, and max_alerts truncating (truncatedAlerts)."""
    swarm = make_system({"route": _route("hook"), "external_url": "http://sp.example", "receivers": [
        {"name": "hook", "webhook_configs": [{"url": receiver.url, "max_alerts": 2}]}]})
    for agent in ("a1", "a2", "a3"):
        swarm.send_alert(alert("Down", agent, at=clock.time(), severity="critical"))
    clock.advance(30)
    body = delivered(swarm, receiver, 1)[0].body
    assert set(body) == {"version", "groupKey", "truncatedAlerts", "status", "receiver", "groupLabels",
                         "commonLabels", "commonAnnotations", "externalURL", "alerts"}
    assert (body["version"], body["status"], body["receiver"]) == ("4", "firing", "hook")
    assert (body["truncatedAlerts"], len(body["alerts"])) == (1, 2)
    assert body["groupLabels"] == {"alertname": "Down"} and body["externalURL"] == "http://sp.example"
    assert body["commonLabels"] == {"alertname": "Down", "swarm_id": "s", "severity": "critical"}
    first = body["alerts"][0]
    assert set(first) == {"status", "labels", "annotations", "startsAt", "endsAt", "generatorURL",
                          "fingerprint"}
    assert first["endsAt"] == "0001-01-01T00:00:00Z" and first["startsAt"].endswith("Z")
    same = alert("Down", first["labels"]["agent_id"], at=0, severity="critical")
    assert first["fingerprint"] == same.fingerprint


def _slack_config(url: str) -> dict[str, Any]:
    return {"route": _route("chat"), "receivers": [{"name": "chat", "slack_configs": [
        {"api_url": url, "channel": "#ops", "send_resolved": True}]}]}


class _Mailbox:
    def __init__(self) -> None:
        self.messages: list[bytes] = []
        self.changed = threading.Condition()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.changed:
            self.messages.append(envelope.original_content)
            self.changed.notify_all()
        return "250 OK"

    def wait_for(self, count: int) -> list[bytes]:
        with self.changed:
            assert self.changed.wait_for(lambda: len(self.messages) >= count, timeout=10)
            return list(self.messages)


@pytest.fixture
def tls_cert(tmp_path: Path) -> tuple[str, str]:
    """A self-signed certificate for 127.0.0.1 (openssl), for STARTTLS."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a certificate for the STARTTLS test")
    cert, key = str(tmp_path / "cert.pem"), str(tmp_path / "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", key, "-out", cert], check=True, capture_output=True)
    return cert, key


@pytest.fixture
def smtp(tls_cert: tuple[str, str]) -> Iterator[tuple[_Mailbox, int, str]]:
    """A real SMTP server (aiosmtpd) on loopback requiring STARTTLS and a login."""
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult

    def authenticate(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        ok = data.login == b"alerts" and data.password == b"s3cret"
        return AuthResult(success=ok)

    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*tls_cert)
    mailbox = _Mailbox()
    port = _free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port, tls_context=context,
                            require_starttls=True, authenticator=authenticate, auth_required=True)
    controller.start()
    yield mailbox, port, tls_cert[0]
    controller.stop()


def test_email_goes_out_over_starttls_with_a_login_as_plain_text(
    make_system: Callable[..., SwarmSystem], clock: ManualClock, smtp: tuple[_Mailbox, int, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """STARTTLS, AUTH with a password from the environment, one plain-text mail per group."""
    mailbox, port, ca_file = smtp
    monkeypatch.setenv("TEST_SMTP_PASSWORD", "s3cret")
    swarm = make_system({"route": _route("mail"), "receivers": [{"name": "mail", "email_configs": [{
        "to": "ops@example.org", "from": "swarmpulse@example.org", "smarthost": f"127.0.0.1:{port}",
        "auth_username": "alerts", "auth_password_env": "TEST_SMTP_PASSWORD", "ca_file": ca_file,
    }]}]})
    swarm.send_alert(alert("Down", "db", at=clock.time(), severity="critical"))
    clock.advance(30)
    [raw] = mailbox.wait_for(1)
    stats = settle(swarm)
    mail = message_from_bytes(raw)
    assert mail["Subject"] == "[FIRING:1] alertname=Down" and mail["To"] == "ops@example.org"
    assert mail.get_content_type() == "text/plain"
    assert "[FIRING] Down db" in mail.get_payload(decode=True).decode()
    assert stats["notices_delivered"] == 1 and stats["failures"] == 0


def test_a_wrong_smtp_password_is_a_counted_failure_and_an_alert_of_its_own(
    make_system: Callable[..., SwarmSystem], clock: ManualClock, smtp: tuple[_Mailbox, int, str],
    receiver: Receiver,
) -> None:
    """The mail receiver keeps failing; ReceiverFailing goes to the webhook receiver."""
    _, port, ca_file = smtp
    swarm = make_system({
        "route": {**_route("mail"), "routes": [
            {"matchers": ["alertname=ReceiverFailing"], "receiver": "hook", "group_wait": "0s"}]},
        "notify": {"initial_backoff": "1s", "failures_before_alert": 2},
        "receivers": [
            {"name": "mail", "email_configs": [{
                "to": "ops@example.org", "from": "s@example.org", "smarthost": f"127.0.0.1:{port}",
                "auth_username": "alerts", "auth_password": "wrong", "ca_file": ca_file,
                "timeout": "2s"}]},
            {"name": "hook", "webhook_configs": [{"url": receiver.url}]},
        ]})
    swarm.send_alert(alert("Down", "db", at=clock.time(), severity="critical"))
    clock.advance(30)
    for seconds in (1, 2):
        _wait(lambda: sync(swarm)["failures"] >= seconds)
        clock.advance(seconds)
    body = receiver.wait_for(1)[0].body  # while the mail notice is still being retried
    assert body["alerts"][0]["labels"]["alertname"] == "ReceiverFailing"
    assert body["alerts"][0]["labels"]["integration"] == "mail/email/0"
    assert "mail/email/0: SMTP" in body["alerts"][0]["annotations"]["summary"]
    assert swarm.get_monitoring_stats()["alerting"]["failures_by_integration"]["mail/email/0"] >= 2


def _wait(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    event = threading.Event()
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        event.wait(0.01)


@pytest.fixture
def alertmanager(tmp_path: Path) -> Iterator[str]:
    """Debian's prometheus-alertmanager on loopback, no clustering, state in tmp_path."""
    if not Path(ALERTMANAGER).exists():
        pytest.skip(f"{ALERTMANAGER} is missing (Debian package prometheus-alertmanager)")
    config = tmp_path / "alertmanager.yml"
    config.write_text("route:\n  receiver: blackhole\nreceivers:\n  - name: blackhole\n")
    port = _free_port()
    proc = subprocess.Popen([
        ALERTMANAGER, f"--config.file={config}", f"--web.listen-address=127.0.0.1:{port}",
        "--cluster.listen-address=", f"--storage.path={tmp_path / 'am'}",
    ], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        def ready() -> bool:
            try:
                return httpx.get(f"{url}/-/ready", timeout=1).status_code == 200
            except httpx.HTTPError:
                return proc.poll() is not None
        _wait(ready, timeout=30)
        assert proc.poll() is None, "alertmanager exited"
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_alerts_pushed_to_a_real_alertmanager_read_back_with_the_same_fingerprint(
    make_system: Callable[..., SwarmSystem], clock: ManualClock, alertmanager: str
) -> None:
    """POST /api/v2/alerts, then GET it back: same labels, and Alertmanager's own fingerprint
    equals ours."""
    swarm = make_system({"route": _route("am"), "receivers": [
        {"name": "am", "alertmanager_configs": [{"url": alertmanager}]}]})
    import time as _time

    clock.jump_wall(_time.time() - clock.time())  # Alertmanager drops alerts from 2023
    sent = alert("Down", "db", at=clock.time(), severity="critical", team="core")
    swarm.send_alert(sent)
    clock.advance(30)
    stats = settle(swarm)
    assert stats["notices_delivered"] == 1
    found = httpx.get(f"{alertmanager}/api/v2/alerts", timeout=5).json()
    [back] = [a for a in found if a["labels"].get("agent_id") == "db"]
    assert back["labels"] == sent.labels
    assert back["fingerprint"] == sent.fingerprint
    assert back["annotations"] == sent.annotations and back["status"]["state"] == "active"
