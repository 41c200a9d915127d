"""The actor system: heartbeat trackers, coordinator, aggregator, writer, reporter."""

from actors.channel import TelemetryChannel
from actors.clock import Clock, ManualClock, SystemClock, TimerHandle
from actors.coordinator import SwarmCoordinator, SystemConfig
from actors.errors import AgentNotTracked, MonitoringDisabled, SystemStopped, UnknownAgent
from actors.aggregator import MetricsAggregator
from actors.report import render_json, render_markdown, sparkline
from actors.reporter import HealthReporter
from actors.runtime import Dispatcher, PooledActor
from actors.system import TOPOLOGIES, SwarmSystem, start_system
from actors.tracker import HeartbeatTracker
from actors.writer import StorageWriter

__all__ = [
    "TOPOLOGIES",
    "AgentNotTracked",
    "Clock",
    "Dispatcher",
    "HealthReporter",
    "HeartbeatTracker",
    "ManualClock",
    "MetricsAggregator",
    "MonitoringDisabled",
    "PooledActor",
    "StorageWriter",
    "SwarmCoordinator",
    "SwarmSystem",
    "SystemClock",
    "SystemConfig",
    "SystemStopped",
    "TelemetryChannel",
    "TimerHandle",
    "UnknownAgent",
    "render_json",
    "render_markdown",
    "sparkline",
    "start_system",
]
