"""The alerting facade: callbacks, subscribers, silences, acknowledgements, alert lists."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from actors.alerting.protocol import GetAlerting, ListAlerts, ListSilences
from actors.protocol import ConfigureAlerts
from actors.system.plumbing import Plumbing
from messages import Alert, HealthChanged, HealthState, InvalidMessage

Event = HealthChanged | Alert
"""What :meth:`SwarmSystem.subscribe` listeners are given."""


class AlertsFacade(Plumbing):
    """Alert callbacks and subscribers, and the alert router's silences, acks and alerts."""

    def configure_alerts(
        self,
        enabled: bool = True,
        callbacks: Mapping[HealthState | str, Callable[[HealthChanged], object]] | None = None,
    ) -> None:
        """Turn alert callbacks on or off and set one per health state.

        A callback is called with the :class:`HealthChanged` event of each
        transition into its state, on the system's callback thread, never on an
        actor's: callbacks run one at a time, in the order of the transitions.
        Whatever one raises (``SystemExit`` and ``KeyboardInterrupt`` too) is
        logged and counted in ``get_monitoring_stats()["alerts"]["callback_errors"]``;
        one still running after ``callback_timeout`` seconds is logged and counted
        in ``callback_timeouts``, and the next ones run without it. A slow callback
        never delays a report.
        """
        self._check_open()
        table: dict[HealthState, Any] = {}
        if type(enabled) is not bool:
            raise InvalidMessage("enabled", enabled, "must be True or False")
        if callbacks is not None and not isinstance(callbacks, Mapping):
            raise InvalidMessage("callbacks", callbacks, "must be a dict of health state to callable")
        for state, fn in (callbacks or {}).items():
            try:
                key = HealthState(state)
            except ValueError:
                raise InvalidMessage("callbacks", state, "keys must be health states") from None
            if not callable(fn):
                raise InvalidMessage("callbacks", fn, "values must be callable")
            table[key] = fn
        self._ask_service("reporter", ConfigureAlerts(enabled=enabled, callbacks=table))

    def subscribe(self, listener: Callable[[Event], object]) -> Callable[[], None]:
        """Call ``listener`` with every :class:`HealthChanged` and :class:`Alert` from now on.

        Each transition is delivered as its ``HealthChanged`` followed by the
        ``Alert`` it raised; other alerts (a stall of the monitor, a service given
        up) as an ``Alert``. Listeners run like alert callbacks, with the same
        protections (see :meth:`configure_alerts`), whether alerts are enabled
        or not.

        Returns:
            A function that unsubscribes the listener; calling it again, or after
            shutdown, does nothing.

        Raises:
            InvalidMessage: ``listener`` is not callable.
            SystemStopped: the system has been shut down.

        Example:
            ```py
            with start_system() as swarm:
                seen = []
                unsubscribe = swarm.subscribe(seen.append)
                ...
                unsubscribe()
            ```
        """
        self._check_open()
        if not callable(listener):
            raise InvalidMessage("listener", listener, "must be callable")
        return self._callbacks.subscribe(listener)


    def send_alert(self, alert: Any) -> None:
        """Hand the alert router a :class:`messages.alerting.AlertInstance` (a rule's, a user's)."""
        from messages.alerting import AlertInstance

        if not isinstance(alert, AlertInstance):
            raise InvalidMessage("alert", alert, "must be a messages.alerting.AlertInstance")
        self._ask_router(alert)

    def add_silence(self, spec: Any) -> str:
        """Create a silence from a :class:`messages.alerting.SilenceSpec`; returns its id."""
        from messages.alerting import SilenceSpec

        if not isinstance(spec, SilenceSpec):
            raise InvalidMessage("silence", spec, "must be a messages.alerting.SilenceSpec")
        return str(self._ask_router(spec))

    def expire_silence(self, silence_id: str) -> bool:
        """End a silence now; False if there is none with that id."""
        from messages.alerting import ExpireSilence

        return bool(self._ask_router(ExpireSilence(silence_id=silence_id)))

    def list_silences(self) -> list[tuple[Any, str]]:
        """Every silence as (SilenceSpec, state), state pending, active or expired."""
        return list(self._ask_router(ListSilences()))

    def acknowledge_alert(self, fingerprint: str, by: str, comment: str = "") -> bool:
        """Acknowledge an alert: its escalation holds until the ack times out."""
        from messages.alerting import Acknowledge

        return bool(self._ask_router(Acknowledge(fingerprint=fingerprint, by=by, comment=comment)))

    def list_alerts(self, limit: int = 500) -> list[dict[str, Any]]:
        """The alert router's alerts, firing first, newest first: ``fingerprint``,
        ``labels``, ``annotations``, ``startsAt``, ``endsAt`` (epoch s), ``status``
        (firing or resolved), ``muted`` (by a silence or an inhibition rule),
        ``acknowledgedBy`` (None until acknowledged).

        Raises:
            MonitoringDisabled: alert management is off.
        """
        if type(limit) is not int or not 1 <= limit <= 10_000:
            raise InvalidMessage("limit", limit, "must be an integer from 1 to 10000")
        return list(self._ask_router(ListAlerts(limit=limit)))

    def alerting_stats(self) -> dict[str, Any]:
        """The alert router's counters (notices, attempts, failures by integration, ...)."""
        result: dict[str, Any] = self._ask_router(GetAlerting())
        return result
