"""The swarmpulse metrics store: SQLite with rollups, and the summaries behind them."""

from storage.batch import Batch, MinuteSummaries
from storage.database import DEFAULT_EXACT_MAX_ROWS
from storage.errors import (
    NeverTracked,
    NotOurDatabase,
    SchemaTooNew,
    StorageError,
    UnknownAgentRecord,
)
from storage.histogram import RELATIVE_ACCURACY, LogHistogram
from storage.inserts import INSERT_TASK_SQL
from storage.metrics import MetricsStorage
from storage.quarantine import Quarantined, decode_payload, quarantined
from storage.rows import AgentRecord, RowTuple, TaskColumns, TaskRow, task_row
from storage.schema import SCHEMA_VERSION
from storage.stats import EXACT_SAMPLES, TaskTally
from storage.summary import TaskStats, TaskSummary
from storage.writer import AgentEvent

__all__ = [
    "DEFAULT_EXACT_MAX_ROWS",
    "EXACT_SAMPLES",
    "INSERT_TASK_SQL",
    "RELATIVE_ACCURACY",
    "SCHEMA_VERSION",
    "AgentEvent",
    "Batch",
    "AgentRecord",
    "LogHistogram",
    "MinuteSummaries",
    "MetricsStorage",
    "NeverTracked",
    "NotOurDatabase",
    "Quarantined",
    "RowTuple",
    "SchemaTooNew",
    "StorageError",
    "TaskColumns",
    "TaskRow",
    "TaskStats",
    "TaskSummary",
    "TaskTally",
    "UnknownAgentRecord",
    "decode_payload",
    "quarantined",
    "task_row",
]
