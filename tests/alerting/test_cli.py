"""``swarmpulse silence add|list|expire`` and ``swarmpulse ack`` against a served system."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest

from actors import ManualClock, SwarmSystem
from demo.cli import main
from server import serve
from tests.alerting.conftest import Receiver, alert, webhook_config


def test_silences_are_added_listed_and_expired_and_alerts_acked_from_the_command_line(
    make_system: Callable[..., SwarmSystem], clock: ManualClock, receiver: Receiver,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """add prints the id; list shows it active with its matchers; expire ends it; ack works."""
    swarm = make_system(webhook_config(receiver.url))
    handle = serve(swarm)
    try:
        url = ["--url", handle.url]
        start = dt.datetime.fromtimestamp(clock.time(), dt.UTC).replace(tzinfo=None).isoformat()
        assert main(["silence", "add", *url, "-m", "agent_id=db", "-m", 'severity=~"warn.*"',
                     "--start", start, "--duration", "2h", "--by", "ops", "--comment", "upgrade"]) == 0
        silence_id = capsys.readouterr().out.strip()
        assert main(["silence", "list", *url]) == 0
        listed = capsys.readouterr().out
        assert silence_id in listed and "active" in listed and 'severity=~warn.*' in listed
        assert main(["silence", "expire", silence_id, *url]) == 0
        assert [state for _, state in swarm.list_silences()] == ["expired"]
        page = alert("Down", "db", at=clock.time())
        swarm.send_alert(page)
        assert main(["ack", page.fingerprint, "--by", "alice", *url]) == 0
        assert "acknowledged by alice" in capsys.readouterr().out
        assert main(["ack", "0" * 16, "--by", "alice", *url]) == 2
        assert "404" in capsys.readouterr().err
        assert main(["silence", "add", *url, "-m", "agent_id", "--by", "o", "--comment", "c"]) == 2
        assert "--matcher[0]" in capsys.readouterr().err
    finally:
        handle.stop()
