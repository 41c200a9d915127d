"""Detectors: phi-accrual failure detection, robust outliers, shifts, trends, stuck tasks, cost.

Pure logic with constant memory per stream, no threads and no actors: the actors
around them feed values in and act on what they answer.
"""

from actors.analytics.cost import Price, PriceTable, parse_prices, task_cost
from actors.analytics.detector import Detector, FixedDetector, PhiDetector
from actors.analytics.pagehinkley import FAILURE_SHIFT, P95_SHIFT, PageHinkley, ShiftSettings
from actors.analytics.phi import DEFAULT_PHI, PhiAccrual, PhiSettings
from actors.analytics.robust import MAD_Z_THRESHOLD, RecentWindow, modified_z, peer_outliers
from actors.analytics.stuck import SLOW_MIN_SAMPLES, KindStats, SlowIncident, StuckSettings, stuck_after
from actors.analytics.trend import GapTrend, TrendSettings

__all__ = [
    "DEFAULT_PHI",
    "FAILURE_SHIFT",
    "MAD_Z_THRESHOLD",
    "P95_SHIFT",
    "SLOW_MIN_SAMPLES",
    "Detector",
    "FixedDetector",
    "GapTrend",
    "KindStats",
    "PageHinkley",
    "PhiAccrual",
    "PhiDetector",
    "PhiSettings",
    "Price",
    "PriceTable",
    "RecentWindow",
    "ShiftSettings",
    "SlowIncident",
    "StuckSettings",
    "TrendSettings",
    "modified_z",
    "parse_prices",
    "peer_outliers",
    "stuck_after",
    "task_cost",
]
