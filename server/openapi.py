"""``GET /openapi.json``: the API described, its bodies derived from the protocol's structs.

The message schemas come from msgspec (``schema_components``), so the
description cannot drift from what the endpoints decode; what the edge relaxes
(``timestamp`` and, where the endpoint implies it, ``type`` may be left out)
is taken out of ``required`` here.
"""

from __future__ import annotations

import copy
import functools
from typing import Any, Final

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from messages import (
    AgentMetric,
    Alert,
    HealthChanged,
    HealthReport,
    Heartbeat,
    RegisterAgent,
    SwarmMetric,
    TaskMetric,
    TaskStarted,
)
from server.events import Summary

__all__ = ["document", "openapi_json"]

_REF: Final = "#/components/schemas/{name}"
_OPTIONAL: Final = {
    "Heartbeat": ("type", "timestamp"),
    "TaskMetric": ("timestamp",),
    "AgentMetric": ("timestamp",),
    "SwarmMetric": ("timestamp",),
    "TaskStarted": ("timestamp",),
    "RegisterAgent": ("type",),
}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": _REF.format(name=name)}


def _one_or_list(*names: str) -> dict[str, Any]:
    item: dict[str, Any] = _ref(names[0]) if len(names) == 1 else {"oneOf": [_ref(n) for n in names]}
    return {"oneOf": [item, {"type": "array", "items": item}]}


def _body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": schema},
                                          "application/msgpack": {"schema": schema}}}


def _json(description: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    content = {"application/json": {"schema": schema or {"type": "object"}}}
    return {"description": description, "content": content}


_ERRORS: Final = {
    "400": _json("not the protocol: a one-line reason naming the field", _ref("Error")),
    "401": _json("the token is missing or wrong", _ref("Error")),
    "413": _json("the body or the batch is past its limit", _ref("Error")),
    "415": _json("neither JSON nor msgpack", _ref("Error")),
    "503": _json("the system is stopping or not answering", _ref("Error")),
}
_PARAMS: Final = {
    "agent_id": {"name": "agent_id", "in": "query", "schema": {"type": "string"}},
    "since": {"name": "since", "in": "query", "schema": {"type": "string"},
              "description": "a duration ago (15m, 24h, 7d), an ISO 8601 time or epoch seconds"},
    "start": {"name": "start", "in": "query", "schema": {"type": "string"}},
    "end": {"name": "end", "in": "query", "schema": {"type": "string"}},
    "limit": {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1}},
    "profiles": {"name": "profiles", "in": "query", "schema": {"type": "string", "enum": ["0", "1"]},
                 "description": "0: the findings without each agent's profile"},
    "stuck": {"name": "stuck", "in": "query", "schema": {"type": "string", "enum": ["0", "1"]},
              "description": "1: list only the stuck tasks (the counts stay the whole)"},
    "path_agent": {"name": "agent_id", "in": "path", "required": True, "schema": {"type": "string"}},
    "idempotency": {"name": "Idempotency-Key", "in": "header", "schema": {"type": "string"},
                    "description": "a retry with the same key within the window is answered as "
                                   "the first time and stored once"},
}


def _operation(summary: str, responses: dict[str, Any], *, params: tuple[str, ...] = (),
               body: dict[str, Any] | None = None) -> dict[str, Any]:
    operation: dict[str, Any] = {"summary": summary, "responses": {**responses, **_ERRORS}}
    if params:
        operation["parameters"] = [_PARAMS[p] for p in params]
    if body is not None:
        operation["requestBody"] = body
    return operation


def _batch(summary: str, schema: dict[str, Any]) -> dict[str, Any]:
    return _operation(summary, {"202": _json("taken, with each refused item", _ref("BatchAnswer"))},
                      params=("idempotency",), body=_body(schema))


