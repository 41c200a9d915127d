"""The synchronous facade, :class:`SwarmSystem`, split by concern.

``settings`` (:func:`start_system`: every setting checked before anything
starts), ``facade`` (the class, its start-up and its writes), ``agents``
(register, unregister, heartbeat), the read views ``health``, ``stats``,
``monitoring`` and ``report``, ``alerts`` (callbacks, subscribers, silences,
acknowledgements), ``lifecycle`` (shutdown and the exit hook), and underneath them
``wiring`` (the signals between the parts) and ``plumbing`` (the private parts
and the asks every view uses).
"""

from actors.system.alerts import Event
from actors.system.facade import SwarmSystem
from actors.system.lifecycle import EXIT_TIMEOUT
from actors.system.settings import TOPOLOGIES, start_system

__all__ = ["EXIT_TIMEOUT", "TOPOLOGIES", "Event", "SwarmSystem", "start_system"]
