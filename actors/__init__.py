"""The actor system: heartbeat trackers, coordinator, aggregator, writer, reporter."""

from actors.aggregator import MetricsAggregator
from actors.callbacks import CallbackRunner
from actors.channel import TelemetryChannel
from actors.coordinator import SwarmCoordinator, SystemConfig
from actors.errors import (
    AgentNotTracked,
    MonitoringDisabled,
    ShutdownIncomplete,
    SystemStopped,
    UnknownAgent,
)
from actors.kernel.clock import Clock, ManualClock, SystemClock, TimerHandle
from actors.kernel.runtime import Dispatcher, PooledActor
from actors.reporter import HealthReporter
from actors.system import TOPOLOGIES, Event, SwarmSystem, start_system
from actors.tracker import HeartbeatTracker
from actors.writer import StorageWriter

__all__ = [
    "TOPOLOGIES",
    "AgentNotTracked",
    "CallbackRunner",
    "Clock",
    "Dispatcher",
    "Event",
    "HealthReporter",
    "HeartbeatTracker",
    "ManualClock",
    "MetricsAggregator",
    "MonitoringDisabled",
    "PooledActor",
    "ShutdownIncomplete",
    "StorageWriter",
    "SwarmCoordinator",
    "SwarmSystem",
    "SystemClock",
    "SystemConfig",
    "SystemStopped",
    "TelemetryChannel",
    "TimerHandle",
    "UnknownAgent",
    "start_system",
]