@functools.cache
def document() -> dict[str, Any]:
    """The OpenAPI 3.1 description of every endpoint."""
    _, components = msgspec.json.schema_components(
        [Heartbeat, TaskMetric, AgentMetric, SwarmMetric, TaskStarted, RegisterAgent, HealthChanged, Alert,
         HealthReport, Summary], ref_template=_REF)
    components = copy.deepcopy(components)
    for name, fields in _OPTIONAL.items():
        required = components[name].get("required", [])
        components[name]["required"] = [f for f in required if f not in fields]
    components["Error"] = {"type": "object", "required": ["error"],
                           "properties": {"error": {"type": "string"}, "field": {"type": "string"}}}
    components["BatchAnswer"] = {
        "type": "object", "required": ["accepted", "refused", "notes"],
        "properties": {"accepted": {"type": "integer"}, "refused": {"type": "array", "items": {
            "type": "object", "required": ["index", "field", "error"],
            "properties": {"index": {"type": "integer"}, "field": {"type": "string"},
                           "error": {"type": "string"}}}},
            "notes": {"type": "array", "description": "taken items worth a word, e.g. a metric "
                      "of an agent that is not registered, stored under the policy store",
                      "items": {"type": "object", "required": ["index", "field", "note"],
                                "properties": {"index": {"type": "integer"},
                                               "field": {"type": "string"},
                                               "note": {"type": "string"}}}}}}
    ranged = ("agent_id", "since", "start", "end")
    paths = {
        "/healthz": {"get": _operation("liveness: 200 while the actors and the writer keep up", {
            "200": _json("up"), "503": _json("a service failed or the write backlog is too long")})},
        "/v1/agents": {
            "get": _operation("every agent's health and task figures", {"200": _json("the agents")},
                              params=()),
            "post": _operation("register an agent", {"201": _json("registered"),
                                                     "200": _json("already registered")},
                               body=_body(_ref("RegisterAgent"))),
        },
        "/v1/agents/{agent_id}": {
            "get": _operation("one agent, its heartbeats, transitions and performance",
                              {"200": _json("the agent"), "404": _json("unknown agent", _ref("Error"))},
                              params=("path_agent",)),
            "delete": _operation("stop watching an agent", {
                "200": _json("unregistered"), "404": _json("unknown agent", _ref("Error"))},
                params=("path_agent",)),
        },
        "/v1/heartbeats": {"post": _batch("one heartbeat or a list", _one_or_list("Heartbeat"))},
        "/v1/metrics": {"post": _batch("task, agent and swarm metrics and task starts, one or a list",
                                       _one_or_list("TaskMetric", "AgentMetric", "SwarmMetric",
                                                    "TaskStarted"))},
        "/v1/findings": {"get": _operation("the analyst's findings and each agent's profile",
                                           {"200": _json("findings and profiles")},
                                           params=("profiles",))},
        "/v1/cost": {"get": _operation("the cost of the swarm's tasks, in total and per agent",
                                       {"200": _json("total, by_agent, currency")})},
        "/v1/tasks/in-flight": {"get": _operation(
            "tasks started and not finished: counts, and each agent's (id, kind, running_s, stuck)",
            {"200": _json("tasks, stuck, in_flight by agent id")}, params=("agent_id", "stuck"))},
        "/v1/stats": {"get": _operation("task statistics (get_task_stats)", {"200": _json("stats")},
                                        params=ranged)},
        "/v1/alerts": {"get": _operation("the latest stored alerts", {"200": _json("alerts")},
                                         params=(*ranged, "limit"))},
        "/v1/health-events": {"get": _operation("stored health transitions",
                                                {"200": _json("transitions")},
                                                params=(*ranged, "limit"))},
        "/v1/report": {"get": _operation("the health report", {
            "200": {"description": "Markdown, or the JSON report",
                    "content": {"text/markdown": {"schema": {"type": "string"}},
                                "application/json": {"schema": _ref("HealthReport")}}}},
            params=())},
        "/v1/events": {"get": _operation("server-sent events: health_changed, alert, summary", {
            "200": {"description": "an event stream",
                    "content": {"text/event-stream": {"schema": {"type": "string"}}}}})},
        "/openapi.json": {"get": _operation("this description", {"200": _json("OpenAPI 3.1")})},
        "/v1/trends": {"get": _operation(
            "per-slice task figures of agents (or the swarm) from the rollups",
            {"200": _json("trends by agent id (\"*\": the swarm), and ids never seen")},
            params=("agent_id", "since", "start", "end"))},
        "/v1/monitoring": {"get": _operation("the monitor's own figures (get_monitoring_stats)",
                                             {"200": _json("counters by part of the system")})},
        "/": {"get": _operation("the dashboard (an HTML shell holding no data)", {
            "200": {"description": "HTML", "content": {"text/html": {"schema": {"type": "string"}}}}})},
        "/alerts": {"get": _operation("the dashboard's alerts page (the same shell)", {
            "200": {"description": "HTML", "content": {"text/html": {"schema": {"type": "string"}}}}})},
        "/agents/{agent_id}": {"get": _operation("the dashboard's agent page (the same shell)", {
            "200": {"description": "HTML", "content": {"text/html": {"schema": {"type": "string"}}}}},
            params=("path_agent",))},
        "/metrics": {"get": _operation("the Prometheus exposition (where the app serves it)", {
            "200": {"description": "the Prometheus text format",
                    "content": {"text/plain": {"schema": {"type": "string"}}}},
            "404": _json("not served by this app", _ref("Error"))})},
    }
    paths["/v1/agents"]["get"]["parameters"] = [
        {"name": "state", "in": "query",
         "schema": {"enum": ["healthy", "degraded", "critical", "failed"]}}]
    paths["/v1/report"]["get"]["parameters"] = [
        {"name": "format", "in": "query", "schema": {"enum": ["markdown", "json"]}}]
    paths["/v1/alerts"]["get"]["parameters"].append(
        {"name": "severity", "in": "query", "schema": {"enum": ["info", "warning", "critical"]}})
    paths.update(_alerting_paths())
    return {
        "openapi": "3.1.0",
        "info": {"title": "swarmpulse", "version": "1",
                 "description": "Observability for swarms of agents: ingest, reads and events."},
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"bearer": []}, {}],
    }


