"""The synchronous facade, split by concern: start-up (settings, wiring), writes (facade),
read views (health, stats, report), alerting and lifecycle."""

from actors.system.alerts import Event
from actors.system.facade import SwarmSystem
from actors.system.lifecycle import EXIT_TIMEOUT
from actors.system.settings import TOPOLOGIES, start_system

__all__ = ["EXIT_TIMEOUT", "TOPOLOGIES", "Event", "SwarmSystem", "start_system"]