def _alerting_paths() -> dict[str, Any]:
    """Alert management (server/silences.py): Alertmanager's v2 silence body, and acks."""
    matcher = {"type": "object", "required": ["name", "value"], "properties": {
        "name": {"type": "string"}, "value": {"type": "string"},
        "isRegex": {"type": "boolean"}, "isEqual": {"type": "boolean"}}}
    when = {"oneOf": [{"type": "string"}, {"type": "number"}]}
    silence = {"type": "object", "required": ["matchers", "startsAt", "endsAt", "createdBy", "comment"],
               "properties": {"matchers": {"type": "array", "items": matcher}, "startsAt": when,
                              "endsAt": when, "createdBy": {"type": "string"},
                              "comment": {"type": "string"}, "id": {"type": "string"}}}
    ack = {"type": "object", "required": ["by"],
           "properties": {"by": {"type": "string"}, "comment": {"type": "string"}}}
    json_body = {"required": True, "content": {"application/json": {"schema": silence}}}
    off = _json("unknown id, or alert management is off", _ref("Error"))

    def path(name: str) -> dict[str, Any]:
        return {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}

    return {
        "/v1/silences": {
            "post": _operation("create a silence (Alertmanager v2 body)",
                               {"200": _json("{silenceID}"), "404": off}, body=json_body),
            "get": _operation("every silence, with its state", {"200": _json("silences"),
                                                                "404": off}),
        },
        "/v1/silences/{silence_id}": {"delete": {
            **_operation("expire a silence now", {"200": _json("expired"), "404": off}),
            "parameters": [path("silence_id")]}},
        "/v1/alerts/active": {"get": _operation(
            "the alert router's alerts, firing first, with fingerprints",
            {"200": _json("{alerts: [...]}"), "404": off})},
        "/v1/alerts/{fingerprint}/ack": {"post": {
            **_operation("acknowledge an alert: its escalation holds until the ack times out",
                         {"200": _json("acknowledged"), "404": off},
                         body={"required": True, "content": {"application/json": {"schema": ack}}}),
            "parameters": [path("fingerprint")]}},
    }


_ENCODED: Final[list[bytes]] = []


async def openapi_json(request: Request) -> Response:
    """``GET /openapi.json``."""
    if not _ENCODED:
        _ENCODED.append(msgspec.json.encode(document()))
    return Response(_ENCODED[0], media_type="application/json")
